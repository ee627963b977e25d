"""The PhotoStyle gRPC methods: check a transfer, put it in line, stream its events and result.

Each Transfer call holds one server thread for its life, plus a short-lived one while its setup
and then its pixels arrive, so that the call's thread can end a call whose setup never comes and
drop a job whose upload stalls: silent clients would otherwise hold server threads (and the job at
the head of the line everyone behind it). Each call takes one of the daemon's call slots first
(calls.py), so health checks and capabilities always find a free server thread. The request bytes are
parsed here rather than by gRPC, so a malformed message is INVALID_ARGUMENT, not INTERNAL.

The job itself lives in the DeviceLine; a call that ends early (client cancel, disconnect, server
stop) ends its job through the context callback, whether or not this generator is ever resumed.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from importlib.metadata import version
from typing import Any, Callable, Generator, Iterator, TypeVar

import grpc
import torch
from google.protobuf.message import DecodeError, Message

from photostyle.core import (DEFAULT_PRESET, PRESETS, CancelToken, Cancelled, InputImageError, LookFileError,
                             OptionsError, OptionSpec, RegionPair, TransferResult, apply_look)
from photostyle.core.video import SequencePlan
from photostyle.core.look_files import look_from_bytes, look_to_cube_bytes
from photostyle.core.options import JOB_OPTIONS
from photostyle.core.images import MIN_SIDE
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import to_wire
from photostyle.server.wire.chunks import chunks
from photostyle.server.wire.contract import API_VERSION, SERVICE, ErrorKind
from photostyle.server.wire.options import format_value

from .engine import Engine
from .jobs import CANCELLED, Failure, Inputs, Job, KeyframeInputs, abort
from .pixels import expect_end, receive, to_array
from .scheduler import DeviceLine
from .sequence import FrameReader, first_pass, fitting_progress, second_pass
from .validation import (Limits, RequestError, check_look_setup, check_sequence_setup, check_setup,
                         check_working_shape, describe, invalid)

log = logging.getLogger("photostyle.daemon")

M = TypeVar("M", bound=Message)
P = TypeVar("P")

#: How often a waiting handler checks that its call is still alive (it is also woken by events).
_POLL_SECONDS = 1.0


class PhotoStyleService:
    """Implements photostyle.v1.PhotoStyle on top of one Engine and its DeviceLine."""

    def __init__(self, engine: Engine, line: DeviceLine, limits: Limits, instance: str) -> None:
        self._engine = engine
        self._line = line
        self._limits = limits
        self._instance = instance
        self._numbers = itertools.count(1)

    def handler(self) -> grpc.GenericRpcHandler:
        """The methods, taking their requests as bytes (see `_parse`)."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "GetCapabilities": grpc.unary_unary_rpc_method_handler(
                self.GetCapabilities, response_serializer=pb.Capabilities.SerializeToString),
            "Transfer": grpc.stream_stream_rpc_method_handler(
                self.Transfer, response_serializer=pb.TransferEvent.SerializeToString),
            "ApplyLook": grpc.stream_stream_rpc_method_handler(
                self.ApplyLook, response_serializer=pb.ApplyLookEvent.SerializeToString),
            "StyleSequence": grpc.stream_stream_rpc_method_handler(
                self.StyleSequence, response_serializer=pb.SequenceEvent.SerializeToString),
        })

    def GetCapabilities(self, request: bytes, context: grpc.ServicerContext) -> pb.Capabilities:
        try:
            _parse(pb.GetCapabilitiesRequest, request)
        except RequestError as error:
            abort(context, Failure(error.code, error.kind, error.message))
        limits = self._limits
        return pb.Capabilities(
            engine_version=version("photostyle"), api_version=API_VERSION, device=self._engine.device_name,
            presets=preset_messages(self._engine.device), options=option_messages(limits), default_preset=DEFAULT_PRESET,
            limits=pb.Limits(max_pixels=limits.max_pixels, min_side=MIN_SIDE, max_regions=limits.max_regions,
                             max_working_size=limits.max_working_size, max_iterations=limits.max_iterations,
                             chunk_bytes=limits.chunk_bytes, max_message_bytes=limits.max_message_bytes,
                             max_jobs=limits.max_jobs, upload_idle_seconds=limits.upload_idle_s,
                             max_look_bytes=limits.max_look_bytes, max_frames=limits.max_frames),
            sample_types=[pb.SAMPLE_TYPE_UINT8, pb.SAMPLE_TYPE_UINT16, pb.SAMPLE_TYPE_FLOAT32],
            encodings=[pb.ENCODING_RAW, pb.ENCODING_PNG, pb.ENCODING_JPEG],
            jobs_in_line=len(self._line), instance=self._instance, looks=True, sequences=True)

    def Transfer(self, request_bytes: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.TransferEvent]:
        number = next(self._numbers)
        requests = _parsed(pb.TransferRequest, request_bytes)
        plan = self._setup(requests, number, context, check_setup, "transfer", "options and image headers")
        if plan is None:
            return
        job = Job(number, plan, context.peer())
        result = yield from self._in_line(job, context, lambda heard, received: self._upload(job, heard, received),
                                          requests, _transfer_event)
        if result is not None:
            yield from self._result_events(result)

    def StyleSequence(self, request_bytes: Iterator[bytes],
                      context: grpc.ServicerContext) -> Iterator[pb.SequenceEvent]:
        """A sequence as one job: pass 1 (frames planned, keyframes kept) as its upload, the keyframe
        fits in the line, then pass 2 (every frame styled and sent back) on this call's thread."""
        number = next(self._numbers)
        requests = _parsed(pb.SequenceRequest, request_bytes)
        plan = self._setup(requests, number, context, check_sequence_setup, "sequence",
                           "options, the style image's header, the frames' count and rate")
        if plan is None:
            return
        job = Job(number, plan, context.peer())
        passes: list[tuple[SequencePlan, FrameReader]] = []
        fitted = yield from self._in_line(job, context, lambda heard, received: self._first_pass(
            job, heard, received, passes), requests, _sequence_event)
        if fitted is None:
            return
        planned, reader = passes[0]
        if not context.add_callback(job.token.cancel):
            return
        started = time.perf_counter()
        yield pb.SequenceEvent(send_frames=pb.SendFrames())
        try:
            yield from second_pass(reader, planned, fitted.looks, self._limits, job.token, self._limits.upload_idle_s)
        except RequestError as error:
            abort(context, Failure(error.code, error.kind, error.message))
        except InputImageError as exc:
            abort(context, Failure(grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, str(exc)))
        except Cancelled:
            abort(context, CANCELLED)
        seconds = fitted.seconds + time.perf_counter() - started
        log.info("sequence %d done: %d frame(s), %d keyframe(s), %.1f s on %s (%s)", number, planned.frame_count,
                 len(planned.keyframes), seconds, fitted.device, job.summary())
        yield pb.SequenceEvent(done=pb.SequenceDone(notes=fitted.notes, seconds=seconds, device=fitted.device))

    def _setup(self, requests: Iterator[Message], number: int, context: grpc.ServicerContext,
               check: Callable[[Message, Limits], P], what: str, holds: str) -> P | None:
        """The call's setup message, checked by `check` (None when the client left first); a missing,
        late or bad one ends the call with the reason."""
        try:
            first = _first_request(requests, self._limits.setup_timeout_s, number)
            if first is None or first.WhichOneof("part") != "setup":
                raise invalid(ErrorKind.INPUT, f"A {what} must start with its setup message ({holds}).")
            return check(first.setup, self._limits)
        except RequestError as error:
            log.info("%s %d refused (%s): %s (from %s)", what, number, error.code.name, error.message, context.peer())
            abort(context, Failure(error.code, error.kind, error.message))
        except grpc.RpcError:  # the client left before sending its setup
            return None

    def _in_line(self, job: Job, context: grpc.ServicerContext,
                 upload: Callable[[Iterator[Message], Callable[[], None]], None], requests: Iterator[Message],
                 as_event: Callable[[Message], Message | None]) -> Generator[Message, None, Any]:
        """Put `job` in the line and relay its events (`as_event` makes each this call's kind, or
        drops it); when the line asks for its pixels, run `upload` over the rest of the request stream
        on its own thread. Returns the job's outcome, or None when the call ended first; a Failure
        ends the call."""
        if not self._line.submit(job):
            log.info("job %d refused: line full (%s)", job.number, job.summary())
            abort(context, Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.BUSY,
                                    f"The daemon already holds {self._limits.max_jobs} jobs; retry in a while or use "
                                    "another daemon."))
        if not context.add_callback(lambda: self._line.fail(job, CANCELLED)):
            self._line.fail(job, CANCELLED)
        pixels: _Upload | None = None
        while True:
            if pixels is not None and pixels.stalled(self._limits.upload_idle_s):
                self._line.fail(job, _stalled(self._limits.upload_idle_s))
            try:
                event = job.events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not context.is_active():
                    return None  # the call is over; its callback has ended the job
                continue
            if isinstance(event, Failure):
                abort(context, event)
            if not isinstance(event, Message):
                return event
            kind = event.WhichOneof("event")
            wire = as_event(event)
            if wire is not None:
                yield wire
            if kind == "preview":
                job.previews.release()
            elif kind == "queued" and pixels is None and event.queued.position <= self._line.prefetch:
                yield as_event(pb.TransferEvent(send_pixels=pb.SendPixels()))
                pixels = _Upload(upload, requests, job.number)

    def ApplyLook(self, request_bytes: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.ApplyLookEvent]:
        """Receive an image and a look file, recolour the image on this call's thread (no line, no
        model) and stream the result back. The call's slot bounds each wait for the client
        (calls.py); cancelling the call stops the work between strips."""
        requests = _parsed(pb.ApplyLookRequest, request_bytes)
        try:
            first = next(requests, None)
            if first is None or first.WhichOneof("part") != "setup":
                raise invalid(ErrorKind.INPUT, "ApplyLook must start with its setup message (the image's header and "
                                               "the look file's format and length).")
            plan = check_look_setup(first.setup, self._limits)
            image_data, look_data = receive(requests, plan.blobs)
            expect_end(requests)
        except RequestError as error:
            log.info("look refused (%s): %s (from %s)", error.code.name, error.message, context.peer())
            abort(context, Failure(error.code, error.kind, error.message))
        except grpc.RpcError:  # the client left
            return
        token = CancelToken()
        if not context.add_callback(token.cancel):
            token.cancel()
        started = time.perf_counter()
        try:
            image = to_array(plan.blobs[0], image_data, self._limits)
            look = look_from_bytes(look_data, plan.look_kind, "The look file")
            result = apply_look(look, image, plan.interpolation, cancel=token)
        except RequestError as error:
            abort(context, Failure(error.code, error.kind, error.message))
        except (LookFileError, InputImageError) as exc:
            abort(context, Failure(grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, str(exc)))
        except Cancelled:
            abort(context, CANCELLED)
        except Exception as exc:  # the daemon must outlive any one call
            log.exception("applying a look failed")
            abort(context, Failure(grpc.StatusCode.INTERNAL, ErrorKind.INTERNAL,
                                   f"The daemon failed applying the look ({type(exc).__name__}: {exc}); this is a "
                                   "bug, see the daemon's log. The daemon is still running."))
        seconds = time.perf_counter() - started
        log.info("look applied to %s in %.2f s (from %s)", describe(plan.blobs[0].info), seconds, context.peer())
        info, data = to_wire(result)
        yield pb.ApplyLookEvent(result=pb.ApplyLookResult(image=info, seconds=seconds))
        for piece in chunks(data, self._limits.chunk_bytes):
            yield pb.ApplyLookEvent(chunk=pb.Chunk(data=piece))

    def _upload(self, job: Job, requests: Iterator[pb.TransferRequest], received: Callable[[], None]) -> None:
        """Receive and check the job's pixels and hand them to the line (calling `received` once
        the last declared byte is in), then read the rest of the stream, which must hold nothing
        more; fail the job on anything wrong."""
        with self._failing(job, "this job's pixels"):
            buffers = receive(requests, job.plan.blobs)
            received()
            arrays = [to_array(blob, data, self._limits) for blob, data in zip(job.plan.blobs, buffers)]
            for blob, array in zip(job.plan.blobs[:2], arrays):  # PNG/JPEG: their shapes are known only now
                check_working_shape(array.shape[0], array.shape[1], blob.what, job.plan.options, self._limits)
            masks = iter(arrays[2:])
            regions = [RegionPair(name, next(masks)[:, :, 0], next(masks)[:, :, 0]) for name in job.plan.region_names]
            self._line.provide(job, Inputs(arrays[0], arrays[1], regions))
            expect_end(requests)

    def _first_pass(self, job: Job, requests: Iterator[pb.SequenceRequest], received: Callable[[], None],
                    passes: list[tuple[SequencePlan, FrameReader]]) -> None:
        """A sequence's upload: the style image and pass 1 over its frames (calling `received` after
        the last), then its keyframes to the line; what pass 2 needs goes to `passes`. Fails the job
        on anything wrong."""
        with self._failing(job, "this sequence's frames"):
            style, planned, reader = first_pass(requests, job.plan, self._limits, job.token, job.events.put)
            received()
            passes.append((planned, reader))
            self._line.provide(job, KeyframeInputs(planned, style))

    @contextmanager
    def _failing(self, job: Job, what: str) -> Iterator[None]:
        """Whatever goes wrong on an upload thread while `what` arrives ends the job with a reason
        the client can read (on that thread nothing else would report it)."""
        try:
            yield
        except RequestError as error:
            self._line.fail(job, Failure(error.code, error.kind, error.message))
        except (InputImageError, OptionsError) as exc:  # the engine's checks of what arrived
            kind = ErrorKind.INPUT if isinstance(exc, InputImageError) else ErrorKind.OPTIONS
            self._line.fail(job, Failure(grpc.StatusCode.INVALID_ARGUMENT, kind, str(exc)))
        except Cancelled:  # the job ended while its pixels came in (its reason is set already)
            pass
        except grpc.RpcError:  # the client left; if mid-upload, the job is cancelled (else it has ended already)
            self._line.fail(job, CANCELLED)
        except Exception as exc:
            log.exception("job %d: reading %s failed", job.number, what)
            self._line.fail(job, Failure(grpc.StatusCode.INTERNAL, ErrorKind.INTERNAL,
                                         f"The daemon failed reading {what} ({type(exc).__name__}: {exc}); this is "
                                         "a bug, see the daemon's log. The daemon is still running."))

    def _result_events(self, result: TransferResult) -> Iterator[pb.TransferEvent]:
        """The result header, then as chunks the image's bytes and each found region's two masks'
        (views of the engine's arrays: only one chunk at a time is copied)."""
        info, data = to_wire(result.image)
        masks = [to_wire(mask) for region in result.regions for mask in (region.content_mask, region.style_mask)]
        mask_infos = iter([mask_info for mask_info, _ in masks])
        regions = [pb.Region(name=region.name, content_mask=next(mask_infos), style_mask=next(mask_infos))
                   for region in result.regions]
        width, height = result.working_size
        header = pb.TransferResult(image=info, notes=result.notes, seconds=result.seconds, device=result.device,
                                   working_width=width, working_height=height, regions=regions)
        if result.look is not None:
            header.look_cube = look_to_cube_bytes(result.look)
            header.look_fidelity.median, header.look_fidelity.p95 = result.look.fidelity.median, result.look.fidelity.p95
        yield pb.TransferEvent(result=header)
        for blob in [data, *(view for _, view in masks)]:
            for piece in chunks(blob, self._limits.chunk_bytes):
                yield pb.TransferEvent(chunk=pb.Chunk(data=piece))


