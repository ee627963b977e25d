"""The PhotoStyle client: one gRPC channel to one or several daemons, and transfer calls on it.

Several addresses share one channel with gRPC's own `round_robin` policy and client-side health
checking, so a job goes to a daemon that reports SERVING; one that stops or shuts down is
skipped. Runs on grpcio >= 1.51 and protobuf >= 4.21 with nothing else.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from pathlib import Path
from typing import Callable, Iterator, Sequence

import grpc

from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.chunks import ChunkOverflow, Reassembly, chunks
from photostyle.server.wire.contract import (APPLY_LOOK_PATH, CAPABILITIES_PATH, DEFAULT_ADDRESS, MAX_MESSAGE_BYTES,
                                            SEQUENCE_PATH, SERVICE, TRANSFER_PATH, token_metadata)
from photostyle.server.wire.options import parse_options, to_wire
from photostyle.server.wire.images import EncodedImage, Image, Region

from .errors import AuthenticationError, DaemonError, DaemonUnavailableError, PhotoStyleClientError, from_rpc_error
from .events import Event, LookFidelity, Preview, Progress, Queued, Result
from .sequence_call import FrameSource, SequenceCall

#: Look file kinds (their suffixes, as core.look_files names them) and interpolations, on the wire.
LOOK_FORMATS = {".cube": pb.LOOK_FORMAT_CUBE, ".png": pb.LOOK_FORMAT_HALD_PNG}
INTERPOLATIONS = {value.name.removeprefix("INTERPOLATION_").lower(): value.number
                  for value in pb.Interpolation.DESCRIPTOR.values}

_SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": SERVICE},
})


class Options:
    """Engine settings for one transfer: a preset and the options set, by the engine's names
    (`Capabilities.options` describes each; unset ones take the preset's value). E.g.
    `Options(preset="default", size=384, keep_brightness=True)`, or from text:
    `Options.parse("default", "size=384 keep_brightness=true")`.

    "regions": "given" (the regions passed to `transfer`; none = the whole image) or "auto" (the
    engine finds corresponding regions itself unless regions are passed, and returns them in
    `Result.regions`).
    """

    def __init__(self, preset: str | None = None, **values: object) -> None:
        self.preset = preset
        self.values = {name: value for name, value in values.items() if value is not None}
        self.to_wire()  # refuses unknown names and ill-typed values at once

    @classmethod
    def parse(cls, preset: str | None, text: str) -> "Options":
        return cls(preset, **parse_options(text))

    def with_values(self, **values: object) -> "Options":
        """These options with `values` set as well (replacing any given)."""
        return Options(self.preset, **{**self.values, **values})

    def given(self) -> dict[str, object]:
        """Every option set, the preset included when chosen."""
        return ({"preset": self.preset} if self.preset else {}) | self.values

    def to_wire(self) -> pb.TransferOptions:
        """A new message each time (callers may change theirs)."""
        return to_wire(self.given())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and other.given() == self.given()

    def __repr__(self) -> str:
        return f"Options({', '.join(f'{k}={v!r}' for k, v in self.given().items())})"


class Client:
    """A connection to PhotoStyle daemon(s). Thread-safe; close it (or use `with`) when done.

    addresses: "host:port", a comma-separated list, or a sequence of them.
    token: the daemons' shared token, if they have one (AuthenticationError here if it cannot be one).
    tls / tls_ca: connect with TLS, trusting `tls_ca` (PEM bytes or a file path) or the system roots.
    tls_server_name: the name the daemons' certificates carry, when it is not the first host.
    """

    def __init__(self, addresses: str | Sequence[str] = DEFAULT_ADDRESS, *, token: str | None = None,
                 tls: bool = False, tls_ca: bytes | str | None = None, tls_server_name: str | None = None) -> None:
        self.addresses = _split(addresses)
        self._where = ", ".join(self.addresses)
        try:
            self._metadata = token_metadata(token)
        except ValueError as exc:
            raise AuthenticationError(f"{exc} Check the daemon's token as given to this client (--token, "
                                      "PHOTOSTYLE_TOKEN or the plug-in's token setting).") from None
        options = [
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.service_config_disable_resolution", 1),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # Notice a daemon that vanished (machine off, cable out) during a long job.
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.max_pings_without_data", 0),
        ]
        target = _target(self.addresses)
        if tls or tls_ca is not None:
            if isinstance(tls_ca, str):
                tls_ca = Path(tls_ca).read_bytes()
            if tls_server_name or len(self.addresses) > 1:
                options.append(("grpc.ssl_target_name_override", tls_server_name or _host(self.addresses[0])))
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(tls_ca), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._capabilities = self._channel.unary_unary(
            CAPABILITIES_PATH, request_serializer=pb.GetCapabilitiesRequest.SerializeToString,
            response_deserializer=pb.Capabilities.FromString)
        self._transfer = self._stream(TRANSFER_PATH, pb.TransferRequest, pb.TransferEvent)
        self._apply_look = self._stream(APPLY_LOOK_PATH, pb.ApplyLookRequest, pb.ApplyLookEvent)
        self._style_sequence = self._stream(SEQUENCE_PATH, pb.SequenceRequest, pb.SequenceEvent)

    def _stream(self, path: str, request: type, event: type) -> grpc.StreamStreamMultiCallable:
        """A streamed method of the service on this channel, by its path and message types."""
        return self._channel.stream_stream(path, request_serializer=request.SerializeToString,
                                           response_deserializer=event.FromString)

    def capabilities(self, timeout: float = 10.0) -> pb.Capabilities:
        """Engine version, device, presets and limits of a daemon (the protobuf message)."""
        try:
            return self._capabilities(pb.GetCapabilitiesRequest(), timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error, self._where, job_started=False) from None

    def transfer(self, content: Image | EncodedImage, style: Image | EncodedImage,
                 regions: Sequence[Region] = (), options: Options | None = None) -> "TransferCall":
        """Start a transfer; iterate the returned call for its events (the last is the Result)."""
        blobs = [content, style]
        wire_regions = []
        for region in regions:
            blobs += [region.content_mask, region.style_mask]
            wire_regions.append(pb.Region(name=region.name, content_mask=region.content_mask.info(),
                                          style_mask=region.style_mask.info()))
        setup = pb.TransferSetup(options=(options or Options()).to_wire(), content=content.info(),
                                 style=style.info(), regions=wire_regions)
        return TransferCall(self._transfer, setup, [blob.view() for blob in blobs], self._metadata, self._where)

    def apply_look(self, image: Image, look: bytes, look_kind: str, interpolation: str = "trilinear",
                   timeout: float | None = None) -> Image:
        """`image` recoloured by a look file's bytes (`look_kind` ".cube" or ".png", a Hald CLUT) on
        the daemon: the image's size and sample type, RGB plus its alpha untouched. Blocks (seconds
        for a 24 MP layer); raises a `PhotoStyleClientError` naming the problem (a malformed look:
        InvalidRequestError)."""
        if look_kind not in LOOK_FORMATS:
            raise ValueError(f"Unknown look kind {look_kind!r}; use one of {', '.join(LOOK_FORMATS)}.")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Unknown interpolation {interpolation!r}; use one of {', '.join(INTERPOLATIONS)}.")
        setup = pb.ApplyLookSetup(image=image.info(), look_format=LOOK_FORMATS[look_kind], look_bytes=len(look),
                                  interpolation=INTERPOLATIONS[interpolation])

        def requests() -> Iterator[pb.ApplyLookRequest]:
            yield pb.ApplyLookRequest(setup=setup)
            for blob in (image.view(), memoryview(look)):
                for piece in chunks(blob):
                    yield pb.ApplyLookRequest(chunk=pb.Chunk(data=piece))

        download: Reassembly | None = None
        header = pb.ApplyLookResult()
        started = False
        try:
            for event in self._apply_look(requests(), timeout=timeout, metadata=self._metadata):
                started = True
                if event.WhichOneof("event") == "result":
                    header, download = event.result, Reassembly([event.result.image.size_bytes])
                elif download is None:
                    raise DaemonError("The daemon sent the look's result data before its header (a daemon bug).")
                else:
                    download.add(event.chunk.data)
        except grpc.RpcError as error:
            raise from_rpc_error(error, self._where, started) from None
        except ChunkOverflow:
            raise DaemonError("The daemon sent more result data than it announced (a daemon bug).") from None
        if download is None or not download.complete:
            raise DaemonError("The daemon ended the call without sending the whole result (a daemon bug).")
        return Image.from_wire(header.image, download.buffers[0])

    def style_sequence(self, frames: FrameSource, frame_count: int, style: Image | EncodedImage,
                       options: Options | None = None, *, fps: float = 24.0, keyframes: Sequence[int] = (),
                       keyframe_every: float = 0.0) -> SequenceCall:
        """Start styling a sequence of `frame_count` frames (one size, layout and sample type) like
        `style`, in one job: `frames()` reads them all, in order, and is called twice (see
        `SequenceCall`). `fps` spaces the keyframes in time; `keyframes` (frame numbers from 0)
        replaces the engine's choice; `keyframe_every` (seconds, 0 = the engine's default) is how
        often a long shot gets one. Iterate the call for its events, or `frames()`."""
        setup = pb.SequenceSetup(options=(options or Options()).to_wire(), style=style.info(), frame_count=frame_count,
                                 fps=fps, keyframes=list(keyframes), keyframe_every=keyframe_every)
        return SequenceCall(self._style_sequence, setup, style, frames, self._metadata, self._where)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TransferCall:
    """One running transfer: iterate it for events, or call `result()`; `cancel()` from any thread.

    A background thread reads the daemon's messages as they come, so the pixels go out as soon
    as the daemon asks for them even while the caller is busy elsewhere. Iteration raises a
    `PhotoStyleClientError` subclass when the job fails. Leaving a `with` block cancels the job.
    """

    def __init__(self, method: grpc.StreamStreamMultiCallable, setup: pb.TransferSetup, blobs: list[memoryview],
                 metadata: tuple[tuple[str, str], ...], where: str) -> None:
        self._where = where
        self._pixels_wanted = False
        self._may_send = threading.Event()  # set when the daemon asks for the pixels, or the call ends
        self._events: queue.Queue[Event | PhotoStyleClientError] = queue.Queue()
        self._call = method(self._requests(setup, blobs), metadata=metadata)
        if not self._call.add_callback(self._may_send.set):
            self._may_send.set()
        threading.Thread(target=self._pump, name="photostyle-transfer", daemon=True).start()

    def __iter__(self) -> Iterator[Event]:
        """Queued…, Progress/Preview…, then the Result; raises the job's error instead, if any."""
        while True:
            item = self._events.get()
            if isinstance(item, PhotoStyleClientError):
                raise item
            yield item
            if isinstance(item, Result):
                return

    def result(self, on_event: Callable[[Event], None] | None = None) -> Result:
        """Wait for the job; `on_event` sees every Queued/Progress/Preview on the way."""
        for event in self:
            if isinstance(event, Result):
                return event
            if on_event is not None:
                on_event(event)
        raise DaemonError("The daemon ended the job without a result (a daemon bug).")

    def _requests(self, setup: pb.TransferSetup, blobs: list[memoryview]) -> Iterator[pb.TransferRequest]:
        """The setup at once; the pixels only when the daemon asks (run by gRPC's sending thread)."""
        yield pb.TransferRequest(setup=setup)
        self._may_send.wait()
        if self._pixels_wanted:
            for blob in blobs:
                for piece in chunks(blob):
                    yield pb.TransferRequest(chunk=pb.Chunk(data=piece))

    def _pump(self) -> None:
        """Move the call's events to the queue; its last item is the Result or an error."""
        try:
            for event in self._read():
                self._events.put(event)
        except PhotoStyleClientError as error:
            self._events.put(error)
        except Exception as exc:  # never leave the reader waiting
            self._events.put(DaemonError(f"Unexpected client failure ({type(exc).__name__}: {exc})."))

    def _read(self) -> Iterator[Event]:
        download: _ResultDownload | None = None
        started = False
        try:
            for event in self._call:
                started = True
                kind = event.WhichOneof("event")
                if kind == "send_pixels":
                    self._pixels_wanted = True
                    self._may_send.set()
                elif kind == "queued":
                    yield Queued(event.queued.position)
                elif kind == "progress":
                    yield Progress.from_wire(event.progress)
                elif kind == "preview":
                    yield Preview(Image.from_wire(event.preview.info, event.preview.data))
                elif kind == "result":
                    download = _ResultDownload(event.result)
                elif kind == "chunk":
                    if download is None:
                        raise DaemonError("The daemon sent result data before the result (a daemon bug).")
                    download.add(event.chunk.data)
        except grpc.RpcError as error:
            raise from_rpc_error(error, self._where, started) from None
        if download is None:
            raise DaemonError("The daemon ended the job without sending the whole result (a daemon bug).")
        yield download.result()

    def cancel(self) -> None:
        """Stop the job: the daemon stops the engine within about a second; iteration raises CancelledError."""
        self._call.cancel()

    def __enter__(self) -> "TransferCall":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


