"""The daemon against hostile or broken callers, and `serve` against settings that cannot work.

Silent calls cannot starve it (a setup deadline and a cap on open Transfer calls, with server
threads kept for health checks and capabilities), bytes that are not protobuf are the client's
error, and `serve` refuses out-of-range numbers and unusable TLS files before it loads the model.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from daemon_fixtures import CONTENT, FAST, STYLE, running_daemon, silent_calls, wait_until
from photostyle.server.client import AuthenticationError, Client, DaemonBusyError, Result
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CAPABILITIES_PATH, ERROR_KIND_METADATA_KEY, SERVICE, TRANSFER_PATH
from photostyle.server.daemon import ConfigError, Daemon, DaemonConfig, Limits
from photostyle.server.daemon.validation import EXTRA_CALLS

SETUP_TIMEOUT = 3.0
MAX_CALLS = 4
#: Bytes that are not a protobuf message: a length-delimited field 1 claiming 5 bytes, with 2.
NOT_PROTOBUF = b"\x0a\x05ab"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Daemon]:
    """A daemon with few call slots and a short setup deadline."""
    with running_daemon(limits=Limits(max_jobs=2, max_calls=MAX_CALLS, setup_timeout_s=SETUP_TIMEOUT)) as daemon:
        yield daemon


def helper_threads() -> list[str]:
    """The daemon's and client's own threads in this process, but the server pool's (which are
    started as needed and kept)."""
    return sorted(thread.name for thread in threading.enumerate()
                  if thread.name.startswith("photostyle-") and not thread.name.startswith("photostyle-rpc"))


def setup_readers() -> int:
    """Calls waiting for their setup message (each has a thread reading it)."""
    return sum(name.startswith("photostyle-setup-") for name in helper_threads())


def kind(call: grpc.Call) -> str:
    return dict(call.trailing_metadata() or ())[ERROR_KIND_METADATA_KEY]


def answers_quickly(address: str) -> float:
    """Seconds a health check plus a capabilities call take (each is given at most 2)."""
    started = time.monotonic()
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=2)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    with Client(address) as client:
        assert client.capabilities(timeout=2).limits.max_jobs == 2
    return time.monotonic() - started


def test_max_calls_defaults_to_the_line_plus_spare_slots():
    assert Limits(max_jobs=4).max_calls == 4 + EXTRA_CALLS
    assert Limits(max_jobs=4, max_calls=5).max_calls == 5


def test_a_dozen_silent_calls_cannot_starve_health_capabilities_or_jobs(guarded):
    baseline = helper_threads()
    opened = time.monotonic()
    with silent_calls(guarded.address, 12) as calls:
        # Past the cap: refused at once, not left holding a server thread.
        assert wait_until(lambda: sum(call.done() for call in calls) == 12 - MAX_CALLS, 3)
        refused = [call for call in calls if call.done()]
        for call in refused:
            assert call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and kind(call) == "busy"
            assert f"already has {MAX_CALLS} calls open" in call.details() and "--max-calls" in call.details()
            assert "retry" in call.details()
        # The held slots leave server threads for everyone else.
        assert setup_readers() == MAX_CALLS
        assert answers_quickly(guarded.address) < 2
        with Client(guarded.address) as client:
            started = time.monotonic()
            with pytest.raises(DaemonBusyError, match="--max-calls"):
                client.transfer(CONTENT, STYLE, options=FAST).result()
            assert time.monotonic() - started < 2
        # The silent ones are ended after the setup deadline, which frees their slots.
        held = [call for call in calls if call not in refused]
        for call in held:
            assert call.code() == grpc.StatusCode.DEADLINE_EXCEEDED and kind(call) == "upload-stalled"
            assert f"waited {SETUP_TIMEOUT:g} s for this transfer's setup message" in call.details()
        assert SETUP_TIMEOUT - 0.5 < time.monotonic() - opened < SETUP_TIMEOUT + 5
    with Client(guarded.address) as client:
        assert isinstance(client.transfer(CONTENT, STYLE, options=FAST).result(), Result)
    assert wait_until(lambda: helper_threads() == baseline, 5), (helper_threads(), baseline)


def test_a_client_that_leaves_before_its_setup_frees_its_slot_at_once(guarded):
    baseline = helper_threads()
    with silent_calls(guarded.address, MAX_CALLS) as calls:
        assert wait_until(lambda: setup_readers() == MAX_CALLS, 3)  # every call holds a slot
        for call in calls:
            call.cancel()
        with Client(guarded.address) as client:
            started = time.monotonic()
            assert isinstance(client.transfer(CONTENT, STYLE, options=FAST).result(), Result)
            assert time.monotonic() - started < SETUP_TIMEOUT  # did not wait for the deadline
    assert wait_until(lambda: helper_threads() == baseline, 5), (helper_threads(), baseline)


def malformed(address: str, method: str, request_bytes: list[bytes], metadata: tuple = ()) -> grpc.RpcError:
    """The error a call sending `request_bytes` as they are gets."""
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as caught:
        if method == TRANSFER_PATH:
            call = channel.stream_stream(method, request_serializer=bytes,
                                         response_deserializer=pb.TransferEvent.FromString)
            list(call(iter(request_bytes), timeout=30, metadata=metadata))
        else:
            call = channel.unary_unary(method, request_serializer=bytes,
                                       response_deserializer=pb.Capabilities.FromString)
            call(request_bytes[0], timeout=30, metadata=metadata)
    return caught.value


SETUP = pb.TransferRequest(setup=pb.TransferSetup(options=FAST.to_wire(), content=CONTENT.info(),
                                                  style=STYLE.info())).SerializeToString()
MALFORMED = {
    # name: (method, request bytes, the message type the refusal names)
    "transfer setup": (TRANSFER_PATH, [NOT_PROTOBUF], "photostyle.v1.TransferRequest"),
    "transfer chunk after a good setup": (TRANSFER_PATH, [SETUP, NOT_PROTOBUF], "photostyle.v1.TransferRequest"),
    "capabilities request": (CAPABILITIES_PATH, [NOT_PROTOBUF], "photostyle.v1.GetCapabilitiesRequest"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_bytes_that_are_not_protobuf_are_invalid_argument_not_internal(guarded, case):
    method, request_bytes, message_type = MALFORMED[case]
    error = malformed(guarded.address, method, request_bytes)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and kind(error) == "input"
    assert "malformed" in error.details() and f"not a valid {message_type}" in error.details()
    with Client(guarded.address) as client:
        assert client.capabilities().jobs_in_line == 0


def test_the_token_is_still_checked_before_the_bytes_are_parsed():
    with running_daemon(token="letmein") as daemon:
        no_token = malformed(daemon.address, TRANSFER_PATH, [NOT_PROTOBUF])
        assert no_token.code() == grpc.StatusCode.UNAUTHENTICATED and kind(no_token) == "token"
        with_token = malformed(daemon.address, CAPABILITIES_PATH, [NOT_PROTOBUF],
                               metadata=(("authorization", "Bearer letmein"),))
        assert with_token.code() == grpc.StatusCode.INVALID_ARGUMENT and "malformed" in with_token.details()
        with Client(daemon.address) as client, pytest.raises(AuthenticationError, match="requires a token"):
            client.capabilities()


@pytest.fixture(scope="module")
def garbage_pem(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "garbage.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    (path.parent / "empty").write_bytes(b"")  # beside it, as {folder}/empty and {folder}/binary
    (path.parent / "binary").write_bytes(b"\xff\xfe\x00token")
    return path


BAD_SETTINGS = {
    # name: (serve arguments, the words of the one-line error)
    "port above 65535": (["--port", "70000"], "--port must be 0 to 65535 (got 70000)"),
    "negative port": (["--port", "-1"], "--port must be 0 to 65535 (got -1)"),
    "negative max pixels": (["--max-pixels", "-1"], "--max-pixels must be 4096 to"),
    "max pixels below one smallest image": (["--max-pixels", "4095"], "the engine takes images from 64×64 px"),
    "max pixels above what the readers decode": (["--max-pixels", "200000000"], "--max-pixels must be 4096 to 178956970"),
    "no regions": (["--max-regions", "0"], "--max-regions must be 1 to"),
    "no jobs": (["--max-jobs", "0"], "--max-jobs must be 1 to"),
    "fewer calls than jobs": (["--max-jobs", "4", "--max-calls", "3"], "--max-calls must be 4 to"),
    "working size below the engine's": (["--max-working-size", "8"], "--max-working-size must be 32 to"),
    "upload idle of zero": (["--upload-idle", "0"], "--upload-idle must be a positive number of seconds (got 0.0)"),
    "negative setup timeout": (["--setup-timeout", "-2"], "--setup-timeout must be a positive number of seconds"),
    "setup timeout not a number": (["--setup-timeout", "nan"], "--setup-timeout must be a positive number of seconds"),
    "negative shutdown grace": (["--shutdown-grace", "-1"], "--shutdown-grace must be 0 or more seconds (got -1.0)"),
    "empty certificate": (["--tls-cert", "{folder}/empty", "--tls-key", "{garbage}"],
                          "--tls-cert is not a valid PEM certificate"),
    "token file not text": (["--token-file", "{folder}/binary"], "--token-file {folder}/binary is not a text file"),
    "empty token file": (["--token-file", "{folder}/empty"], "--token-file {folder}/empty is empty"),
    "garbage certificate": (["--tls-cert", "{garbage}", "--tls-key", "{garbage}"],
                            "--tls-cert is not a valid PEM certificate"),
    "missing certificate file": (["--tls-cert", "{garbage}.missing", "--tls-key", "{garbage}"],
                                 "--tls-cert {garbage}.missing: cannot read it (No such file or directory)"),
}


@pytest.fixture(scope="module")
def serve_runs(garbage_pem) -> dict[str, subprocess.CompletedProcess]:
    """`photostyle serve` with each case's arguments, a few at a time (each start takes seconds)."""

    def serve(case: str) -> subprocess.CompletedProcess:
        arguments = [argument.format(garbage=garbage_pem, folder=garbage_pem.parent)
                     for argument in BAD_SETTINGS[case][0]]
        # Weights that do not exist: had the model been loaded first, the error would be about them.
        return subprocess.run([sys.executable, "-m", "photostyle.server.cli", "serve", "--weights",
                               "/no/such/weights.pth", *arguments],
                              capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(BAD_SETTINGS, pool.map(serve, BAD_SETTINGS)))


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=list(BAD_SETTINGS))
def test_serve_refuses_settings_that_cannot_work_before_loading_the_model(case, serve_runs, garbage_pem):
    words = BAD_SETTINGS[case][1]
    run = serve_runs[case]
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert words.format(garbage=garbage_pem, folder=garbage_pem.parent) in run.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make test keys")
def test_a_key_that_does_not_match_the_certificate_is_named(tmp_path):
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", str(tmp_path / f"{name}.key"),
                        "-out", str(tmp_path / f"{name}.pem")],
                       check=True, capture_output=True)
    cert = (tmp_path / "a.pem").read_bytes()
    with pytest.raises(ConfigError, match="--tls-key is not the key of --tls-cert's certificate"):
        Daemon(DaemonConfig(port=0, tls_cert=cert, tls_key=(tmp_path / "b.key").read_bytes()))
    with pytest.raises(ConfigError, match="--tls-key is not a valid unencrypted PEM private key"):
        Daemon(DaemonConfig(port=0, tls_cert=cert, tls_key=b"garbage"))
    Daemon(DaemonConfig(port=0, tls_cert=cert, tls_key=(tmp_path / "a.key").read_bytes()))  # the right pair


def test_a_port_held_by_another_socket_is_reported_as_in_use():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        daemon = Daemon(DaemonConfig(port=holder.getsockname()[1]))
        with pytest.raises(ConfigError, match="the port is in use"):
            daemon.start()
