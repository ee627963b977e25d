"""One sequence styled on the daemon (StyleSequence): the frames go out twice, styled frames come back.

The daemon reads a sequence twice, as the engine does (once to find cuts and keyframes, once to
style every frame), so the caller hands over a way to read its frames, `frames()`, which is called
once for each pass; a host passes its captured frames, the CLI re-reads its files. Frames are
sent only when the daemon asks for them (gRPC's flow control keeps the rest on this side), and
styled frames are yielded as they arrive: they are final, so a caller that writes each one keeps
them all even if the call fails later.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

import grpc

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.chunks import ChunkOverflow, Reassembly, chunks
from photostyle.server.wire.images import EncodedImage, Image

from .errors import DaemonError, InputError, PhotoStyleClientError, from_rpc_error
from .events import Progress, Queued, SequenceDone, SequenceEvent, SequencePlanned, StyledFrame

#: Reads every frame of a sequence, in order, from the start (called once per pass).
FrameSource = Callable[[], Iterable[Image]]


class SequenceCall:
    """One running sequence: iterate it for its events, or `frames()` for the styled frames;
    `cancel()` from any thread. Leaving a `with` block cancels it."""

    def __init__(self, method: grpc.StreamStreamMultiCallable, setup: pb.SequenceSetup, style: Image | EncodedImage,
                 frames: FrameSource, metadata: tuple[tuple[str, str], ...], where: str) -> None:
        self._where = where
        self._frames = frames
        self._frame_count = setup.frame_count
        self._style = style.view()
        self._asked: queue.Queue[str] = queue.Queue()  # "pixels", "frames", or "end" when the call is over
        self._events: queue.Queue[SequenceEvent | Exception] = queue.Queue()
        self._source_error: PhotoStyleClientError | InputError | None = None
        self._call = method(self._requests(setup), metadata=metadata)
        if not self._call.add_callback(lambda: self._asked.put("end")):
            self._asked.put("end")
        threading.Thread(target=self._pump, name="photostyle-sequence", daemon=True).start()

    def __iter__(self) -> Iterator[SequenceEvent]:
        """Queued…, Progress…, SequencePlanned, StyledFrame… in order, then SequenceDone; raises the
        job's error instead, if any (frames yielded before it stay valid)."""
        while True:
            item = self._events.get()
            if isinstance(item, Exception):
                raise item
            yield item
            if isinstance(item, SequenceDone):
                return

    def frames(self, on_event: Callable[[SequenceEvent], None] | None = None) -> Iterator[StyledFrame]:
        """The styled frames as they come; `on_event` sees every other event, SequenceDone last."""
        for event in self:
            if isinstance(event, StyledFrame):
                yield event
            elif on_event is not None:
                on_event(event)

    def cancel(self) -> None:
        """Stop the job: the daemon stops within about a second; iteration raises CancelledError."""
        self._call.cancel()

    def __enter__(self) -> "SequenceCall":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    # Inside -----------------------------------------------------------------------------------------

    def _requests(self, setup: pb.SequenceSetup) -> Iterator[pb.SequenceRequest]:
        """The setup at once; the style and the frames when the daemon asks, the frames again when it
        asks again (run by gRPC's sending thread). A frame source that fails cancels the call."""
        yield pb.SequenceRequest(setup=setup)
        if self._asked.get() != "pixels":
            return
        for piece in chunks(self._style):
            yield pb.SequenceRequest(chunk=pb.Chunk(data=piece))
        yield from self._send_frames()
        if self._asked.get() != "frames":
            return
        yield from self._send_frames()

    def _send_frames(self) -> Iterator[pb.SequenceRequest]:
        count = 0
        try:
            for frame in self._frames():
                if count == self._frame_count:
                    raise InputError(f"The sequence gave more frames than the {self._frame_count} announced; "
                                     "it changed while it was read. Run again on frames that stay as they are.")
                info = frame.info()
                count += 1
                yield pb.SequenceRequest(frame=info)
                for piece in chunks(frame.view()):
                    yield pb.SequenceRequest(chunk=pb.Chunk(data=piece))
            if count < self._frame_count:
                raise InputError(f"The sequence gave {count} frames, not the {self._frame_count} announced; it "
                                 "changed while it was read. Run again on frames that stay as they are.")
        except (PhotoStyleClientError, InputError) as error:
            self._fail(error)
        except Exception as exc:  # a host's or a file's error while reading: said, never a hung call
            self._fail(InputError(f"Reading frame {count} of the sequence failed ({type(exc).__name__}: {exc}); "
                                  "nothing more was sent."))

    def _fail(self, error: PhotoStyleClientError | InputError) -> None:
        self._source_error = error
        self._call.cancel()

    def _pump(self) -> None:
        """Move the call's events to the queue; its last item is SequenceDone or an error."""
        try:
            for event in self._read():
                self._events.put(event)
        except PhotoStyleClientError as error:
            self._events.put(self._source_error or error)
        except Exception as exc:  # never leave the reader waiting
            self._events.put(DaemonError(f"Unexpected client failure ({type(exc).__name__}: {exc})."))
        finally:
            self._asked.put("end")

    def _read(self) -> Iterator[SequenceEvent]:
        frame: _FrameDownload | None = None
        started = False
        try:
            for event in self._call:
                started = True
                kind = event.WhichOneof("event")
                if kind == "send_pixels":
                    self._asked.put("pixels")
                elif kind == "send_frames":
                    self._asked.put("frames")
                elif kind == "queued":
                    yield Queued(event.queued.position)
                elif kind == "progress":
                    yield Progress.from_wire(event.progress)
                elif kind == "planned":
                    yield SequencePlanned(tuple(event.planned.cuts), tuple(event.planned.keyframes))
                elif kind == "frame":
                    if frame is not None:
                        raise DaemonError("The daemon announced a frame before the last one was whole (a daemon bug).")
                    frame = _FrameDownload(event.frame)
                elif kind == "chunk":
                    if frame is None:
                        raise DaemonError("The daemon sent frame data before its header (a daemon bug).")
                    if frame.add(event.chunk.data):
                        yield frame.styled()
                        frame = None
                elif kind == "done":
                    if frame is not None:
                        raise DaemonError("The daemon ended the sequence inside a frame (a daemon bug).")
                    yield SequenceDone(list(event.done.notes), event.done.seconds, event.done.device)
                    return
        except grpc.RpcError as error:
            raise from_rpc_error(error, self._where, started) from None
        raise DaemonError("The daemon ended the sequence without finishing it (a daemon bug).")


class _FrameDownload:
    """One styled frame's bytes, as they arrive after its header."""

    def __init__(self, header: pb.StyledFrame) -> None:
        self._header = header
        self._bytes = Reassembly([header.image.size_bytes])

    def add(self, data: bytes) -> bool:
        """Take a chunk; True once the frame is whole."""
        try:
            self._bytes.add(data)
        except ChunkOverflow:
            raise DaemonError("The daemon sent more frame data than it announced (a daemon bug).") from None
        return self._bytes.complete

    def styled(self) -> StyledFrame:
        return StyledFrame(self._header.index, Image.from_wire(self._header.image, self._bytes.buffers[0]))
