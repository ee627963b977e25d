"""What the docker remembers between Krita sessions, kept in kritarc's [PhotoStyle] group.

Connection (address, token), the chosen preset, the last reference file and region pairing
are set in the panel. Engine overrides (working size, iterations, preview cadence) are not on
the panel: they sit here for power users and tests, "" meaning the preset's value. They apply
to Run only (Preview always sends the client library's `live_preview_options()`).
`style_iterations` counts the iterations of the preset's stages without the photorealism term
(the default preset has none, so the daemon refuses a positive value with it),
`photoreal_iterations` those of the stages with it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from krita import Krita

from photostyle_client.launch import DaemonConfig
from photostyle_client import Options

GROUP = "PhotoStyle"


@dataclass
class Settings:
    address: str
    token: str
    preset: str = "default"
    reference_file: str = ""
    pair_regions: bool = True
    working_size: str = ""
    style_iterations: str = ""
    photoreal_iterations: str = ""
    preview_every: str = "10"

    @classmethod
    def load(cls, daemon: DaemonConfig) -> "Settings":
        """The remembered values; the installed daemon's address and token until the user sets others."""
        defaults = cls(address=daemon.address, token=daemon.token or "")
        values = {}
        for item in fields(cls):
            default = getattr(defaults, item.name)
            text = Krita.instance().readSetting(GROUP, item.name, str(default))
            values[item.name] = text == "True" if isinstance(default, bool) else text
        return cls(**values)

    def save(self) -> None:
        for item in fields(self):
            Krita.instance().writeSetting(GROUP, item.name, str(getattr(self, item.name)))

    def options(self) -> Options:
        """Engine options for a job; a malformed override reads as the preset's value."""
        return Options(preset=self.preset, size=_number(self.working_size),
                       style_iterations=_number(self.style_iterations),
                       photoreal_iterations=_number(self.photoreal_iterations),
                       preview_every=_number(self.preview_every) or 0)


def _number(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None
