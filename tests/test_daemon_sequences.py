"""Sequences over the wire (StyleSequence), on a real daemon on 127.0.0.1: one job fits the look on
the keyframes the engine chooses and carries it to every frame exactly as the engine does locally;
frames come back as they are styled and stay whole when the call stops; bad sequences are refused
with a sentence naming the frame and the fix, and the daemon goes on serving."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from daemon_fixtures import FAST, SLOW, client, daemon, image, photo, running_daemon  # noqa: F401  (fixtures)
from photostyle.core import TransferOptions
from photostyle.core.video import fit_keyframes, plan_sequence, style_frames
from photostyle.server.client import (CancelledError, Client, InputError, InvalidRequestError, Options, Progress,
                                      SequenceDone, SequencePlanned, StyledFrame)
from photostyle.server.daemon import Limits
from photostyle.server.wire.arrays import array_from_image

FPS = 12.0


def shifted_clip(count: int = 6, cut_at: int = 3, channels: int = 3, dtype: type = np.uint8) -> list[np.ndarray]:
    """`count` frames: a window sliding across one photo, then (from `cut_at`) across a very different one."""
    wide = photo(72, 120, channels, dtype)
    other = photo(72, 120, channels, dtype, flip=True)
    return [(wide if index < cut_at else other)[:, 2 * index:2 * index + 96].copy() for index in range(count)]


STYLE_ARRAY = photo(70, 90, flip=True)


def engine_frames(frames: list[np.ndarray], options: Options) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """What the engine makes of the clip in this process, with the options the daemon is sent."""
    plan = plan_sequence(frames, FPS)
    looks, _ = fit_keyframes(plan, STYLE_ARRAY, TransferOptions(**options.values))
    return list(style_frames(frames, plan, looks)), plan.keyframes


def test_capabilities_say_the_daemon_styles_sequences(client):
    caps = client.capabilities()
    assert caps.sequences and caps.limits.max_frames == Limits().max_frames


def test_a_sequence_is_styled_in_one_job_as_the_engine_styles_it(client):
    frames = shifted_clip()
    reads = []

    def source():
        reads.append(1)
        return [image(frame) for frame in frames]

    events = list(client.style_sequence(source, len(frames), image(STYLE_ARRAY), FAST, fps=FPS))
    styled = [event for event in events if isinstance(event, StyledFrame)]
    planned = [event for event in events if isinstance(event, SequencePlanned)]
    fractions = [event.fraction for event in events if isinstance(event, Progress)]
    expected, keyframes = engine_frames(frames, FAST)

    assert len(reads) == 2  # the frames went twice: planned, then styled
    assert [event.keyframes for event in planned] == [keyframes] and planned[0].cuts == (0, 3)
    assert [frame.index for frame in styled] == list(range(len(frames)))
    for frame, want in zip(styled, expected):
        got = array_from_image(frame.image)
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert isinstance(events[-1], SequenceDone) and events[-1].seconds > 0 and events[-1].device


def test_a_16_bit_rgba_sequence_keeps_its_depth_and_alpha(client):
    frames = shifted_clip(4, cut_at=4, channels=4, dtype=np.uint16)
    call = client.style_sequence(lambda: [image(frame) for frame in frames], len(frames), image(STYLE_ARRAY), FAST,
                                 fps=FPS)
    styled = [array_from_image(frame.image) for frame in call.frames()]
    assert len(styled) == 4
    for got, sent in zip(styled, frames):
        assert got.dtype == np.uint16 and got.shape == sent.shape
        assert np.array_equal(got[:, :, 3], sent[:, :, 3])
    # one shot, one look: the frames keep their differences (the window moved), and are restyled
    assert not np.array_equal(styled[0], styled[1]) and not np.array_equal(styled[0][..., :3], frames[0][..., :3])


def test_cancel_while_frames_come_back_keeps_the_frames_already_received(client):
    frames = shifted_clip(8, cut_at=8)
    passes = []

    def source():
        passes.append(1)
        for frame in frames:
            if len(passes) == 2:
                time.sleep(0.3)  # the second pass is slow: the call is cancelled inside it
            yield image(frame)

    call = client.style_sequence(source, len(frames), image(STYLE_ARRAY), FAST, fps=FPS)
    received = []
    with pytest.raises(CancelledError):
        for styled in call.frames():
            received.append(styled)
            if len(received) == 2:
                cancelled_at = time.monotonic()
                call.cancel()
    assert time.monotonic() - cancelled_at < 1.0
    assert [frame.index for frame in received] == [0, 1]
    assert all(len(frame.image.data) == 96 * 72 * 3 for frame in received)  # whole frames


def test_cancel_during_the_keyframe_fit_stops_within_a_second_and_the_daemon_serves_on(client):
    frames = shifted_clip(3, cut_at=3)
    call = client.style_sequence(lambda: [image(frame) for frame in frames], 3, image(STYLE_ARRAY), SLOW, fps=FPS)
    fitting = threading.Event()
    stopped = []

    def watch():
        try:
            for event in call:
                if isinstance(event, Progress) and "keyframe" in event.stage:
                    fitting.set()
        except CancelledError:
            stopped.append(time.monotonic())

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert fitting.wait(60)
    cancelled_at = time.monotonic()
    call.cancel()
    watcher.join(10)
    assert stopped and stopped[0] - cancelled_at < 1.0
    again = list(client.style_sequence(lambda: [image(frame) for frame in frames], 3, image(STYLE_ARRAY), FAST,
                                       fps=FPS).frames())
    assert len(again) == 3


@pytest.mark.parametrize("change, expected", [
    ("size", "Frame 2 is 80×72 RGB 8-bit but frame 0 is 96×72 RGB 8-bit"),
    ("fewer", "gave 2 frames, not the 3 announced"),
    ("more", "more frames than the 3 announced"),
    ("nan", "Frame 1 contains NaN"),
])
def test_a_broken_sequence_is_refused_naming_the_frame(client, change, expected):
    frames = [image(frame) for frame in shifted_clip(3, cut_at=3)]
    if change == "size":
        frames[2] = image(shifted_clip(3, cut_at=3)[2][:, :80].copy())
    elif change == "fewer":
        frames = frames[:2]
    elif change == "more":
        frames = frames + frames[:1]
    elif change == "nan":
        floats = [photo(72, 96, 3, np.float32) for _ in range(3)]
        floats[1][5, 5, 0] = np.nan
        frames = [image(frame) for frame in floats]
    with pytest.raises((InvalidRequestError, InputError), match=expected):
        list(client.style_sequence(lambda: frames, 3, image(STYLE_ARRAY), FAST, fps=FPS).frames())


@pytest.mark.parametrize("settings, expected", [
    ({"frame_count": 0}, "declares 0 frames"),
    ({"fps": 0.0}, "frame rate of 0 frames/s"),
    ({"keyframes": [5]}, "Keyframes are frame numbers from 0 to 2"),
    ({"keyframe_every": -1.0}, "keyframe every -1 s"),
])
def test_a_bad_setup_is_refused_before_any_frame_is_sent(client, settings, expected):
    sent = []

    def source():
        sent.append(1)
        return [image(frame) for frame in shifted_clip(3, cut_at=3)]

    arguments = {"frame_count": 3, "fps": FPS, **settings}
    count = arguments.pop("frame_count")
    with pytest.raises(InvalidRequestError, match=expected):
        list(client.style_sequence(source, count, image(STYLE_ARRAY), FAST, **arguments).frames())
    assert not sent


def test_a_sequence_over_the_daemons_frame_limit_is_refused():
    with running_daemon(device="cpu", limits=Limits(max_frames=2)) as small, Client(small.address) as client:
        with pytest.raises(InvalidRequestError, match="styles 1 to 2 frames in one sequence"):
            list(client.style_sequence(lambda: [], 3, image(STYLE_ARRAY), FAST, fps=FPS).frames())
