"""Carrying a method's working-size result to the photo's full resolution, row strip by row strip.

A `Finish` turns a method's `Outcome` into a row renderer for `images.rebuild`, so a 24 MP layer
never exists as one float tensor. `SmoothAffine` is the reference code's finish: the result
re-expressed as smooth affine maps of the photo, upsampled and applied to the full-resolution photo
(every edge and texture of the photo survives). `ProjectedAffine` reaches such maps by projecting
the result onto photorealistic images first, which keeps more of its colours. `Upscale` delivers
the optimised image itself, enlarged (a painterly result, or the raw optimisation when asked).
`keep_brightness` wraps any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from .images import RowRenderer
from .local_affine import apply_affine_rows, fit_local_affine, smooth_coefficients
from .matting import photo_laplacian, photorealistic_projection
from .progress import Checkpoint, no_checkpoint

#: Rec. 709 luma weights (of the gamma-encoded channels): what "brightness" means to the eye, and
#: they sum to 1, so adding one amount to R, G and B moves the luma by exactly that amount.
LUMA = (0.2126, 0.7152, 0.0722)


@dataclass
class Outcome:
    """A method's result at its last stage's size, and the photo at that size (for the finish)."""

    image: torch.Tensor  # 3×h×w in [0, 1]
    photo: torch.Tensor
    stage_losses: dict[str, dict[str, dict[str, float]]]  # stage -> "first"/"last" -> term -> value
    loss: float = 0.0  # what the last stage optimised, at its end (0 for a method that does not optimise)
    #: The photo's matting Laplacian at this size, where the method built one (a finish reuses it).
    laplacian: torch.Tensor | None = None


class Finish(Protocol):
    """How a method's result reaches full resolution."""

    name: str

    def renderer(self, outcome: Outcome, height: int, width: int, checkpoint: Checkpoint) -> RowRenderer:
        """Renders rows of the full-size (height × width) result from the photo's rows."""
        ...


@dataclass(frozen=True)
class SmoothAffine:
    """The reference's smooth local affine finish: joint bilateral `radius` px, range sigma `edge`."""

    radius: int = 15
    edge: float = 0.01
    name: str = "smooth local affine"

    def renderer(self, outcome: Outcome, height: int, width: int, checkpoint: Checkpoint) -> RowRenderer:
        coefficients = smooth_coefficients(outcome.image, outcome.photo, self.radius, self.edge, checkpoint)
        return lambda rows, start, _: apply_affine_rows(coefficients, rows, start, height)


@dataclass(frozen=True)
class ProjectedAffine:
    """The result projected onto photorealistic images (`matting.photorealistic_projection` with
    `strength`), then re-expressed as the affine maps of the photo that reproduce it in each 3×3
    window (`local_affine.fit_local_affine`): the projection leaves those maps consistent from
    window to window, so they need no blur, and they carry the colours to full resolution.

    Against `SmoothAffine` on the same optimised images of 16 DPST pairs (the default's with 30 and
    10 iterations at ½ and full size; style distance, photo energy, edges ÷ the paper's, medians at
    384 px): 0.76, 0.81, 1.09 with strength 3 against 1.02, 0.88, 1.10, and faster (pair 1: 0.15
    against 0.52 s on a 2-core "Intel(R) Xeon(R) Processor", the Laplacian reused; issue 21): the
    bilateral filter averages the optimised colours over 31×31 px wherever the photo's colours are
    alike, and gave back half the style the optimisation found (the optimised image itself: 0.56,
    but photo energy 2.6). A lower strength keeps more style and less photorealism."""

    strength: float = 2.0
    name: str = "projected affine"

    def renderer(self, outcome: Outcome, height: int, width: int, checkpoint: Checkpoint) -> RowRenderer:
        coefficients = projected_affine_maps(outcome.image, outcome.photo, outcome.laplacian, self.strength, checkpoint)
        return lambda rows, start, _: apply_affine_rows(coefficients, rows, start, height)


def projected_affine_maps(image: torch.Tensor, photo: torch.Tensor, laplacian: torch.Tensor | None, strength: float,
                          checkpoint: Checkpoint = no_checkpoint) -> torch.Tensor:
    """The 12×h×w affine maps of `photo` that reproduce `image` (3×h×w in [0, 1]) projected onto
    photorealistic images with `strength` (`ProjectedAffine`); `laplacian`: the photo's, where one
    was built (else it is built here)."""
    laplacian = laplacian if laplacian is not None else photo_laplacian(photo)
    projected = photorealistic_projection(image, laplacian, strength, checkpoint).clamp(0, 1)
    return fit_local_affine(projected, photo)


#: The finishes that re-express the result as affine maps of the photo (the `smooth` option's "on").
SMOOTH_FINISHES = (SmoothAffine, ProjectedAffine)


@dataclass(frozen=True)
class Upscale:
    """The method's image itself, enlarged bicubically."""

    name: str = "upscale"

    def renderer(self, outcome: Outcome, height: int, width: int, checkpoint: Checkpoint) -> RowRenderer:
        upscaled = F.interpolate(outcome.image[None], size=(height, width), mode="bicubic", align_corners=False)[0]
        return lambda _, start, stop: upscaled[:, start:stop]


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """The luma of 3×… RGB, 1×…"""
    red, green, blue = LUMA
    return (rgb[0:1] * red).add_(rgb[1:2], alpha=green).add_(rgb[2:3], alpha=blue)


def keep_brightness(render: RowRenderer) -> RowRenderer:
    """`render` with each pixel's luma set back to the photo's: colour from the result, brightness
    from the photo (Match Color's Luminance control, at its neutral setting)."""
    def render_keeping_brightness(rows: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        result = render(rows, start, stop)
        return result + (luma(rows) - luma(result))
    return render_keeping_brightness
