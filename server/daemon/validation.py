"""Checks on a transfer's setup message, done before the job joins the line.

Everything knowable from the headers is checked here (sizes, byte counts, types, limits,
masks, options), so a bad request costs the daemon nothing. What needs the pixels (NaN/inf,
truncation, undecodable files) is checked as they arrive, in `pixels`. Options, region names and
pixel counts go through the engine's own checks (photostyle.core), with this daemon's limits, so
that a job the daemon accepts is one the engine runs and the CLI would run too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc

from photostyle.core import (ImageTooLargeError, MaskError, OptionsError, Recipe, TransferOptions, check_options,
                             check_region_names)
from photostyle.core.look_files import CUBE, HALD
from photostyle.core.video import MIN_FRAME_SIDE
from photostyle.core.images import MAX_PIXELS, MIN_SIDE, check_pixel_count, working_shape
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CHUNK_BYTES, MAX_MESSAGE_BYTES, ErrorKind
from photostyle.server.wire.options import OptionValueError, from_wire
from photostyle.server.wire.images import SAMPLE_TYPE_NAMES, SAMPLE_TYPES

_LAYOUTS = {pb.CHANNEL_LAYOUT_GREY: "grey", pb.CHANNEL_LAYOUT_GREY_ALPHA: "grey+alpha",
            pb.CHANNEL_LAYOUT_RGB: "RGB", pb.CHANNEL_LAYOUT_RGBA: "RGBA"}
_ENCODINGS = {pb.ENCODING_RAW: "raw", pb.ENCODING_PNG: "PNG", pb.ENCODING_JPEG: "JPEG"}


class RequestError(Exception):
    """A request the daemon refuses: gRPC status, error kind (for the client) and a message naming the fix."""

    def __init__(self, code: grpc.StatusCode, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.message = message


def invalid(kind: ErrorKind, message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, kind, message)


def too_large(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.TOO_LARGE, message)


def image_too_large(error: ImageTooLargeError, limits: Limits) -> RequestError:
    """The engine's refusal of an image above the pixel limit, plus the daemon's way to raise it
    where there is one (the readers' own ceiling, MAX_PIXELS, cannot be raised)."""
    if limits.max_pixels >= MAX_PIXELS:
        return too_large(str(error))
    return too_large(f"{error} Or start the daemon with a higher --max-pixels (at most {MAX_PIXELS}).")


#: Transfer calls a daemon takes beyond its --max-jobs unless told otherwise (see Limits.max_calls).
EXTRA_CALLS = 8


@dataclass(frozen=True)
class Limits:
    """What one request may hold, and what the daemon takes at once; reported in the capabilities
    reply, but for the two that guard against silent or too many callers (max_calls, setup_timeout_s)."""

    max_pixels: int = 64_000_000  # per image: a 61 MP full-frame raw fits
    max_regions: int = 16
    max_working_size: int = 2048
    max_iterations: int = 5000
    max_jobs: int = 16  # running + waiting
    upload_idle_s: float = 60.0  # a job whose upload goes this long without a message is dropped
    chunk_bytes: int = CHUNK_BYTES
    max_message_bytes: int = MAX_MESSAGE_BYTES
    #: Transfer calls open at once, each holding a server thread; None: max_jobs + EXTRA_CALLS, so
    #: that calls still sending their setup, and refusals when the line is full, find a slot.
    max_calls: int | None = None
    setup_timeout_s: float = 10.0  # a Transfer call whose setup message has not come by then is ended
    max_look_bytes: int = 128 << 20  # an ApplyLook's look file: a 129³ .cube (~70 MB) fits, a 65³ is ~9 MB
    max_frames: int = 100_000  # of one StyleSequence: over an hour at 24 frames/s

    def __post_init__(self) -> None:
        if self.max_calls is None:
            object.__setattr__(self, "max_calls", self.max_jobs + EXTRA_CALLS)

    def max_encoded_bytes(self) -> int:
        """A PNG/JPEG is never larger than the biggest raw image we accept (RGBA float32)."""
        return self.max_pixels * 16


@dataclass(frozen=True)
class Blob:
    """One image (or mask) whose bytes follow the setup, in order."""

    what: str  # "the content image", "the style mask of region 'sky'"
    info: pb.ImageInfo


@dataclass(frozen=True)
class Plan:
    """A validated setup: the blobs to receive, the region names, the options (checked, as the
    engine takes them; the daemon sets device and weights)."""

    blobs: list[Blob]
    region_names: list[str]
    options: Recipe

    @property
    def total_bytes(self) -> int:
        return sum(blob.info.size_bytes for blob in self.blobs)

    @property
    def subject(self) -> str:
        """What the engine works on, for messages: '1200×800 RGBA 16-bit'."""
        return describe(self.blobs[0].info)

    def summary(self) -> str:
        """The job in one phrase, for the daemon's log."""
        return (f"{self.subject} styled by {describe(self.blobs[1].info)}, {len(self.region_names)} region(s), "
                f"preset {self.options.preset.name}")


@dataclass(frozen=True)
class SequenceJobPlan:
    """A validated StyleSequence setup: the style image to receive first (`blobs`), then
    `frame_count` frames twice; the keyframes asked for (None: the engine's choice), their spacing
    in seconds (None: the engine's default) and the checked options of every keyframe's transfer."""

    blobs: list[Blob]
    frame_count: int
    fps: float
    keyframes: list[int] | None
    keyframe_every: float | None
    options: Recipe

    @property
    def subject(self) -> str:
        return f"the keyframes of {self.frame_count} frame(s)"

    def summary(self) -> str:
        return (f"{self.frame_count} frame(s) at {self.fps:g} frames/s styled by {describe(self.blobs[0].info)}, "
                f"preset {self.options.preset.name}")


def raw_size(info: pb.ImageInfo) -> int:
    return info.width * info.height * info.layout * SAMPLE_TYPES[SAMPLE_TYPE_NAMES[info.sample_type]][1]


def describe(info: pb.ImageInfo) -> str:
    """'1200×800 RGBA 16-bit' for log lines and messages."""
    if info.encoding != pb.ENCODING_RAW:
        return f"{_ENCODINGS.get(info.encoding, '?')} file"
    bits = {pb.SAMPLE_TYPE_UINT8: "8-bit", pb.SAMPLE_TYPE_UINT16: "16-bit", pb.SAMPLE_TYPE_FLOAT32: "float"}
    return f"{info.width}×{info.height} {_LAYOUTS.get(info.layout, '?')} {bits.get(info.sample_type, '?')}"


def check_image(info: pb.ImageInfo, what: str, limits: Limits, min_side: int = MIN_SIDE) -> None:
    """Raise RequestError unless `info` describes an image this daemon can take."""
    if info.encoding not in _ENCODINGS:
        raise invalid(ErrorKind.INPUT, f"{what} has unknown encoding {info.encoding}; send raw pixels, PNG or JPEG.")
    if info.encoding != pb.ENCODING_RAW:
        if info.size_bytes == 0:
            raise invalid(ErrorKind.INPUT, f"{what} is a 0-byte file: the file is empty. Send the image file's "
                                           "bytes, or raw pixels.")
        if info.size_bytes < 0:
            raise invalid(ErrorKind.INPUT, f"{what} declares {info.size_bytes} bytes; send the file's size in bytes.")
        if info.size_bytes > limits.max_encoded_bytes():
            raise too_large(f"{what} is a {info.size_bytes}-byte file; this daemon accepts files of 1 to "
                            f"{limits.max_encoded_bytes()} bytes. Send a smaller file or raw pixels.")
        return
    if info.width <= 0 or info.height <= 0:
        raise invalid(ErrorKind.INPUT, f"{what} is declared as {info.width}×{info.height} px; width and height must be positive.")
    try:
        check_pixel_count(info.width, info.height, limits.max_pixels, what)
    except ImageTooLargeError as error:
        raise image_too_large(error, limits) from None
    if min(info.width, info.height) < min_side:
        raise invalid(ErrorKind.INPUT, f"{what} is {info.width}×{info.height} px; both sides must be at least {min_side} px. "
                               "Use a larger image.")
    if info.layout not in _LAYOUTS:
        raise invalid(ErrorKind.INPUT, f"{what} has unknown channel layout {info.layout}; use GREY, GREY_ALPHA, RGB or RGBA.")
    if info.sample_type not in SAMPLE_TYPE_NAMES:
        raise invalid(ErrorKind.INPUT, f"{what} has unknown sample type {info.sample_type}; use UINT8, UINT16 or FLOAT32.")
    expected = raw_size(info)
    if info.size_bytes != expected:
        raise invalid(ErrorKind.INPUT, f"{what} declares {info.size_bytes} bytes but {describe(info)} pixels take {expected} "
                               "bytes; send width × height × channels × bytes per sample, row-major, no padding.")


def _check_mask(info: pb.ImageInfo, what: str, image: pb.ImageInfo, limits: Limits) -> None:
    if info.encoding != pb.ENCODING_RAW or info.layout != pb.CHANNEL_LAYOUT_GREY or info.sample_type != pb.SAMPLE_TYPE_UINT8:
        raise invalid(ErrorKind.MASK, f"{what} is {describe(info)}; masks must be raw single-channel 8-bit (GREY, UINT8).")
    if image.encoding == pb.ENCODING_RAW and (info.width, info.height) != (image.width, image.height):
        raise invalid(ErrorKind.MASK, f"{what} is {info.width}×{info.height} px but its image is {image.width}×{image.height}; "
                              "a mask must be the size of the image it belongs to.")
    check_image(info, what, limits, min_side=1)


def _check_options(wire: pb.TransferOptions, limits: Limits) -> Recipe:
    """The wire's options, checked once by the engine against this daemon's limits."""
    try:
        values = from_wire(wire)
        return check_options(TransferOptions(**values), {"size": limits.max_working_size,
                                                          "iterations": limits.max_iterations})
    except (OptionsError, OptionValueError) as exc:
        raise invalid(ErrorKind.OPTIONS, str(exc)) from None


def check_working_shape(height: int, width: int, what: str, recipe: Recipe, limits: Limits) -> None:
    """RequestError (OPTIONS) when an image of this shape would be worked on above the daemon's
    --max-working-size: a long, thin one, whose short side keeps the engine's least."""
    try:
        working_shape(height, width, recipe.preset.size, limit=limits.max_working_size, what=what)
    except OptionsError as exc:
        raise invalid(ErrorKind.OPTIONS, f"{exc} (The limit is the daemon's --max-working-size.)") from None


@dataclass(frozen=True)
class LookPlan:
    """A validated ApplyLook setup: the image and the look file to receive (in that order), the
    look file's kind (core.look_files' CUBE or HALD) and the interpolation."""

    blobs: list[Blob]
    look_kind: str
    interpolation: str


_LOOK_KINDS = {pb.LOOK_FORMAT_CUBE: CUBE, pb.LOOK_FORMAT_HALD_PNG: HALD}


def check_look_setup(setup: pb.ApplyLookSetup, limits: Limits) -> LookPlan:
    """Validate an ApplyLook setup against the limits, as `check_setup` does a transfer's."""
    if not setup.HasField("image"):
        raise invalid(ErrorKind.INPUT, "The ApplyLook setup must describe the image to recolour.")
    check_image(setup.image, "The image", limits, min_side=1)
    if setup.look_format not in _LOOK_KINDS:
        raise invalid(ErrorKind.INPUT, f"Unknown look format {setup.look_format}; send LOOK_FORMAT_CUBE (a .cube "
                                       "file) or LOOK_FORMAT_HALD_PNG (a Hald CLUT PNG).")
    interpolation = pb.Interpolation.DESCRIPTOR.values_by_number.get(setup.interpolation)
    if interpolation is None:
        raise invalid(ErrorKind.INPUT, f"Unknown interpolation {setup.interpolation}; send INTERPOLATION_TRILINEAR "
                                       "or INTERPOLATION_TETRAHEDRAL.")
    if setup.look_bytes <= 0:
        raise invalid(ErrorKind.INPUT, f"The look file declares {setup.look_bytes} bytes: it is empty. Send the look "
                                       "file's bytes (choose the file again, or export the look again).")
    if setup.look_bytes > limits.max_look_bytes:
        raise too_large(f"The look file is {setup.look_bytes} bytes; this daemon takes look files of at most "
                        f"{limits.max_look_bytes} bytes. Export the look at a smaller size (33 or 65 are usual).")
    look = pb.ImageInfo(size_bytes=setup.look_bytes)  # a Blob of bytes: only its length is read
    return LookPlan([Blob("The image", setup.image), Blob("The look file", look)], _LOOK_KINDS[setup.look_format],
                    interpolation.name.removeprefix("INTERPOLATION_").lower())


#: Frames per second a sequence may declare: beyond this it is not a frame rate but a mistake.
MAX_FPS = 1000.0


def check_sequence_setup(setup: pb.SequenceSetup, limits: Limits) -> SequenceJobPlan:
    """Validate a StyleSequence setup against the limits, as `check_setup` does a transfer's."""
    if not setup.HasField("style"):
        raise invalid(ErrorKind.INPUT, "The sequence's setup must describe the style image.")
    style = Blob("The style image", setup.style)
    check_image(style.info, style.what, limits)
    if not 1 <= setup.frame_count <= limits.max_frames:
        raise invalid(ErrorKind.INPUT, f"The sequence declares {setup.frame_count} frames; this daemon styles 1 to "
                                       f"{limits.max_frames} frames in one sequence (--max-frames). Split it.")
    if not (math.isfinite(setup.fps) and 0 < setup.fps <= MAX_FPS):
        raise invalid(ErrorKind.OPTIONS, f"A frame rate of {setup.fps:g} frames/s is not usable; send the sequence's "
                                         f"rate, above 0 and at most {MAX_FPS:g} (e.g. 24).")
    if not (math.isfinite(setup.keyframe_every) and setup.keyframe_every >= 0):
        raise invalid(ErrorKind.OPTIONS, f"A keyframe every {setup.keyframe_every:g} s is not possible; send a "
                                         "positive number of seconds, or 0 for the engine's default.")
    keyframes = sorted(set(setup.keyframes))
    if keyframes and not 0 <= keyframes[0] <= keyframes[-1] < setup.frame_count:
        raise invalid(ErrorKind.OPTIONS, f"Keyframes are frame numbers from 0 to {setup.frame_count - 1}; "
                                         f"{setup.keyframes[:8]} are not all in that range.")
    options = _check_options(setup.options, limits)
    if style.info.encoding == pb.ENCODING_RAW:
        check_working_shape(style.info.height, style.info.width, style.what, options, limits)
    return SequenceJobPlan([style], setup.frame_count, setup.fps, keyframes or None, setup.keyframe_every or None, options)


def check_frame(info: pb.ImageInfo, index: int, first: pb.ImageInfo | None, limits: Limits) -> None:
    """Raise RequestError unless frame `index`'s header is a raw image this daemon takes, of the
    first frame's size, layout and sample type."""
    what = f"Frame {index}"
    if info.encoding != pb.ENCODING_RAW:
        raise invalid(ErrorKind.INPUT, f"{what} is sent as a {_ENCODINGS.get(info.encoding, '?')} file; send a "
                                       "sequence's frames as raw pixels.")
    check_image(info, what, limits, min_side=MIN_FRAME_SIDE)
    if first is not None and (info.width, info.height, info.layout, info.sample_type) != (
            first.width, first.height, first.layout, first.sample_type):
        raise invalid(ErrorKind.INPUT, f"{what} is {describe(info)} but frame 0 is {describe(first)}; every frame of "
                                       "a sequence must have one size, layout and sample type.")


def check_setup(setup: pb.TransferSetup, limits: Limits) -> Plan:
    """Validate a setup message against the limits; the Plan says which bytes to expect."""
    if not setup.HasField("content") or not setup.HasField("style"):
        raise invalid(ErrorKind.INPUT, "The setup must describe both a content image and a style image.")
    blobs = [Blob("The content image", setup.content), Blob("The style image", setup.style)]
    for blob in blobs:
        check_image(blob.info, blob.what, limits)
    if len(setup.regions) > limits.max_regions:
        raise invalid(ErrorKind.MASK, f"{len(setup.regions)} regions were sent; this daemon takes at most {limits.max_regions}. "
                              "Merge some regions.")
    names = [region.name for region in setup.regions]
    try:
        check_region_names(names)
    except MaskError as exc:
        raise invalid(ErrorKind.MASK, str(exc)) from None
    for region in setup.regions:
        for side, image in (("content", setup.content), ("style", setup.style)):
            if not region.HasField(f"{side}_mask"):
                raise invalid(ErrorKind.MASK, f"Region '{region.name}' has no {side} mask; every region needs a "
                                              "mask in both images.")
            blob = Blob(f"The {side} mask of region '{region.name}'", getattr(region, f"{side}_mask"))
            _check_mask(blob.info, blob.what, image, limits)
            blobs.append(blob)
    options = _check_options(setup.options, limits)
    for blob in blobs[:2]:
        if blob.info.encoding == pb.ENCODING_RAW:  # a file's shape is known once decoded (service._upload)
            check_working_shape(blob.info.height, blob.info.width, blob.what, options, limits)
    return Plan(blobs, names, options)
