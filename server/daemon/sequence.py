"""A StyleSequence job's two passes over its frames, on the daemon's side of the stream.

Pass 1 runs on the job's upload thread, before the job may run: the style image, then every frame
through the engine's planner (cuts, keyframes), keeping only the keyframes, so the daemon never
holds a clip. The line then fits the keyframes' looks on the device (engine.py). Pass 2 runs on
the call's thread once the looks are in: a reader thread takes each frame off the stream (at most
`AHEAD` waiting, gRPC's flow control holds the rest on the client), the engine's `style_frames`
recolours it, and it goes back at once as a `StyledFrame` and its chunks: final, whatever happens
to the frames after it.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

import grpc
import numpy as np

from photostyle.core import CancelToken
from photostyle.core.video import SequencePlan, plan_sequence, style_frames
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import to_wire
from photostyle.server.wire.chunks import chunks
from photostyle.server.wire.contract import ErrorKind

from .pixels import receive, to_array
from .validation import Blob, Limits, RequestError, SequenceJobPlan, check_frame, check_working_shape, invalid

#: How much of a sequence's progress bar each part takes: reading (pass 1), fitting, styling.
READING, FITTING = 0.1, 0.7
#: Frames read ahead of the one being styled in pass 2.
AHEAD = 2


class FrameReader:
    """A sequence's frames off its request stream, one pass at a time: each a `frame` header (of
    the first frame's size and kind) and its chunks, as an H×W×C array."""

    def __init__(self, requests: Iterator[pb.SequenceRequest], plan: SequenceJobPlan, limits: Limits) -> None:
        self._requests, self._plan, self._limits = requests, plan, limits
        self._first: pb.ImageInfo | None = None

    def read(self, on_frame: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
        """One pass: the announced number of frames, then stops (the stream goes on)."""
        for index in range(self._plan.frame_count):
            request = next(self._requests, None)
            if request is None or request.WhichOneof("part") != "frame":
                raise invalid(ErrorKind.INPUT, f"The sequence's stream ended or went on without frame {index}'s "
                                               f"header; send all {self._plan.frame_count} frames announced, each as "
                                               "a frame header and its chunks.")
            check_frame(request.frame, index, self._first, self._limits)
            self._first = self._first or request.frame
            blob = Blob(f"Frame {index}", request.frame)
            frame = to_array(blob, receive(self._requests, [blob])[0], self._limits)
            if on_frame is not None:
                on_frame(index)
            yield frame

    def expect_end(self) -> None:
        """Wait for the client to close its stream after a pass's last frame: nothing more may come."""
        for _ in self._requests:
            raise invalid(ErrorKind.INPUT, f"More came after the sequence's {self._plan.frame_count} frames than it "
                                           "announced; send exactly the frames the setup counts, then close the "
                                           "stream.")


def first_pass(requests: Iterator[pb.SequenceRequest], plan: SequenceJobPlan, limits: Limits, cancel: CancelToken,
               report: Callable[[pb.SequenceEvent], None]) -> tuple[np.ndarray, SequencePlan, FrameReader]:
    """Receive the style image and every frame once; the engine's plan (cuts, keyframes kept).
    Raises RequestError for a bad upload, the engine's errors for frames it cannot plan."""
    style_blob = plan.blobs[0]
    style = to_array(style_blob, receive(requests, [style_blob])[0], limits)
    check_working_shape(style.shape[0], style.shape[1], style_blob.what, plan.options, limits)
    reader = FrameReader(requests, plan, limits)
    ticker = _Ticker(report, "reading frames", plan.frame_count, 0.0, READING)
    planned = plan_sequence(reader.read(ticker), plan.fps, **({"every_s": plan.keyframe_every}
                                                              if plan.keyframe_every else {}),
                            keyframes=plan.keyframes, cancel=cancel)
    report(pb.SequenceEvent(planned=pb.SequencePlanned(cuts=planned.cuts, keyframes=planned.keyframes)))
    return style, planned, reader


def fitting_progress(progress: pb.Progress) -> pb.Progress:
    """The engine's progress while it fits the keyframes, placed on the sequence's bar."""
    placed = pb.Progress()
    placed.CopyFrom(progress)
    placed.fraction = READING + FITTING * progress.fraction
    return placed


def second_pass(reader: FrameReader, planned: SequencePlan, looks: dict, limits: Limits, cancel: CancelToken,
                idle_s: float) -> Iterator[pb.SequenceEvent]:
    """Every frame again, styled and sent back as it comes: `StyledFrame`, its chunks, progress.
    Raises RequestError for a bad or stalled upload, Cancelled when `cancel` is set."""
    ahead = _ReadAhead(reader, cancel, idle_s)
    ticker = _Ticker(lambda event: None, "styling frames", planned.frame_count, READING + FITTING, 1.0)
    for index, frame in enumerate(style_frames(ahead.frames(), planned, looks, cancel=cancel)):
        info, data = to_wire(frame)
        yield pb.SequenceEvent(frame=pb.StyledFrame(index=index, image=info))
        for piece in chunks(data, limits.chunk_bytes):
            yield pb.SequenceEvent(chunk=pb.Chunk(data=piece))
        progress = ticker.progress(index)
        if progress is not None:
            yield pb.SequenceEvent(progress=progress)


class _Ticker:
    """Progress over a pass's frames, about every percent, as `Progress` on the sequence's bar."""

    def __init__(self, report: Callable[[pb.SequenceEvent], None], stage: str, count: int, start: float,
                 stop: float) -> None:
        self._report, self._stage, self._count = report, stage, count
        self._start, self._span = start, stop - start
        self._every = max(1, count // 100)

    def progress(self, index: int) -> pb.Progress | None:
        done = index + 1
        if done % self._every and done != self._count:
            return None
        return pb.Progress(stage=self._stage, stage_index=1, stage_count=1, iteration=done, iterations=self._count,
                           fraction=self._start + self._span * done / self._count)

    def __call__(self, index: int) -> None:
        progress = self.progress(index)
        if progress is not None:
            self._report(pb.SequenceEvent(progress=progress))


class _ReadAhead:
    """Pass 2's frames read on a helper thread, so the call's thread can notice a stalled client
    (`idle_s` without a frame) or a cancel while it waits; the end of the stream is checked last."""

    _END = object()

    def __init__(self, reader: FrameReader, cancel: CancelToken, idle_s: float) -> None:
        self._cancel, self._idle_s = cancel, idle_s
        self._arrived: queue.Queue = queue.Queue(maxsize=AHEAD)
        threading.Thread(target=self._read, args=(reader,), name="photostyle-frames", daemon=True).start()

    def _read(self, reader: FrameReader) -> None:
        try:
            for frame in reader.read():
                self._put(frame)
                if self._cancel.cancelled:
                    return
            reader.expect_end()
            self._put(self._END)
        except Exception as exc:  # a bad frame, or the client left: raised on the call's thread
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._cancel.cancelled:
            try:
                self._arrived.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _get(self) -> object:
        deadline = time.monotonic() + self._idle_s
        while True:
            self._cancel.raise_if_cancelled()
            try:
                item = self._arrived.get(timeout=0.5)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED, f"The daemon heard nothing from the client for {self._idle_s:g} s "
                                                     "while it sent the sequence's frames again, so it ended the job; "
                                                     "the frames already sent back are whole. Check the connection "
                                                     "and retry.") from None
                continue
            if isinstance(item, Exception):
                raise item
            return item

    def frames(self) -> Iterator[np.ndarray]:
        """The pass's frames, ending once the client has closed its stream after the last."""
        while (item := self._get()) is not self._END:
            yield item