class _Upload:
    """Runs an upload over the rest of the request stream on its own thread, noting when it last
    heard from the client until every declared byte is in (the upload calls `received`)."""

    def __init__(self, upload: Callable[[Iterator[pb.TransferRequest], Callable[[], None]], None],
                 requests: Iterator[pb.TransferRequest], number: int) -> None:
        self.last_heard = time.monotonic()
        self._received = threading.Event()

        def run() -> None:
            try:
                upload(self._noting(requests), self._received.set)
            finally:
                self._received.set()

        threading.Thread(target=run, name=f"photostyle-upload-{number}", daemon=True).start()

    def _noting(self, requests: Iterator[pb.TransferRequest]) -> Iterator[pb.TransferRequest]:
        for request in requests:
            self.last_heard = time.monotonic()
            yield request

    def stalled(self, idle_seconds: float) -> bool:
        return not self._received.is_set() and time.monotonic() - self.last_heard > idle_seconds


def _transfer_event(event: pb.TransferEvent) -> pb.TransferEvent:
    return event


def _sequence_event(event: pb.TransferEvent | pb.SequenceEvent) -> pb.SequenceEvent | None:
    """An event of the line as a sequence's: its own as they are, the fits' progress placed on the
    sequence's bar, queue positions and the request for pixels alike; the fits' previews dropped."""
    if isinstance(event, pb.SequenceEvent):
        return event
    kind = event.WhichOneof("event")
    if kind == "progress":
        return pb.SequenceEvent(progress=fitting_progress(event.progress))
    if kind == "queued":
        return pb.SequenceEvent(queued=event.queued)
    if kind == "send_pixels":
        return pb.SequenceEvent(send_pixels=event.send_pixels)
    return None


