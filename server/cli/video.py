"""The `video` command: style a video file or a folder of frames after one reference photo, with a
look that stays put over time (`photostyle.core.video`: looks fitted on keyframes, blended within a
shot, switched at cuts).

A video is read with PyAV (FFmpeg inside) twice: once to find the cuts and keyframes, once to
recolour and encode every frame (H.264, the input's size and frame rate) while its audio packets
are copied as they are. It is written under a temporary name beside the output and renamed at the
end, so Ctrl-C leaves nothing. A folder of PNG or TIFF frames gives a folder of frames of the same
names and depth, each written atomically (`save_image`); its outputs are checked as `batch`'s are.
"""

from __future__ import annotations

import argparse
import re
import sys
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping, Protocol

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from av.video.reformatter import Interpolation as Scaling

from photostyle.core import Cancelled, InputImageError, Look, PhotoStyleError, Recipe, load_image, save_image
from photostyle.core.images import check_output_file, write_atomically
from photostyle.core.looks import Interpolation
from photostyle.core.video import DEFAULT_EVERY_S, SequencePlan, fit_keyframes, plan_sequence, style_frames

from . import batch
from .looks import add_interpolation_argument
from .progress_bar import ProgressBar

#: Output containers by extension (FFmpeg's names); each holds H.264.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Audio codecs an MP4 takes as they are; other audio is re-encoded to AAC there (MOV and Matroska take any).
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
FRAME_EXTENSIONS = (".png", ".tif", ".tiff")
DEFAULT_FOLDER_FPS = 24.0
SHOW = "show"
#: How FFmpeg converts YUV ⇄ RGB: its default (bilinear, fast rounding, chroma interpolated coarsely)
#: darkens a 4:2:0 round trip by 1-1.5 levels (3.0 levels off on average on the tests' gradient);
#: this keeps it within half a level, at the same speed.
CONVERSION = Scaling.BICUBIC | Scaling.ACCURATE_RND | Scaling.FULL_CHR_H_INT
#: H.264 quality: visually lossless (FFmpeg's default, 23, softens grain a grade should keep).
CRF = "18"


def add_command(commands: argparse._SubParsersAction, add_engine_options: Callable[[argparse.ArgumentParser], None]) -> None:
    video = commands.add_parser("video", help="style a video, or a folder of frames, after a reference photo: the "
                                              "look of a transfer on keyframes, steady over time")
    video.add_argument("input", help="a video file (.mp4, .mov, .mkv, ...) or a folder of PNG or TIFF frames")
    video.add_argument("reference", help="the reference photo whose colours and tone the video takes")
    video.add_argument("-o", "--output", required=True,
                       help="the styled video (.mp4, .m4v, .mov or .mkv: H.264, the input's audio kept) or, for a "
                            "folder of frames, a folder (the same names and depth)")
    video.add_argument("--keyframes", metavar="N,N,...|show",
                       help="the frames (numbers from 0) whose transfers give the looks, instead of the first frame "
                            "of each shot, one every --keyframe-every seconds and those where the light changed more than a "
                            "look carries (a shot holding none still gets its first frame); "
                            f"'{SHOW}' prints the cuts and keyframes found and writes nothing")
    video.add_argument("--keyframe-every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
                       help=f"a keyframe this often in a long shot (default: {DEFAULT_EVERY_S:g})")
    video.add_argument("--fps", type=float, default=DEFAULT_FOLDER_FPS,
                       help=f"the frame rate of a folder of frames (default: {DEFAULT_FOLDER_FPS:g}; a video's own is used)")
    video.add_argument("--overwrite", action="store_true", help="replace an output that exists already")
    add_interpolation_argument(video)
    add_engine_options(video)


def video_command(args: argparse.Namespace, recipe: Recipe) -> int:
    """Check what the arguments decide, plan the sequence, fit the keyframes' looks, write the frames."""
    show, keyframes = _keyframes(args.keyframes)
    source: _Source = _FrameFolder(args) if Path(args.input).is_dir() else _VideoFile(args)
    if not show:
        source.check_output()
    reference = load_image(args.reference)
    bar = ProgressBar()
    plan = plan_sequence(_counted(source.frames(), bar.counting("reading frames", source.frame_count_hint)),
                         source.fps, args.keyframe_every, keyframes)
    print(f"{plan.frame_count} frames at {plan.fps:g} frames/s; shots start at frame(s) {_listed(plan.cuts)}; "
          f"looks fitted at keyframe(s) {_listed(plan.keyframes)}.")
    if show:
        print("Nothing was written (--keyframes show).")
        return 0
    looks, notes = fit_keyframes(plan, reference, recipe, progress=bar)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for key, look in looks.items():
        print(f"keyframe {key}: {look.fidelity.note}")
    source.write(plan, looks, args.interpolation, bar.counting("styling frames", plan.frame_count))
    return 0


