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


def _grams(pixels: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
    """The K×C×C stack of each region's PₖᵀPₖ, for pixels (rows of an N×C tensor) region after region."""
    channels = pixels.shape[1]
    grams = pixels.new_empty((len(counts), channels, channels))
    for part, gram in zip(pixels.split(counts), grams):
        torch.mm(part.t(), part, out=gram)  # an empty region's is all zero
    return grams


def _pixel_gradient(pixels: torch.Tensor, counts: tuple[int, ...], grad_grams: torch.Tensor) -> torch.Tensor:
    """The gradient for the pixels of K×C×C symmetric gradients S for their Gram matrices (S = dG +
    dGᵀ, in the pixels' dtype): PₖSₖ, one product per region into one tensor. Autograd's own took
    two products per region (one for each side of PₖᵀPₖ), added them, and joined the regions'
    gradients with a copy (a 512 px evaluation of pair 1: 200 → 188 ms on a 2-core "Intel(R)
    Xeon(R) Processor")."""
    grad = pixels.new_empty(pixels.shape)
    for part, grad_part, grad_gram in zip(pixels.split(counts), grad.split(counts), grad_grams):
        torch.mm(part, grad_gram, out=grad_part)
    return grad


class _RegionGrams(torch.autograd.Function):
    """The regions' Gram matrices (`_grams`) with their backward pass written out (`_pixel_gradient`)."""

    @staticmethod
    def forward(ctx, pixels: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(pixels)
        ctx.counts = counts
        return _grams(pixels, counts)

    @staticmethod
    def backward(ctx, grad_grams: torch.Tensor):  # type: ignore[override]
        (pixels,) = ctx.saved_tensors
        symmetric = (grad_grams + grad_grams.transpose(1, 2)).to(pixels.dtype)
        return _pixel_gradient(pixels, ctx.counts, symmetric), None


class _RegionStyleLoss(torch.autograd.Function):
    """Σₖ wₖ ‖sₖ·PₖᵀPₖ − Tₖ‖² and its gradient, in six passes over the K×C×C matrices and four
    new ones: Gram matrices, their normalisation (sₖ), targets and loss composed by autograd took
    about twenty passes and as many new matrices, each pass slower than the products themselves at
    512 channels (4 regions, 4 MB: about 1 ms, new memory being slow to touch on our virtual
    machines; 2-core "Intel(R) Xeon(R) Processor"), at every evaluation at every size. The
    gradients for s, T and w are there for completeness (the engine's are constants)."""

    @staticmethod
    def forward(ctx, pixels: torch.Tensor, counts: tuple[int, ...], scales: torch.Tensor,  # type: ignore[override]
                targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        difference = (_grams(pixels, counts) * scales[:, None, None]).sub_(targets)  # float32 from bfloat16
        ctx.save_for_backward(pixels, difference, scales, targets, weights)
        ctx.counts = counts
        return (torch.linalg.vector_norm(difference.flatten(1), dim=1).square() * weights).sum()

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):  # type: ignore[override]
        pixels, difference, scales, targets, weights = ctx.saved_tensors
        coefficients = 2 * grad_loss * weights  # d loss / d difference, per region
        grads: list[torch.Tensor | None] = [None] * 5
        if ctx.needs_input_grad[0]:  # dG + dGᵀ = coefficient·s·(difference + differenceᵀ), in the pixels' dtype
            symmetric = (difference + difference.transpose(1, 2)).mul_((coefficients * scales)[:, None, None])
            grads[0] = _pixel_gradient(pixels, ctx.counts, symmetric.to(pixels.dtype))
        if ctx.needs_input_grad[2]:  # difference + T = s·G
            grads[2] = coefficients * (difference * (difference + targets)).sum(dim=(1, 2)) / scales
        if ctx.needs_input_grad[3]:
            grads[3] = -difference * coefficients[:, None, None]
        if ctx.needs_input_grad[4]:
            grads[4] = grad_loss * difference.square().sum(dim=(1, 2))
        return tuple(grads)


def _region_pixels(features: torch.Tensor, regions: RegionPixels) -> torch.Tensor:
    """The regions' pixels of a 1×C×H×W layer, masked, as rows of an N×C tensor, region after region.

    bfloat16 features (the bfloat16 network's) are gathered and masked in bfloat16 (soft mask
    weights rounded to bfloat16)."""
    _, channels, height, width = features.shape
    if features.is_contiguous() or not features.is_contiguous(memory_format=torch.channels_last):
        flat = features.reshape(channels, height * width)
        if regions.index is not None:
            flat = flat.index_select(1, regions.index)
        return (flat if regions.values is None else flat * regions.values).t()  # pixels × C, a view
    # channels-last (bfloat16 VGG19's): gather whole pixels, and the gradient keeps that layout
    pixels = features.permute(0, 2, 3, 1).reshape(height * width, channels)
    if regions.index is not None:
        pixels = pixels.index_select(0, regions.index)
    if regions.values is not None:  # the whole image unmasked (no regions) is the layer as it is
        pixels = pixels * regions.values[:, None].to(pixels.dtype)
    return pixels


def _gram_scales(features: torch.Tensor, regions: RegionPixels) -> torch.Tensor:
    """Each region's Gram normalisation 1 / (C·H·W·mean(mask)), float32 or the features' float64
    (an empty region's Gram is all zero: 1 / C·H·W)."""
    _, channels, height, width = features.shape
    areas = torch.where(regions.means > 0, regions.means, torch.ones_like(regions.means))
    dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    return 1.0 / (areas.to(dtype) * (channels * height * width))


def masked_grams(features: torch.Tensor, regions: RegionPixels) -> torch.Tensor:
    """The K×C×C Gram matrices of mask ⊙ features, each normalised by C·H·W·mean(mask).

    The mean(mask) factor makes a small region's statistics comparable to a large one's
    (eq. 4's normalisation); an empty mask gives an all-zero Gram. bfloat16 features (the bfloat16
    network's) are gathered, masked and multiplied in bfloat16, with float32 sums inside the
    products: 4-5× faster where the hardware has bfloat16 units. Soft mask weights and each entry
    of the result are then rounded to bfloat16 (≤ 0.4 %; torch has no bfloat16 product with a
    float32 result on the CPU); the Gram matrices come back in float32.
    """
    grams = _RegionGrams.apply(_region_pixels(features, regions), regions.counts)
    grams = grams.float() if grams.dtype == torch.bfloat16 else grams
    return grams * _gram_scales(features, regions)[:, None, None]


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
    image (as `masked_grams`). Weighting each region by its area keeps a tiny region from
    dominating the loss (and leaves out a region absent here).
    """
    scales = _gram_scales(features, regions)
    channels = features.shape[1]
    weights = weight * regions.means.to(scales.dtype) / (channels * channels)
    return _RegionStyleLoss.apply(_region_pixels(features, regions), regions.counts, scales,
                                  target_grams.to(scales.dtype), weights)


def total_variation_loss(image: torch.Tensor, weight: float) -> torch.Tensor:
    """weight · ½ Σ (horizontal² + vertical² differences), the reference's smoothness prior."""
    top_left = image[..., :-1, :-1]
    dx = top_left - image[..., :-1, 1:]
    dy = top_left - image[..., 1:, :-1]
    return weight * 0.5 * (dx.pow(2).sum() + dy.pow(2).sum())