def _first_request(requests: Iterator[M], timeout: float, number: int) -> M | None:
    """The call's first message (None if the client ended its stream without one), read on a helper
    thread so that a client that never sends it cannot hold the call's server thread for longer than
    `timeout` seconds: then RequestError (STALLED), and ending the call ends the helper's wait."""
    first: Future[M | None] = Future()

    def read() -> None:
        try:
            first.set_result(next(requests, None))
        except Exception as exc:  # a malformed message, or the client left: raised on the call's thread
            first.set_exception(exc)

    threading.Thread(target=read, name=f"photostyle-setup-{number}", daemon=True).start()
    try:
        return first.result(timeout)
    except FutureTimeout:
        raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED,
                           f"The daemon waited {timeout:g} s for this transfer's setup message and heard nothing, so "
                           "it ended the call to keep its slots for other clients; nothing was changed. Check the "
                           "connection to the daemon and retry.") from None


def _parsed(message_type: type[M], request_bytes: Iterator[bytes]) -> Iterator[M]:
    for data in request_bytes:
        yield _parse(message_type, data)


def _parse(message_type: type[M], data: bytes) -> M:
    """`data` as a `message_type`; RequestError (INPUT) if it is not one. gRPC's own parsing would
    answer INTERNAL, blaming the daemon for a client's bytes."""
    try:
        return message_type.FromString(data)
    except DecodeError:
        raise invalid(ErrorKind.INPUT, f"The request is malformed: its bytes are not a valid "
                                       f"{message_type.DESCRIPTOR.full_name} message. Use a client built from "
                                       f"photostyle.proto ({API_VERSION}).") from None


