"""A scripted PhotoStyle client: implements `ClientProtocol` without a daemon.

Each transfer takes the next `Script` (or the default one): the events it streams, how long it
works (a job cancelled meanwhile raises CancelledError at once, as the daemon's does within a
second), and its answer (an error, a given Result, or by default the content painted one colour).
Every call is recorded with what was sent, so tests can check what a plug-in asked for. A
sequence (`style_sequence`) takes a script the same way and answers every frame painted.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from photostyle.server.client import (CancelledError, DaemonUnavailableError, EncodedImage, Event, Image, Options,
                                      Region, Result, SequenceDone, SequencePlanned, StyledFrame)
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CANCELLED_MESSAGE

#: What the fake "restyles" every pixel to, unless a script says otherwise.
PAINT = (200, 100, 0, 255)


def capabilities(presets: Sequence[tuple[str, str]] = (("default", "Good and fast"), ("preview", "Instant")),
                 min_side: int = 64, device: str = "fake:0") -> pb.Capabilities:
    """A Capabilities message offering `presets` (name, description) with these limits."""
    return pb.Capabilities(engine_version="0-fake", device=device, limits=pb.Limits(min_side=min_side),
                           presets=[pb.Preset(name=name, description=about) for name, about in presets])


def painted(content: Image, colour: tuple[int, ...] = PAINT) -> Image:
    """`content`'s size, every pixel `colour` (8-bit RGBA)."""
    return Image(content.width, content.height, 4, "uint8", bytes(colour) * (content.width * content.height))


def painted_like(frame: Image) -> Image:
    """`frame`'s size and sample type as the daemon answers it (RGB, or RGBA with alpha), every
    colour sample at PAINT's red level and alpha opaque, so a host test can spot a styled frame."""
    channels = 4 if frame.channels in (2, 4) else 3
    level = PAINT[0] / 255
    samples = {"uint8": (round(level * 255).to_bytes(1, "little"), (255).to_bytes(1, "little")),
               "uint16": (round(level * 65535).to_bytes(2, "little"), (65535).to_bytes(2, "little")),
               "float32": (struct.pack("<f", level), struct.pack("<f", 1.0))}
    colour, opaque = samples[frame.sample_type]
    pixel = colour * 3 + (opaque if channels == 4 else b"")
    return Image(frame.width, frame.height, channels, frame.sample_type, pixel * (frame.width * frame.height))


@dataclass
class Script:
    """One transfer's behaviour."""

    events: list[Event] = field(default_factory=list)
    seconds: float = 0.0  # works this long before answering (cancellable)
    error: Exception | None = None
    result: Callable[[Image], Result] | None = None  # from the content sent; default: painted, 0.5 s on fake:0
    styled: Callable[[int, Image], Image] | None = None  # a sequence's frame from its number and the frame sent;
    # default: painted_like


@dataclass
class Sent:
    """One transfer as the fake received it."""

    content: Image | EncodedImage
    style: Image | EncodedImage
    regions: list[Region]
    options: Options
    call: "FakeCall"


class FakeCall:
    """One scripted transfer in flight (implements CallProtocol)."""

    def __init__(self, script: Script, content: Image) -> None:
        self._script, self._content = script, content
        self._cancelled = threading.Event()
        self.cancelled_at: float | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def result(self, on_event: Callable[[Event], None] | None = None) -> Result:
        for event in self._script.events:
            if on_event is not None:
                on_event(event)
        if self._cancelled.wait(self._script.seconds):
            raise CancelledError(CANCELLED_MESSAGE)
        if self._script.error is not None:
            raise self._script.error
        if self._script.result is not None:
            return self._script.result(self._content)
        return Result(painted(self._content), [], 0.5, "fake:0", (self._content.width, self._content.height))

    def cancel(self) -> None:
        self._cancelled.set()


@dataclass
class SentSequence:
    """One sequence as the fake received it (its frames read once, as the daemon's first pass does)."""

    frames: list[Image]
    style: Image | EncodedImage
    options: Options
    fps: float
    keyframes: list[int]
    call: "FakeSequenceCall"


