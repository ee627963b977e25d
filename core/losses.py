"""The neural-style loss terms of Deep Photo Style Transfer (eqs. 1-4 of the paper).

Plain tensor functions so each can be gradient-checked on its own. Scales follow the reference
code: features of a single image (1×C×H×W), MSE means, Gram matrices divided by C·H·W.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def content_loss(features: torch.Tensor, target: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · mean((F − P)²): keeps the output's relu4_2 features on the photo's."""
    return weight * torch.mean((features - target) ** 2)


@dataclass(frozen=True)
class RegionPixels:
    """K region masks at one layer, kept as the pixels each covers (mask > 0) and the mask there.

    A masked Gram matrix then costs its region's area, not the whole layer's: K regions that tile
    the image cost about one Gram of the image (and one gather), where masking every pixel for
    each region cost K, in the forward pass and again in the backward. The arithmetic is the
    same: the pixels left out are those a mask multiplies by zero.
    """

    index: torch.Tensor | None  # flat pixel indices, region after region; None: one region, every pixel
    values: torch.Tensor | None  # the masks at those pixels, in that order; None: all 1 (the whole image)
    counts: tuple[int, ...]  # pixels per region
    means: torch.Tensor  # (K,) each mask's mean over the whole layer

    @classmethod
    def of(cls, masks: torch.Tensor) -> RegionPixels:
        """From a K×H×W mask stack (checked once here, so no evaluation waits on the device)."""
        flat = masks.reshape(masks.shape[0], -1)
        means = flat.mean(dim=1)
        if flat.shape[0] == 1 and bool((flat > 0).all()):
            return cls(None, None if bool((flat == 1).all()) else flat[0], (flat.shape[1],), means)
        picked = [row.gt(0).nonzero().squeeze(1) for row in flat]
        values = torch.cat([row[index] for row, index in zip(flat, picked)])
        return cls(torch.cat(picked), values, tuple(len(index) for index in picked), means)


class _RegionGrams(torch.autograd.Function):
    """The K×C×C stack of each region's Gram matrix PₖᵀPₖ of gathered, masked pixels (rows of an
    N×C tensor, region after region), with its backward written out: Pₖ(dGₖ + dGₖᵀ), one product
    per region into one gradient. Autograd's own took two products per region (one for each side
    of PₖᵀPₖ), added them, and joined the regions' gradients with a copy (a 512 px evaluation of
    pair 1: 200 → 188 ms on a 2-core "Intel(R) Xeon(R) Processor"). One stacked result lets the
    loss treat all regions in a few operations, where a list took a dozen small ones per region,
    in the forward pass and the backward."""

    @staticmethod
    def forward(ctx, pixels: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(pixels)
        ctx.counts = counts
        channels = pixels.shape[1]
        grams = pixels.new_empty((len(counts), channels, channels))
        for part, gram in zip(pixels.split(counts), grams):
            torch.mm(part.t(), part, out=gram)  # an empty region's is all zero
        return grams

    @staticmethod
    def backward(ctx, grad_grams: torch.Tensor):  # type: ignore[override]
        (pixels,) = ctx.saved_tensors
        symmetric = (grad_grams + grad_grams.transpose(1, 2)).to(pixels.dtype)
        grad = pixels.new_empty(pixels.shape)
        for part, grad_part, grad_gram in zip(pixels.split(ctx.counts), grad.split(ctx.counts), symmetric):
            torch.mm(part, grad_gram, out=grad_part)
        return grad, None


def masked_grams(features: torch.Tensor, regions: RegionPixels) -> torch.Tensor:
    """The K×C×C Gram matrices of mask ⊙ features, each normalised by C·H·W·mean(mask).

    The mean(mask) factor makes a small region's statistics comparable to a large one's
    (eq. 4's normalisation); an empty mask gives an all-zero Gram. bfloat16 features (the bfloat16
    network's) are gathered, masked and multiplied in bfloat16, with float32 sums inside the
    products: 4-5× faster where the hardware has bfloat16 units. Soft mask weights and each entry
    of the result are then rounded to bfloat16 (≤ 0.4 %; torch has no bfloat16 product with a
    float32 result on the CPU); the Gram matrices come back in float32.
    """
    _, channels, height, width = features.shape
    if features.is_contiguous() or not features.is_contiguous(memory_format=torch.channels_last):
        flat = features.reshape(channels, height * width)
        if regions.index is not None:
            flat = flat.index_select(1, regions.index)
        pixels = (flat if regions.values is None else flat * regions.values).t()  # pixels × C, a view
    else:  # channels-last (bfloat16 VGG19's): gather whole pixels, and the gradient keeps that layout
        pixels = features.permute(0, 2, 3, 1).reshape(height * width, channels)
        if regions.index is not None:
            pixels = pixels.index_select(0, regions.index)
        if regions.values is not None:  # the whole image unmasked (no regions) is the layer as it is
            pixels = pixels * regions.values[:, None].to(pixels.dtype)
    grams = _RegionGrams.apply(pixels, regions.counts)
    if grams.dtype == torch.bfloat16:
        grams = grams.float()
    areas = torch.where(regions.means > 0, regions.means, torch.ones_like(regions.means))  # empty: 0 / 1
    return grams / (areas * (channels * height * width)).to(grams.dtype)[:, None, None]


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of mask ⊙ features (one H×W mask), as `masked_grams`."""
    return masked_grams(features, RegionPixels.of(mask[None]))[0]


def masked_style_loss(
    features: torch.Tensor,
    regions: RegionPixels,
    target_grams: torch.Tensor,
    weight: float,
) -> torch.Tensor:
    """weight · Σ_regions mean(content mask) · mean((G_region − T_region)²) for one layer.

    `regions` are the content masks at this layer's size; `target_grams` is K×C×C from the style
    image. Weighting each region by its area keeps a tiny region from dominating the loss (and
    leaves out a region absent here).
    """
    squared_errors = (masked_grams(features, regions) - target_grams).pow(2).mean(dim=(1, 2))
    return weight * (regions.means.to(squared_errors.dtype) * squared_errors).sum()


def total_variation_loss(image: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · ½ Σ (horizontal² + vertical² differences), the reference's smoothness prior."""
    top_left = image[..., :-1, :-1]
    dx = top_left - image[..., :-1, 1:]
    dy = top_left - image[..., 1:, :-1]
    return weight * 0.5 * (dx.pow(2).sum() + dy.pow(2).sum())
