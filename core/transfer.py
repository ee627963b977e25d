"""Deep Photo Style Transfer, end to end: the one call the CLI, the daemon and the plug-ins use.

It checks the options once (`check_options`: the schema, then the preset's method), validates the
inputs, pairs the regions, brings photo and reference to the preset's working size, runs the
preset's method (`methods`) and its finish (`finish`), which carries the result to the photo's
full resolution strip by strip: for the photorealistic presets an affine recolouring of the
full-resolution photo, so every edge and texture of the input survives at any layer size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .errors import OptionsError
from .auto_regions import REGION_NAMES, find_regions
from .finish import Outcome, keep_brightness
from .images import Pixels, downscale, read_only_tensor, rebuild, resize_rows, split_pixels, working_shape
from .looks import Look, fit_look
from .masks import RegionPair, pair_regions
from .methods import Reporter, WorkingImages
from .options import OPTIONS, OPTIONS_BY_NAME, TransferOptions, check_values
from .presets import DEFAULT_PRESET, Preset, get_preset
from .progress import CancelToken, Checkpoint, ProgressCallback
from .threads import fitted_to_idle_cores, refit
from .vgg import VGG19Features, load_vgg19


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
    look: Look | None = None  # the result's global look, fitted when the look_size option asks


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


@dataclass(frozen=True)
class Recipe:
    """A job's checked options as the engine runs them: the preset with the options applied, and
    the effective value of every option (given, or the preset's, or the schema's default)."""

    preset: Preset
    values: Mapping[str, Any]


def check_options(options: TransferOptions, limits: Mapping[str, int] | None = None) -> Recipe:
    """The one check of a job's options, run once per job where the job is accepted (the CLI
    before it reads pixels or loads the model, the daemon with its own limits), before `transfer`.

    Each value given is checked against the schema (`options`; `limits` lowers a maximum by option
    name); then the preset's method refuses options it does not read and applies the rest; then
    the effective working size and iterations (the preset's, where unset) must fit the limits.
    """
    given = options.given()
    check_values(given, limits)
    preset = get_preset(given.pop("preset", DEFAULT_PRESET))
    preset = preset.configured(given)
    limits = limits or {}
    if "size" in limits and preset.size > limits["size"]:
        raise OptionsError(f"Preset '{preset.name}' works at {preset.size} px, above the largest working size "
                           f"allowed here ({limits['size']} px); ask for a working size of "
                           f"{OPTIONS_BY_NAME['size'].describe_range(limits['size'])}.")
    iterations = preset.iterations
    if "iterations" in limits and iterations > limits["iterations"]:
        raise OptionsError(f"Preset '{preset.name}' runs {iterations} iterations, more than allowed here "
                           f"({limits['iterations']}); ask for {OPTIONS_BY_NAME['iterations'].describe_range(limits['iterations'])}.")
    values = {spec.name: spec.default for spec in OPTIONS} | given
    values.update(preset=preset.name, size=preset.size, iterations=iterations)
    return Recipe(preset, values)


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


def _finish(outcome: Outcome, content: Pixels, recipe: Recipe, device: torch.device,
            checkpoint: Checkpoint) -> np.ndarray:
    """The result at the photo's full resolution, in its layout, rendered strip by strip by the
    method's finish (keeping the photo's brightness when asked)."""
    render = recipe.preset.method.finish.renderer(outcome, content.height, content.width, checkpoint)
    if recipe.values["keep_brightness"]:
        render = keep_brightness(render)
    return rebuild(content, render, device, checkpoint)


def transfer(
    content: np.ndarray,
    style: np.ndarray,
    regions: Sequence[RegionPair] | None = None,
    options: TransferOptions | Recipe | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TransferResult:
    """Restyle `content` with the colours and tone of `style`, region by region.

    `content`/`style`: H×W×C arrays (uint8, uint16 or float32 in [0, 1]; 1-4 channels). `regions`
    pair content masks with style masks (see `masks`); none means the whole image. The result has
    the content's size and sample type, RGB (grey input gains colour) plus the content's alpha,
    untouched, when it has one. `options` may be a `Recipe` already checked by `check_options`.
    Raises a `PhotoStyleError` subclass for anything the caller can fix, `Cancelled` on cancel.
    """
    started = time.perf_counter()
    recipe = options if isinstance(options, Recipe) else check_options(options or TransferOptions())
    values = recipe.values
    device = resolve_device(values["device"])
    preset, schedule_note = recipe.preset.for_device(device)
    method = preset.method
    content_px: Pixels = split_pixels(content, "content image")
    style_px: Pixels = split_pixels(style, "style image")
    used_regions, notes = pair_regions(regions or [], (content_px.height, content_px.width),
                                       (style_px.height, style_px.width))
    if schedule_note:
        notes.append(schedule_note)
    reporter = Reporter(method, progress, cancel, values["preview_every"], values["preview_size"])
    reporter.check_cancel()

    content_shape = working_shape(content_px.height, content_px.width, recipe.preset.size)
    style_shape = working_shape(style_px.height, style_px.width, recipe.preset.size)
    images = WorkingImages(
        content=downscale(content_px, content_shape, device), style=downscale(style_px, style_shape, device),
        content_masks=_working_masks([r.content_mask for r in used_regions], content_shape, device),
        style_masks=_working_masks([r.style_mask for r in used_regions], style_shape, device))
    automatic = values["regions"] == "auto" and not regions
    if values["regions"] == "auto" and regions:
        notes.append("Your own regions were used; automatic regions are found only when none are given.")
    with fitted_to_idle_cores():
        net = load_vgg19(values["weights"], device) if method.needs_network or automatic else None
        found: list[RegionPair] = []
        if automatic:
            found = _automatic_regions(images, net, content_px, style_px, values["seed"], notes)
            reporter.check_cancel()
        outcome = method.run(images, net, values["seed"], reporter, notes)
        reporter.check_cancel()
        final_losses = next(reversed(outcome.stage_losses.values()), {}).get("last", {})
        reporter.finishing(final_losses, outcome.loss, done=False)
        refit()
        with torch.no_grad():
            image = _finish(outcome, content_px, recipe, device, reporter.check_cancel)
    look = None
    if values["look_size"]:  # once, from the finished result: what the user sees is what the look carries
        look = fit_look(content, image, size=values["look_size"])
        notes.append(look.fidelity.note)
        reporter.check_cancel()
    reporter.finishing(final_losses, outcome.loss, done=True)
    return TransferResult(image, notes, found, outcome.stage_losses, (content_shape[1], content_shape[0]), str(device),
                          time.perf_counter() - started, look)
