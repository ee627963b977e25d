"""Live preview: what both plug-ins send for instant feedback while the retoucher sets a job up.

The daemon's `preview` preset (a region-wise colour transfer and the smooth-local-affine finish,
no neural optimisation) answers in about a second on a CPU. The hosts shrink the layer, the
reference and the region masks before sending them, so a preview never waits on moving a
24 MP layer: the policy for how far lives here, once, for GIMP and Krita alike.
"""

from __future__ import annotations

from .client import Options

#: The engine preset for live previews (see the daemon's capabilities for its description).
LIVE_PREVIEW_PRESET = "preview"
#: Long side, px, of the images a plug-in sends for a live preview.
LIVE_PREVIEW_SIDE = 512


def live_preview_scale(width: int, height: int, min_side: int) -> float:
    """The factor (≤ 1) to shrink a width×height image by for a live preview: its long side to
    `LIVE_PREVIEW_SIDE`, but its short side never below `min_side` (the daemon's
    `Capabilities.limits.min_side`) and the image never enlarged."""
    scale = min(1.0, LIVE_PREVIEW_SIDE / max(width, height))
    return max(scale, min(1.0, min_side / min(width, height)))


def live_preview_options() -> Options:
    """Engine options for a live preview (no streamed previews: the answer is the preview)."""
    return Options(preset=LIVE_PREVIEW_PRESET)
