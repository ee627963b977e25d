"""Where one transfer's time goes, by component, on this machine (issue 21: know it before changing it).

Runs one `transfer()` of a DPST pair in this process, with the engine's parts timed by wall clock
from the outside (wrapped for the run, nothing in the engine changed): per stage the VGG19 forward
passes, the masked Gram style terms, the photorealism term, the backward passes (VGG, Gram and
matting together: autograd runs them as one), what L-BFGS itself does between evaluations, and the
progress reports; once per run the style and content targets, the matting Laplacian's build,
automatic regions, the finish, and reading the images. Seconds, share of the run, and calibration
units (benchmarks/machine.py), with the machine named.

    python benchmarks/components.py                  # default preset, pair 1
    python benchmarks/components.py --pair 4 --preset classic
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import machine  # first: photostyle.core sets OpenMP's wait policy, read when torch loads
import torch
from dpst_pairs import load_pair, require_pairs
from photostyle.core import TransferOptions, transfer
from photostyle.core.vgg import BFloat16VGG19, VGG19Features, WinogradVGG19
from photostyle.server.heap import keep_memory_for_the_job

# The engine's modules themselves (`photostyle.core.transfer` is also the name of the function).
finish, matting, methods, objective, transfer_module = (importlib.import_module(f"photostyle.core.{name}")
                                                        for name in ("finish", "matting", "methods", "objective",
                                                                     "transfer"))

#: The part of "finish to full size" that makes the affine maps (fit and smoothing, or projection and fit).
FINISH_MAPS = "finish: making its affine maps"

#: Seconds by (stage or "run", component), and evaluations by stage.
Totals = dict[tuple[str, str], float]


class Clock:
    """Wall seconds spent in wrapped functions, attributed to the stage running (or to the run)."""

    def __init__(self) -> None:
        self.totals: Totals = defaultdict(float)
        self.evaluations: dict[str, int] = defaultdict(int)
        self.stage = "run"
        self.order: list[str] = []

    def timed(self, component: str, function: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.totals[(self.stage, component)] += time.perf_counter() - started
        return wrapper

    def staged(self, function: Callable) -> Callable:
        """`_run_stage`: its whole time, its name for what runs inside it."""
        def wrapper(x, objective_, stage, *args: Any, **kwargs: Any) -> Any:
            self.stage = stage.name
            self.order.append(stage.name)
            started = time.perf_counter()
            try:
                return function(x, objective_, stage, *args, **kwargs)
            finally:
                self.totals[(stage.name, "stage")] += time.perf_counter() - started
                self.stage = "run"
        return wrapper

    def counted(self, function: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.evaluations[self.stage] += 1
            return function(*args, **kwargs)
        return wrapper


@contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """The engine's parts wrapped for the duration (where each is looked up when called)."""
    targets = [
        (VGG19Features, "forward", clock.timed("VGG19 forward", VGG19Features.forward)),
        (BFloat16VGG19, "forward", clock.timed("VGG19 forward", BFloat16VGG19.forward)),
        (WinogradVGG19, "forward", clock.timed("VGG19 forward", WinogradVGG19.forward)),
        (objective, "style_loss", clock.timed("masked Gram style terms", objective.style_loss)),
        (objective, "photorealism_loss", clock.timed("photorealism term (forward)", objective.photorealism_loss)),
        (objective, "style_targets", clock.timed("style targets (Grams of the reference)", objective.style_targets)),
        (matting, "matting_laplacian", clock.timed("matting Laplacian build", matting.matting_laplacian)),
        (objective.Objective, "terms", clock.counted(clock.timed("evaluations (all terms, forward)",
                                                                 objective.Objective.terms))),
        (torch.Tensor, "backward", clock.timed("backward (VGG, Gram, matting)", torch.Tensor.backward)),
        (methods, "_run_stage", clock.staged(methods._run_stage)),
        (methods.Reporter, "iteration", clock.timed("progress reports and previews", methods.Reporter.iteration)),
        (transfer_module, "_automatic_regions", clock.timed("automatic regions", transfer_module._automatic_regions)),
        (transfer_module, "_finish", clock.timed("finish to full size", transfer_module._finish)),
        (finish.SmoothAffine, "renderer", clock.timed(FINISH_MAPS, finish.SmoothAffine.renderer)),
        (finish.ProjectedAffine, "renderer", clock.timed(FINISH_MAPS, finish.ProjectedAffine.renderer)),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for owner, name, wrapper in targets:
        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", default="1")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    require_pairs()
    print(machine.describe(args.device))
    unit = machine.calibration_seconds(args.device)  # under glibc's own policy, as speed.py measures it
    keep_memory_for_the_job()  # the command line's allocation policy, as speed.py's jobs have it
    clock = Clock()
    started = time.perf_counter()
    content, style, regions = load_pair(args.pair)
    reading = time.perf_counter() - started
    with instrumented(clock):
        started = time.perf_counter()
        transfer(content, style, regions, TransferOptions(preset=args.preset, device=args.device))
        total = time.perf_counter() - started
    totals = clock.totals
    print(f"\n{args.preset} on pair {args.pair} ({content.shape[1]}×{content.shape[0]}, {len(regions)} regions): "
          f"{total:.1f} s = {total / unit:.1f} calibration units of {unit:.2f} s (VGG19 forward+backward to relu5_1 "
          f"at 512×384); reading the pair {reading:.2f} s besides\n")
    print("| where | component | seconds | share | units |\n| --- | --- | --- | --- | --- |")

    def row(where: str, component: str, seconds: float) -> None:
        print(f"| {where} | {component} | {seconds:.2f} | {seconds / total:.0%} | {seconds / unit:.2f} |")

    for stage in clock.order:
        stage_total = totals[(stage, "stage")]
        evaluations = clock.evaluations[stage]
        forward = totals[(stage, "evaluations (all terms, forward)")]
        parts = ["VGG19 forward", "masked Gram style terms", "photorealism term (forward)"]
        row(stage, f"whole stage ({evaluations} evaluations, {stage_total / max(evaluations, 1):.2f} s each)",
            stage_total)
        for part in parts:
            row(stage, f"  {part}", totals[(stage, part)])
        row(stage, "  other terms (content, TV)", forward - sum(totals[(stage, part)] for part in parts))
        row(stage, "  backward (VGG, Gram, matting)", totals[(stage, "backward (VGG, Gram, matting)")])
        row(stage, "  progress reports and previews", totals[(stage, "progress reports and previews")])
        row(stage, "  L-BFGS's own work and the rest", stage_total - forward
            - totals[(stage, "backward (VGG, Gram, matting)")] - totals[(stage, "progress reports and previews")])
    once = ["style targets (Grams of the reference)", "matting Laplacian build", "automatic regions",
            "finish to full size", FINISH_MAPS]
    for component in once:
        if totals[("run", component)]:
            row("run", component, totals[("run", component)])
    accounted = (sum(totals[(stage, "stage")] for stage in clock.order)
                 + sum(totals[("run", component)] for component in once if component != FINISH_MAPS))
    row("run", "model loading, targets' content pass, set-up, the rest", total - accounted)
    row("run", "**whole transfer**", total)


if __name__ == "__main__":
    main()
