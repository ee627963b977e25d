"""The plug-ins' shared brain: what Preview, Run and Cancel do, whatever the host's widgets.

Krita's docker and GIMP's dialog are thin adapters over one `Controller`: they turn button
presses into calls on it, and implement `Host` (read the document into a `Capture`, write a
result into it, show status, progress, pictures and presets) and `Loop` (post a callback to
their UI thread, call one later). The controller holds the state machine both hosts had written
separately: one live preview at a time (a newer one, or Run, supersedes it and its late answer is
ignored); Preview refused while a Run is in flight (the daemon runs one job at a time); Cancel;
the daemon's capabilities (presets, the preview's minimum side) fetched first when a preview
needs them; a shown preview refreshed when the inputs change (or every preview, for a host whose
policy is `auto_preview`); every error shown with the client's sentence; a result checked
before the host may write it; and the looks a host keeps and applies (the last Run's look for
Save look, a look file applied to a layer through a `LookHost`, see `looks`). Daemon calls run
on worker threads and report back through `Loop.post`, so the host's UI never blocks; the host
is only ever called on its UI thread.
Pure Python, like the rest of the client library: tests drive it with a fake client.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Protocol

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CANCELLED_MESSAGE
from photostyle.server.wire.images import EncodedImage, Image, Region

from .client import Options
from .errors import CancelledError, DaemonUnavailableError, InputError, PhotoStyleClientError
from .events import Event, Preview, Progress, Queued, Result, SequenceEvent, SequencePlanned
from .host_pixels import check_result, composite_preview
from .live_preview import live_preview_options
from .looks import KeptLook, apply_look_file, kept_look, look_kind, look_layer_name, write_look
from .protocol import CallProtocol, ClientProtocol, Connector, SequenceCallProtocol
from .regions import RegionPlan
from .sequences import FramesCapture, StyledSequence, styled_sequence

#: How long the inputs must stay unchanged before a preview follows them.
REFRESH_DELAY_S = 0.3


@dataclass(frozen=True)
class Capture:
    """What a job sends, read from the host's document by its one capture path (for a preview:
    the selected area shrunk to 8 bits; for a run: the layer at its depth)."""

    content: Image  # the photo's pixels to restyle (RGBA)
    style: Image | EncodedImage
    style_size: tuple[int, int]  # the reference's size as sent (region masks must match it)
    regions: list[Region]
    plan: RegionPlan  # which regions went, and the engine's region mode
    selection: Image | None  # the selection's coverage of `content`; None: the whole layer
    layer_name: str
    reference_name: str
    context: object = None  # the host's own record of where a result goes (its document, layer...)

    @property
    def subject(self) -> str:
        """What is restyled, for the status line."""
        return f"{'the selection' if self.selection is not None else 'the whole layer'} of “{self.layer_name}”"

    def regions_sent(self) -> str:
        """The regions sent, for the status line."""
        names = ", ".join(region.name for region in self.regions)
        if not names:
            return "found by the engine" if self.plan.engine_mode == "auto" else "none"
        unpaired = f"; not in the reference: {', '.join(self.plan.unpaired)}" if self.plan.unpaired else ""
        return names + unpaired

    def start(self, client: ClientProtocol, options: Options) -> CallProtocol:
        """Send it with `options` and the region mode its plan chose."""
        return client.transfer(self.content, self.style, self.regions,
                               options.with_values(regions=self.plan.engine_mode))


@dataclass(frozen=True)
class State:
    """What is in flight, for the host's buttons."""

    running: bool  # a Run, until its result is in the document (Run and Preview refused meanwhile)
    previewing: bool  # a live preview, or one waiting for the daemon to answer
    applying: bool = False  # a look being applied to a layer, until its layer is in the document
    look: bool = False  # the last Run's result carried a look, which Save look writes

    @property
    def can_cancel(self) -> bool:
        return self.running or self.previewing


class Delivery(Protocol):
    """How a host reports that it wrote a result (or could not): once, on the UI thread."""

    def done(self, layer_name: str) -> None: ...

    def failed(self, error: Exception) -> None: ...


