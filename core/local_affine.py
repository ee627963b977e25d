"""The reference code's "smooth local affine" finish, and its use to deliver full resolution.

Per pixel, fit the 3×4 affine colour map that best takes the photo to the stylised output over a
3×3 window; smooth the twelve coefficient maps with a joint bilateral filter guided by the photo
(so they change only across the photo's edges); apply them to the photo. The result is, by
construction, an affine recolouring of the photo: every edge and texture of the input survives.

Because the coefficients are smooth, they can be fitted at the working resolution and then
upsampled and applied to the full-resolution photo: a 24 MP layer keeps all of its detail while
the optimisation runs at ~0.5 MP.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

#: Ridge on the colour terms of each 4×4 normal matrix (the reference's constant).
FIT_REGULARIZER = 1e-3

#: Called between the slow loops' steps; raises to abandon the work (a cancelled job).
Checkpoint = Callable[[], None]


def _no_checkpoint() -> None:
    pass


def _box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over the (2r+1)² window around each pixel, windows clipped at the border."""
    size = 2 * radius + 1
    return F.avg_pool2d(x, size, stride=1, padding=radius, count_include_pad=True) * (size * size)


def fit_local_affine(output: torch.Tensor, photo: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Per-pixel least-squares affine map photo → output over windows of radius `radius`.

    `output` and `photo` are 3×H×W in [0, 1]. Returns 12×H×W coefficients: rows of the 3×4
    matrix A with output ≈ A · [photo; 1], one row per output channel.
    """
    photo64 = photo.to(torch.float64)[None]
    output64 = output.to(torch.float64)[None]
    height, width = photo.shape[-2:]
    ones = torch.ones_like(photo64[:, :1])
    basis = torch.cat([photo64, ones], dim=1)  # 1×4×H×W
    # Window sums of basis_i·basis_j (4×4) and basis_i·output_c (4×3), all pixels at once.
    normal = _box_sum((basis[:, :, None] * basis[:, None, :]).reshape(1, 16, height, width), radius)
    normal = normal.reshape(4, 4, height, width).permute(2, 3, 0, 1)
    rhs = _box_sum((basis[:, :, None] * output64[:, None, :]).reshape(1, 12, height, width), radius)
    rhs = rhs.reshape(4, 3, height, width).permute(2, 3, 0, 1)
    ridge = torch.diag(torch.tensor([FIT_REGULARIZER] * 3 + [0.0], dtype=torch.float64, device=photo.device))
    coefficients = torch.linalg.solve(normal + ridge, rhs)  # H×W×4×3
    # Channel k·3 + c holds the coefficient of basis k (R, G, B, 1) for output channel c.
    return coefficients.permute(2, 3, 0, 1).reshape(12, height, width).to(torch.float32)


def bilateral_smooth(coefficients: torch.Tensor, guide: torch.Tensor, radius: int = 15, edge: float = 0.01,
                     checkpoint: Checkpoint = _no_checkpoint) -> torch.Tensor:
    """Joint bilateral filter of K×H×W maps, guided by a 3×H×W image in [0, 1].

    Spatial sigma radius/3 and range sigma `edge` on the mean squared colour difference, as in the
    reference code; windows are clipped at the image border.
    """
    _, height, width = coefficients.shape
    spatial_sigma = max(radius / 3.0, 1e-6)
    padded_maps = F.pad(coefficients[None], (radius,) * 4)[0]
    padded_guide = F.pad(guide[None], (radius,) * 4)[0]
    padded_valid = F.pad(torch.ones(1, 1, height, width, device=guide.device), (radius,) * 4)[0, 0]
    range_scale = 1.0 / (2 * edge * edge * guide.shape[0])  # mean over channels folded in
    total = torch.zeros_like(coefficients)
    total_weight = torch.zeros(height, width, device=guide.device)
    for dy in range(-radius, radius + 1):
        checkpoint()
        for dx in range(-radius, radius + 1):
            ys, xs = slice(radius + dy, radius + dy + height), slice(radius + dx, radius + dx + width)
            difference = padded_guide[:, ys, xs] - guide
            # In place: this loop runs (2r+1)² times over every pixel, temporaries dominate its cost.
            # The exponent is floored at -80 so negligible weights stay normal floats (denormals
            # are many times slower on CPUs).
            weight = (difference.mul_(difference).sum(dim=0).mul_(-range_scale)
                      .add_(-(dx * dx + dy * dy) / (2 * spatial_sigma ** 2)).clamp_(min=-80.0).exp_()
                      .mul_(padded_valid[ys, xs]))
            total.addcmul_(padded_maps[:, ys, xs], weight)
            total_weight.add_(weight)
    return total / total_weight


def _resize_rows_and_cols(maps: torch.Tensor, rows: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear (half-pixel centres) resize of K×h×w maps, evaluated only at output `rows`."""
    _, small_h, small_w = maps.shape

    def taps(coordinates: torch.Tensor, small: int, big: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        source = ((coordinates.to(torch.float32) + 0.5) * (small / big) - 0.5).clamp(0, small - 1)
        low = source.floor().long()
        high = (low + 1).clamp(max=small - 1)
        return low, high, (source - low)

    low_y, high_y, frac_y = taps(rows, small_h, height)
    rows_interp = maps[:, low_y] * (1 - frac_y)[None, :, None] + maps[:, high_y] * frac_y[None, :, None]
    low_x, high_x, frac_x = taps(torch.arange(width, device=maps.device), small_w, width)
    return rows_interp[:, :, low_x] * (1 - frac_x) + rows_interp[:, :, high_x] * frac_x


def apply_affine(coefficients: torch.Tensor, photo: torch.Tensor, strip_bytes: int = 256 * 2**20,
                 checkpoint: Checkpoint = _no_checkpoint) -> torch.Tensor:
    """Apply 12×h×w coefficient maps to a 3×H×W photo, upsampling them to H×W as needed.

    Works in strips of rows (about `strip_bytes` of temporaries each) so that a very large photo
    never holds the full-size 12-channel coefficient image in memory at once.
    """
    _, height, width = photo.shape
    rows_per_strip = max(1, strip_bytes // (width * 12 * 4 * 3))
    result = torch.empty_like(photo)
    for start in range(0, height, rows_per_strip):
        checkpoint()
        stop = min(start + rows_per_strip, height)
        rows = torch.arange(start, stop, device=photo.device)
        strip = _resize_rows_and_cols(coefficients, rows, height, width).reshape(4, 3, stop - start, width)
        # strip[k, c] is the coefficient of basis k (R, G, B, 1) for output channel c.
        part = photo[:, start:stop]
        result[:, start:stop] = (strip[:3] * part[:, None]).sum(dim=0) + strip[3]
    return result


def smooth_local_affine(
    output: torch.Tensor,
    photo: torch.Tensor,
    full_photo: torch.Tensor | None = None,
    radius: int = 15,
    edge: float = 0.01,
    checkpoint: Checkpoint = _no_checkpoint,
) -> torch.Tensor:
    """The stylised `output` (3×h×w) re-expressed as a smooth affine recolouring of the photo.

    `photo` is the photo at the output's size; `full_photo` (default: `photo`) is the photo at the
    size to deliver. The result has `full_photo`'s size and is not clamped. `checkpoint` runs
    between steps (a few seconds' work at 24 MP), so a cancel need not wait for the whole finish.
    """
    coefficients = fit_local_affine(output, photo)
    coefficients = bilateral_smooth(coefficients, photo, radius=radius, edge=edge, checkpoint=checkpoint)
    return apply_affine(coefficients, photo if full_photo is None else full_photo, checkpoint=checkpoint)