class FakeSequenceCall:
    """One scripted sequence in flight (implements SequenceCallProtocol): after the script's events
    and `seconds` (cancellable) it "fits" on frame 0 and answers every frame painted (or as the
    script's `styled` makes it), one by one, or raises the script's error after its first frame."""

    def __init__(self, script: Script, frames: list[Image]) -> None:
        self._script, self._frames = script, frames
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def frames(self, on_event: Callable | None = None):
        for event in self._script.events:
            if on_event is not None:
                on_event(event)
        if self._cancelled.wait(self._script.seconds):
            raise CancelledError(CANCELLED_MESSAGE)
        if on_event is not None:
            on_event(SequencePlanned((0,), (0,)))
        for index, frame in enumerate(self._frames):
            if self._cancelled.is_set():
                raise CancelledError(CANCELLED_MESSAGE)
            if index == 1 and self._script.error is not None:
                raise self._script.error
            yield StyledFrame(index, self._script.styled(index, frame) if self._script.styled else painted_like(frame))
        if on_event is not None:
            on_event(SequenceDone([], 0.5, "fake:0"))

    def cancel(self) -> None:
        self._cancelled.set()


@dataclass
class Applied:
    """One look applied, as the fake received it."""

    image: Image
    look: bytes
    look_kind: str
    interpolation: str


class FakeClient:
    """Implements ClientProtocol: scripted capabilities, transfers and looks applied, every call
    recorded. A look applied answers `apply_answer(image)` (default: the image painted) or raises
    `apply_error`."""

    def __init__(self, offered: pb.Capabilities | None = None, scripts: Sequence[Script] = (),
                 default: Script | None = None) -> None:
        self.offered = offered or capabilities()
        self.scripts = list(scripts)
        self.default = default or Script()
        self.sent: list[Sent] = []
        self.sequences: list[SentSequence] = []
        self.closed = False
        self.down = False  # capabilities() then fails as a daemon that is not there
        self.applied: list[Applied] = []
        self.apply_answer: Callable[[Image], Image] = painted
        self.apply_error: Exception | None = None

    def capabilities(self, timeout: float = 10.0) -> pb.Capabilities:
        if self.down:
            raise DaemonUnavailableError("No PhotoStyle daemon is answering at fake:1. Start one with "
                                         "`photostyle serve`.")
        return self.offered

    def transfer(self, content: Image | EncodedImage, style: Image | EncodedImage, regions: Sequence[Region] = (),
                 options: Options | None = None) -> FakeCall:
        call = FakeCall(self.scripts.pop(0) if self.scripts else self.default, content)
        self.sent.append(Sent(content, style, list(regions), options or Options(), call))
        return call

    def style_sequence(self, frames: Callable, frame_count: int, style: Image | EncodedImage,
                       options: Options | None = None, *, fps: float = 24.0, keyframes: Sequence[int] = (),
                       keyframe_every: float = 0.0) -> FakeSequenceCall:
        read = list(frames())
        assert len(read) == frame_count, "a client announced a frame count its frames do not have"
        call = FakeSequenceCall(self.scripts.pop(0) if self.scripts else self.default, read)
        self.sequences.append(SentSequence(read, style, options or Options(), fps, list(keyframes), call))
        return call

    def apply_look(self, image: Image, look: bytes, look_kind: str, interpolation: str = "trilinear",
                   timeout: float | None = None) -> Image:
        self.applied.append(Applied(image, look, look_kind, interpolation))
        if self.apply_error is not None:
            raise self.apply_error
        return self.apply_answer(image)

    def close(self) -> None:
        self.closed = True


def connector(client: FakeClient, refuse: Exception | None = None) -> Callable:
    """A Connector handing out `client` (or raising `refuse`), recording each `start` it was asked for."""
    def connect(start: bool, on_wait: Callable[[float], None]) -> FakeClient:
        connect.starts.append(start)
        if refuse is not None:
            raise refuse
        return client

    connect.starts = []
    return connect
