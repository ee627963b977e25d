"""Options ↔ wire, by field name: each job option of the engine's schema is a field of the proto's
`TransferOptions` with the same name, so no option is copied field by field anywhere.

Values travel as Python values (int, bool, str); an enum field carries the choice's name
("auto" ↔ REGION_MODE_AUTO). Text forms ("size=384 keep_brightness=true") are what the hosts
store and the GIMP procedure takes. Needs only protobuf: vendored into the hosts with the client.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Mapping

from google.protobuf.descriptor import FieldDescriptor

from . import photostyle_pb2 as pb

_FIELDS = pb.TransferOptions.DESCRIPTOR.fields_by_name
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class OptionValueError(ValueError):
    """An option name or value that cannot go on the wire; the message names the fix."""


def _enum_prefix(field: FieldDescriptor) -> str:
    """'REGION_MODE_' for a RegionMode field."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field.enum_type.name).upper() + "_"


def _field(name: str) -> FieldDescriptor:
    try:
        return _FIELDS[name]
    except KeyError:
        raise OptionValueError(f"Unknown option '{name}'; the options are: {', '.join(_FIELDS)}.") from None


def to_wire(values: Mapping[str, Any]) -> pb.TransferOptions:
    """The proto message with the given options set (the rest unset: the preset's values)."""
    message = pb.TransferOptions()
    for name, value in values.items():
        field = _field(name)
        if field.enum_type is not None:
            number = field.enum_type.values_by_name.get(_enum_prefix(field) + str(value).upper().replace("-", "_"))
            if number is None:
                choices = ", ".join(v.name[len(_enum_prefix(field)):].lower() for v in field.enum_type.values)
                raise OptionValueError(f"Unknown {name} value '{value}'; use one of: {choices}.")
            value = number.number
        try:
            setattr(message, name, value)
        except (TypeError, ValueError) as error:
            raise OptionValueError(f"Option {name} cannot be {value!r} ({error}).") from None
    return message


def from_wire(message: pb.TransferOptions) -> dict[str, Any]:
    """The options set in the message, by name; an enum number this version lacks is refused."""
    values: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if not message.HasField(field.name):
            continue
        value = getattr(message, field.name)
        if field.enum_type is not None:
            known = field.enum_type.values_by_number.get(value)
            words = re.sub(r"(?<!^)(?=[A-Z])", " ", field.enum_type.name).lower()
            if known is None:
                names = ", ".join(v.name for v in field.enum_type.values)
                raise OptionValueError(f"Unknown {words} {value}; use one of {names}.")
            value = known.name[len(_enum_prefix(field)):].lower()
        values[field.name] = value
    return values


def parse_value(name: str, text: str) -> Any:
    """One option's value from its text form, typed by its proto field."""
    field = _field(name)
    text = text.strip()
    if field.type == FieldDescriptor.TYPE_BOOL:
        if text.lower() not in _TRUE + _FALSE:
            raise OptionValueError(f"Option {name} is true or false, not '{text}'.")
        return text.lower() in _TRUE
    if field.cpp_type in (FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64):
        try:
            return int(text)
        except ValueError:
            raise OptionValueError(f"Option {name} is a whole number, not '{text}'.") from None
    return text


def format_value(value: Any) -> str:
    """The text form of a value: 'true'/'false', decimal integers, text as is."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parse_options(text: str) -> dict[str, Any]:
    """'size=384 keep_brightness=true' → {'size': 384, 'keep_brightness': True} (shell-style quoting)."""
    values = {}
    for word in shlex.split(text):
        name, equals, value = word.partition("=")
        if not equals:
            raise OptionValueError(f"Write options as name=value, not '{word}' (e.g. size=384 keep_brightness=true).")
        values[name.strip()] = parse_value(name.strip(), value)
    return values


def format_options(values: Mapping[str, Any]) -> str:
    """The text form of `values`, which `parse_options` reads back."""
    return " ".join(f"{name}={shlex.quote(format_value(value))}" for name, value in values.items())
