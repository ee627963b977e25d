"""A transfer job inside the daemon: what it was asked, what it received, and how it ended.

Shared by the line that orders jobs (`scheduler`), the engine that runs them (`engine`) and the
gRPC methods that feed them (`service`), none of which needs the others to describe a job.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import NoReturn, Union

import grpc
import numpy as np

from photostyle.core import CancelToken, Look, RegionPair, TransferResult
from photostyle.core.video import SequencePlan
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CANCELLED_MESSAGE, ERROR_KIND_METADATA_KEY, START_COMMAND, ErrorKind

from .validation import Plan, SequenceJobPlan


@dataclass
class Inputs:
    """A job's received pixels, as the engine takes them."""

    content: np.ndarray
    style: np.ndarray
    regions: list[RegionPair]


@dataclass
class KeyframeInputs:
    """A sequence's first pass, as the engine takes it: the keyframes it chose (their frames kept)
    and the style image."""

    plan: SequencePlan
    style: np.ndarray


@dataclass(frozen=True)
class KeyframeLooks:
    """A sequence's keyframes fitted: the look of each, the transfers' notes, engine time, device."""

    looks: dict[int, Look]
    notes: list[str]
    seconds: float
    device: str


@dataclass(frozen=True)
class Failure:
    """How a job ended without a result: the gRPC status, the error kind for the client, the message."""

    code: grpc.StatusCode
    kind: ErrorKind
    message: str


CANCELLED = Failure(grpc.StatusCode.CANCELLED, ErrorKind.CANCELLED, CANCELLED_MESSAGE)
SHUTTING_DOWN = Failure(grpc.StatusCode.UNAVAILABLE, ErrorKind.SHUTTING_DOWN,
                        f"The daemon is shutting down and stopped this job. Start it again with `{START_COMMAND}` "
                        "(or use another daemon) and retry.")

Outcome = Union[TransferResult, KeyframeLooks, Failure]


def abort(context: grpc.ServicerContext, failure: Failure) -> NoReturn:
    """End the call with `failure`: its status, its message, and its kind in the trailing metadata."""
    context.set_trailing_metadata(((ERROR_KIND_METADATA_KEY, failure.kind.value),))
    context.abort(failure.code, failure.message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


class Job:
    """One transfer on its way through the daemon. Its handler reads `events`: queue positions,
    progress and previews (protobuf events), then exactly one Outcome."""

    #: Previews not yet sent to the client beyond which new ones are dropped (slow readers).
    MAX_UNSENT_PREVIEWS = 2

    def __init__(self, number: int, plan: Plan | SequenceJobPlan, peer: str) -> None:
        self.number = number
        self.plan = plan
        self.peer = peer
        self.token = CancelToken()
        self.stop_reason = CANCELLED  # reported if the engine stops on the token
        self.events: queue.Queue[pb.TransferEvent | Outcome] = queue.Queue()
        self.previews = threading.BoundedSemaphore(self.MAX_UNSENT_PREVIEWS)
        self.inputs: Inputs | KeyframeInputs | None = None
        self.position: int | None = None
        self.submitted = time.monotonic()
        self.started: float | None = None

    def summary(self) -> str:
        return f"{self.plan.summary()}, from {self.peer}"
