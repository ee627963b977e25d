"""What the engine tells its caller while it works, and how the caller stops it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from .errors import Cancelled


@dataclass
class Progress:
    """One report: where the job is, its current losses, and sometimes a small preview."""

    stage: str  # the method's stage ("coarse", "medium", "fine" for the default), last "finishing"
    stage_index: int  # 1-based
    stage_count: int
    iteration: int  # within the stage
    iterations: int  # in the stage
    fraction: float  # of the whole job, 0..1
    loss: float = 0.0  # the total the stage optimises (the weighted terms it minimises)
    losses: dict[str, float] = field(default_factory=dict)  # every weighted term, optimised or only reported
    preview: Optional[np.ndarray] = None  # H×W×3 uint8, long side ≤ preview size


ProgressCallback = Callable[[Progress], None]

#: Called between the steps of long loops; raises to abandon the work (a cancelled job).
Checkpoint = Callable[[], None]


def one_of(callback: ProgressCallback, index: int, count: int, name: str) -> ProgressCallback:
    """A progress callback for step `index` (0-based) of `count` (a photo of a set, a keyframe of a
    sequence): its reports move `callback` through that step's share of the whole, and name the step."""
    def report(progress: Progress) -> None:
        callback(replace(progress, fraction=(index + progress.fraction) / count,
                         stage=f"{index + 1}/{count} {name}: {progress.stage}"))
    return report


def no_checkpoint() -> None:
    """A `Checkpoint` for work that cannot be cancelled."""


class CancelToken:
    """Set from any thread; the engine checks it every iteration and raises `Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("The job was cancelled; nothing was changed.")
