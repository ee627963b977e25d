"""Named parameter sets. `reference` is the paper's; `default` is what a retoucher waits for."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OptionsError


@dataclass(frozen=True)
class Preset:
    """Everything that shapes the optimisation; options may override `size`."""

    name: str
    description: str
    size: int  # long side of the working resolution, px
    style_iterations: int  # stage 1: masked neural style
    photoreal_iterations: int  # stage 2: + matting-Laplacian regularizer
    content_weight: float = 5.0
    style_weight: float = 100.0
    tv_weight: float = 1e-3
    photoreal_weight: float = 1e4
    init: str = "noise"  # stage-1 start: "noise" (reference) or "content"
    smooth_radius: int = 15  # smooth-local-affine joint bilateral filter
    smooth_edge: float = 0.01


PRESETS: dict[str, Preset] = {
    "reference": Preset(
        name="reference",
        description="The paper's settings: 700 px, 1000 + 1000 L-BFGS iterations from noise (slow; for comparison).",
        size=700,
        style_iterations=1000,
        photoreal_iterations=1000,
    ),
    "default": Preset(
        name="default",
        description="The paper's losses and weights at 512 px with fewer iterations, starting from the photo.",
        size=512,
        style_iterations=200,
        photoreal_iterations=100,
        init="content",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or an OptionsError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise OptionsError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}.") from None
