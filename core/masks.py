"""Semantic region masks: parsing, pairing content regions with style regions, and following
them down VGG19.

The paper matches style statistics region by region (sky to sky). Regions arrive either as the
reference code's colour-coded segmentation PNGs, or as named pairs of binary/soft masks (what the
plug-ins send). Both become a list of `RegionPair`s; `pair_regions` then decides what to do with
regions that exist on only one side or are nearly empty, and says so in its notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import MaskError

#: The reference implementation's region colours (RGB, 0..255), in its order.
SEGMENTATION_COLOURS: dict[str, tuple[int, int, int]] = {
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "grey": (128, 128, 128),
    "lightblue": (0, 255, 255),
    "purple": (255, 0, 255),
}

#: A region covering less than this fraction of its image is treated as absent on that side.
MIN_REGION_FRACTION = 1e-3
#: How far (RGB distance, 0..255 scale) a segmentation pixel may be from a region colour and still
#: count as painted in it: JPEG noise passes, a colour of its own does not.
SEGMENTATION_TOLERANCE = 64


@dataclass
class RegionPair:
    """One semantic region: where it is in the content image and where in the style image.

    Masks are float arrays in [0, 1] (H×W of their own image); soft edges are kept.
    """

    name: str
    content_mask: np.ndarray
    style_mask: np.ndarray


def as_mask(mask: np.ndarray, what: str) -> np.ndarray:
    """A 2-D float32 mask in [0, 1] from a bool, 8-bit, 16-bit or float array."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise MaskError(f"{what} has shape {mask.shape}; a mask must be a single-channel H×W image.")
    if mask.dtype == np.bool_:
        return mask.astype(np.float32)
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / 255.0
    if mask.dtype == np.uint16:
        return mask.astype(np.float32) / 65535.0
    mask = mask.astype(np.float32)
    if not np.isfinite(mask).all():
        raise MaskError(f"{what} contains NaN or infinite values; send a mask with values in [0, 1].")
    return np.clip(mask, 0.0, 1.0)


def regions_from_segmentations(content_seg: np.ndarray, style_seg: np.ndarray) -> list[RegionPair]:
    """Split two colour-coded segmentations into regions, one per reference colour.

    Each pixel goes to the nearest of `SEGMENTATION_COLOURS` (hand-drawn masks have
    anti-aliased edges). Colours absent from both images are dropped. A segmentation with
    (almost) no pixel near any of those colours is an error that lists the colours it holds.
    """
    content_labels = _nearest_colour_labels(content_seg, "content segmentation")
    style_labels = _nearest_colour_labels(style_seg, "style segmentation")
    pairs = []
    for index, name in enumerate(SEGMENTATION_COLOURS):
        content_mask = (content_labels == index).astype(np.float32)
        style_mask = (style_labels == index).astype(np.float32)
        if content_mask.any() or style_mask.any():
            pairs.append(RegionPair(name, content_mask, style_mask))
    return pairs


def _nearest_colour_labels(segmentation: np.ndarray, what: str) -> np.ndarray:
    seg = np.asarray(segmentation)
    if seg.ndim == 2:
        seg = seg[:, :, None]
    if seg.ndim == 3 and seg.shape[2] in (1, 2):  # grey (+alpha): black, grey and white regions
        seg = np.repeat(seg[:, :, :1], 3, axis=2)
    if seg.ndim != 3 or seg.shape[2] < 3:
        raise MaskError(f"The {what} has shape {seg.shape}; it must be an RGB image of region colours.")
    if seg.dtype == np.uint16:
        rgb = seg[:, :, :3].astype(np.float32) / 257.0
    elif np.issubdtype(seg.dtype, np.floating):
        rgb = seg[:, :, :3].astype(np.float32) * 255.0
    else:
        rgb = seg[:, :, :3].astype(np.float32)
    palette = np.array(list(SEGMENTATION_COLOURS.values()), dtype=np.float32)
    distances = ((rgb[:, :, None, :] - palette[None, None, :, :]) ** 2).sum(axis=-1)
    if float((distances.min(axis=-1) <= SEGMENTATION_TOLERANCE ** 2).mean()) < MIN_REGION_FRACTION:
        known = ", ".join(f"{name} {_hex(colour)}" for name, colour in SEGMENTATION_COLOURS.items())
        raise MaskError(f"The {what} uses none of the region colours; its most frequent colours are "
                        f"{_frequent_colours(rgb)}. Paint each region in one of: {known}.")
    return distances.argmin(axis=-1)


def _hex(colour: Sequence[int]) -> str:
    return "#" + "".join(f"{int(value):02x}" for value in colour)


def _frequent_colours(rgb: np.ndarray, count: int = 5) -> str:
    """'#12ab34 (61.0%), #ffee00 (20.5%)': the `count` most frequent colours of H×W×3 (0..255 floats)."""
    samples = np.clip(np.round(rgb), 0, 255).astype(np.uint32).reshape(-1, 3)
    colours, counts = np.unique((samples[:, 0] << 16) | (samples[:, 1] << 8) | samples[:, 2], return_counts=True)
    top = np.argsort(counts)[::-1][:count]
    return ", ".join(f"{_hex(((colours[i] >> 16) & 255, (colours[i] >> 8) & 255, colours[i] & 255))} "
                     f"({counts[i] / samples.shape[0]:.1%})" for i in top)


def check_region_names(names: Sequence[str]) -> None:
    """MaskError unless every region has a name of its own (results and notes are reported by name)."""
    seen: set[str] = set()
    for number, name in enumerate(names, start=1):
        if not name:
            raise MaskError(f"Region {number} has no name; give every region a unique, non-empty name.")
        if name in seen:
            raise MaskError(f"Two regions are named '{name}'; region names must be unique. Rename or merge them.")
        seen.add(name)


