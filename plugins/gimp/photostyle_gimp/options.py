"""The engine options as procedure arguments: the one place GIMP's plug-in names them.

Registration (`add_preset_argument`, `add_option_arguments`), the dialog's widgets for them
(`OPTION_ARGUMENTS`, which GIMP's ProcedureDialog builds from the arguments) and their conversion
into the client's `Options` (`options_from_config`) live here together, so a schema-driven set of options can
replace them in one module. Nothing here imports GIMP or the client at module level: the plug-in
registers even when GIMP's Python lacks grpc, and tests read it without GIMP.
"""

from __future__ import annotations

from typing import Protocol

#: The daemon's default preset: the argument's default (registration cannot ask the daemon).
DEFAULT_PRESET = "default"
#: The option arguments the dialog shows as GIMP widgets (the preset has the daemon's combo box).
OPTION_ARGUMENTS = ("size", "options")


class _Config(Protocol):
    def get_property(self, name: str) -> object: ...


def add_preset_argument(procedure, flags) -> None:
    """Register the preset as an argument of `procedure` (a Gimp.Procedure); `flags`: its GObject.ParamFlags."""
    # A string, not a choice: GIMP fixes a choice's items when it registers the procedure, and the
    # presets are whatever the daemon offers (it refuses an unknown name and lists its presets).
    procedure.add_string_argument("preset", "_Preset", "Name of one of the PhotoStyle daemon's presets "
                                  "(its capabilities list them: default, preview, reference, ...)",
                                  DEFAULT_PRESET, flags)


def add_option_arguments(procedure, flags) -> None:
    """Register the engine overrides as arguments of `procedure`, after the preset and the regions."""
    procedure.add_int_argument("size", "_Working size", "Long side the engine optimises at, px (0 = the preset's)",
                               0, 4096, 0, flags)
    # Every other option of the engine's schema, as text: the daemon's capabilities describe them
    # (`photostyle transfer --help` lists them too) and it checks each job's against its own limits.
    procedure.add_string_argument("options", "_Options", "More engine options as name=value, e.g. "
                                  "'keep_brightness=true iterations=50' (empty = the preset's values)", "", flags)


def options_from_config(config: _Config):
    """The client's Options for the arguments in `config` (0 and "" take the preset's value)."""
    from photostyle.server.client import Options  # needs grpc: not at registration
    from photostyle.server.wire.options import parse_options

    values = parse_options(str(config.get_property("options") or ""))
    if config.get_property("size"):
        values["size"] = config.get_property("size")
    return Options(preset=config.get_property("preset") or DEFAULT_PRESET, **values)
