"""`photostyle video`: a video file (made here with PyAV) or a folder of frames, styled after a
reference (run in this process through `main`)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import ColorRange, Colorspace
import numpy as np
import pytest

from photostyle.core import load_image, save_image
from photostyle.server.cli import video as video_cli
from test_cli import gradient_photo
from test_looks_cli import error_line, run

FRAMES, RATE, WIDTH, HEIGHT = 6, Fraction(12), 64, 48


def make_video(path: Path, frames: int = FRAMES, width: int = WIDTH, height: int = HEIGHT, audio: str | None = "aac",
               bt709: bool = False) -> None:
    """An H.264 video of `frames` moving gradients at RATE frames/s, with half a second of a tone in
    `audio` (a codec name); tagged BT.709 when asked (HD video is; FFmpeg's default is BT.601)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p" if width % 2 == 0 == height % 2 else "yuv444p"
        convert = {"format": stream.pix_fmt}
        if bt709:
            for tag in ("colorspace", "color_primaries", "color_trc"):
                setattr(stream.codec_context, tag, 1)
            stream.codec_context.color_range = 1
            convert.update(dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
        sound = container.add_stream(audio, rate=8000) if audio else None
        for index in range(frames):
            rgb = np.ascontiguousarray(np.roll(gradient_photo(height, width), index, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(**convert)))
        container.mux(stream.encode(None))
        if sound:
            tone = (0.3 * np.sin(np.arange(4000) / 8000 * 2 * np.pi * 440)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate = 8000
            container.mux(sound.encode(frame))
            container.mux(sound.encode(None))


def read_video(path: Path) -> tuple[list[np.ndarray], Fraction, list[bytes]]:
    """The frames, the frame rate and the audio packets' bytes."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        rate = stream.average_rate
    with av.open(str(path)) as container:
        audio = [bytes(packet) for packet in container.demux(audio=0) if packet.size]
    return frames, rate, audio


def interrupt_styling_at(monkeypatch, frames_done: int) -> None:
    """Ctrl-C once `frames_done` frames are styled (a KeyboardInterrupt from the progress report)."""
    counting = video_cli.ProgressBar.counting

    def interrupted(bar, what, count):
        report = counting(bar, what, count)

        def step(done: int) -> None:
            if what.startswith("styling") and done == frames_done:
                raise KeyboardInterrupt
            report(done)
        return step

    monkeypatch.setattr(video_cli.ProgressBar, "counting", interrupted)


def yuv_samples(path: Path) -> list[np.ndarray]:
    """Each frame's samples as stored (Y, U and V planes), with no conversion to RGB."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "reference.png"
    save_image(path, gradient_photo(90, 70)[::-1, :, ::-1].copy())
    return path


def test_a_video_keeps_its_frames_rate_size_and_audio(tmp_path, reference, capsys):
    make_video(tmp_path / "in.mp4")
    status, out, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "out.mp4",
                           "--preset", "preview")
    assert status == 0, err
    assert "shots start at frame(s) 0; looks fitted at keyframe(s) 0." in out and "styling frames" in err and "/s" in err
    frames, rate, audio = read_video(tmp_path / "out.mp4")
    source, source_rate, source_audio = read_video(tmp_path / "in.mp4")
    assert len(frames) == FRAMES and rate == source_rate == RATE and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert audio == source_audio and len(audio) > 1  # the packets copied, not re-encoded
    assert np.abs(frames[0].astype(int) - source[0]).mean() > 5  # styled
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4", "out.mp4", "reference.png"]


@pytest.mark.parametrize("name, size, audio, output", [
    ("in.mp4", (WIDTH, HEIGHT), "aac", "out.mp4"),
    ("in.mov", (63, 47), "pcm_s16le", "out.mkv"),  # odd sides: 4:4:4; PCM audio as it is
])
def test_colours_pass_through_unchanged_apart_from_the_look(tmp_path, reference, capsys, monkeypatch, name, size,
                                                            audio, output):
    """With the look left out (frames passed through), the output's samples are the input's: the
    conversions from YUV to RGB and back use the matrix and range the input is tagged with, and
    round to nearest (FFmpeg's default conversion darkens by a level or more)."""
    make_video(tmp_path / name, width=size[0], height=size[1], audio=audio, bt709=True)
    monkeypatch.setattr(video_cli, "style_frames", lambda frames, *_: frames)
    status, _, err = run(capsys, "video", tmp_path / name, reference, "-o", tmp_path / output, "--preset", "preview")
    assert status == 0, err
    (_, _, source_audio), (frames, _, audio_packets) = read_video(tmp_path / name), read_video(tmp_path / output)
    assert frames[0].shape == (size[1], size[0], 3) and audio_packets == source_audio
    assert len(frames) == FRAMES
    for styled, original in zip(yuv_samples(tmp_path / output), yuv_samples(tmp_path / name)):
        difference = styled.astype(int) - original  # H.264 loses a little (under a level), without a bias
        assert np.abs(difference).mean() < 1.0 and abs(difference.mean()) < 0.2
    with av.open(str(tmp_path / output)) as container:
        assert container.streams.video[0].codec_context.colorspace == 1  # tagged BT.709 as the input


def test_audio_an_mp4_cannot_hold_is_re_encoded_to_aac(tmp_path, reference, capsys):
    make_video(tmp_path / "in.mov", audio="pcm_s16le")
    status, _, err = run(capsys, "video", tmp_path / "in.mov", reference, "-o", tmp_path / "out.mp4",
                           "--preset", "preview")
    assert status == 0, err
    assert "note: an MP4 cannot hold pcm_s16le audio as it is; it was re-encoded to AAC" in err
    with av.open(str(tmp_path / "out.mp4")) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac" and abs(float(stream.duration * stream.time_base) - 0.5) < 0.1


def test_keyframes_are_shown_or_set(tmp_path, reference, capsys):
    make_video(tmp_path / "in.mp4", audio=None)
    status, out, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "out.mp4",
                           "--keyframes", "show")
    assert status == 0, err
    assert "6 frames at 12 frames/s" in out and "Nothing was written" in out and not (tmp_path / "out.mp4").exists()
    status, out, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "out.mp4",
                           "--preset", "preview", "--keyframes", "1,4")
    assert status == 0, err
    assert "looks fitted at keyframe(s) 1, 4." in out and out.count("The look reproduces") == 2


