"""Region-wise linear colour transfer: each region of the photo gets the mean and covariance of
its partner region in the reference.

Per region, the map is the Monge-Kantorovich linear transform between the two colour
distributions (the affine map that matches mean and covariance while moving colours least). It
is one affine colour map per region, so the result is already a photo; soft masks blend the
maps at region borders. It is the `preview` preset on its own, the starting image of the
`default` preset's optimisation, and the baseline the speed benchmark compares against.
"""

from __future__ import annotations

import torch

#: Added to both covariances (colour values in [0, 1]): a flat or grey region has a singular
#: covariance, and without a floor its inverse square root would amplify noise.
COVARIANCE_FLOOR = 1e-4


def region_statistics(image: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted colour means (K×3) and covariances (K×3×3) of a 3×H×W image under K×H×W masks."""
    pixels = image.reshape(3, -1).to(torch.float64)
    weights = masks.reshape(masks.shape[0], -1).to(torch.float64)
    totals = weights.sum(dim=1).clamp(min=1e-12)
    means = weights @ pixels.t() / totals[:, None]
    centred = pixels[None] - means[:, :, None]  # K×3×N
    covariances = torch.einsum("kin,kjn->kij", centred * weights[:, None], centred) / totals[:, None, None]
    return means, covariances


def _symmetric_power(matrices: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrices)
    return vectors @ torch.diag_embed(values.clamp(min=1e-12) ** power) @ vectors.transpose(-1, -2)


def linear_colour_maps(content: torch.Tensor, style: torch.Tensor, content_masks: torch.Tensor,
                       style_masks: torch.Tensor) -> torch.Tensor:
    """K×3×4 affine maps [T | b]: colour c of region k goes to T_k c + b_k (float64).

    T = Σc^-½ (Σc^½ Σs Σc^½)^½ Σc^-½ takes the content region's covariance Σc to the style
    region's Σs; b moves its mean onto the style region's.
    """
    content_means, content_cov = region_statistics(content, content_masks)
    style_means, style_cov = region_statistics(style, style_masks)
    floor = COVARIANCE_FLOOR * torch.eye(3, dtype=torch.float64, device=content.device)
    content_cov, style_cov = content_cov + floor, style_cov + floor
    root = _symmetric_power(content_cov, 0.5)
    inverse_root = _symmetric_power(content_cov, -0.5)
    transform = inverse_root @ _symmetric_power(root @ style_cov @ root, 0.5) @ inverse_root
    offset = style_means - (transform @ content_means[:, :, None])[:, :, 0]
    return torch.cat([transform, offset[:, :, None]], dim=2)


def colour_transfer(content: torch.Tensor, style: torch.Tensor, content_masks: torch.Tensor,
                    style_masks: torch.Tensor) -> torch.Tensor:
    """The photo (3×H×W in [0, 1]) with each region's colours matched to its partner's, clamped.

    Masks are K×H×W (content) and K×h×w (style), paired by index. Where masks overlap, the
    region maps are blended by mask weight; where no mask covers a pixel, it is left as it was.
    """
    maps = linear_colour_maps(content, style, content_masks, style_masks)
    height, width = content.shape[-2:]
    pixels = content.reshape(3, -1).to(torch.float64)
    weights = content_masks.reshape(content_masks.shape[0], -1).to(torch.float64)
    mapped = torch.einsum("kij,jn->kin", maps[:, :, :3], pixels) + maps[:, :, 3:]  # K×3×N
    coverage = weights.sum(dim=0)
    blended = (mapped * weights[:, None]).sum(dim=0) + pixels * (1 - coverage).clamp(min=0)
    blended = blended / coverage.clamp(min=1.0)
    return blended.reshape(3, height, width).to(content.dtype).clamp(0, 1)