class PreviewHost(Protocol):
    """What the controller needs of a host that only previews (GIMP's dialog: OK runs the job
    after it closes); called on the host's UI thread only."""

    def capture(self, preview_min_side: int | None) -> Capture:
        """Read the document for a run (None) or a preview (each image shrunk by the client
        library's `live_preview_scale` with this minimum side). Raises InputError (or a
        PhotoStyleClientError, e.g. InvalidMasksError) saying what to fix; changes nothing."""

    def say(self, text: str, error: bool = False) -> None:
        """Show a sentence on the status line (`error`: it reports a failure)."""

    def show_state(self, state: State) -> None:
        """Enable the buttons that `state` allows."""

    def show_presets(self, capabilities: pb.Capabilities) -> None:
        """Offer the daemon's presets (see `preset_choices`)."""

    def show_picture(self, image: Image | None) -> None:
        """A live preview (8-bit RGBA, composited over the photo), a run's streamed preview
        (8-bit RGB), or None to clear the picture."""


class Host(PreviewHost, Protocol):
    """A host that also runs jobs from its panel (Krita's docker)."""

    def deliver(self, capture: Capture, result: Result, delivery: Delivery) -> None:
        """Write a checked result into the document captured, then call `delivery.done` (now or
        later); on failure leave the document as it was and call `delivery.failed` or raise."""

    def show_progress(self, text: str, fraction: float | None) -> None:
        """A run's progress: what the engine does, and how much is done (None: unknown)."""


@dataclass(frozen=True)
class LayerCapture:
    """A whole layer at its depth, read for a look to be applied to it (the selection plays no part)."""

    image: Image
    layer_name: str
    context: object = None  # the host's own record of where the new layer goes


class LookHost(Host, Protocol):
    """A host that also applies look files to layers (Krita's docker)."""

    def capture_layer(self) -> LayerCapture:
        """Read the active layer whole; InputError saying what to fix; changes nothing."""

    def add_look_layer(self, layer: LayerCapture, image: Image, name: str) -> None:
        """Add `image` (checked: the layer's size and depth) as a new layer `name` above the layer
        captured, leaving that layer as it was; raise, changing nothing, when it cannot."""


class SequenceHost(Host, Protocol):
    """A host that also styles animations (Krita's docker): every frame into a new animated layer."""

    def capture_frames(self) -> FramesCapture:
        """Read every frame of the active layer's animation; InputError saying what to fix; changes nothing."""

    def deliver_frames(self, capture: FramesCapture, sequence: StyledSequence, delivery: Delivery) -> None:
        """Write the checked styled frames as a new animated layer beside the layer captured, then call
        `delivery.done` (now or later); on failure leave the document as it was and call
        `delivery.failed` or raise."""


