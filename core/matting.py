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
    as in Levin, Lischinski and Weiss (2008), built for all windows at once.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width, channels = image.shape
    size = 2 * radius + 1
    window_pixels = size * size
    if height < size or width < size:
        return scipy.sparse.csr_matrix((height * width, height * width))

    index = np.arange(height * width).reshape(height, width)
    # Window pixel indices and colours for every window centre (N windows × |w|).
    centres_y, centres_x = np.mgrid[radius:height - radius, radius:width - radius]
    offsets_y, offsets_x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    rows = centres_y.reshape(-1, 1) + offsets_y.reshape(1, -1)
    cols = centres_x.reshape(-1, 1) + offsets_x.reshape(1, -1)
    window_index = index[rows, cols]
    window_colour = image[rows, cols]  # N × |w| × 3

    mean = window_colour.mean(axis=1, keepdims=True)
    centred = window_colour - mean
    covariance = np.einsum("nwi,nwj->nij", centred, centred) / window_pixels
    covariance += (epsilon / window_pixels) * np.eye(channels)
    inverse = np.linalg.inv(covariance)
    values = (1.0 + np.einsum("nai,nij,nbj->nab", centred, inverse, centred)) / window_pixels

    row_index = np.repeat(window_index[:, :, None], window_pixels, axis=2).ravel()
    col_index = np.repeat(window_index[:, None, :], window_pixels, axis=1).ravel()
    affinity = scipy.sparse.csr_matrix((values.ravel(), (row_index, col_index)), shape=(height * width,) * 2)
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - affinity).tocsr()


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
