"""The neural-style loss terms of Deep Photo Style Transfer (eqs. 1-4 of the paper).

Plain tensor functions so each can be gradient-checked on its own. Scales follow the reference
code: features of a single image (1×C×H×W), MSE means, Gram matrices divided by C·H·W.
"""

from __future__ import annotations

import torch


def content_loss(features: torch.Tensor, target: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · mean((F − P)²): keeps the output's relu4_2 features on the photo's."""
    return weight * torch.mean((features - target) ** 2)


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrix of mask ⊙ features, normalised by C·H·W·mean(mask).

    The mean(mask) factor makes a small region's statistics comparable to a large one's
    (eq. 4's normalisation); an empty mask gives an all-zero Gram.
    """
    _, channels, height, width = features.shape
    flat = (features * mask).reshape(channels, height * width)
    gram = flat @ flat.t()
    mask_mean = mask.mean()
    if mask_mean > 0:
        gram = gram / (channels * height * width * mask_mean)
    return gram


def masked_style_loss(
    features: torch.Tensor,
    content_masks: torch.Tensor,
    target_grams: torch.Tensor,
    weight: float,
) -> torch.Tensor:
    """weight · Σ_regions mean(content mask) · mean((G_region − T_region)²) for one layer.

    `content_masks` is K×H×W at this layer's size; `target_grams` is K×C×C from the style image.
    Weighting each region by its area keeps a tiny region from dominating the loss.
    """
    loss = features.new_zeros(())
    for mask, target in zip(content_masks, target_grams):
        mask_mean = mask.mean()
        if mask_mean <= 0:
            continue
        gram = masked_gram(features, mask)
        loss = loss + mask_mean * torch.mean((gram - target) ** 2)
    return weight * loss


def total_variation_loss(image: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · ½ Σ (horizontal² + vertical² differences), the reference's smoothness prior."""
    top_left = image[..., :-1, :-1]
    dx = top_left - image[..., :-1, 1:]
    dy = top_left - image[..., 1:, :-1]
    return weight * 0.5 * (dx.pow(2).sum() + dy.pow(2).sum())
