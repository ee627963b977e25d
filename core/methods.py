"""The method seam: how a preset turns the working-size photo into a styled image.

A `Method` says which options it reads, whether it needs VGG19, what it runs and how its result
reaches full resolution (its `finish`). Two kinds are registered in `METHODS`:

- `NeuralStyle`: the paper's optimisation. It starts somewhere (the reference's near-zero noise,
  or a region-wise colour transfer of the photo), runs a list of `Stage`s, each L-BFGS on the
  image's pixels (in Caffe's space, as the reference code does) at a fraction of the working size,
  with or without the matting-Laplacian photorealism term, and carries the image between sizes
  (as a smooth local affine recolouring of the photo at the new size, so a finer stage starts from
  a photo, not an upscaled blur; or plainly resized, for a painterly result).
- `ColourTransfer`: the region-wise colour statistics of the reference alone, no network.

Presets (`presets`) name a method and its settings; `transfer` runs it and its finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import torch

from .colour_transfer import colour_transfer
from .finish import SMOOTH_FINISHES, Finish, Outcome, SmoothAffine, Upscale, projected_affine_maps
from .images import resize_image, working_shape
from .lbfgs import minimise
from .local_affine import apply_affine, local_affine_view
from .masks import resize_mask
from .objective import STYLE_LAYERS, LossWeights, Objective
from .progress import CancelToken, Progress, ProgressCallback
from .threads import refit
from .vgg import VGG19Features, from_caffe, runs_bfloat16_fast, to_caffe, winograd_faster

#: With `NeuralStyle.bfloat16`, each stage's first evaluations stay float32: L-BFGS's first step is
#: tiny (1/|g|₁), so its first curvature pair (the gradient's change over that step) would be
#: bfloat16's gradient noise, and the next steps explode (measured: a 101×77 stage blew up at its
#: second step). Later steps are large against the noise.
FLOAT32_EVALUATIONS = 2
#: With `NeuralStyle.keep_best`, a stage whose result (L-BFGS's last step, never evaluated in the
#: stage) has a loss this many times its first keeps its best evaluated image instead.
UNSTABLE_RISE = 4.0
#: With `NeuralStyle.warm_start`, a stage's first step is this many times the inverse-Hessian scale
#: the previous (half-size) stage ended with.
SCALE_GROWTH = 2.0
#: Carrying an image to the next size: the strength of its projection onto photorealistic images
#: (`projected_carry`). The lightly smoothed affine maps carried before (a joint bilateral filter
#: of radius 3, range 0.05) averaged away some of the style each stage had found. On the speed
#: table's 8 DPST pairs (style, photo energy, edges ÷ the paper's, medians; 2-core "Intel(R) Xeon(R)
#: Processor", bfloat16, 30 + 15 + 5 iterations) with the finish's strength 1 instead of 2: 0.81,
#: 0.65, 1.13 against 0.86, 0.74, 1.11 (the largest style 0.97 against 1.07); on 12 pairs no
#: schedule was tuned on 0.75, 0.66, 1.13 against 0.81, 0.66, 1.12; torch held to AVX2, the float32
#: CPU schedule: 0.93, 0.55, 1.14 against 1.00, 0.68, 1.12. Strength 0.3 with the finish's 2: 0.84,
#: 0.69; 1 with 2: 0.89, 0.56; the affine maps fitted without any smoothing: 0.81, 0.93 (issue 21).
CARRY_STRENGTH = 1.0


@dataclass(frozen=True)
class Stage:
    """One run of the optimiser at one size."""

    name: str  # what the user is shown ("style", "photorealism", "coarse"…); unique in its method
    scale: float  # of the working size's long side
    iterations: int
    photorealism: bool  # the matting-Laplacian term is optimised (else only reported, if built)
    style_layers: tuple[str, ...] = STYLE_LAYERS  # those the style term matches at this size
    content: bool = True  # the content term is matched at this size


@dataclass
class WorkingImages:
    """The photo and reference at the working size (3×H×W in [0, 1]) and their region masks (K×H×W)."""

    content: torch.Tensor
    style: torch.Tensor
    content_masks: torch.Tensor
    style_masks: torch.Tensor

    def at_scale(self, scale: float) -> "WorkingImages":
        """The same images with their long sides scaled by `scale` (never below VGG19's minimum)."""
        if scale == 1:
            return self
        content_shape = working_shape(*self.content.shape[-2:], round(max(self.content.shape[-2:]) * scale))
        style_shape = working_shape(*self.style.shape[-2:], round(max(self.style.shape[-2:]) * scale))
        return WorkingImages(resize_image(self.content, content_shape).clamp(0, 1),
                             resize_image(self.style, style_shape).clamp(0, 1),
                             resize_mask(self.content_masks, content_shape), resize_mask(self.style_masks, style_shape))


@dataclass
class Reporter:
    """Turns iterations into `Progress` reports (with previews) and checks for cancel.

    The fraction done weighs each iteration by its stage's pixel count, so that the bar moves
    evenly in time across a coarse-to-fine schedule.
    """

    method: Method
    progress: ProgressCallback | None
    cancel: CancelToken | None
    preview_every: int = 0
    preview_size: int = 256
    _done: float = 0.0  # work of the finished stages

    @property
    def stage_count(self) -> int:
        return len(self.method.stages) + 1  # and the finish

    def _work(self, stage: Stage, iterations: int) -> float:
        total = sum(s.iterations * s.scale ** 2 for s in self.method.stages)
        return iterations * stage.scale ** 2 / total if total else 0.0

    def check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def iteration(self, stage: Stage, count: int, losses_now: dict[str, float], loss: float,
                  x: torch.Tensor) -> None:
        if self.progress is None:
            return
        every = self.preview_every
        due = every > 0 and (count % every == 0 or count == stage.iterations)
        preview = _preview(from_caffe(x.detach()), self.preview_size) if due else None
        fraction = 0.95 * (self._done + self._work(stage, count))
        self.progress(Progress(stage.name, self.method.stages.index(stage) + 1, self.stage_count, count,
                               stage.iterations, fraction, loss, losses_now, preview))

    def stage_done(self, stage: Stage) -> None:
        self._done += self._work(stage, stage.iterations)

    def finishing(self, losses_now: dict[str, float], loss: float, done: bool) -> None:
        """The finish (a few seconds at 24 MP) is reported as it starts and when it is done."""
        if self.progress is not None:
            step = int(done)
            self.progress(Progress("finishing", self.stage_count, self.stage_count, step, 1, 0.95 + 0.05 * step,
                                   loss, losses_now))


def _preview(rgb: torch.Tensor, size: int) -> np.ndarray:
    """An image as 8-bit RGB with its long side `size` (a coarse stage's image is enlarged)."""
    height, width = rgb.shape[-2:]
    scale = size / max(height, width)
    rgb = resize_image(rgb.clamp(0, 1), (max(1, round(height * scale)), max(1, round(width * scale))))
    return (rgb.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


class Method(Protocol):
    """What a preset runs. Implementations are frozen dataclasses registered in `METHODS`."""

    kind: str  # its name in `METHODS` and in the daemon's capabilities
    stages: tuple[Stage, ...]  # what progress reports go through, in order (may be none)
    finish: Finish

    @property
    def reads(self) -> frozenset[str]:
        """The options it reads beyond those every transfer reads (`presets.COMMON_OPTIONS`)."""
        ...

    @property
    def needs_network(self) -> bool:
        """Whether it needs VGG19 (loaded once by `transfer`, and shared with automatic regions)."""
        ...

    def configured(self, values: Mapping[str, Any]) -> "Method":
        """This method with the options it reads applied (checked values, by name)."""
        ...

    def for_device(self, device: torch.device) -> tuple["Method", str | None]:
        """The method as it runs on `device`, and a note for the user where that differs from the
        preset as listed (None where it does not)."""
        ...

    def run(self, images: WorkingImages, net: VGG19Features | None, seed: int, reporter: Reporter,
            notes: list[str]) -> Outcome:
        """Its result at its last stage's size; notes for the user go to `notes`."""
        ...


def _configured_finish(finish: Finish, values: Mapping[str, Any]) -> Finish:
    """`smooth: False` swaps a smooth finish for the plain upscale of the optimised image."""
    return Upscale() if values.get("smooth") is False else finish


#: Starts of a `NeuralStyle`: the first image (1×3×H×W, Caffe space) from the images at the first
#: stage's size and the seed.
Start = Callable[[WorkingImages, int], torch.Tensor]


def noise_start(level: WorkingImages, seed: int) -> torch.Tensor:
    """The reference's: near-zero noise in Caffe space (the mean colour)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn((1, 3, *level.content.shape[-2:]), generator=generator) * 1e-4).to(level.content.device)


def colour_transfer_start(level: WorkingImages, seed: int) -> torch.Tensor:
    """The photo recoloured with the reference's colour statistics, region by region."""
    return to_caffe(colour_transfer(level.content, level.style, level.content_masks, level.style_masks))


#: Carries of a `NeuralStyle`: the image (1×3×h×w, Caffe space) at the next size, from the photo at
#: the previous size, its matting Laplacian where that size built one, and the images at the next.
Carry = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, WorkingImages], torch.Tensor]