def check_regions(regions: Sequence[RegionPair], content_shape: tuple[int, int],
                  style_shape: tuple[int, int]) -> None:
    """Everything `pair_regions` checks about the regions themselves (names, mask layouts, sizes,
    NaN/inf), without keeping converted masks: for callers that send the masks on elsewhere."""
    check_region_names([region.name for region in regions])
    for region in regions:
        _region_masks(region, content_shape, style_shape)


def _region_masks(region: RegionPair, content_shape: tuple[int, int],
                  style_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The region's content and style masks as float32 in [0, 1], checked against their images' sizes."""
    masks = []
    for side, mask, shape in (("content", region.content_mask, content_shape),
                              ("style", region.style_mask, style_shape)):
        mask = as_mask(mask, f"The {side} mask of region '{region.name}'")
        if mask.shape != tuple(shape):
            raise MaskError(
                f"The {side} mask of region '{region.name}' is {mask.shape[1]}×{mask.shape[0]} "
                f"but the {side} image is {shape[1]}×{shape[0]}; masks must match their image's size."
            )
        masks.append(mask)
    return masks[0], masks[1]


def everywhere(shape: tuple[int, int]) -> np.ndarray:
    """A read-only all-ones mask of `shape` that takes no memory (a 24 MP layer's would take 96 MB)."""
    return np.broadcast_to(np.float32(1.0), shape)


def pair_regions(
    regions: Sequence[RegionPair],
    content_shape: tuple[int, int],
    style_shape: tuple[int, int],
) -> tuple[list[RegionPair], list[str]]:
    """Validate regions against the image sizes and resolve one-sided ones.

    Returns the regions to use and human-readable notes about what was changed. The policy, the
    same whichever host or shell the regions come from, gives every pixel of the photo a style:
    - a region missing (or nearly empty) in the style image is styled by the whole reference,
      so that part of the photo still gets the reference's look instead of being pushed to black;
    - a region missing in the content image is dropped: there is nothing to style;
    - the photo's pixels in no region form one more region, "rest", styled by the reference's
      pixels in no region, or by the whole reference when every reference pixel has a region.
    If not a single region has a partner, the masks were almost certainly made for different
    conventions, and that is an error. With no regions at all, the whole content is styled by
    the whole reference.
    """
    if not regions:
        return [RegionPair("all", everywhere(content_shape), everywhere(style_shape))], []
    check_region_names([region.name for region in regions])
    notes: list[str] = []
    used: list[RegionPair] = []
    paired = 0
    style_covered: list[np.ndarray] = []  # every style mask given, paired or not
    for region in regions:
        content_mask, style_mask = _region_masks(region, content_shape, style_shape)
        style_covered.append(style_mask)
        content_fraction = float(content_mask.mean())
        style_fraction = float(style_mask.mean())
        if content_fraction < MIN_REGION_FRACTION:
            if style_fraction >= MIN_REGION_FRACTION:
                notes.append(f"Region '{region.name}' is only in the style image; it was ignored.")
            continue
        if style_fraction < MIN_REGION_FRACTION:
            notes.append(
                f"Region '{region.name}' covers {content_fraction:.1%} of the photo but is missing from the "
                "style image; it was styled with the whole reference instead."
            )
            style_mask = everywhere(style_shape)
        else:
            paired += 1
        used.append(RegionPair(region.name, content_mask, style_mask))
    if not paired:
        raise MaskError(
            "The content and style masks have no region in common. Give both images masks with the same "
            "region names (or segmentation colours), each covering part of its image."
        )
    content_rest = _uncovered([r.content_mask for r in used])
    if float(content_rest.mean()) >= MIN_REGION_FRACTION:
        style_rest = _uncovered(style_covered)
        whom = "the part of the reference in no region"
        if float(style_rest.mean()) < MIN_REGION_FRACTION:
            style_rest, whom = everywhere(style_shape), "the whole reference"
        used.append(RegionPair("the rest", content_rest, style_rest))
        notes.append(f"{float(content_rest.mean()):.1%} of the photo is in no region; it was styled by {whom}.")
    return used, notes


def _uncovered(masks: list[np.ndarray]) -> np.ndarray:
    """Where no mask is: 1 − (sum of the masks), clipped to [0, 1]."""
    covered = np.zeros(masks[0].shape, np.float32)
    for mask in masks:
        covered += mask
    return np.clip(1.0 - covered, 0.0, 1.0, out=covered)


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a K×H×W stack of masks (values stay in [0, 1])."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask[None], size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)


def propagate_masks(masks: torch.Tensor, layers: Sequence[tuple[str, str]], wanted: set[str]) -> dict[str, torch.Tensor]:
    """Follow a K×H×W mask stack down the network as the reference code does.

    At each pooling layer the masks are resized to the pooled size (rounded up, like Caffe's
    pooling); at each convolution they are blurred by a 3×3 average (stride 1, zero padding 1),
    which mirrors how a feature's receptive field spreads over region borders.
    Returns the masks at the layers named in `wanted`.
    """
    out: dict[str, torch.Tensor] = {}
    current = masks
    for name, kind in layers:
        if kind == "pool":
            h, w = current.shape[-2:]
            current = resize_mask(current, (-(-h // 2), -(-w // 2)))
        elif kind == "conv":
            current = F.avg_pool2d(current[None], 3, stride=1, padding=1, count_include_pad=True)[0]
        if name in wanted:
            out[name] = current
            if len(out) == len(wanted):
                break
    return out
