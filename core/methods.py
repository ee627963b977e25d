"""How a preset turns the working-size photo into a styled image: a method and its schedule.

A `Method` says where the optimisation starts (the paper's near-zero noise, or a region-wise
colour transfer of the photo) and runs a list of `Stage`s. Each stage is L-BFGS on the image's
pixels (in Caffe's space, as the reference code does) at a fraction of the working size, with or
without the matting-Laplacian photorealism term. Between stages at different sizes the image is
carried as a smooth local affine recolouring of the photo at the new size, so the finer stage
starts from a photo, not from an upscaled blur. The paper's method is two stages at full working
size from noise; the fast default is a coarse-to-fine pyramid from a colour transfer; the preview
is the colour transfer alone. The transfer then carries the result to full resolution
(`transfer._finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch

from .colour_transfer import colour_transfer
from .errors import OptionsError
from .images import resize_image, working_shape
from .local_affine import smooth_local_affine
from .masks import resize_mask
from .objective import LossWeights, Objective
from .progress import CancelToken, Progress, ProgressCallback
from .vgg import VGG19Features, from_caffe, to_caffe

#: Carrying an image to the next size: a light smoothing of its affine maps (the finish uses 15).
CARRY_RADIUS = 3
CARRY_EDGE = 0.05

Start = Literal["noise", "colour transfer"]


@dataclass(frozen=True)
class Stage:
    """One run of the optimiser at one size."""

    name: str  # what the user is shown ("style", "photorealism", "coarse"…); unique in its method
    scale: float  # of the working size's long side
    iterations: int
    photorealism: bool  # the matting-Laplacian term is optimised (else only reported, if built)


@dataclass(frozen=True)
class Method:
    """Where the optimisation starts and the stages it runs, in order."""

    start: Start
    stages: tuple[Stage, ...] = ()

    def iterations(self, photorealism: bool) -> int:
        """Total iterations of the stages with (or without) the photorealism term."""
        return sum(s.iterations for s in self.stages if s.photorealism == photorealism)

    def with_iterations(self, style: int | None, photoreal: int | None) -> "Method":
        """The schedule with new totals for the stages without (`style`) and with (`photoreal`) the
        photorealism term, split between those stages in the preset's proportions; None keeps them."""
        stages = list(self.stages)
        for photorealism, total, what in ((False, style, "style"), (True, photoreal, "photorealism")):
            if total is None:
                continue
            if total < 0:
                raise OptionsError("Iteration counts must be zero or more.")
            chosen = [i for i, s in enumerate(stages) if s.photorealism == photorealism]
            if not chosen:
                if total:
                    kind = "with" if photorealism else "without"
                    raise OptionsError(f"This preset has no stage {kind} the photorealism term, so {what} iterations "
                                       "cannot be set; leave them unset or choose another preset.")
                continue
            for index, count in zip(chosen, _split(total, [stages[i].iterations for i in chosen])):
                stages[index] = replace(stages[index], iterations=count)
        return replace(self, stages=tuple(stages))


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (evenly when they are all 0), by largest remainder."""
    weights = weights if sum(weights) else [1] * len(weights)
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(e) for e in exact]
    for index in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[:total - sum(counts)]:
        counts[index] += 1
    return counts


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

    def iteration(self, stage: Stage, count: int, losses_now: dict[str, float], x: torch.Tensor) -> None:
        if self.progress is None:
            return
        every = self.preview_every
        due = every > 0 and (count % every == 0 or count == stage.iterations)
        preview = _preview(from_caffe(x.detach()), self.preview_size) if due else None
        fraction = 0.95 * (self._done + self._work(stage, count))
        self.progress(Progress(stage.name, self.method.stages.index(stage) + 1, self.stage_count, count,
                               stage.iterations, fraction, losses_now, preview))

    def stage_done(self, stage: Stage) -> None:
        self._done += self._work(stage, stage.iterations)

    def finishing(self, losses_now: dict[str, float], done: bool) -> None:
        """The finish (a few seconds at 24 MP) is reported as it starts and when it is done."""
        if self.progress is not None:
            step = int(done)
            self.progress(Progress("finishing", self.stage_count, self.stage_count, step, 1, 0.95 + 0.05 * step,
                                   losses_now))


def _preview(rgb: torch.Tensor, size: int) -> np.ndarray:
    """An image as 8-bit RGB with its long side `size` (a coarse stage's image is enlarged)."""
    height, width = rgb.shape[-2:]
    scale = size / max(height, width)
    rgb = resize_image(rgb.clamp(0, 1), (max(1, round(height * scale)), max(1, round(width * scale))))
    return (rgb.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


class _Diverged(Exception):
    """L-BFGS stepped to a non-finite loss; the last finite image is kept."""


@dataclass
class Outcome:
    """A method's result at its last stage's size, and the photo at that size (for the finish)."""

    image: torch.Tensor  # 3×h×w in [0, 1]
    photo: torch.Tensor
    stage_losses: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # stage -> first/last -> term


def run_method(method: Method, images: WorkingImages, net: VGG19Features | None, weights: LossWeights, seed: int,
               reporter: Reporter, notes: list[str]) -> Outcome:
    """Run `method`'s stages from its start; one `Objective` per size, each built when first needed."""
    objectives: dict[float, Objective] = {}
    stage_losses: dict[str, dict[str, dict[str, float]]] = {}
    scale = method.stages[0].scale if method.stages else 1.0
    level = images.at_scale(scale)
    x = _start(method.start, level, seed)
    for stage in method.stages:
        if stage.scale != scale:
            previous_photo, scale = level.content, stage.scale
            level = images.at_scale(scale)
            if x.shape[-2:] != level.content.shape[-2:]:
                x = to_caffe(smooth_local_affine(from_caffe(x).clamp(0, 1), previous_photo, level.content,
                                                 CARRY_RADIUS, CARRY_EDGE).clamp(0, 1))
        if scale not in objectives:
            objectives[scale] = Objective(net, level.content, level.style, level.content_masks, level.style_masks,
                                          weights)
        objective = objectives[scale]
        if any(s.photorealism and s.iterations and s.scale == scale for s in method.stages):
            objective.use_photorealism()  # also reported by the stages at this size that do not optimise it
            reporter.check_cancel()  # building the Laplacian takes a moment at large sizes
        x = x.requires_grad_(True)
        stage_losses[stage.name] = _run_stage(x, objective, stage, reporter, notes)
        x = x.detach()
        reporter.stage_done(stage)
    return Outcome(from_caffe(x).clamp(0, 1), level.content, stage_losses)


def _start(start: Start, level: WorkingImages, seed: int) -> torch.Tensor:
    """The first image, 1×3×H×W in Caffe space."""
    if start == "noise":  # the reference's: near-zero noise in Caffe space (the mean colour)
        generator = torch.Generator().manual_seed(seed)
        return (torch.randn((1, 3, *level.content.shape[-2:]), generator=generator) * 1e-4).to(level.content.device)
    return to_caffe(colour_transfer(level.content, level.style, level.content_masks, level.style_masks))


def _run_stage(x: torch.Tensor, objective: Objective, stage: Stage, reporter: Reporter,
               notes: list[str]) -> dict[str, dict[str, float]]:
    """Optimise `x` in place for the stage's L-BFGS steps; return its first and last losses."""
    record: dict[str, dict[str, float]] = {}
    last_good = x.detach().clone()
    count = 0

    def closure() -> torch.Tensor:
        nonlocal count
        reporter.check_cancel()
        x.grad = None
        terms = objective.terms(x, stage.photorealism)
        total_loss = sum(v for k, v in terms.items() if stage.photorealism or k != "photorealism")
        values = {k: float(v.detach()) for k, v in terms.items()}
        if not np.isfinite(float(total_loss.detach())):
            raise _Diverged
        last_good.copy_(x.detach())
        total_loss.backward()
        record.setdefault("first", values)
        count += 1
        reporter.iteration(stage, count, values, x)
        return total_loss

    if stage.iterations > 0:
        # The reference's optimiser: L-BFGS, unit step, no line search, history 100, no early stop.
        optimizer = torch.optim.LBFGS([x], lr=1, max_iter=stage.iterations, max_eval=stage.iterations * 2,
                                      tolerance_grad=-1, tolerance_change=-1, history_size=100)
        try:
            optimizer.step(closure)
        except _Diverged:
            with torch.no_grad():
                x.copy_(last_good)
            notes.append(f"The {stage.name} stage stopped early at iteration {count}: the optimiser diverged; "
                         "kept the last good image.")
    with torch.no_grad():
        record["last"] = {k: float(v) for k, v in objective.terms(x, False).items()}
    record.setdefault("first", record["last"])
    return record
