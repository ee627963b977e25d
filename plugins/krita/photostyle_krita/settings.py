"""What the docker remembers between Krita sessions, kept in kritarc's [PhotoStyle] group.

Connection (address, token), the chosen preset, the last reference file, the region mode (a key
of the client library's REGION_CHOICES) and the engine options are set in the panel. The engine
options are text, the GIMP procedure's form ("size=512 iterations=50 keep_brightness=true"),
written by the panel's option widgets (built from the daemon's capabilities). They and the
preview cadence (`preview_every`, kept here for power users and tests) apply to Run only:
Preview always sends the client library's `live_preview_options()`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from krita import Krita

from photostyle.server.client.launch import DaemonConfig
from photostyle.server.client import DEFAULT_REGION_CHOICE, REGION_CHOICES, Options
from photostyle.server.wire.options import parse_options

GROUP = "PhotoStyle"


@dataclass
class Settings:
    address: str
    token: str
    preset: str = "default"
    reference_file: str = ""
    regions: str = DEFAULT_REGION_CHOICE
    engine_options: str = ""
    preview_every: str = "10"

    @classmethod
    def load(cls, daemon: DaemonConfig) -> "Settings":
        """The remembered values; the installed daemon's address and token until the user sets others."""
        defaults = cls(address=daemon.address, token=daemon.token or "", regions=_former_region_mode())
        values = {item.name: Krita.instance().readSetting(GROUP, item.name, getattr(defaults, item.name))
                  for item in fields(cls)}
        if values["regions"] not in REGION_CHOICES:
            values["regions"] = DEFAULT_REGION_CHOICE
        values["engine_options"] = _with_former_working_size(values["engine_options"])
        return cls(**values)

    def save(self) -> None:
        for item in fields(self):
            Krita.instance().writeSetting(GROUP, item.name, str(getattr(self, item.name)))

    def options(self) -> Options:
        """Engine options for a job; a malformed number override reads as the preset's value, a
        malformed `engine_options` text is a ValueError whose message names the fix."""
        values = parse_options(self.engine_options)
        values.setdefault("preview_every", _number(self.preview_every))
        return Options(preset=self.preset, **values)


def _former_region_mode() -> str:
    """The region mode for a kritarc from before the modes: its checkbox "Pair regions by local
    selection name" (`pair_regions`) unticked meant the whole reference; ticked, the automatic mode
    still pairs named regions."""
    return "whole" if Krita.instance().readSetting(GROUP, "pair_regions", "") == "False" else DEFAULT_REGION_CHOICE


def _with_former_working_size(engine_options: str) -> str:
    """A kritarc from before the option widgets kept the working size apart (`working_size`)."""
    former = Krita.instance().readSetting(GROUP, "working_size", "").strip()
    if former.isdigit() and "size=" not in engine_options:
        return f"size={former} {engine_options}".strip()
    return engine_options


def _number(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None