class Loop(Protocol):
    """The host's event loop."""

    def post(self, callback: Callable[[], None]) -> None:
        """Call `callback` soon on the UI thread (called from any thread)."""

    def later(self, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` on the UI thread after `seconds`; returns a function that cancels it."""


class _Job:
    """One transfer (or sequence) the controller started; `cancel` works before and after its call exists."""

    def __init__(self, capture: Capture | FramesCapture, options: Options, preview: bool) -> None:
        self.capture, self.options, self.preview = capture, options, preview
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._call: CallProtocol | SequenceCallProtocol | None = None
        self.cancelled = False

    def start(self, client: ClientProtocol) -> CallProtocol | SequenceCallProtocol:
        with self._lock:
            if self.cancelled:
                raise CancelledError(CANCELLED_MESSAGE)
            self._call = self.capture.start(client, self.options)
            return self._call

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._call is not None:
                self._call.cancel()


class _Delivery:
    def __init__(self, controller: "Controller", job: _Job, result: Result | StyledSequence) -> None:
        self._controller, self._job, self._result = controller, job, result

    def done(self, layer_name: str) -> None:
        self._controller._delivered(self._job, self._result, layer_name)

    def failed(self, error: Exception) -> None:
        self._controller._not_delivered(self._job, error)


class Controller:
    """Preview, Run and Cancel for one docker or dialog (see the module's docstring).

    `host` is the host's adapter, a `Host` or, when it never runs jobs, a `PreviewHost`.
    `connect` reaches the daemon (see `protocol.Connector`). `auto_preview`: preview as soon as
    the daemon answers and whenever the inputs change (GIMP's dialog); otherwise only a preview
    already shown follows the inputs (Krita's docker). `run_label` names the host's control that
    makes the full-size layer. `spawn` runs a worker (a daemon thread unless a test says otherwise).
    """

    def __init__(self, host: PreviewHost | Host, loop: Loop, connect: Connector, *, auto_preview: bool = False,
                 run_label: str = "Run", spawn: Callable[[Callable[[], None]], threading.Thread] | None = None) -> None:
        self._host, self._loop, self._connect = host, loop, connect
        self._auto_preview, self._run_label = auto_preview, run_label
        self._spawn = spawn or _thread
        self._client_lock = threading.Lock()  # one connection (and one daemon start) for all workers
        self._client: ClientProtocol | None = None
        self._generation = 0  # bumped by `reconnect`: answers from before are ignored
        self.capabilities: pb.Capabilities | None = None
        self._probing = False
        self._run: _Job | None = None
        self._preview: _Job | None = None
        self._preview_wanted = False  # Preview pressed before the daemon answered
        self._preview_shown = False
        self._cancel_refresh: Callable[[], None] | None = None
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.look: KeptLook | None = None  # the last Run's look, for Save look
        self._applying = False

    @property
    def state(self) -> State:
        return State(running=self._run is not None, previewing=self._preview is not None or self._preview_wanted,
                     applying=self._applying, look=self.look is not None)

    # What the host's controls call -------------------------------------------------------------

    def probe(self, start: bool = False) -> None:
        """Ask the daemon what it offers (presets, limits); only with `start` start the installed
        daemon when none answers (a host opening does not; Preview and Run do)."""
        if self._probing or self._closed:
            return
        self._probing = True
        generation = self._generation
        self._work(lambda: self._probe_worker(start, generation))

    def reconnect(self, connect: Connector) -> None:
        """Talk to another daemon from now on (the address changed), and ask it what it offers."""
        self._generation += 1
        with self._client_lock:
            self._client = None  # a job still running keeps its own reference; it ends on its own
        self._connect, self.capabilities, self._probing = connect, None, False
        self.probe()

    def preview(self) -> None:
        """A live preview of the inputs now: it supersedes one in flight; refused during a Run."""
        if self._closed or self._run is not None:
            return
        self._drop_preview()
        if self.capabilities is None:  # the shrink needs the daemon's minimum side: ask it (starting it) first
            self._preview_wanted = True
            self._show_state()
            self._host.say("Reaching the PhotoStyle engine for a preview…")
            self.probe(start=True)
            return
        capture = self._capture(self.capabilities.limits.min_side)
        if capture is None:
            return
        self._preview = _Job(capture, live_preview_options(), preview=True)
        self._show_state()
        self._host.say(f"Previewing {capture.subject} like {capture.reference_name}…")
        self._start(self._preview)

    def run(self, options: Options) -> None:
        """Restyle the layer at full size with `options`; it supersedes a preview in flight (a
        `Host`, not a `PreviewHost`, only)."""
        if self._closed or self._run is not None:
            return
        self._drop_preview()
        capture = self._capture(None)
        if capture is None:
            return
        self._run = _Job(capture, options, preview=False)
        self._show_state()
        self._host.show_picture(None)
        self._host.show_progress("sending…", 0.0)
        self._host.say(f"Restyling {capture.subject} like {capture.reference_name} "
                       f"(regions: {capture.regions_sent()}).")
        self._start(self._run)

    def run_sequence(self, options: Options) -> None:
        """Restyle every frame of the active layer's animation in one daemon job, into a new animated
        layer (a `SequenceHost` only); refused while a Run is in flight."""
        if self._closed or self._run is not None:
            return
        self._drop_preview()
        try:
            capture = self._host.capture_frames()
        except Exception as error:  # noqa: BLE001 - never out of a host's slot
            self._host.say(explain(error), error=True)
            return
        self._run = _Job(capture, options, preview=False)
        self._show_state()
        self._host.show_picture(None)
        self._host.show_progress("sending…", 0.0)
        self._host.say(f"Restyling {capture.subject} like {capture.reference_name}, one look for them all.")
        self._start(self._run)

    def save_look(self, path: str) -> None:
        """Write the last Run's look to `path` (a .cube file), saying where or what went wrong."""
        if self.look is None:
            self._host.say("There is no look to save: Run first (the daemon sends the result's look with it).",
                           error=True)
            return
        try:
            path = write_look(self.look, path)
        except InputError as error:
            self._host.say(explain(error), error=True)
            return
        self._host.say(f"Saved the look to {path} ({self.look.summary}). Apply look… puts it on other layers.")

    def apply_look(self, path: str, interpolation: str = "trilinear") -> None:
        """Apply the look file at `path` to the whole active layer on the daemon, off the UI thread,
        and have the `LookHost` add the result as a new layer; refused during a Run or another apply."""
        if self._closed or self._run is not None or self._applying:
            return
        try:
            look_kind(path)
            layer = self._host.capture_layer()
        except Exception as error:  # noqa: BLE001 - never out of a host's slot
            self._host.say(explain(error), error=True)
            return
        self._applying = True
        self._show_state()
        self._host.say(f"Applying the look {Path(path).name} to “{layer.layer_name}”…")
        self._work(lambda: self._apply_worker(layer, path, interpolation))

    def cancel(self) -> None:
        """Stop the Run (the daemon stops within about a second), or else the preview."""
        if self._run is not None:
            self._run.cancel()
            self._host.show_progress("cancelling…", None)
        elif self._preview is not None or self._preview_wanted:
            self._drop_preview()
            self._host.say("Preview cancelled.")

    def cancel_where(self, matches: Callable[[Capture], bool]) -> None:
        """Cancel the jobs whose capture `matches` (e.g. its document was closed)."""
        if self._run is not None and matches(self._run.capture):
            self.cancel()
        if self._preview is not None and matches(self._preview.capture):
            self._drop_preview()

    def inputs_changed(self) -> None:
        """The reference or the region mode changed: a preview follows after a short pause when
        the policy says so (always with `auto_preview`, else once one was shown)."""
        if self._closed or self._run is not None or self.capabilities is None:
            return
        if not (self._auto_preview or self._preview_shown):
            return
        self._stop_refresh()
        self._cancel_refresh = self._loop.later(REFRESH_DELAY_S, self._refresh)

    def close(self, wait_s: float = 0.0) -> None:
        """The host goes away: cancel what is in flight, wait up to `wait_s` for the workers (a
        daemon being started comes up rather than being started twice), let go of the daemon."""
        self._closed = True
        self._stop_refresh()
        for job in (self._run, self._preview):
            if job is not None:
                job.cancel()
        deadline = time.monotonic() + wait_s
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # Inside ---------------------------------------------------------------------------------------

    def _capture(self, preview_min_side: int | None) -> Capture | None:
        """The host's capture, or None when the status line says what to fix."""
        try:
            return self._host.capture(preview_min_side)
        except Exception as error:  # noqa: BLE001 - never out of a host's slot
            self._host.say(explain(error), error=True)
            return None

    def _refresh(self) -> None:
        self._cancel_refresh = None
        if not self._closed and self._run is None:
            self.preview()

    def _stop_refresh(self) -> None:
        if self._cancel_refresh is not None:
            self._cancel_refresh()
            self._cancel_refresh = None

    def _drop_preview(self) -> None:
        """Forget the current (or a wanted) preview: whatever it still sends is ignored."""
        self._stop_refresh()
        self._preview_wanted = False
        if self._preview is not None:
            self._preview.cancel()
            self._preview = None
        self._show_state()

    def _show_state(self) -> None:
        self._host.show_state(self.state)

    def _work(self, task: Callable[[], None]) -> None:
        self._workers = [worker for worker in self._workers if worker.is_alive()]
        self._workers.append(self._spawn(task))

    def _client_now(self, start: bool, on_wait: Callable[[float], None]) -> ClientProtocol:
        """The shared client, connecting first (worker threads only)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._connect(start, on_wait)
            return self._client

    def _forget(self, client: ClientProtocol) -> None:
        """The daemon behind `client` is gone: the next job reconnects (and may start it again)."""
        with self._client_lock:
            if self._client is client:
                self._client = None
        client.close()

    def _probe_worker(self, start: bool, generation: int) -> None:
        def waiting(seconds: float) -> None:
            self._loop.post(partial(self._on_starting, None, seconds))

        client = None
        try:
            client = self._client_now(start, waiting)
            capabilities = client.capabilities(timeout=5)
        except Exception as error:  # noqa: BLE001 - reported, never out of a worker
            if isinstance(error, DaemonUnavailableError) and client is not None:
                self._forget(client)
            self._loop.post(partial(self._on_probe_failed, generation, start, error))
            return
        self._loop.post(partial(self._on_capabilities, generation, capabilities))

    def _start(self, job: _Job) -> None:
        self._work(lambda: self._job_worker(job))

    def _job_worker(self, job: _Job) -> None:
        """Connect, send, relay the events, check the answer (and compose a preview's picture)."""
        post = self._loop.post
        client = None
        picture = None
        try:
            client = self._client_now(True, lambda seconds: post(partial(self._on_starting, job, seconds)))
            relay = lambda event: post(partial(self._on_event, job, event))  # noqa: E731
            capture = job.capture
            if isinstance(capture, FramesCapture):
                result: Result | StyledSequence = styled_sequence(job.start(client), capture.frames, relay)
            else:
                result = job.start(client).result(on_event=relay)
                check_result(result, capture.content, capture.style_size)
                if job.preview:
                    picture = composite_preview(capture.content, result.image, capture.selection)
        except Exception as error:  # noqa: BLE001 - reported, never out of a worker
            if isinstance(error, DaemonUnavailableError) and client is not None:
                self._forget(client)
            post(partial(self._on_failed, job, error))
            return
        post(partial(self._on_result, job, result, picture))

    def _apply_worker(self, layer: LayerCapture, path: str, interpolation: str) -> None:
        started = time.monotonic()
        client = None
        try:
            client = self._client_now(True, lambda seconds: self._loop.post(partial(self._on_starting, None, seconds)))
            image = apply_look_file(client, layer.image, path, interpolation)
        except Exception as error:  # noqa: BLE001 - reported, never out of a worker
            if isinstance(error, DaemonUnavailableError) and client is not None:
                self._forget(client)
            self._loop.post(partial(self._on_applied, layer, path, error, 0.0))
            return
        self._loop.post(partial(self._on_applied, layer, path, image, time.monotonic() - started))

    def _on_applied(self, layer: LayerCapture, path: str, outcome: Image | Exception, seconds: float) -> None:
        self._applying = False
        if self._closed:
            return
        name = look_layer_name(layer.layer_name, path)
        try:
            if isinstance(outcome, Exception):
                raise outcome
            self._host.add_look_layer(layer, outcome, name)
        except Exception as error:  # noqa: BLE001 - never out of a host's slot
            self._host.say(f"The look was not applied: {explain(error)}", error=True)
        else:
            self._host.say(f"Done: new layer “{name}” (the look applied in {seconds:.1f} s).")
        self._show_state()

    def _current(self, job: _Job | None) -> bool:
        return job is not None and job in (self._run, self._preview) and not self._closed

    def _on_starting(self, job: _Job | None, seconds: float) -> None:
        if (job is None and not self._closed) or self._current(job):
            self._host.say(f"No PhotoStyle engine answered, so it is being started… {seconds:.0f} s")
            if job is self._run:
                self._host.show_progress(f"starting the daemon… {seconds:.0f} s", None)

    def _on_probe_failed(self, generation: int, started: bool, error: Exception) -> None:
        if generation != self._generation or self._closed:
            return
        self._probing = False
        if self._preview_wanted and not started:  # a probe that might not start the daemon: one that may
            self.probe(start=True)
        elif self._preview_wanted:
            self._preview_wanted = False
            self._show_state()
            self._host.say(f"Preview failed: {explain(error)}", error=True)
        elif self._run is None and self._preview is None:
            self._host.say(explain(error), error=True)

    def _on_capabilities(self, generation: int, capabilities: pb.Capabilities) -> None:
        if generation != self._generation or self._closed:
            return
        self._probing = False
        self.capabilities = capabilities
        self._host.show_presets(capabilities)
        if self._preview_wanted or (self._auto_preview and self._run is None and self._preview is None):
            self.preview()
        elif self._run is None and self._preview is None:
            self._host.say(f"PhotoStyle engine {capabilities.engine_version} ready on {capabilities.device}.")

    def _on_event(self, job: _Job, event: Event | SequenceEvent) -> None:
        if not self._current(job):
            return
        if isinstance(event, SequencePlanned):
            self._host.say(f"Restyling {job.capture.subject}: looks fitted on frame(s) "
                           f"{', '.join(map(str, event.keyframes))}, then carried to every frame.")
        if job.preview:
            if isinstance(event, Queued) and event.position:
                self._host.say(f"The preview waits for {event.position} job(s) ahead in the daemon…")
        elif isinstance(event, (Queued, Progress)):
            fraction = min(event.fraction, 0.99) if isinstance(event, Progress) else None  # 100 %: in the document
            self._host.show_progress(status_text(event), fraction)
        elif isinstance(event, Preview):
            self._host.show_picture(event.image)

    def _on_failed(self, job: _Job, error: Exception) -> None:
        if not self._current(job):  # superseded or cancelled: no longer the host's business
            return
        if job is self._preview:
            self._preview = None
            self._host.say(f"Preview failed: {explain(error)}", error=True)
        else:
            self._run = None
            self._host.show_progress("stopped", None)
            self._host.say(explain(error), error=not isinstance(error, CancelledError))
        self._show_state()

    def _on_result(self, job: _Job, result: Result | StyledSequence, picture: Image | None) -> None:
        if not self._current(job):
            return
        if job is self._preview:
            self._preview = None
            self._preview_shown = True
            self._host.show_picture(picture)
            seconds = time.monotonic() - job.started
            self._host.say(f"Preview of {job.capture.subject} like {job.capture.reference_name} ({picture.width}×"
                           f"{picture.height} px, {seconds:.1f} s). {self._run_label} makes the full-size layer."
                           f"{_notes(result.notes)}")
            self._show_state()
            return
        if job.cancelled:  # Cancel pressed as the answer came in: it wins
            self._on_failed(job, CancelledError(CANCELLED_MESSAGE))
            return
        delivery = _Delivery(self, job, result)
        try:
            if isinstance(result, StyledSequence):
                self._host.deliver_frames(job.capture, result, delivery)
            else:
                self._host.deliver(job.capture, result, delivery)
        except Exception as error:  # noqa: BLE001 - never out of a host's slot
            delivery.failed(error)

    def _delivered(self, job: _Job, result: Result | StyledSequence, layer_name: str) -> None:
        if job is not self._run:
            return
        self._run = None
        if isinstance(result, StyledSequence):
            self._host.show_progress("done", 1.0)
            self._host.say(f"Done: new animated layer “{layer_name}” ({result.summary()})."
                           f"{_notes(result.done.notes)}")
            self._show_state()
            return
        self.look = kept_look(result, job.capture.reference_name)
        found = f" Regions found: {', '.join(region.name for region in result.regions)}." if result.regions else ""
        self._host.show_progress("done", 1.0)
        self._host.say(f"Done: new layer “{layer_name}” ({result.seconds:.0f} s on {result.device}).{found}"
                       f"{_notes(result.notes)}")
        self._show_state()

    def _not_delivered(self, job: _Job, error: Exception) -> None:
        if job is not self._run:
            return
        self._run = None
        self._host.show_progress("stopped", None)
        self._host.say(f"Could not add the result layer: {explain(error)}", error=True)
        self._show_state()


def status_text(event: Queued | Progress) -> str:
    """A Queued or Progress event in words, stage name first (for a progress bar or status line)."""
    if isinstance(event, Queued):
        return f"waiting: {event.position} job(s) ahead" if event.position else "starting…"
    return f"{event.stage} {event.iteration}/{event.iterations} (stage {event.stage_index}/{event.stage_count})"


def preset_choices(capabilities: pb.Capabilities, chosen: str) -> tuple[list[tuple[str, str]], str]:
    """The daemon's presets as (name, description) in its order, and which to select: `chosen`
    when the daemon has it, else its first."""
    entries = [(preset.name, preset.description) for preset in capabilities.presets]
    names = [name for name, _ in entries]
    return entries, chosen if chosen in names else (names[0] if names else chosen)


def explain(error: BaseException) -> str:
    """The sentence to show for `error`: the client's or the host's own (they say what to do), or
    a request to report anything else."""
    if isinstance(error, (PhotoStyleClientError, InputError)):
        return str(error)
    return f"Unexpected error, please report it: {type(error).__name__}: {error}"


def _notes(notes: list[str]) -> str:
    return "".join(f" Note: {note}" for note in notes)


def _thread(task: Callable[[], None]) -> threading.Thread:
    worker = threading.Thread(target=task, name="photostyle-worker", daemon=True)
    worker.start()
    return worker
