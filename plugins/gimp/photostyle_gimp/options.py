"""The engine options as procedure arguments: the preset's name and one options text.

GIMP fixes a procedure's arguments when it registers it, before any daemon can be asked what it
offers; so the engine's options travel as text ("size=512 keep_brightness=true"), which scripts
set directly and the dialog writes from typed widgets built from the daemon's capabilities
(dialog.py, with the client library's option_form). Registration (`add_preset_argument`,
`add_option_arguments`) and the conversion into the client's `Options` (`options_from_config`)
live here together. Nothing here imports GIMP or the client at module level: the plug-in
registers even when GIMP's Python lacks grpc, and tests read it without GIMP.
"""

from __future__ import annotations

from typing import Protocol

#: The daemon's default preset: the argument's default (registration cannot ask the daemon).
DEFAULT_PRESET = "default"
#: The argument holding the engine options as text (the dialog's option widgets write it).
OPTIONS_ARGUMENT = "options"


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
    """Register the engine options as one text argument of `procedure`, after the preset and the regions."""
    # The daemon's capabilities describe the options (`photostyle transfer --help` lists them too)
    # and it checks each job's against its own limits.
    procedure.add_string_argument(OPTIONS_ARGUMENT, "_Options", "Engine options as name=value, e.g. "
                                  "'size=512 keep_brightness=true iterations=50' (empty = the preset's values)",
                                  "", flags)


def options_from_config(config: _Config):
    """The client's Options for the arguments in `config` ("" takes the preset's values)."""
    from photostyle.server.client import Options  # needs grpc: not at registration
    from photostyle.server.wire.options import parse_options

    values = parse_options(str(config.get_property(OPTIONS_ARGUMENT) or ""))
    return Options(preset=config.get_property("preset") or DEFAULT_PRESET, **values)