def _stalled(idle_seconds: float) -> Failure:
    return Failure(grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED,
                   f"The daemon asked for this job's pixels but heard nothing from the client for "
                   f"{idle_seconds:g} s, so it dropped the job to let the others run; nothing was changed. "
                   "Check the connection to the daemon and retry.")


def preset_messages(device: torch.device) -> list[pb.Preset]:
    """The engine's presets as the capabilities list them, each as it runs on the daemon's `device`
    (`Preset.for_device`: its iterations are what a job that leaves them unset runs, so a host's
    form sends a count only when it differs) and with the options it reads."""
    fitted = (preset.for_device(device)[0] for preset in PRESETS.values())
    return [pb.Preset(name=preset.name, description=preset.description, size=preset.size,
                      iterations=preset.iterations, method=preset.method.kind,
                      options=[spec.name for spec in JOB_OPTIONS if spec.name in preset.reads])
            for preset in fitted]


def option_messages(limits: Limits) -> list[pb.OptionSpec]:
    """The job options of the engine's schema as the capabilities describe them."""
    return [_option_spec(spec, limits) for spec in JOB_OPTIONS]


def _option_spec(spec: OptionSpec, limits: Limits) -> pb.OptionSpec:
    """One option of the engine's schema as the capabilities describe it, with this daemon's limits."""
    maximum = {"size": limits.max_working_size, "iterations": limits.max_iterations}.get(spec.name, spec.maximum)
    choices = list(PRESETS) if spec.name == "preset" else list(spec.choices)
    message = pb.OptionSpec(name=spec.name, kind=spec.kind.__name__, label=spec.label, help=spec.help,
                            default="" if spec.default is None else format_value(spec.default), unit=spec.unit,
                            choices=choices)
    if spec.minimum is not None:
        message.minimum = spec.minimum
    if maximum is not None:
        message.maximum = maximum
    return message
