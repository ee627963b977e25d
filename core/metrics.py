"""Quality measures for a stylised result, usable on any image (ours or the paper's).

- style distance: the masked-Gram style loss (weight 1) of the result against the reference,
  region by region: lower means the reference's look was matched better;
- photorealism energy: Σ_c V_cᵀ L V_c / pixels with L the photo's matting Laplacian: how far the
  result is from a locally affine recolouring of the photo (0 = perfectly affine);
- edge similarity: correlation of gradient magnitudes of result and photo: 1 = every edge of the
  photo is where it was.
All are computed at one evaluation size so results of different resolutions compare fairly.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .images import resize_image, split_pixels, working_shape
from .masks import RegionPair, pair_regions, resize_mask
from .matting import matting_laplacian
from .objective import STYLE_LAYERS, regions_at_style_layers, style_loss, style_targets
from .vgg import load_vgg19, to_caffe


def _rgb_tensor(image: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    rgb = torch.from_numpy(split_pixels(image, "image").rgb).permute(2, 0, 1)
    return resize_image(rgb, shape).clamp(0, 1)


def evaluation_shape(content: np.ndarray, size: int) -> tuple[int, int]:
    """The (h, w) at which a content image's results are measured."""
    return working_shape(content.shape[0], content.shape[1], size)


@torch.no_grad()
def style_distance(result: np.ndarray, style: np.ndarray, regions: Sequence[RegionPair] | None, size: int = 512) -> float:
    """Σ over relu1_1..relu5_1 and regions of mean(mask)·mean((G_result − G_style)²)."""
    net = load_vgg19()
    result_shape = evaluation_shape(result, size)
    style_shape = evaluation_shape(style, size)
    pairs, _ = pair_regions(regions or [], result.shape[:2], style.shape[:2])
    result_masks = resize_mask(torch.from_numpy(np.stack([p.content_mask for p in pairs])), result_shape)
    style_masks = resize_mask(torch.from_numpy(np.stack([p.style_mask for p in pairs])), style_shape)
    result_features = net(to_caffe(_rgb_tensor(result, result_shape)), STYLE_LAYERS)
    targets = style_targets(net, _rgb_tensor(style, style_shape), style_masks)
    return float(style_loss(result_features, regions_at_style_layers(result_masks), targets, 1.0))


def photorealism_energy(result: np.ndarray, content: np.ndarray, size: int = 512) -> float:
    """Σ_c V_cᵀ L V_c per pixel, V the result and L the content's matting Laplacian, at `size`."""
    shape = evaluation_shape(content, size)
    photo = _rgb_tensor(content, shape).permute(1, 2, 0).double().numpy()
    values = _rgb_tensor(result, shape).permute(1, 2, 0).double().reshape(-1, 3)
    laplacian = matting_laplacian(photo)
    return float((values * (laplacian @ values)).sum() / values.shape[0])


def _gradient_magnitude(rgb: torch.Tensor) -> torch.Tensor:
    grey = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])[None, None]
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel, sobel.t()])[:, None]
    gradients = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernels)
    return gradients.pow(2).sum(dim=1).sqrt()[0]


def edge_similarity(result: np.ndarray, content: np.ndarray, size: int = 512) -> float:
    """Pearson correlation of the Sobel gradient magnitudes of result and content, at `size`."""
    shape = evaluation_shape(content, size)
    a = _gradient_magnitude(_rgb_tensor(result, shape)).flatten().double()
    b = _gradient_magnitude(_rgb_tensor(content, shape)).flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0
