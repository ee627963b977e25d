"""A frame's fine detail kept at its own contrast through a look.

A colour map steeper than 1 multiplies whatever changes from frame to frame by its slope. Motion
does not change a colour, but it changes fine detail: each frame of a zoom (or of a pan by
fractions of a pixel) is resampled from the scene anew, so texture a pixel or two wide shimmers a
little in any footage, and a steep look makes that shimmer visible (measured on benchmarks/video.py's
zoom with the `default` look: 1.63× the input's warping error). So a sequence's frames are split
into a base, the frame smoothed by a Gaussian of DETAIL_SIGMA px, which the look recolours, and the
detail (frame − base), which is added back as it is: the look sets colour and tone, the frame keeps
its own texture. The split is exact (a look that changes nothing gives the frame back) and shifts
with the picture (a shifted frame gives the shifted result away from the borders).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .images import Pixels, read_only_tensor

#: The Gaussian's standard deviation in pixels: detail finer than this keeps its own contrast.
#: Measured on benchmarks/video.py's clips (`default` look, 12 frames of 256×144), warping error ÷
#: the input's on the zoom / pan, and ΔE2000 of the keyframe against its own transfer: none
#: 1.63 / 0.66 / 7.2; 1 px 1.17 / 0.84 / 7.9; 1.5 px 1.09 / 0.92 / 8.3; 2 px 1.06 / 0.94 / 8.5;
#: 3 px 1.01 / 0.98 / 8.9. Resampling shimmer is a pixel or two wide at any frame size, so the
#: size is in pixels: on a larger frame the same σ takes a smaller share of the look's contrast.
DETAIL_SIGMA = 2.0
#: The Gaussian reaches this many σ on each side.
_TRUNCATE = 3.0
#: The blur runs over bands of this many rows, so that each band's passes stay in the CPU's cache
#: (1080p RGB: 20-30 ms on the 2-core "Intel(R) Xeon(R) Processor" (Sapphire Rapids) where torch's
#: conv2d took 0.6 s).
_BAND_ROWS = 64


def reach(sigma: float = DETAIL_SIGMA) -> int:
    """How many pixels from a border the blur of `sigma` px sees past it (where a shifted frame's
    result may differ)."""
    return max(1, math.ceil(_TRUNCATE * sigma))


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """H×W×C float `image` blurred over H and W by a Gaussian of `sigma` px, edges replicated."""
    radius = reach(sigma)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-offsets ** 2 / (2 * sigma * sigma))
    kernel = (kernel / kernel.sum()).tolist()
    height, width, _ = image.shape
    padded = F.pad(image.permute(2, 0, 1)[None], (radius, radius, radius, radius), mode="replicate")
    padded = padded[0].permute(1, 2, 0).contiguous()
    out = torch.empty_like(image)
    for start in range(0, height, _BAND_ROWS):
        stop = min(height, start + _BAND_ROWS)
        band = padded[start:stop + 2 * radius]
        across = band[:, :width] * kernel[0]
        for tap in range(1, len(kernel)):
            across.add_(band[:, tap:tap + width], alpha=kernel[tap])
        rows = out[start:stop]
        torch.mul(across[:stop - start], kernel[0], out=rows)
        for tap in range(1, len(kernel)):
            rows.add_(across[tap:tap + stop - start], alpha=kernel[tap])
    return out


def split_detail(frame: np.ndarray, sigma: float = DETAIL_SIGMA) -> tuple[np.ndarray, torch.Tensor]:
    """The frame's base (its colours smoothed, in its own layout and sample type: 8 and 16-bit bases
    are rounded, so an 8-bit base can go through a look's 8-bit table; alpha as it was) and its
    detail, frame − base, as H×W×colours in the frame's sample units (integers for 8 and 16 bits)."""
    frame = frame[:, :, None] if frame.ndim == 2 else frame
    count = Pixels(frame).colour_channels
    samples = read_only_tensor(frame)[..., :count]
    values = samples.float()  # float32 frames: the caller's pixels themselves, only read
    smooth = gaussian_blur(values, sigma)
    base = frame.copy()
    if frame.dtype.kind == "f":
        base[..., :count] = smooth.numpy()
        return base, values - smooth
    top = float(np.iinfo(frame.dtype).max)
    rounded = smooth.round_().clamp_(0, top)
    base[..., :count] = rounded.numpy().astype(frame.dtype)
    return base, samples.to(torch.int32) - rounded.to(torch.int32)


def split_levels(levels: torch.Tensor, sigma: float = DETAIL_SIGMA) -> tuple[torch.Tensor, torch.Tensor]:
    """`split_detail` of float H×W×3 levels (an 8-bit frame filtered over time): base and detail."""
    smooth = gaussian_blur(levels, sigma)
    return smooth, levels - smooth


def add_detail(styled: np.ndarray, detail: torch.Tensor) -> np.ndarray:
    """`styled` (a look's result: H×W×3 or ×4, alpha untouched) with `detail` added to its colours,
    in place, clipped to the sample type's range (and rounded for 8 and 16 bits)."""
    colours = torch.from_numpy(styled)[..., :3]
    if styled.dtype.kind == "f":
        colours.add_(detail).clamp_(0.0, 1.0)
        return styled
    top = int(np.iinfo(styled.dtype).max)
    if detail.dtype.is_floating_point:
        summed = colours.float().add_(detail).round_()
    else:
        summed = colours.to(torch.int32).add_(detail)
    colours.copy_(summed.clamp_(0, top))
    return styled