def test_a_folder_of_16_bit_frames_keeps_names_and_depth(tmp_path, reference, capsys):
    names = ["shot_9.png", "shot_10.png", "shot_11.png"]
    (tmp_path / "frames").mkdir()
    for shift, name in enumerate(names):
        save_image(tmp_path / "frames" / name, np.roll(gradient_photo(64, 80, np.uint16), shift, axis=1))
    status, out, err = run(capsys, "video", tmp_path / "frames", reference, "-o", tmp_path / "styled",
                           "--preset", "preview")
    assert status == 0, err
    assert sorted(path.name for path in (tmp_path / "styled").iterdir()) == sorted(names)
    for name in names:
        result, photo = load_image(tmp_path / "styled" / name), load_image(tmp_path / "frames" / name)
        assert result.dtype == np.uint16 and result.shape == photo.shape
        assert np.abs(result.astype(int) - photo).mean() > 5 * 257 and len(np.unique(result[..., 0])) > 256
    status, _, err = run(capsys, "video", tmp_path / "frames", reference, "-o", tmp_path / "styled")
    assert status == 2 and "shot_9.png exists already (frames there: 3); pass --overwrite" in error_line(err)
    status, _, err = run(capsys, "video", tmp_path / "frames", reference, "-o", tmp_path / "frames", "--overwrite")
    assert status == 2 and "is the same file as frame" in error_line(err)
    status, _, err = run(capsys, "video", tmp_path / "frames", reference, "-o", tmp_path / "styled", "--overwrite",
                         "--preset", "preview")
    assert status == 0, err


@pytest.mark.parametrize("make, words", [
    (lambda path: path.write_bytes(b"not a video at all" * 10), "is not a video PhotoStyle can read"),
    (lambda path: make_video(path, frames=2, width=1, height=1, audio=None), "both sides must be at least 8 px"),
    (lambda path: make_video(path, frames=0), "holds no video stream"),  # FFmpeg drops an empty track
    (lambda path: (make_video(path, frames=24), path.write_bytes(path.read_bytes()[:1500])), "Invalid data found"),
])
def test_bad_videos_get_one_line(tmp_path, reference, capsys, make, words):
    make(tmp_path / "in.mp4")
    status, _, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "out.mp4",
                         "--preset", "preview")
    assert status == 2 and words in error_line(err)
    assert not (tmp_path / "out.mp4").exists()


def test_refused_before_any_work(tmp_path, reference, capsys):
    make_video(tmp_path / "in.mp4", audio=None)
    for output, words in (("out.avi", "give -o a name ending in .mp4"), ("in.mp4", "is the same file as the video")):
        status, _, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / output)
        assert status == 2 and words in error_line(err)
    status, _, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "o.mp4", "--keyframes", "a")
    assert status == 2 and "is not a list of frame numbers" in error_line(err)


def test_ctrl_c_leaves_no_output(tmp_path, reference, capsys, monkeypatch):
    make_video(tmp_path / "in.mp4")
    interrupt_styling_at(monkeypatch, 3)
    status, _, err = run(capsys, "video", tmp_path / "in.mp4", reference, "-o", tmp_path / "out.mp4",
                         "--preset", "preview")
    assert status == 130 and "cancelled" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4", "reference.png"]  # no temporary file either


def test_ctrl_c_in_a_folder_keeps_the_frames_written_whole(tmp_path, reference, capsys, monkeypatch):
    (tmp_path / "frames").mkdir()
    for index in range(4):
        save_image(tmp_path / "frames" / f"f{index}.png", np.roll(gradient_photo(64, 80), index, axis=1))
    interrupt_styling_at(monkeypatch, 2)
    status, _, err = run(capsys, "video", tmp_path / "frames", reference, "-o", tmp_path / "styled",
                         "--preset", "preview")
    assert status == 130 and "interrupted after 2 of 4 frames" in err and "--overwrite" in err
    assert sorted(path.name for path in (tmp_path / "styled").iterdir()) == ["f0.png", "f1.png"]
    assert all(load_image(path).shape == (64, 80, 3) for path in (tmp_path / "styled").iterdir())
