"""photostyle.core on the daemon's device: the model warmed once, engine errors mapped to gRPC.

Everything the engine raises becomes a `Failure` with a status the client maps to a readable
error; an out-of-memory error frees what it can and leaves the daemon serving.
"""

from __future__ import annotations

import gc
import logging
import time


import grpc
import torch

from photostyle.core import (Cancelled, InputImageError, MaskError, OptionsError, Progress, Recipe, WeightsError,
                             resolve_device,
                             transfer)
from photostyle.core.vgg import load_vgg19
from photostyle.core.video import fit_keyframes
from photostyle.server.heap import heap_kept_for_the_job
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import to_wire
from photostyle.server.wire.contract import ErrorKind

from .jobs import Failure, Job, KeyframeInputs, KeyframeLooks, Outcome

log = logging.getLogger("photostyle.daemon")


class Engine:
    """Runs jobs on one device with the daemon's weights."""

    def __init__(self, device: str, weights: str | None) -> None:
        self.device = resolve_device(device)  # OptionsError for an unknown or absent device
        self.weights = weights

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return f"{self.device} ({torch.cuda.get_device_name(self.device)})"
        return str(self.device)

    def warm(self) -> float:
        """Load VGG19 onto the device once (it stays cached); seconds taken. WeightsError if unusable."""
        started = time.perf_counter()
        load_vgg19(self.weights, self.device)
        return time.perf_counter() - started

    def run(self, job: Job) -> Outcome:
        """Run `job` (its inputs are set): a transfer, or a sequence's keyframe fits; never raises."""
        assert job.inputs is not None
        recipe = job.plan.options
        options = Recipe(recipe.preset, {**recipe.values, "device": str(self.device), "weights": self.weights})
        inputs = job.inputs
        report = lambda progress: _report(job, progress)  # noqa: E731
        try:
            with heap_kept_for_the_job():
                if isinstance(inputs, KeyframeInputs):
                    started = time.perf_counter()
                    looks, notes = fit_keyframes(inputs.plan, inputs.style, options, report, job.token)
                    return KeyframeLooks(looks, notes, time.perf_counter() - started, self.device_name)
                return transfer(inputs.content, inputs.style, inputs.regions, options, progress=report,
                                cancel=job.token)
        except Cancelled:
            return job.stop_reason
        except MaskError as exc:
            return Failure(grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.MASK, str(exc))
        except InputImageError as exc:
            return Failure(grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, str(exc))
        except OptionsError as exc:
            return Failure(grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.OPTIONS, str(exc))
        except WeightsError as exc:
            return Failure(grpc.StatusCode.FAILED_PRECONDITION, ErrorKind.WEIGHTS, f"The daemon's model weights: {exc}")
        except Exception as exc:  # the daemon must outlive any one job
            if not _out_of_memory(exc):
                log.exception("job %d: engine error", job.number)
                return Failure(grpc.StatusCode.INTERNAL, ErrorKind.INTERNAL,
                               f"The engine failed unexpectedly ({type(exc).__name__}: {exc}); this is a bug, "
                               "see the daemon's log. The daemon is still running.")
        # Out of memory. Outside the except block the failed job's tensors are unreachable.
        self._release_memory()
        return Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.OUT_OF_MEMORY,
                       f"The daemon's device ({self.device_name}) ran out of memory on this job "
                       f"({job.plan.subject}, working size {recipe.preset.size} px). "
                       "Use a smaller working size or a smaller layer, or close other programs using that "
                       "device's memory, then retry. The daemon is still running.")

    def _release_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


#: oneDNN's words when it cannot allocate while building a convolution (its generated code or its
#: scratch memory: seen when the daemon's address space was capped, 1 job in 3-5); a layer or setting
#: it does not support fails before that, building the "primitive descriptor".
_ONEDNN_ALLOCATION_FAILED = "could not create a primitive"


def _out_of_memory(exc: BaseException) -> bool:
    """True for CUDA OOM, Python/numpy MemoryError, torch's CPU allocator failure and oneDNN's."""
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    onednn = _ONEDNN_ALLOCATION_FAILED in text and "descriptor" not in text
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text or onednn)


def _report(job: Job, progress: Progress) -> None:
    """Engine progress → the job's events (a preview is dropped if the client lags behind)."""
    job.events.put(pb.TransferEvent(progress=pb.Progress(
        stage=progress.stage, stage_index=progress.stage_index, stage_count=progress.stage_count,
        iteration=progress.iteration, iterations=progress.iterations, fraction=progress.fraction,
        loss=progress.loss, losses=progress.losses)))
    if progress.preview is not None and job.previews.acquire(blocking=False):
        info, data = to_wire(progress.preview)
        job.events.put(pb.TransferEvent(preview=pb.Preview(info=info, data=bytes(data))))
