"""Styling a host's animation through the client library's controller (Krita's "Every frame"), with
the scripted client and a recording host (tests/fakes): one job for every frame, its progress on
the host's one progress bar, Cancel, failures said, and the styled frames handed to the host, in
order and checked, only once the whole sequence is in. Seconds, not minutes.
"""

from __future__ import annotations

import time

from fakes import FakeClient, FakeHost, FakeLoop, Script, connector
from photostyle.server.client import (Controller, DaemonError, FramesCapture, Image, InputError, Options, Progress,
                                      Queued)

WIDTH, HEIGHT = 4, 3


def frame(level: int, width: int = WIDTH) -> Image:
    return Image(width, HEIGHT, 4, "uint8", bytes((level, level, level, 255)) * (width * HEIGHT))


def animation(*levels: int) -> FramesCapture:
    """A grey animation, one level per frame, styled like a 6×4 reference at 12 frames a second."""
    style = Image(6, 4, 3, "uint8", bytes([0, 0, 200]) * 24)
    return FramesCapture([frame(level) for level in levels], style, "Walk", "rocket.jpg", fps=12.0,
                         context="the walk layer")


def connected(client: FakeClient, capture: FramesCapture | None = None) -> tuple[Controller, FakeHost, FakeLoop]:
    """A controller over a host whose active layer is `capture`, its daemon already answered."""
    host, loop = FakeHost(lambda side: None), FakeLoop()
    host.animation = capture or animation(10, 80, 160)
    control = Controller(host, loop, connector(client))
    control.probe()
    loop.pump(lambda: control.capabilities is not None)
    return control, host, loop


def inverted(index: int, sent: Image) -> Image:
    """A styled frame that keeps its frame's look apart from the others (as the engine's do)."""
    return Image(sent.width, sent.height, 4, "uint8", bytes(255 - sample if position % 4 != 3 else sample
                                                             for position, sample in enumerate(sent.data)))


def test_every_frame_goes_in_one_job_and_comes_back_in_order_with_one_progress_bar() -> None:
    events = [Queued(1), Queued(0), Progress("fit", 1, 2, 5, 10, 0.4), Progress("frames", 2, 2, 3, 3, 1.0)]
    client = FakeClient(scripts=[Script(events=events, styled=inverted)])
    control, host, loop = connected(client)
    control.run_sequence(Options(preset="default"))
    assert host.state.running and host.state.can_cancel
    assert host.status == "Restyling the 3 frames of “Walk” like rocket.jpg, one look for them all."
    loop.pump(lambda: not host.state.running)

    [sent] = client.sequences
    assert sent.frames == host.animation.frames and sent.fps == 12.0 and sent.options.preset == "default"
    [(capture, sequence)] = host.delivered_frames
    assert capture is host.animation and capture.context == "the walk layer"
    assert [bytes(styled.data[:3]) for styled in sequence.frames] == [bytes([245] * 3), bytes([175] * 3),
                                                                      bytes([95] * 3)]
    assert host.progress == [("sending…", 0.0), ("waiting: 1 job(s) ahead", None), ("starting…", None),
                             ("fit 5/10 (stage 1/2)", 0.4), ("frames 3/3 (stage 2/2)", 0.99), ("done", 1.0)]
    assert any("looks fitted on frame(s) 0, then carried to every frame" in text for text, _ in host.statuses)
    assert host.status == ("Done: new animated layer “Walk styled like rocket.jpg” (3 frames, look fitted on "
                           "frame 0; 0 s on fake:0).")
    assert not host.statuses[-1][1] and not host.state.can_cancel


def test_cancel_stops_the_sequence_and_nothing_is_delivered() -> None:
    client = FakeClient(default=Script(seconds=60, events=[Queued(0)]))
    control, host, loop = connected(client)
    control.run_sequence(Options())
    loop.pump(lambda: bool(client.sequences) and ("starting…", None) in host.progress)
    started = time.monotonic()
    control.cancel()
    assert ("cancelling…", None) in host.progress
    loop.pump(lambda: not host.state.running, timeout_s=1.0)
    assert time.monotonic() - started < 1.0
    assert client.sequences[0].call.cancelled and host.delivered_frames == []
    assert host.status == "The job was cancelled; nothing was changed." and not host.statuses[-1][1]
    assert host.progress[-1] == ("stopped", None)


def test_a_sequence_that_fails_midway_is_said_and_delivers_nothing() -> None:
    client = FakeClient(scripts=[Script(error=DaemonError("The engine ran out of memory on frame 1."))])
    control, host, loop = connected(client)
    control.run_sequence(Options())
    loop.pump(lambda: not host.state.running)
    assert host.statuses[-1] == ("The engine ran out of memory on frame 1.", True)
    assert host.delivered_frames == [] and host.progress[-1] == ("stopped", None)


def test_a_styled_frame_that_does_not_fit_is_refused_before_the_host_writes_any() -> None:
    halved = Script(styled=lambda index, sent: frame(0, width=2) if index == 2 else sent)
    control, host, loop = connected(FakeClient(scripts=[halved]))
    control.run_sequence(Options())
    loop.pump(lambda: not host.state.running)
    assert host.delivered_frames == [] and "frame 2" in host.status and "daemon bug" in host.status
    assert host.statuses[-1][1]


def test_what_the_user_must_fix_is_said_and_nothing_is_sent() -> None:
    client = FakeClient()
    control, host, loop = connected(client)
    host.frames_error = InputError("“Background” is not an animated paint layer; select one.")
    control.run_sequence(Options())
    assert host.statuses[-1] == ("“Background” is not an animated paint layer; select one.", True)
    assert not host.state.running and client.sequences == []

    host.frames_error = None
    host.animation = FramesCapture([frame(10), frame(20, width=2)], frame(0), "Walk", "rocket.jpg")
    control.run_sequence(Options())
    loop.pump(lambda: not host.state.running)
    assert "Frame 1 is 2×3" in host.status and host.statuses[-1][1]
    assert client.sequences == [] and host.delivered_frames == []


def test_a_host_that_cannot_write_the_layer_says_so() -> None:
    control, host, loop = connected(FakeClient())
    host.deliver_error = InputError("The animation was closed before its frames came back; nothing was added.")
    control.run_sequence(Options())
    loop.pump(lambda: not host.state.running)
    assert host.statuses[-1] == ("Could not add the result layer: The animation was closed before its frames came "
                                 "back; nothing was added.", True)


def test_run_and_preview_wait_for_the_sequence() -> None:
    client = FakeClient(default=Script(seconds=0.3))
    control, host, loop = connected(client)
    control.run_sequence(Options())
    control.run(Options())
    control.preview()
    control.run_sequence(Options())
    loop.pump(lambda: not host.state.running)
    assert len(client.sequences) == 1 and client.sent == [] and len(host.delivered_frames) == 1