def projected_carry(x: torch.Tensor, previous_photo: torch.Tensor, previous_laplacian: torch.Tensor | None,
                    level: WorkingImages) -> torch.Tensor:
    """The image made photorealistic as the projected finish makes it (`matting.photorealistic_projection`,
    `CARRY_STRENGTH`), then the affine maps of the photo that reproduce it, applied to the photo at the
    new size: each finer stage starts from a photo that keeps the coarser stage's style."""
    maps = projected_affine_maps(from_caffe(x).clamp(0, 1), previous_photo, previous_laplacian, CARRY_STRENGTH)
    return to_caffe(apply_affine(maps, level.content).clamp(0, 1))


def resize_carry(x: torch.Tensor, previous_photo: torch.Tensor, previous_laplacian: torch.Tensor | None,
                 level: WorkingImages) -> torch.Tensor:
    """The image itself, resized (its strokes are the result, not a recolouring of the photo)."""
    return to_caffe(resize_image(from_caffe(x).clamp(0, 1), tuple(level.content.shape[-2:])).clamp(0, 1))


@dataclass(frozen=True)
class NeuralStyle:
    """The paper's optimisation: content, masked style and TV losses, optionally photorealism."""

    start: Start
    stages: tuple[Stage, ...]
    carry: Carry = projected_carry
    finish: Finish = field(default_factory=SmoothAffine)
    weights: LossWeights = field(default_factory=LossWeights)
    #: Run VGG19 in bfloat16 after each stage's first evaluations where the device has bfloat16
    #: hardware (`vgg.runs_bfloat16_fast`); float32 elsewhere, and always for the paper's presets.
    bfloat16: bool = False
    #: Where VGG19 runs in float32 on a CPU on which NNPACK's Winograd convolutions are faster
    #: (`vgg.winograd_faster`: AVX2 without AVX-512), run its wide convolutions so
    #: (`vgg.WinogradVGG19`: the same result within 3e-6). Off for the paper's presets (bit for bit).
    winograd: bool = False
    #: Keep a stage's best evaluated image when its last step overshot (UNSTABLE_RISE). Without a
    #: line search, L-BFGS's second step often overshoots (the loss 5 to 6e5 times the first, seen
    #: on DPST pairs) and the third recovers; a stage of two iterations ends on that overshoot (the
    #: default cut to 10 iterations at 64 px gave a grey image). Checked in the stages that start
    #: cold (with `warm_start`, the first: see `_run_stage`). Off for the paper's presets.
    keep_best: bool = False
    #: Run each stage with `lbfgs.minimise`, started from the inverse-Hessian scale the previous
    #: stage ended with (times `SCALE_GROWTH`): no tiny first step, no float32 evaluations after the
    #: first stage. Off for the paper's presets, which keep torch's L-BFGS.
    warm_start: bool = False
    #: The stages to run instead where VGG19 runs in float32 on a CPU (no bfloat16 matrix units,
    #: `vgg.runs_bfloat16_fast`): there an evaluation costs several times what it costs in
    #: bfloat16, so a shorter schedule keeps the time near a bfloat16 CPU's. None: the same stages
    #: everywhere. An `iterations` option set by the user replaces both.
    float32_cpu_stages: tuple[Stage, ...] | None = None
    #: Each stage optimises the image that `local_affine.local_affine_view` turns into the one VGG19
    #: sees: a pixel-wise step becomes a local recolouring of the photo, so few iterations move the
    #: colours far without fighting the photorealism term (`RECOLOURED_STEPS` lists the measurements).
    #: Off for the paper's presets and the painterly one, whose strokes are not recolourings.
    recoloured_steps: bool = False
    kind: str = "neural-style"

    @property
    def reads(self) -> frozenset[str]:
        return frozenset({"iterations"} | ({"smooth"} if isinstance(self.finish, SMOOTH_FINISHES) else set()))

    @property
    def needs_network(self) -> bool:
        return bool(self.stages)

    @property
    def iterations(self) -> int:
        return sum(stage.iterations for stage in self.stages)

    def configured(self, values: Mapping[str, Any]) -> "NeuralStyle":
        method = replace(self, finish=_configured_finish(self.finish, values))
        total = values.get("iterations")
        if total is None:
            return method
        counts = _split(total, [stage.iterations for stage in self.stages])
        return replace(method, float32_cpu_stages=None,
                       stages=tuple(replace(stage, iterations=count) for stage, count in zip(self.stages, counts)))

    def for_device(self, device: torch.device) -> tuple["NeuralStyle", str | None]:
        if (self.float32_cpu_stages is None or device.type != "cpu"
                or (self.bfloat16 and runs_bfloat16_fast(device))):
            return self, None
        fitted = replace(self, stages=self.float32_cpu_stages, float32_cpu_stages=None)
        return fitted, (f"This CPU has no bfloat16 matrix units, so VGG19 runs in float32 and the preset runs "
                        f"{_schedule(fitted.stages)} iterations instead of {_schedule(self.stages)} (about 0.75× "
                        f"the time, a lighter look); set iterations to {self.iterations} for the full "
                        "schedule.")

    def _style_layers_at(self, scale: float) -> tuple[str, ...]:
        """The style layers the stages at `scale` match, in the network's order."""
        wanted = {layer for stage in self.stages if stage.scale == scale for layer in stage.style_layers}
        return tuple(layer for layer in STYLE_LAYERS if layer in wanted)

    def run(self, images: WorkingImages, net: VGG19Features | None, seed: int, reporter: Reporter,
            notes: list[str]) -> Outcome:
        """The stages from the start; one `Objective` per size, freed before the next size's is built
        (its Laplacian and targets would only raise the peak memory)."""
        assert net is not None, "NeuralStyle needs VGG19 (needs_network)"
        objective: Objective | None = None
        view: Callable[[torch.Tensor], torch.Tensor] | None = None  # built with each size's objective
        bfloat16 = self.bfloat16 and runs_bfloat16_fast(images.content.device)
        winograd = self.winograd and not bfloat16 and winograd_faster(images.content.device)
        stage_losses: dict[str, dict[str, dict[str, float]]] = {}
        scale = self.stages[0].scale if self.stages else 1.0
        level = images.at_scale(scale)
        x = self.start(level, seed)
        curvature: float | None = None  # the inverse-Hessian scale carried between stages (warm_start)
        for stage in self.stages:
            if stage.scale != scale:
                next_level = images.at_scale(stage.scale)
                if x.shape[-2:] != next_level.content.shape[-2:]:
                    x = self.carry(x, level.content, objective.laplacian if objective else None, next_level)
                scale, level, objective = stage.scale, next_level, None
            if objective is None:
                objective = Objective(net, level.content, level.style, level.content_masks, level.style_masks,
                                      self.weights, bfloat16_targets=bfloat16, winograd=winograd,
                                      style_layers=self._style_layers_at(scale),
                                      content_term=any(s.content for s in self.stages if s.scale == scale))
                view = _caffe_view(local_affine_view(level.content)) if self.recoloured_steps else None
            if any(s.photorealism and s.iterations and s.scale == scale for s in self.stages):
                objective.use_photorealism()  # also reported by the stages at this size that do not optimise it
                reporter.check_cancel()  # building the Laplacian takes a moment at large sizes
            refit()  # to the cores idle now
            x = x.requires_grad_(True)
            stage_losses[stage.name], curvature = _run_stage(x, objective, stage, reporter, notes, bfloat16,
                                                             self.keep_best, self.warm_start, curvature, view)
            x = x.detach()
            reporter.stage_done(stage)
        last = self.stages[-1] if self.stages else None
        loss = optimised_loss(stage_losses[last.name]["last"], last.photorealism) if last else 0.0
        return Outcome(from_caffe(x).clamp(0, 1), level.content, stage_losses, loss,
                       objective.laplacian if objective is not None else None)