class _ResultDownload:
    """The bytes that follow a TransferResult, filled chunk by chunk: the result image, then each
    found region's content mask and style mask (as the daemon announced them)."""

    def __init__(self, header: pb.TransferResult) -> None:
        self._header = header
        self._infos = [header.image]
        for region in header.regions:
            self._infos += [region.content_mask, region.style_mask]
        self._bytes = Reassembly([info.size_bytes for info in self._infos])

    def add(self, data: bytes) -> None:
        try:
            self._bytes.add(data)
        except ChunkOverflow:
            raise DaemonError("The daemon sent more result data than it announced (a daemon bug).") from None

    def result(self) -> Result:
        if not self._bytes.complete:
            raise DaemonError("The daemon ended the job without sending the whole result (a daemon bug).")
        image, *masks = [Image.from_wire(info, buffer) for info, buffer in zip(self._infos, self._bytes.buffers)]
        header = self._header
        pairs = iter(masks)
        regions = [Region(region.name, next(pairs), next(pairs)) for region in header.regions]
        fidelity = header.look_fidelity if header.HasField("look_fidelity") else None
        return Result(image, list(header.notes), header.seconds, header.device,
                      (header.working_width, header.working_height), regions, bytes(header.look_cube),
                      LookFidelity(fidelity.median, fidelity.p95) if fidelity else None)


def _split(addresses: str | Sequence[str]) -> list[str]:
    items = addresses.split(",") if isinstance(addresses, str) else list(addresses)
    items = [item.strip() for item in items if item.strip()]
    if not items:
        raise ValueError("Give at least one daemon address (host:port).")
    return items


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0].strip("[]")


def _target(addresses: list[str]) -> str:
    """A gRPC target for one address as given, or for several as one resolved ipv4:/ipv6: list."""
    if len(addresses) == 1:
        return addresses[0]
    resolved = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
        except (socket.gaierror, ValueError) as exc:
            raise DaemonUnavailableError(f"Cannot resolve the daemon address {address!r} ({exc}); use host:port.") from None
        family, _, _, _, sockaddr = min(infos, key=lambda info: info[0] != socket.AF_INET)
        resolved.append((family, f"{sockaddr[0]}:{port}" if family == socket.AF_INET else f"[{sockaddr[0]}]:{port}"))
    families = {family for family, _ in resolved}
    if len(families) > 1:
        raise PhotoStyleClientError("List either IPv4 or IPv6 daemon addresses, not both.")
    scheme = "ipv4" if families == {socket.AF_INET} else "ipv6"
    return f"{scheme}:" + ",".join(text for _, text in resolved)
