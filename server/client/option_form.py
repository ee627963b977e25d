"""The engine options a host shows as widgets, derived from the daemon's capabilities.

The daemon describes every option (`Capabilities.options`: kind, label, help, range with its own
limits) and says which options each preset reads (`Preset.options`). From that, `option_fields`
gives a host the typed fields to show for the chosen preset, with the preset's own values, so a
new engine option appears in GIMP's dialog and Krita's docker with no plug-in change, and an
option a preset does not read is never offered (the daemon would refuse it). The values a user
sets live as the options text ("iterations=50 keep_brightness=true"), which is what GIMP's
procedure takes and what Krita remembers: `form_values` reads it for the widgets, `form_text`
writes it back, keeping only what differs from the preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.options import OptionValueError, format_options, parse_options, parse_value

#: Options the hosts set with widgets of their own (preset, regions) or themselves (the live
#: preview's cadence and size, the look a run keeps: `looks.with_look`): never in the form.
HOST_SET = frozenset({"preset", "regions", "preview_every", "preview_size", "look_size"})
#: Spin boxes hold 32-bit integers (Qt's QSpinBox; GTK's doubles lose whole numbers beyond 2^53).
WIDGET_MAX = 2**31 - 1

Value = Union[bool, int, str]


@dataclass(frozen=True)
class OptionField:
    """One widget: a check box ("bool"), a spin box ("int") or a choice or text ("str")."""

    name: str
    kind: str
    label: str
    help: str
    default: Value  # the preset's value: what an unset option means
    minimum: int = 0
    maximum: int = WIDGET_MAX
    unit: str = ""
    choices: tuple[str, ...] = ()


def option_fields(capabilities: pb.Capabilities, preset: str) -> list[OptionField]:
    """The fields for `preset`, in the daemon's order: the options it reads that the host does not
    set itself. Empty for a preset the daemon does not have."""
    chosen = next((entry for entry in capabilities.presets if entry.name == preset), None)
    if chosen is None:
        return []
    reads = set(chosen.options) - HOST_SET
    return [_field(spec, chosen) for spec in capabilities.options if spec.name in reads]


def _field(spec: pb.OptionSpec, preset: pb.Preset) -> OptionField:
    """`spec` as a widget; an option whose schema default is "the preset's" takes the value of the
    preset's field of the same name (size, iterations)."""
    if spec.default:
        default = parse_value(spec.name, spec.default)
    elif spec.name in pb.Preset.DESCRIPTOR.fields_by_name:
        default = getattr(preset, spec.name)
    else:
        default = {"bool": False, "int": spec.minimum}.get(spec.kind, "")
    maximum = min(spec.maximum, WIDGET_MAX) if spec.HasField("maximum") else WIDGET_MAX
    return OptionField(spec.name, spec.kind, spec.label, spec.help, default,
                       spec.minimum if spec.HasField("minimum") else 0, maximum, spec.unit, tuple(spec.choices))


def form_values(fields: list[OptionField], text: str) -> dict[str, Value]:
    """Every field's value: what `text` sets for it, else the preset's. Options of `text` that no
    field shows (the previous preset's) are dropped; malformed text reads as the preset's values."""
    try:
        given = parse_options(text)
    except OptionValueError:
        given = {}
    return {field.name: _fitted(field, given.get(field.name, field.default)) for field in fields}


def _fitted(field: OptionField, value: Any) -> Value:
    """`value` brought inside what the field's widget can show."""
    if field.kind == "int":
        return min(max(int(value), field.minimum), field.maximum)
    if field.choices and value not in field.choices:
        return field.default
    return value


def form_text(fields: list[OptionField], values: Mapping[str, Value]) -> str:
    """The options text for `values`: only those that differ from the preset's."""
    return format_options({field.name: values[field.name] for field in fields
                           if field.name in values and values[field.name] != field.default})
