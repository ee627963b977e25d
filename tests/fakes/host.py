"""A host's event loop and a host for the `Controller`, recording what it was told to show.

`FakeLoop` queues what the controller posts; `pump` runs it on the test's thread, as a host's UI
thread would. `FakeHost` captures from a scripted `Capture` (or raises a scripted error), writes
results by recording them, and keeps every status, state, picture and progress shown.
"""

from __future__ import annotations

import queue
import time
from typing import Callable

from photostyle.server.client import (Capture, Delivery, FramesCapture, Image, LayerCapture, Result, State,
                                      StyledSequence)
from photostyle.server.wire import photostyle_pb2 as pb


class FakeLoop:
    """Implements `Loop`: posted callbacks wait for `pump`; `later` ones for `fire_timers`."""

    def __init__(self) -> None:
        self._posted: queue.Queue[Callable[[], None]] = queue.Queue()
        self.timers: list[list] = []  # [seconds, callback, pending]

    def post(self, callback: Callable[[], None]) -> None:
        self._posted.put(callback)

    def later(self, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
        timer = [seconds, callback, True]
        self.timers.append(timer)
        return lambda: timer.__setitem__(2, False)

    def pump(self, until: Callable[[], bool], timeout_s: float = 5.0) -> float:
        """Run posted callbacks until `until()` holds; returns the seconds it took. Fails after `timeout_s`."""
        started = time.monotonic()
        while not until():
            remaining = started + timeout_s - time.monotonic()
            assert remaining > 0, "the controller never got there"
            try:
                self._posted.get(timeout=min(remaining, 0.05))()
            except queue.Empty:
                pass
        return time.monotonic() - started

    def settle(self, seconds: float = 0.2) -> None:
        """Run whatever is posted within `seconds`."""
        deadline = time.monotonic() + seconds
        self.pump(lambda: time.monotonic() >= deadline, seconds + 1)

    def fire_timers(self) -> int:
        """Fire the pending timers now; returns how many fired."""
        pending = [timer for timer in self.timers if timer[2]]
        self.timers.clear()
        for timer in pending:
            timer[1]()
        return len(pending)


class FakeHost:
    """Implements `LookHost` and `SequenceHost`: captures `self.capture_with(min_side)`, delivers by
    recording; reads `self.layer` for a look (or raises `layer_error`) and records the layers a look
    added; captures `self.animation` for a sequence (or raises `frames_error`) and records the
    styled sequences delivered."""

    def __init__(self, capture_with: Callable[[int | None], Capture]) -> None:
        self.capture_with = capture_with
        self.captured: list[int | None] = []  # each capture's preview_min_side (None: a run)
        self.statuses: list[tuple[str, bool]] = []
        self.states: list[State] = [State(False, False)]
        self.pictures: list[Image | None] = []
        self.progress: list[tuple[str, float | None]] = []
        self.presets: list[pb.Capabilities] = []
        self.delivered: list[tuple[Capture, Result]] = []
        self.layer_name = "Background styled"
        self.deliver_error: Exception | None = None
        self.layer = LayerCapture(Image(4, 3, 4, "uint8", bytes((10, 20, 30, 255)) * 12), "Background")
        self.layer_error: Exception | None = None
        self.look_layers: list[tuple[LayerCapture, Image, str]] = []
        self.animation: FramesCapture | None = None
        self.frames_error: Exception | None = None
        self.delivered_frames: list[tuple[FramesCapture, StyledSequence]] = []

    @property
    def status(self) -> str:
        return self.statuses[-1][0] if self.statuses else ""

    @property
    def state(self) -> State:
        return self.states[-1]

    def capture(self, preview_min_side: int | None) -> Capture:
        self.captured.append(preview_min_side)
        return self.capture_with(preview_min_side)

    def deliver(self, capture: Capture, result: Result, delivery: Delivery) -> None:
        if self.deliver_error is not None:
            raise self.deliver_error
        self.delivered.append((capture, result))
        delivery.done(self.layer_name)

    def capture_frames(self) -> FramesCapture:
        if self.frames_error is not None:
            raise self.frames_error
        return self.animation

    def deliver_frames(self, capture: FramesCapture, sequence: StyledSequence, delivery: Delivery) -> None:
        if self.deliver_error is not None:
            raise self.deliver_error
        self.delivered_frames.append((capture, sequence))
        delivery.done(f"{capture.layer_name} styled like {capture.reference_name}")

    def capture_layer(self) -> LayerCapture:
        if self.layer_error is not None:
            raise self.layer_error
        return self.layer

    def add_look_layer(self, layer: LayerCapture, image: Image, name: str) -> None:
        self.look_layers.append((layer, image, name))

    def say(self, text: str, error: bool = False) -> None:
        self.statuses.append((text, error))

    def show_state(self, state: State) -> None:
        self.states.append(state)

    def show_presets(self, capabilities: pb.Capabilities) -> None:
        self.presets.append(capabilities)

    def show_progress(self, text: str, fraction: float | None) -> None:
        self.progress.append((text, fraction))

    def show_picture(self, image: Image | None) -> None:
        self.pictures.append(image)
