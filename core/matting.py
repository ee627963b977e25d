"""The photorealism regularizer: Levin et al.'s matting Laplacian (eq. 2-3 of the paper).

For an output that is a locally affine colour transform of the photo in every 3×3 window,
V_cᵀ L V_c = 0 for each colour channel c. `matting_laplacian` builds L from the photo as a sparse
float64 matrix (a float32 matrix-free form loses the answer where windows are flat and their
3×3 covariance is nearly singular; a float64 one, with box sums, took 10-16× the sparse product's
time at 512×320 px), and `photorealism_loss` evaluates λ Σ_c V_cᵀ L V_c with the exact gradient
2λ L V_c.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch

#: The reference code's window radius (3×3 windows) and regulariser ε.
DEFAULT_RADIUS = 1
DEFAULT_EPSILON = 1e-7


def matting_laplacian(image: np.ndarray, epsilon: float = DEFAULT_EPSILON, radius: int = DEFAULT_RADIUS) -> torch.Tensor:
    """The (H·W)×(H·W) matting Laplacian of an H×W×3 image in [0, 1] (row-major pixel order), as a
    float64 torch CSR tensor on the CPU.

    L = Σ_k over windows fully inside the image of (δ_ij − (1 + (I_i−μ_k)ᵀ(Σ_k + ε/|w| I)⁻¹(I_j−μ_k)) / |w|),
    as in Levin, Lischinski and Weiss (2008). Pixel i meets pixel j only when |Δy|, |Δx| ≤ 2·radius, so
    every row stores one entry per offset Δ = j − i ((4r+1)² of them, ELLPACK-style): those reaching
    outside the image hold zero (their column is clipped into range). Each window adds its |w|² terms
    to the entries by array slices, and the arrays built become the matrix with one copy (offset-major
    to row-major) and no gathering, because on machines whose first touch of memory is slow (virtual
    machines: ~30 µs a page here) the build's temporary arrays were most of its time (512×320 px,
    2-core Xeon VM, fresh process: 0.8-2.3 s before, 0.4-0.5 s; the offset-major additions then
    0.28-0.29 s against 0.34-0.37, the same matrix bit for bit). Indices are int32 where they fit:
    half the product's time.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width, _ = image.shape
    size = 2 * radius + 1
    reach = 2 * radius
    side = 2 * reach + 1
    pixels = height * width
    # by_offset[(dy + reach)·side + (dx + reach), y, x] = L[(y, x), (y + dy, x + dx)]: offset-major,
    # so that each window's affinities are added to contiguous rows (pixel-major strides every
    # addition over the whole array), then made pixel-major once for the matrix's rows.
    by_offset = np.zeros((side * side, height, width))
    if height >= size and width >= size:
        _add_window_affinities(image, epsilon, radius, by_offset)
    entries = np.ascontiguousarray(by_offset.transpose(1, 2, 0))
    del by_offset
    degree = entries.sum(axis=-1)
    np.negative(entries, out=entries)  # L = D − A
    entries[..., reach * side + reach] += degree

    index_dtype = np.int32 if pixels * side * side < 2**31 else np.int64
    steps = np.array([dy * width + dx for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)],
                     dtype=index_dtype)
    columns = np.arange(pixels, dtype=index_dtype)[:, None] + steps
    np.clip(columns, 0, pixels - 1, out=columns)
    row_starts = np.arange(0, pixels * side * side + 1, side * side, dtype=index_dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(torch.from_numpy(row_starts), torch.from_numpy(columns.reshape(-1)),
                                       torch.from_numpy(entries.reshape(-1)), size=(pixels, pixels),
                                       check_invariants=False)  # valid by construction; checking costs time


def _add_window_affinities(image: np.ndarray, epsilon: float, radius: int, by_offset: np.ndarray) -> None:
    """Add each window's affinities (1 + (I_i−μ_k)ᵀ(Σ_k + ε/|w| I)⁻¹(I_j−μ_k)) / |w| to `by_offset`
    (offset × H × W)."""
    height, width, channels = image.shape
    window_pixels = (2 * radius + 1) ** 2
    reach = 2 * radius
    side = 2 * reach + 1
    # Every window at once, by centre (h×w of them): its pixel at each offset, centred on its mean.
    inner_h, inner_w = height - 2 * radius, width - 2 * radius
    offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    at = [image[radius + dy:radius + dy + inner_h, radius + dx:radius + dx + inner_w] for dy, dx in offsets]
    mean = sum(at) / window_pixels
    centred = [pixel - mean for pixel in at]
    covariance = np.zeros((inner_h, inner_w, channels, channels))
    for pixel in centred:
        covariance += pixel[..., :, None] * pixel[..., None, :]
    covariance /= window_pixels
    covariance += (epsilon / window_pixels) * np.eye(channels)
    inverse = np.linalg.inv(covariance)
    del covariance
    # The affinity of offsets a and b equals that of b and a (the inverse is symmetric): one product each.
    for a, ((ay, ax), pixel_a) in enumerate(zip(offsets, centred)):
        weighted = np.einsum("hwi,hwij->hwj", pixel_a, inverse)
        rows_a = slice(radius + ay, radius + ay + inner_h), slice(radius + ax, radius + ax + inner_w)
        for (by, bx), pixel_b in zip(offsets[a:], centred[a:]):
            affinity = (1.0 + np.einsum("hwj,hwj->hw", weighted, pixel_b)) / window_pixels
            by_offset[((by - ay + reach) * side + (bx - ax + reach),) + rows_a] += affinity
            if (by, bx) != (ay, ax):
                rows_b = slice(radius + by, radius + by + inner_h), slice(radius + bx, radius + bx + inner_w)
                by_offset[((ay - by + reach) * side + (ax - bx + reach),) + rows_b] += affinity


class _QuadraticForm(torch.autograd.Function):
    """Σ_c V_cᵀ L V_c for symmetric L, in float64, with gradient 2 L V (reusing L V)."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        flat = values.reshape(values.shape[0], -1).t().to(torch.float64)  # (H·W) × C
        product = laplacian @ flat
        ctx.save_for_backward(product)
        ctx.values_shape, ctx.values_dtype = values.shape, values.dtype
        return (flat * product).sum()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (product,) = ctx.saved_tensors
        grad = (2.0 * grad_output.to(torch.float64)) * product.t()
        return grad.reshape(ctx.values_shape).to(ctx.values_dtype), None


def photo_laplacian(photo: torch.Tensor) -> torch.Tensor:
    """`matting_laplacian` of a 3×H×W photo tensor in [0, 1], on the photo's device."""
    return matting_laplacian(photo.permute(1, 2, 0).cpu().double().numpy()).to(photo.device)


def photorealism_loss(image: torch.Tensor, laplacian: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · Σ_c V_cᵀ L V_c for a C×H×W (or 1×C×H×W) image in [0, 1] and a CSR Laplacian."""
    values = image.reshape(-1, *image.shape[-2:])
    return weight * _QuadraticForm.apply(values, laplacian)


#: Conjugate gradients stop when every channel's residual is this fraction of its right-hand side
#: (about 1/40 of an 8-bit level for an image in [0, 1]), or after PROJECTION_MAX_STEPS steps.
PROJECTION_TOLERANCE = 1e-4
PROJECTION_MAX_STEPS = 300
_FLOOR = torch.finfo(torch.float64).tiny


def photorealistic_projection(image: torch.Tensor, laplacian: torch.Tensor, strength: float,
                              checkpoint: Callable[[], None] = lambda: None) -> torch.Tensor:
    """The image nearest a C×H×W `image` whose matting-Laplacian energy is low:
    argmin_Y Σ_c |Y_c − X_c|² + strength · Y_cᵀ L Y_c, i.e. (I + strength·L) Y_c = X_c, solved by
    conjugate gradients for all channels at once (one sparse product a step) in float64.

    Why: where X is already a locally affine recolouring of the photo (L X_c = 0) it is kept as it
    is; only what no local affine map of the photo could produce (texture drawn by the optimiser,
    colours bleeding across the photo's edges) is removed, so the colours the optimisation found
    survive where a blur of the result would average them away (the closed-form smoothing of
    Li et al., "A Closed-form Solution to Photorealistic Image Stylization", ECCV 2018). The
    result is on the Laplacian's device, in `image`'s dtype; `checkpoint` runs every step.
    """
    channels, height, width = image.shape
    target = image.reshape(channels, -1).t().to(device=laplacian.device, dtype=torch.float64)

    def apply_system(values: torch.Tensor) -> torch.Tensor:
        return torch.add(values, laplacian @ values, alpha=strength)

    solution = target.clone()
    residual = target - apply_system(solution)
    direction = residual.clone()
    residual_norm = (residual * residual).sum(dim=0)
    enough = (PROJECTION_TOLERANCE * target.norm(dim=0)) ** 2
    for _ in range(PROJECTION_MAX_STEPS):
        if bool((residual_norm <= enough).all()):
            break
        checkpoint()
        product = apply_system(direction)
        # A channel already solved (a black one: no residual, no direction) divides 0 by the floor, not by 0.
        step = residual_norm / (direction * product).sum(dim=0).clamp_min(_FLOOR)
        solution.addcmul_(direction, step)
        residual.addcmul_(product, step, value=-1.0)
        previous, residual_norm = residual_norm, (residual * residual).sum(dim=0)
        direction = residual + direction * (residual_norm / previous.clamp_min(_FLOOR))
    return solution.t().reshape(channels, height, width).to(image.dtype)
