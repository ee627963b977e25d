"""What a call yields, in order. A transfer: Queued…, Progress/Preview…, then one Result. A
sequence: Queued…, Progress…, SequencePlanned, Progress…, StyledFrame… (with Progress), then one
SequenceDone."""

from __future__ import annotations

from dataclasses import dataclass, field

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.images import Image, Region


@dataclass(frozen=True)
class Queued:
    """Jobs ahead of this one in the daemon's line; 0 = this job is next or running."""

    position: int


@dataclass(frozen=True)
class Progress:
    """Where the engine is: the preset's stage ("coarse", "style", … and last "finishing"), its
    iteration, and the fraction of the whole job done, 0..1."""

    stage: str
    stage_index: int
    stage_count: int
    iteration: int
    iterations: int
    fraction: float
    loss: float = 0.0  # the total the stage minimises
    losses: dict[str, float] = field(default_factory=dict)  # every weighted term

    @classmethod
    def from_wire(cls, p: pb.Progress) -> "Progress":
        return cls(p.stage, p.stage_index, p.stage_count, p.iteration, p.iterations, p.fraction, p.loss, dict(p.losses))


@dataclass(frozen=True)
class Preview:
    """A small RGB 8-bit look at the image being optimised."""

    image: Image


@dataclass(frozen=True)
class LookFidelity:
    """How closely a result's look reproduces it: ΔE2000 per pixel, its median and 95th percentile
    (about 2 is just noticeable; above about 5 it shows at a glance)."""

    median: float
    p95: float


@dataclass(frozen=True)
class Result:
    """The restyled layer: the content's size, channels and sample type (grey comes back RGB).

    `regions`: the regions the engine found ("auto: 1", ...) when asked for automatic regions and
    given none, so the user can see or reuse them; masks are 1-channel "uint8" Images at the
    content's and the style's full size (soft, adding up to about 255 at each pixel).
    `look_cube`: the result's look as a .cube file's bytes when the options asked for one
    (look_size), else empty; `look_fidelity` says how closely it reproduces the result.
    """

    image: Image
    notes: list[str]
    seconds: float
    device: str
    working_size: tuple[int, int]  # width, height the engine optimised at
    regions: list[Region] = field(default_factory=list)
    look_cube: bytes = b""
    look_fidelity: LookFidelity | None = None


@dataclass(frozen=True)
class SequencePlanned:
    """Where the engine fits a sequence's look: the first frame of every shot (`cuts`) and the
    keyframes it runs a transfer on (frame numbers from 0)."""

    cuts: tuple[int, ...]
    keyframes: tuple[int, ...]


@dataclass(frozen=True)
class StyledFrame:
    """One frame of a sequence, styled: its number and its pixels (the frame's size and sample
    type, RGB plus its alpha untouched). Final as soon as it arrives."""

    index: int
    image: Image


@dataclass(frozen=True)
class SequenceDone:
    """The sequence is complete: the engine's notes, its time (fitting and styling) and device."""

    notes: list[str]
    seconds: float
    device: str


Event = Queued | Progress | Preview | Result
SequenceEvent = Queued | Progress | SequencePlanned | StyledFrame | SequenceDone
