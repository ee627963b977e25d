"""What the plug-ins need of a PhotoStyle client, as protocols: the seam for a fake in tests.

The real `Client` and `TransferCall` (client.py) satisfy these structurally; tests/fakes has a
scripted fake that does too, so the plug-ins' logic (the `Controller`) runs without a daemon,
GIMP or Krita. Only what a plug-in uses is here: a host never sees gRPC.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.images import EncodedImage, Image, Region

from .client import Options
from .events import Event, Result, SequenceEvent, StyledFrame
from .sequence_call import FrameSource


class CallProtocol(Protocol):
    """One transfer in flight."""

    def result(self, on_event: Callable[[Event], None] | None = None) -> Result:
        """Wait for the Result; `on_event` sees each Queued/Progress/Preview first. Raises a
        `PhotoStyleClientError` (CancelledError after `cancel`) when the job fails."""

    def cancel(self) -> None:
        """Stop the job from any thread; `result` then raises CancelledError within about a second."""


class SequenceCallProtocol(Protocol):
    """One sequence in flight."""

    def frames(self, on_event: Callable[[SequenceEvent], None] | None = None) -> Iterator[StyledFrame]:
        """The styled frames in order, as they come (each final); `on_event` sees Queued, Progress,
        SequencePlanned, and SequenceDone last. Raises a `PhotoStyleClientError` (CancelledError
        after `cancel`) when the job fails."""

    def cancel(self) -> None:
        """Stop the job from any thread; `frames` then raises CancelledError within about a second."""


class ClientProtocol(Protocol):
    """A connection to a daemon, as the plug-ins use it."""

    def capabilities(self, timeout: float = 10.0) -> pb.Capabilities:
        """The daemon's presets (name, description), limits (min_side...), device and version."""

    def transfer(self, content: Image | EncodedImage, style: Image | EncodedImage, regions: Sequence[Region] = (),
                 options: Options | None = None) -> CallProtocol:
        """Start a transfer."""

    def apply_look(self, image: Image, look: bytes, look_kind: str, interpolation: str = "trilinear",
                   timeout: float | None = None) -> Image:
        """`image` recoloured by a look file's bytes (".cube" or ".png") on the daemon; blocks."""

    def style_sequence(self, frames: FrameSource, frame_count: int, style: Image | EncodedImage,
                       options: Options | None = None, *, fps: float = 24.0, keyframes: Sequence[int] = (),
                       keyframe_every: float = 0.0) -> SequenceCallProtocol:
        """Start styling a sequence of frames (`frames()` is called once per pass, twice)."""

    def close(self) -> None:
        """Let go of the connection."""


#: How a plug-in reaches its daemon: `connect(start, on_wait)` returns a client whose daemon has
#: answered; with `start`, it may start the installed daemon first, calling `on_wait(seconds)`
#: while it waits. Raises DaemonUnavailableError (saying what to run) when none can be had.
Connector = Callable[[bool, Callable[[float], None]], ClientProtocol]
