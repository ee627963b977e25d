"""The loss of Deep Photo Style Transfer for one photo/reference pair at one size.

Content (relu4_2), masked style (relu1_1 … relu5_1 Gram matrices, region by region), total
variation and, when asked for, the matting-Laplacian photorealism term (eqs. 1-4 of the paper).
Everything fixed (the photo's features, the reference's Gram matrices, the masks at every layer,
the Laplacian) is computed once, so an iteration costs one VGG19 forward and backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import losses
from .masks import propagate_masks
from .matting import photo_laplacian, photorealism_loss
from .vgg import BFloat16VGG19, VGG19Features, WinogradVGG19, from_caffe, layer_sequence, to_caffe

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class LossWeights:
    """The paper's weights: content 5, style 100, total variation 1e-3, photorealism 1e4."""

    content: float = 5.0
    style: float = 100.0
    tv: float = 1e-3
    photorealism: float = 1e4


def regions_at_style_layers(masks: torch.Tensor,
                            layers: tuple[str, ...] = STYLE_LAYERS) -> dict[str, losses.RegionPixels]:
    """A K×H×W mask stack followed down the network (`propagate_masks`) to each of the style `layers`."""
    masks_at = propagate_masks(masks, layer_sequence(), set(layers))
    return {layer: losses.RegionPixels.of(masks_at[layer]) for layer in layers}


def style_targets(net: VGG19Features | BFloat16VGG19 | WinogradVGG19, style: torch.Tensor,
                  style_masks: torch.Tensor, layers: tuple[str, ...] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """Per style layer of `layers`, the K×C×C masked Gram matrices of the reference (3×H×W) for its K
    region masks; VGG19 runs only as deep as the deepest of them."""
    regions_at = regions_at_style_layers(style_masks, layers)
    features = net(to_caffe(style), layers)
    return {layer: losses.masked_grams(features[layer], regions_at[layer]) for layer in layers}


def style_loss(features: dict[str, torch.Tensor], regions_at: dict[str, losses.RegionPixels],
               targets: dict[str, torch.Tensor], weight: float,
               layers: tuple[str, ...] = STYLE_LAYERS) -> torch.Tensor:
    """The masked style loss summed over the style `layers` (eq. 4 of the paper)."""
    return sum(losses.masked_style_loss(features[layer], regions_at[layer], targets[layer], weight)
               for layer in layers)


class Objective:
    """The loss terms for one photo (3×H×W in [0, 1]) and reference, with their region masks."""

    def __init__(self, net: VGG19Features, content: torch.Tensor, style: torch.Tensor, content_masks: torch.Tensor,
                 style_masks: torch.Tensor, weights: LossWeights, bfloat16_targets: bool = False,
                 winograd: bool = False, style_layers: tuple[str, ...] = STYLE_LAYERS, content_term: bool = True) -> None:
        """`bfloat16_targets`: the photo's content features and the reference's Gram matrices come from
        VGG19 in bfloat16 (for a method that evaluates in bfloat16: the same network on both sides).
        `winograd`: float32 evaluations and targets use `net.winograd_copy()` (`vgg.WinogradVGG19`).
        `style_layers`: those any evaluation of this objective will match (`terms`); only their targets
        are computed (the default's ½- and full-size stages need neither relu1_1's nor relu5_1's: a
        shallower pass over the reference). `content_term`: whether any evaluation will include the
        content loss; without it the photo's pass through VGG19 for its target is skipped."""
        self.net = net
        self.float32_net: VGG19Features | WinogradVGG19 = net.winograd_copy() if winograd else net
        self.content = content
        self.weights = weights
        self.content_regions = regions_at_style_layers(content_masks, style_layers)
        target_net = net.bfloat16_copy() if bfloat16_targets else self.float32_net
        with torch.no_grad():
            self.content_target = (target_net(to_caffe(content), [CONTENT_LAYER])[CONTENT_LAYER].float()
                                   if content_term else None)
            self.style_targets = style_targets(target_net, style, style_masks, style_layers)
        self.laplacian: torch.Tensor | None = None

    def use_photorealism(self) -> None:
        """Build the photo's matting Laplacian (once); from then on the terms include photorealism."""
        if self.laplacian is None:
            self.laplacian = photo_laplacian(self.content)

    def terms(self, x: torch.Tensor, photoreal: bool, bfloat16: bool = False,
              style_layers: tuple[str, ...] = STYLE_LAYERS, content: bool = True) -> dict[str, torch.Tensor]:
        """Each weighted term at `x` (1×3×H×W, Caffe space); photorealism is detached unless `photoreal`.

        `bfloat16` runs VGG19 and the Gram products in bfloat16 (`vgg.BFloat16VGG19`,
        `losses.masked_grams`); the targets and the losses are float32. `style_layers`: those the
        style term matches (a subset of the objective's own); VGG19 runs only as deep as they and the
        content layer need. `content`: include the content term (the objective must have it:
        `content_term`).
        """
        w = self.weights
        net = self.net.bfloat16_copy() if bfloat16 else self.float32_net
        assert not content or self.content_target is not None, "this objective has no content term"
        features = net(x, set(style_layers) | ({CONTENT_LAYER} if content else set()))
        terms: dict[str, torch.Tensor] = {}
        if content:
            terms["content"] = losses.content_loss(features[CONTENT_LAYER].float(), self.content_target, w.content)
        terms["style"] = style_loss(features, self.content_regions, self.style_targets, w.style, style_layers)
        terms["tv"] = losses.total_variation_loss(x, w.tv)
        if self.laplacian is not None:
            term = photorealism_loss(from_caffe(x), self.laplacian, w.photorealism)
            terms["photorealism"] = term if photoreal else term.detach()
        return terms
