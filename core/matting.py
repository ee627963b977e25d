"""The photorealism regularizer: Levin et al.'s matting Laplacian (eq. 2-3 of the paper).

For an output that is a locally affine colour transform of the photo in every 3×3 window,
V_cᵀ L V_c = 0 for each colour channel c. `matting_laplacian` builds L from the photo as a sparse
float64 matrix (a float32 matrix-free form loses the answer where windows are flat and their
3×3 covariance is nearly singular), and `photorealism_loss` evaluates λ Σ_c V_cᵀ L V_c with the
exact gradient 2λ L V_c.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse
import torch

#: The reference code's window radius (3×3 windows) and regulariser ε.
DEFAULT_RADIUS = 1
DEFAULT_EPSILON = 1e-7


def matting_laplacian(image: np.ndarray, epsilon: float = DEFAULT_EPSILON, radius: int = DEFAULT_RADIUS) -> scipy.sparse.csr_matrix:
    """The (H·W)×(H·W) matting Laplacian of an H×W×3 image in [0, 1] (row-major pixel order).

    L = Σ_k over windows fully inside the image of (δ_ij − (1 + (I_i−μ_k)ᵀ(Σ_k + ε/|w| I)⁻¹(I_j−μ_k)) / |w|),
    as in Levin, Lischinski and Weiss (2008). Pixel i meets pixel j only when |Δy|, |Δx| ≤ 2·radius, so
    L is kept as one image-sized band per offset Δ = j − i, each window adding its |w|² terms to the
    bands by array slices; the matrix is assembled from the bands at the end. This holds a few
    image-sized arrays where a list of every window's |w|² terms was ~20× larger (and on machines
    whose first touch of memory is slow, that allocation was most of the build's time).
    """
    image = np.asarray(image, dtype=np.float64)
    height, width, channels = image.shape
    size = 2 * radius + 1
    window_pixels = size * size
    if height < size or width < size:
        return scipy.sparse.csr_matrix((height * width, height * width))

    # Every window at once, by centre (h×w of them): its pixel at each offset, centred on its mean.
    inner_h, inner_w = height - 2 * radius, width - 2 * radius
    offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    at = [image[radius + dy:radius + dy + inner_h, radius + dx:radius + dx + inner_w] for dy, dx in offsets]
    mean = sum(at) / window_pixels
    centred = [pixel - mean for pixel in at]
    covariance = sum(np.einsum("hwi,hwj->hwij", pixel, pixel) for pixel in centred) / window_pixels
    covariance += (epsilon / window_pixels) * np.eye(channels)
    inverse = np.linalg.inv(covariance)

    # The affinity A (L = D − A) as bands: bands[Δ][y, x] = A[(y, x), (y, x) + Δ].
    reach = 2 * radius
    side = 2 * reach + 1
    bands = np.zeros((side * side, height, width))
    for (ay, ax), pixel_a in zip(offsets, centred):
        weighted = np.einsum("hwi,hwij->hwj", pixel_a, inverse)
        rows = slice(radius + ay, radius + ay + inner_h), slice(radius + ax, radius + ax + inner_w)
        for (by, bx), pixel_b in zip(offsets, centred):
            band = bands[(by - ay + reach) * side + (bx - ax + reach)]
            band[rows] += (1.0 + np.einsum("hwj,hwj->hw", weighted, pixel_b)) / window_pixels

    # Which entries exist: pairs that share a window, i.e. j = i + Δ inside the image (height, width ≥ size).
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    deltas = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    present = np.stack([(ys + dy >= 0) & (ys + dy < height) & (xs + dx >= 0) & (xs + dx < width)
                        for dy, dx in deltas])
    degree = bands.sum(axis=0)
    bands *= -1.0
    bands[reach * side + reach] += degree
    present_by_pixel = np.moveaxis(present, 0, -1).reshape(height * width, -1)
    data = np.moveaxis(bands, 0, -1).reshape(height * width, -1)[present_by_pixel]
    step = np.array([dy * width + dx for dy, dx in deltas])
    columns = (np.arange(height * width)[:, None] + step[None, :])[present_by_pixel]
    indptr = np.concatenate([[0], np.cumsum(present_by_pixel.sum(axis=1))])
    laplacian = scipy.sparse.csr_matrix((data, columns, indptr), shape=(height * width,) * 2)
    laplacian.sort_indices()  # already sorted unless the image is narrower than the offsets' reach
    return laplacian


def to_torch_sparse(laplacian: scipy.sparse.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """The Laplacian as a float64 torch CSR tensor on `device`, for mat-vecs inside the optimiser."""
    laplacian = laplacian.tocsr()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        tensor = torch.sparse_csr_tensor(
            torch.from_numpy(laplacian.indptr.astype(np.int64)),
            torch.from_numpy(laplacian.indices.astype(np.int64)),
            torch.from_numpy(laplacian.data.astype(np.float64)),
            size=laplacian.shape,
            dtype=torch.float64,
            check_invariants=False,  # scipy built it; re-checking costs time at every size
        )
    return tensor.to(device)


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


def photorealism_loss(image: torch.Tensor, laplacian: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · Σ_c V_cᵀ L V_c for a C×H×W (or 1×C×H×W) image in [0, 1] and a CSR Laplacian."""
    values = image.reshape(-1, *image.shape[-2:])
    return weight * _QuadraticForm.apply(values, laplacian)