def _keyframes(text: str | None) -> tuple[bool, list[int] | None]:
    """--keyframes: (show only, the frame numbers given or None)."""
    if text is None:
        return False, None
    if text == SHOW:
        return True, None
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        raise PhotoStyleError(f"--keyframes '{text}' is not a list of frame numbers; give e.g. --keyframes 0,120, or "
                              f"--keyframes {SHOW} to see the ones chosen.")
    return False, [int(number) for number in text.split(",")]


def _listed(frames: tuple[int, ...]) -> str:
    return ", ".join(map(str, frames))


def _counted(frames: Iterable[np.ndarray], report: Callable[[int], None]) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        yield frame
        report(index + 1)


class _Source(Protocol):
    """A sequence of frames on disk: read any number of times, written once as the styled output."""

    fps: float
    frame_count_hint: int  # 0 when unknown before reading

    def check_output(self) -> None:
        """Refuse, before any work, an output that cannot be written or would replace an input."""

    def frames(self) -> Iterator[np.ndarray]:
        """The frames, in order, as `load_image` gives them."""

    def write(self, plan: SequencePlan, looks: Mapping[int, Look], interpolation: Interpolation,
              report: Callable[[int], None]) -> None:
        """Read the frames again, recolour them (`style_frames`) and write the output; `report` gets the count done."""


