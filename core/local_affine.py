"""The reference code's "smooth local affine" finish, and its use to deliver full resolution.

Per pixel, fit the 3×4 affine colour map that best takes the photo to the stylised output over a
3×3 window; smooth the twelve coefficient maps with a joint bilateral filter guided by the photo
(so they change only across the photo's edges); apply them to the photo. The result is, by
construction, an affine recolouring of the photo: every edge and texture of the input survives.

Because the coefficients are smooth, they can be fitted at the working resolution and then
upsampled and applied to the full-resolution photo, strip by strip (`apply_affine_rows` with
`images.rebuild`): a 24 MP layer keeps all of its detail while the optimisation runs at ~0.1 MP.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .images import resize_rows
from .progress import Checkpoint, no_checkpoint

#: Ridge on the colour terms of each 4×4 normal matrix (the reference's constant).
FIT_REGULARIZER = 1e-3


def _box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over the (2r+1)² window around each pixel, windows clipped at the border."""
    size = 2 * radius + 1
    return F.avg_pool2d(x, size, stride=1, padding=radius, count_include_pad=True) * (size * size)


def _window_normals(photo: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[photo; 1] in float64 (4×H×W), and each pixel's ridge-regularised normal matrix of the
    least-squares fit over its window (H×W×4×4: window sums of basis_i·basis_j, plus the ridge)."""
    height, width = photo.shape[-2:]
    photo64 = photo.to(torch.float64)
    basis = torch.cat([photo64, torch.ones_like(photo64[:1])])
    normal = _box_sum((basis[:, None] * basis[None]).reshape(1, 16, height, width), radius)
    normal = normal.reshape(4, 4, height, width).permute(2, 3, 0, 1)
    ridge = torch.diag(torch.tensor([FIT_REGULARIZER] * 3 + [0.0], dtype=torch.float64, device=photo.device))
    return basis, normal + ridge


def fit_local_affine(output: torch.Tensor, photo: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Per-pixel least-squares affine map photo → output over windows of radius `radius`.

    `output` and `photo` are 3×H×W in [0, 1]. Returns 12×H×W coefficients: rows of the 3×4
    matrix A with output ≈ A · [photo; 1], one row per output channel.
    """
    height, width = photo.shape[-2:]
    basis, normal = _window_normals(photo, radius)
    # Window sums of basis_i·output_c (4×3), all pixels at once.
    rhs = _box_sum((basis[:, None] * output.to(torch.float64)[None]).reshape(1, 12, height, width), radius)
    rhs = rhs.reshape(4, 3, height, width).permute(2, 3, 0, 1)
    coefficients = torch.linalg.solve(normal, rhs)  # H×W×4×3
    # Channel k·3 + c holds the coefficient of basis k (R, G, B, 1) for output channel c.
    return coefficients.permute(2, 3, 0, 1).reshape(12, height, width).to(torch.float32)


def local_affine_view(photo: torch.Tensor, radius: int = 1) -> Callable[[torch.Tensor], torch.Tensor]:
    """The linear map taking an image (3×H×W) to its local affine recolouring of `photo`: each pixel
    as `fit_local_affine` then `apply_affine` give it, in one differentiable step.

    A pixel's fit is (N + ridge)⁻¹ times its window's sums of [photo; 1]·image, and its output that
    fit applied to [photo; 1]; so the output is Σⱼ wⱼ · window-sum([photo; 1]ⱼ · image), with the
    four weight maps w fixed by the photo (computed here once, in float64). An optimiser that steps
    in the image this map is applied to moves only through recolourings of the photo."""
    height, width = photo.shape[-2:]
    basis64, normal = _window_normals(photo, radius)
    basis = basis64.to(photo.dtype)
    weights = torch.einsum("khw,hwkj->jhw", basis64, torch.linalg.inv(normal)).to(photo.dtype)[:, None]

    def recolour(image: torch.Tensor) -> torch.Tensor:
        sums = _box_sum((basis[:, None] * image[None]).reshape(1, 12, height, width), radius)
        return (weights * sums.reshape(4, 3, height, width)).sum(0)
    return recolour


def bilateral_smooth(coefficients: torch.Tensor, guide: torch.Tensor, radius: int = 15, edge: float = 0.01,
                     checkpoint: Checkpoint = no_checkpoint) -> torch.Tensor:
    """Joint bilateral filter of K×H×W maps, guided by a 3×H×W image in [0, 1].

    Spatial sigma radius/3 and range sigma `edge` on the mean squared colour difference, as in the
    reference code; windows are clipped at the image border. The weight between two pixels is the
    same seen from either, so each pair of offsets ±(dy, dx) computes it once and adds both ways
    (0.70× the time at 512×320 px on a 2-core "Intel(R) Xeon(R) Processor"), and the weights' sum
    accumulates as one more map.
    """
    channels, height, width = coefficients.shape
    spatial_sigma = max(radius / 3.0, 1e-6)
    range_scale = 1.0 / (2 * edge * edge * guide.shape[0])  # mean over channels folded in
    maps = torch.cat([coefficients, coefficients.new_ones(1, height, width)])
    total = maps.clone()  # each pixel's own term: weight exp(0) = 1
    for dy in range(0, min(radius, height - 1) + 1):
        checkpoint()
        for dx in range(-min(radius, width - 1), min(radius, width - 1) + 1):
            if dy == 0 and dx <= 0:
                continue  # the offset (0, 0), and the mirrors of offsets (0, dx > 0)
            # The pixels p whose p + (dy, dx) is inside the image, and those p + (dy, dx).
            near = slice(0, height - dy), slice(max(0, -dx), width - max(0, dx))
            far = slice(dy, height), slice(max(0, dx), width + min(0, dx))
            difference = guide[:, far[0], far[1]] - guide[:, near[0], near[1]]
            # In place: this loop runs (2r+1)²/2 times over every pixel, temporaries dominate its cost.
            # The exponent is floored at -80 so negligible weights stay normal floats (denormals
            # are many times slower on CPUs).
            weight = (difference.mul_(difference).sum(dim=0).mul_(-range_scale)
                      .add_(-(dx * dx + dy * dy) / (2 * spatial_sigma ** 2)).clamp_(min=-80.0).exp_())
            total[:, near[0], near[1]].addcmul_(maps[:, far[0], far[1]], weight)
            total[:, far[0], far[1]].addcmul_(maps[:, near[0], near[1]], weight)
    return total[:channels] / total[channels]


def apply_affine_rows(coefficients: torch.Tensor, photo_rows: torch.Tensor, start: int, height: int) -> torch.Tensor:
    """Rows [start, start + rows) of the photo recoloured by 12×h×w coefficient maps.

    `photo_rows` is 3×rows×W, part of a photo `height` rows tall; the maps are upsampled to it.
    """
    _, rows, width = photo_rows.shape
    maps = resize_rows(coefficients, start, start + rows, height, width).unflatten(0, (4, 3))
    # maps[k, c] is the coefficient of basis k (R, G, B, 1) for output channel c.
    result = torch.addcmul(maps[3], maps[0], photo_rows[0:1])
    for k in (1, 2):
        result.addcmul_(maps[k], photo_rows[k:k + 1])
    return result


def apply_affine(coefficients: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Apply 12×h×w coefficient maps to a 3×H×W photo (a working-size one: see `images.rebuild`
    for a full-resolution layer)."""
    return apply_affine_rows(coefficients, photo, 0, photo.shape[1]).contiguous()


def smooth_coefficients(output: torch.Tensor, photo: torch.Tensor, radius: int = 15, edge: float = 0.01,
                        checkpoint: Checkpoint = no_checkpoint) -> torch.Tensor:
    """The 12×h×w affine maps that re-express `output` (3×h×w) as a smooth recolouring of `photo`."""
    return bilateral_smooth(fit_local_affine(output, photo), photo, radius=radius, edge=edge, checkpoint=checkpoint)