@dataclass(frozen=True)
class ColourTransfer:
    """The region-wise colour transfer alone: instant, no network."""

    finish: Finish = field(default_factory=SmoothAffine)
    stages: tuple[Stage, ...] = ()
    kind: str = "colour-transfer"

    @property
    def reads(self) -> frozenset[str]:
        return frozenset({"smooth"} if isinstance(self.finish, SMOOTH_FINISHES) else set())

    @property
    def needs_network(self) -> bool:
        return False

    def configured(self, values: Mapping[str, Any]) -> "ColourTransfer":
        return replace(self, finish=_configured_finish(self.finish, values))

    def for_device(self, device: torch.device) -> tuple["ColourTransfer", str | None]:
        return self, None

    def run(self, images: WorkingImages, net: VGG19Features | None, seed: int, reporter: Reporter,
            notes: list[str]) -> Outcome:
        image = colour_transfer(images.content, images.style, images.content_masks, images.style_masks)
        return Outcome(image.clamp(0, 1), images.content, {})


#: Every kind of method, by the name presets and capabilities use.
METHODS: dict[str, type] = {"neural-style": NeuralStyle, "colour-transfer": ColourTransfer}


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (evenly when they are all 0), by largest remainder."""
    weights = weights if sum(weights) else [1] * len(weights)
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(e) for e in exact]
    for index in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[:total - sum(counts)]:
        counts[index] += 1
    return counts


def _schedule(stages: tuple[Stage, ...]) -> str:
    """Stages' iterations as the user reads them: "30 + 15 + 5"."""
    return " + ".join(str(stage.iterations) for stage in stages)