class _FrameFolder:
    """A folder of PNG or TIFF frames, in the order of their names (numbers within them counted)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        folder = Path(args.input)
        self.paths = sorted((path for path in folder.iterdir() if path.suffix.lower() in FRAME_EXTENSIONS),
                            key=lambda path: [int(part) if part.isdigit() else part
                                              for part in re.split(r"(\d+)", path.name)])
        if not self.paths:
            raise InputImageError(f"The folder {folder} holds no PNG or TIFF frames; give a folder of frames "
                                  f"({', '.join(FRAME_EXTENSIONS)}) or a video file.")
        self.fps, self.frame_count_hint = args.fps, len(self.paths)
        self.jobs: list[batch.Job] = []

    def check_output(self) -> None:
        if Path(self.args.output).suffix.lower() in CONTAINERS:
            raise PhotoStyleError(f"The input {self.args.input} is a folder of frames, so the output is a folder too; "
                                  f"give -o a folder name such as {Path(self.args.output).with_suffix('')}.")
        inputs = {"the reference": self.args.reference} | {f"frame {path}": path for path in self.paths}
        # batch's checks and names; its own refusal of existing outputs offers --skip-existing, which a
        # sequence has not (its looks come from the whole of it), hence the check after it.
        names = argparse.Namespace(photos=self.paths, output=self.args.output, format=None, overwrite=True,
                                   skip_existing=False)
        self.jobs, _ = batch.plan(names, inputs)
        existing = [job.output for job in self.jobs if job.output.exists()]
        if existing and not self.args.overwrite:
            raise PhotoStyleError(f"{existing[0]} exists already (frames there: {len(existing)}); pass --overwrite to "
                                  "replace them, or give -o another folder.")

    def frames(self) -> Iterator[np.ndarray]:
        return (load_image(path) for path in self.paths)

    def write(self, plan: SequencePlan, looks: Mapping[int, Look], interpolation: Interpolation,
              report: Callable[[int], None]) -> None:
        done, said = 0, set()
        try:
            for job, frame in zip(self.jobs, style_frames(self.frames(), plan, looks, interpolation)):
                for note in save_image(job.output, frame):
                    if note.split(": ", 1)[-1] not in said:  # the same for every frame: said once
                        said.add(note.split(": ", 1)[-1])
                        print(f"note: {note}", file=sys.stderr)
                done += 1
                report(done)
        except KeyboardInterrupt:
            raise Cancelled(f"interrupted after {done} of {len(self.jobs)} frames; those are written whole and none is "
                            "half-written. Run the same command with --overwrite to do them all again.") from None
        print(f"Wrote {done} frames to {self.args.output}.")


class _VideoFile:
    """A video file, read and written with PyAV."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.path = args, Path(args.input)
        with self._open() as container:
            if not container.streams.video:
                raise InputImageError(f"{self.path} holds no video stream; give a video file or a folder of frames.")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if not rate or rate <= 0:
                raise InputImageError(f"{self.path} does not say its frame rate; re-encode it with one (e.g. ffmpeg "
                                      "-r 24) or export its frames to a folder and pass --fps.")
            self.rate: Fraction = Fraction(rate)
            self.fps, self.frame_count_hint = float(rate), stream.frames

    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise InputImageError(f"{self.path} is not a video PhotoStyle can read ({_reason(exc)}); give a video "
                                  "file (.mp4, .mov, .mkv, ...) or a folder of PNG or TIFF frames.") from None

    def check_output(self) -> None:
        def known(path: Path) -> None:
            if path.suffix.lower() not in CONTAINERS:
                raise PhotoStyleError(f"Cannot write a video to {path}: give -o a name ending in "
                                      f"{', '.join(CONTAINERS)}.")

        output = Path(self.args.output)
        check_output_file(output, {"the video": self.path, "the reference": self.args.reference},
                          elsewhere="give -o another name", check_kind=known, example="styled.mp4")
        if output.exists() and not self.args.overwrite:
            raise PhotoStyleError(f"{output} exists already; pass --overwrite to replace it, or give -o another name.")

    def frames(self) -> Iterator[np.ndarray]:
        with self._open() as container:
            yield from self._decoded(container, container.streams.video[0], lambda packet: None)

    def _decoded(self, container, stream, other: Callable[[object], None]) -> Iterator[np.ndarray]:
        """The video stream's frames as H×W×3 uint8 RGB; `other` gets the packets of the other streams demuxed."""
        streams = [stream] + list(container.streams.audio)
        try:
            for packet in container.demux(*streams):
                if packet.stream is not stream:
                    other(packet)
                    continue
                for frame in packet.decode():
                    yield frame.to_ndarray(format="rgb24", **_colours(frame.colorspace, frame.color_range, "src"))
        except (av.FFmpegError, ValueError) as exc:
            raise InputImageError(f"{self.path} is damaged ({_reason(exc)}); repair or re-export it.") from None

    def write(self, plan: SequencePlan, looks: Mapping[int, Look], interpolation: Interpolation,
              report: Callable[[int], None]) -> None:
        write_atomically(self.args.output, lambda handle: self._encode(handle, plan, looks, interpolation, report))
        print(f"Wrote {self.args.output} ({plan.frame_count} frames at {self.fps:g} frames/s, H.264).")

    def _encode(self, handle: BinaryIO, plan: SequencePlan, looks: Mapping[int, Look], interpolation: Interpolation,
                report: Callable[[int], None]) -> None:
        """Recolour every frame while demuxing the input again, encode it, and mux the audio beside it."""
        with self._open() as source, av.open(handle, "w", format=CONTAINERS[Path(self.args.output).suffix.lower()]) as out:
            video_in = source.streams.video[0]
            video = out.add_stream("libx264", rate=self.rate)
            video.width, video.height = video_in.codec_context.width, video_in.codec_context.height
            even = video.width % 2 == 0 and video.height % 2 == 0
            video.pix_fmt = "yuv420p" if even else "yuv444p"  # 4:2:0 needs even sides
            video.options = {"crf": CRF}
            tags = video_in.codec_context
            for tag in ("colorspace", "color_range", "color_primaries", "color_trc"):  # as the input says it
                setattr(video.codec_context, tag, getattr(tags, tag))
            to_yuv = {"format": video.pix_fmt} | _colours(tags.colorspace, tags.color_range, "dst")
            audio = {stream.index: self._audio_stream(out, stream) for stream in source.streams.audio}

            def mux_audio(packet) -> None:
                target, transcode = audio[packet.stream.index]
                if transcode:
                    for frame in packet.decode():
                        out.mux(target.encode(frame))
                elif packet.dts is not None:  # demuxing ends with an empty packet per stream
                    packet.stream = target
                    out.mux(packet)

            frames = self._decoded(source, video_in, mux_audio)
            for index, rgb in enumerate(style_frames(frames, plan, looks, interpolation)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(**to_yuv)
                frame.pts = index
                out.mux(video.encode(frame))
                report(index + 1)
            out.mux(video.encode(None))
            for target, transcode in audio.values():
                if transcode:
                    out.mux(target.encode(None))

    def _audio_stream(self, out, stream) -> tuple[object, bool]:
        """The output's stream for an input audio stream, and whether its audio must be re-encoded (AAC)."""
        if CONTAINERS[Path(self.args.output).suffix.lower()] != "mp4" or stream.codec_context.name in MP4_AUDIO:
            return out.add_stream_from_template(stream), False
        print(f"note: an MP4 cannot hold {stream.codec_context.name} audio as it is; it was re-encoded to AAC "
              "(write .mov or .mkv to keep it as it is).", file=sys.stderr)
        return out.add_stream("aac", rate=stream.codec_context.sample_rate), True


def _colours(colorspace: int, colour_range: int, side: str) -> dict[str, object]:
    """The YUV ⇄ RGB conversion's arguments (`side`: "src" to decode, "dst" to encode): the matrix and
    range a stream is tagged with (untagged: FFmpeg's defaults, BT.601 and limited range, both ways)
    and CONVERSION."""
    known = {int(value) for value in Colorspace}
    return {f"{side}_colorspace": Colorspace(colorspace) if colorspace in known else None,
            f"{side}_color_range": ColorRange(colour_range) if colour_range else None, "interpolation": CONVERSION}


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
