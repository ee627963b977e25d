"""The daemon's line: jobs wait in FIFO order for the one device and run one at a time.

A single worker thread runs the engine, so there is never more than one engine job per device.
Only the running job and the next `prefetch` jobs are told to upload their pixels; the others
wait with just their headers while gRPC flow control keeps their bytes on the client's side,
so the daemon's memory stays bounded however many clients queue up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from photostyle.server.wire import photostyle_pb2 as pb

from .jobs import SHUTTING_DOWN, Failure, Inputs, Job, Outcome

log = logging.getLogger("photostyle.daemon")


class DeviceLine:
    """FIFO line and worker thread for one device. `run` never raises: it returns an Outcome."""

    def __init__(self, run: Callable[[Job], Outcome], max_jobs: int, prefetch: int = 1) -> None:
        self.prefetch = prefetch
        self._run = run
        self._max_jobs = max_jobs
        self._cond = threading.Condition()
        self._line: list[Job] = []
        self._running: Job | None = None
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="photostyle-engine", daemon=True)

    def start(self) -> None:
        self._worker.start()

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)

    def submit(self, job: Job) -> bool:
        """Put `job` at the end of the line; False when the line is full or closing."""
        with self._cond:
            if self._closed or len(self._line) >= self._max_jobs:
                return False
            self._line.append(job)
            self._announce()
            return True

    def provide(self, job: Job, inputs: Inputs) -> None:
        """The job's pixels have arrived and passed their checks: it may run when first in line
        (unless it has already ended: cancelled, stalled, shut down)."""
        with self._cond:
            if job in self._line:
                job.inputs = inputs
                self._cond.notify_all()

    def fail(self, job: Job, failure: Failure) -> None:
        """End `job` with `failure`: at once if waiting, else by stopping the engine (within an iteration)."""
        with self._cond:
            if job is self._running:
                job.stop_reason = failure
                job.token.cancel()
            elif job in self._line:
                self._line.remove(job)
                self._finish(job, failure)
                self._announce()

    def close(self, grace: float) -> None:
        """Refuse new jobs, end waiting ones, give the running one `grace` seconds, then stop it."""
        with self._cond:
            self._closed = True
            for job in [job for job in self._line if job is not self._running]:
                self._line.remove(job)
                self._finish(job, SHUTTING_DOWN)
            self._cond.notify_all()
        self._worker.join(grace)
        with self._cond:
            if self._running is not None:
                self.fail(self._running, SHUTTING_DOWN)
        self._worker.join(grace + 5.0)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not (self._line and self._line[0].inputs is not None):
                    self._cond.wait()
                if self._closed:
                    return
                job = self._running = self._line[0]
                job.started = time.monotonic()
            outcome = self._run(job)
            with self._cond:
                self._running = None
                self._line.remove(job)
                self._finish(job, outcome)
                self._announce()

    def _announce(self) -> None:
        """Tell every job whose place changed its new position; wake the worker."""
        for position, job in enumerate(self._line):
            if job.position != position:
                job.position = position
                job.events.put(pb.TransferEvent(queued=pb.Queued(position=position)))
        self._cond.notify_all()

    @staticmethod
    def _finish(job: Job, outcome: Outcome) -> None:
        """Hand the job its outcome, free its pixels, and log its one line."""
        job.inputs = None
        job.events.put(outcome)
        now = time.monotonic()
        waited = (job.started or now) - job.submitted
        ran = now - job.started if job.started else 0.0
        if isinstance(outcome, Failure):
            log.info("job %d %s after %.1f s in line, %.1f s running: %s (%s)", job.number, outcome.code.name,
                     waited, ran, outcome.message, job.summary())
        else:
            log.info("job %d done in %.1f s on %s after %.1f s in line: %s", job.number, outcome.seconds,
                     outcome.device, waited, job.summary())