def _caffe_view(recolour: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """`recolour` (3×H×W in [0, 1] → same) applied to an image in VGG19's Caffe space (1×3×H×W)."""
    return lambda x: to_caffe(recolour(from_caffe(x)))


def optimised_loss(terms: Mapping[str, Any], photorealism: bool) -> Any:
    """The sum of the terms a stage optimises (tensors or floats): photorealism only when it is on."""
    return sum(value for name, value in terms.items() if photorealism or name != "photorealism")


class _Diverged(Exception):
    """L-BFGS stepped to a non-finite loss; the last finite image is kept."""


def _run_stage(x: torch.Tensor, objective: Objective, stage: Stage, reporter: Reporter, notes: list[str],
               bfloat16: bool = False, keep_best: bool = False, warm_start: bool = False,
               curvature: float | None = None,
               view: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[dict[str, dict[str, float]], float | None]:
    """Optimise `x` in place for the stage's L-BFGS steps; return its first and last losses (at its
    result; a warm-started stage's at its last evaluation, see below), and the inverse-Hessian scale
    to start the next stage from (the one given, with torch's L-BFGS).

    `bfloat16`: evaluations run VGG19 in bfloat16, but for the first `FLOAT32_EVALUATIONS` of a stage
    that starts with a tiny step (no `curvature` to start from). `keep_best`: see
    `NeuralStyle.keep_best`. `warm_start`: `lbfgs.minimise` from `curvature` (times `SCALE_GROWTH`),
    else torch's L-BFGS. With `bfloat16` the losses recorded at the end are bfloat16's too. `view`:
    the optimiser steps in `x`, the losses are those of `view(x)`, and `x` ends as `view(x)`
    (`NeuralStyle.recoloured_steps`)."""
    seen_as = view or (lambda image: image)
    record: dict[str, dict[str, float]] = {}
    last_good = x.detach().clone()
    best: tuple[float, torch.Tensor] | None = None
    count = 0
    initial_scale = curvature * SCALE_GROWTH if warm_start and curvature is not None else None
    float32_evaluations = FLOAT32_EVALUATIONS if initial_scale is None else 0
    checked = initial_scale is None  # evaluated again at its result (see the end)

    def closure() -> torch.Tensor:
        nonlocal count, best
        reporter.check_cancel()
        x.grad = None
        seen = seen_as(x)
        terms = objective.terms(seen, stage.photorealism, bfloat16 and count >= float32_evaluations,
                                stage.style_layers, stage.content)
        total_loss = optimised_loss(terms, stage.photorealism)
        values = {k: float(v.detach()) for k, v in terms.items()}
        loss = float(total_loss.detach())
        if not np.isfinite(loss):
            raise _Diverged
        if keep_best and checked and (best is None or loss < best[0]):
            best = loss, x.detach().clone()
        last_good.copy_(x.detach())
        total_loss.backward()
        record.setdefault("first", values)
        record["last"] = values
        count += 1
        reporter.iteration(stage, count, values, loss, seen.detach())
        return total_loss

    try:
        if warm_start:
            curvature = minimise(x, closure, stage.iterations, initial_scale=initial_scale)
        elif stage.iterations > 0:
            # The reference's optimiser: L-BFGS, unit step, no line search, history 100, no early stop.
            optimizer = torch.optim.LBFGS([x], lr=1, max_iter=stage.iterations, max_eval=stage.iterations * 2,
                                          tolerance_grad=-1, tolerance_change=-1, history_size=100)
            optimizer.step(closure)
    except _Diverged:
        with torch.no_grad():
            x.copy_(last_good)
        notes.append(f"The {stage.name} stage stopped early at iteration {count}: the optimiser diverged; "
                     "kept the last good image.")

    def losses_at_x() -> dict[str, float]:
        with torch.no_grad():
            terms = objective.terms(seen_as(x), False, bfloat16, stage.style_layers, stage.content)
        return {k: float(v) for k, v in terms.items()}

    # L-BFGS's last step is taken after the stage's last evaluation; one more evaluation gives the
    # losses at the result and checks it for an overshoot. A warm-started stage skips it: its steps
    # are scaled by curvature measured at the coarser size and then at its own, never from a tiny
    # first step, and that evaluation cost 0.90× the default's time on the speed table's 8 DPST
    # pairs (2-core "Intel(R) Xeon(R) Processor", torch held to AVX2) for the same images: on all
    # 39 pairs, on that machine with and without the hold, no warm-started stage ended above
    # UNSTABLE_RISE (the largest 1.74× its first loss, the rest below 1×; issue 21). Its last losses
    # are its last evaluation's.
    if checked or count == 0:
        record["last"] = losses_at_x()
        if best is not None and (optimised_loss(record["last"], stage.photorealism)
                                 > UNSTABLE_RISE * optimised_loss(record["first"], stage.photorealism)):
            with torch.no_grad():
                x.copy_(best[1])  # it overshot
            record["last"] = losses_at_x()
    record.setdefault("first", record["last"])
    if view is not None:
        with torch.no_grad():
            x.copy_(view(x))
    return record, curvature
