"""Sequences in the hosts: frames captured from an animation (Krita's animated layer, GIMP's layers
as frames), styled in one daemon job, each styled frame checked before a host writes it.

Both plug-ins capture every frame first (host APIs are for the UI thread only; the client sends
from its own threads) and write the new frames only once the whole sequence is in, so a failed or
cancelled sequence leaves the document as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from photostyle.server.wire.images import EncodedImage, Image

from .client import Options
from .errors import DaemonError, InputError
from .events import SequenceDone, SequenceEvent, SequencePlanned
from .host_pixels import check_image
from .protocol import ClientProtocol, SequenceCallProtocol

#: Frames per second a host's animation is sent with when it does not say (Krita's default).
DEFAULT_FPS = 24.0
#: GIMP's animation convention: a frame layer named "Walk 3 (80ms)" is shown for 80 ms.
_FRAME_DELAY = re.compile(r"\((\d+)\s*ms\)")


@dataclass(frozen=True)
class FramesCapture:
    """Every frame of a host's animation, read once on its UI thread, and where they go."""

    frames: list[Image]  # in order; one size, channel count and sample type
    style: Image | EncodedImage
    layer_name: str  # what the frames were read from, for the status line and the new layer's name
    reference_name: str
    fps: float = DEFAULT_FPS
    context: object = None  # the host's own record of where the styled frames go

    @property
    def subject(self) -> str:
        return f"the {len(self.frames)} frames of “{self.layer_name}”"

    def start(self, client: ClientProtocol, options: Options) -> SequenceCallProtocol:
        """Send the frames as one sequence job (InputError, sending nothing, when they cannot be one)."""
        check_frames(self.frames)
        return client.style_sequence(lambda: self.frames, len(self.frames), self.style, options, fps=self.fps)


@dataclass(frozen=True)
class StyledSequence:
    """A whole styled sequence: its frames in order, where the engine fitted the look, and its notes."""

    frames: list[Image]
    planned: SequencePlanned | None
    done: SequenceDone

    def summary(self) -> str:
        """'3 frames, looks fitted on frames 0, 2; 41 s on cpu', for the status line."""
        keyframes = ", ".join(str(key) for key in self.planned.keyframes) if self.planned else "?"
        plural = "s" if self.planned is None or len(self.planned.keyframes) != 1 else ""
        return (f"{len(self.frames)} frames, look fitted on frame{plural} {keyframes}; {self.done.seconds:.0f} s on "
                f"{self.done.device}")


def named_frame_rate(names: Sequence[str]) -> float | None:
    """The frame rate that frame names such as "Walk 3 (80ms)" state (GIMP's animation layers): one
    over their mean delay, so the engine spaces keyframes in the animation's own time; None when no
    name states a delay (or only zero ones)."""
    delays = [int(found.group(1)) for found in map(_FRAME_DELAY.search, names) if found]
    total = sum(delays)
    return 1000.0 * len(delays) / total if total else None


def check_frames(frames: Sequence[Image]) -> None:
    """InputError naming the frame unless there is at least one and all share the first's size and kind."""
    if not frames:
        raise InputError("There are no frames to style: the animation is empty. Draw or import at least one frame.")
    first = frames[0]
    for index, frame in enumerate(frames[1:], start=1):
        if (frame.width, frame.height, frame.channels, frame.sample_type) != (first.width, first.height,
                                                                              first.channels, first.sample_type):
            raise InputError(f"Frame {index} is {frame.width}×{frame.height} ({frame.channels} channels, "
                             f"{frame.sample_type}) but frame 0 is {first.width}×{first.height} ({first.channels}, "
                             f"{first.sample_type}); every frame must have one size and colour depth.")


def styled_sequence(call: SequenceCallProtocol, sent: Sequence[Image],
                    on_event: Callable[[SequenceEvent], None] | None = None) -> StyledSequence:
    """Wait for every styled frame of `call`, each checked against the frame sent (its number, size
    and depth); `on_event` sees the other events. Raises the call's error (nothing is kept then)."""
    frames: list[Image] = []
    planned: list[SequencePlanned] = []
    done: list[SequenceDone] = []

    def other(event: SequenceEvent) -> None:
        if isinstance(event, SequencePlanned):
            planned.append(event)
        elif isinstance(event, SequenceDone):
            done.append(event)
        if on_event is not None:
            on_event(event)

    for styled in call.frames(other):
        if styled.index != len(frames) or styled.index >= len(sent):
            raise DaemonError(f"The daemon sent frame {styled.index} where frame {len(frames)} was due (a daemon bug).")
        check_image(styled.image, sent[styled.index], f"frame {styled.index}")
        frames.append(styled.image)
    if len(frames) != len(sent) or not done:
        raise DaemonError(f"The daemon ended the sequence after {len(frames)} of {len(sent)} frames (a daemon bug).")
    return StyledSequence(frames, planned[-1] if planned else None, done[-1])
