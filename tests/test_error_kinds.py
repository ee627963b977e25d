"""The one error vocabulary: every ErrorKind the daemon can name reaches the user as its own
client error, carrying the daemon's message, over a real gRPC call.

A stand-in service fails each call exactly as the daemon's handlers do (`jobs.abort` with a
`Failure`), so kinds that are hard to provoke for real (a daemon bug, missing weights, device
out of memory) travel the same wire path as the ones the fault tests provoke.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import grpc
import pytest

from photostyle.server.client import (AuthenticationError, CancelledError, Client, DaemonBugError, DaemonBusyError,
                                      DaemonDiedError, DaemonError, DaemonSetupError, DeviceOutOfMemoryError, Image,
                                      InvalidMasksError, InvalidRequestError, Options, PhotoStyleClientError,
                                      StalledError, TooLargeError)
from photostyle.server.client import errors
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import SERVICE, ErrorKind
from photostyle.server.daemon.scheduler import Failure
from photostyle.server.daemon.jobs import abort

#: kind → (the status the daemon sends it with, the client error the user gets)
EXPECTED: dict[ErrorKind, tuple[grpc.StatusCode, type[PhotoStyleClientError]]] = {
    ErrorKind.INPUT: (grpc.StatusCode.INVALID_ARGUMENT, InvalidRequestError),
    ErrorKind.OPTIONS: (grpc.StatusCode.INVALID_ARGUMENT, InvalidRequestError),
    ErrorKind.MASK: (grpc.StatusCode.INVALID_ARGUMENT, InvalidMasksError),
    ErrorKind.TOO_LARGE: (grpc.StatusCode.RESOURCE_EXHAUSTED, TooLargeError),
    ErrorKind.BUSY: (grpc.StatusCode.RESOURCE_EXHAUSTED, DaemonBusyError),
    ErrorKind.OUT_OF_MEMORY: (grpc.StatusCode.RESOURCE_EXHAUSTED, DeviceOutOfMemoryError),
    ErrorKind.CANCELLED: (grpc.StatusCode.CANCELLED, CancelledError),
    ErrorKind.SHUTTING_DOWN: (grpc.StatusCode.UNAVAILABLE, DaemonDiedError),
    ErrorKind.TOKEN: (grpc.StatusCode.UNAUTHENTICATED, AuthenticationError),
    ErrorKind.WEIGHTS: (grpc.StatusCode.FAILED_PRECONDITION, DaemonSetupError),
    ErrorKind.STALLED: (grpc.StatusCode.DEADLINE_EXCEEDED, StalledError),
    ErrorKind.INTERNAL: (grpc.StatusCode.INTERNAL, DaemonBugError),
}


def test_every_kind_is_mapped_and_tested() -> None:
    assert set(errors._BY_KIND) == set(ErrorKind) == set(EXPECTED)


@pytest.fixture(scope="module")
def failing_daemon() -> Iterator[str]:
    """A gRPC server whose Transfer fails with the kind and status named in the setup's preset."""

    def transfer(requests: Iterator[pb.TransferRequest], context: grpc.ServicerContext) -> Iterator[pb.TransferEvent]:
        setup = next(iter(requests)).setup
        kind = ErrorKind(setup.options.preset)
        abort(context, Failure(EXPECTED[kind][0], kind, f"Message for {kind.name}: what went wrong and the fix."))
        yield pb.TransferEvent()  # pragma: no cover - never reached

    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Transfer": grpc.stream_stream_rpc_method_handler(transfer, request_deserializer=pb.TransferRequest.FromString,
                                                          response_serializer=pb.TransferEvent.SerializeToString)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


@pytest.mark.parametrize("kind", list(ErrorKind), ids=lambda kind: kind.value)
def test_each_kind_reaches_the_user_as_its_own_error(failing_daemon: str, kind: ErrorKind) -> None:
    photo = Image(64, 64, 3, "uint8", bytes(64 * 64 * 3))
    with Client(failing_daemon) as client, pytest.raises(PhotoStyleClientError) as caught:
        client.transfer(photo, photo, options=Options(preset=kind.value)).result()
    assert type(caught.value) is EXPECTED[kind][1]
    assert str(caught.value) == f"Message for {kind.name}: what went wrong and the fix."


def test_a_kind_newer_than_the_client_falls_back_to_the_status_code() -> None:
    assert errors._kind("a-kind-from-the-future") is None and errors._kind(None) is None
    assert errors._kind("too-large") is ErrorKind.TOO_LARGE


def test_a_call_an_older_daemon_lacks_says_to_update_it(failing_daemon: str) -> None:
    """This test daemon serves only Transfer, as a daemon from before ApplyLook does."""
    photo = Image(4, 4, 3, "uint8", bytes(4 * 4 * 3))
    with Client(failing_daemon) as client, pytest.raises(DaemonError) as caught:
        client.apply_look(photo, b"LUT_3D_SIZE 2\n", ".cube")
    assert str(caught.value) == (f"The PhotoStyle daemon at {failing_daemon} does not offer this call: it is older "
                                 "than this client. Update PhotoStyle where the daemon runs and restart it.")
