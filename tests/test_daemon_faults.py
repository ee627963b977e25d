"""Bad input and faults, each against a real daemon on 127.0.0.1: every refusal has the right
status and a message naming the fix, and the daemon keeps serving afterwards."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from daemon_fixtures import (CONTENT, FAST, ROOT, SLOW, STYLE, client, daemon, daemon_process, image, photo,  # noqa: F401  (fixtures)
                             raw_transfer, running_daemon, wait_until)
from photostyle.server.client import (AuthenticationError, CancelledError, Client, DaemonBusyError, DaemonDiedError,
                                      DaemonUnavailableError, DeviceOutOfMemoryError, EncodedImage, Image, InvalidMasksError,
                                      InvalidRequestError, Options, Progress, Queued, Region, Result, TooLargeError)
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import ERROR_KIND_METADATA_KEY, SERVICE, TRANSFER_PATH
from photostyle.server.daemon import ConfigError, Daemon, DaemonConfig, Limits
from photostyle.server.daemon import engine as engine_module


def mask(height: int, width: int, rows: slice = slice(None)) -> Image:
    array = np.zeros((height, width), np.uint8)
    array[rows] = 255
    return image(array)


def nan_photo() -> np.ndarray:
    array = photo(80, 96, 3, np.float32)
    array[5, 5, 1] = np.nan
    return array


BAD_REQUESTS = {
    # name: (content, style, regions, options, error class, words the message must contain)
    "bytes do not match size": (Image(96, 80, 3, "uint8", bytes(1000)), STYLE, [], FAST, InvalidRequestError,
                                ["declares 1000 bytes", "23040"]),
    "zero width": (Image(0, 80, 3, "uint8", b""), STYLE, [], FAST, InvalidRequestError, ["must be positive"]),
    "negative height": (Image(96, -80, 3, "uint8", b""), STYLE, [], FAST, InvalidRequestError, ["must be positive"]),
    "five channels": (Image(96, 80, 5, "uint8", bytes(96 * 80 * 5)), STYLE, [], FAST, InvalidRequestError,
                      ["channel layout", "RGBA"]),
    "NaN in a float layer": (image(nan_photo()), STYLE, [], FAST, InvalidRequestError, ["NaN", "re-export"]),
    "style smaller than 64 px": (CONTENT, image(photo(50, 50)), [], FAST, InvalidRequestError, ["at least 64 px"]),
    "unknown preset": (CONTENT, STYLE, [], Options(preset="fancy"), InvalidRequestError, ["fancy", "Choose one of"]),
    "working size too small": (CONTENT, STYLE, [], Options(size=8), InvalidRequestError, ["Working size 8"]),
    "corrupt PNG": (EncodedImage(b"\x89PNG\r\n\x1a\n" + bytes(200)), STYLE, [], FAST, InvalidRequestError,
                    ["not a readable PNG"]),
    "mask of the wrong size": (CONTENT, STYLE, [Region("sky", mask(50, 50), mask(90, 70))], FAST, InvalidMasksError,
                               ["50×50", "size of the image"]),
    "mask not 8-bit grey": (CONTENT, STYLE, [Region("sky", image(photo()), mask(90, 70))], FAST, InvalidMasksError,
                            ["single-channel 8-bit"]),
    "masks with nothing in common": (CONTENT, STYLE, [Region("sky", mask(80, 96, slice(0, 0)), mask(90, 70))], FAST,
                                     InvalidMasksError, ["no region in common"]),
    "too many regions": (CONTENT, STYLE, [Region(f"r{i}", mask(80, 96), mask(90, 70)) for i in range(17)], FAST,
                         InvalidMasksError, ["17 regions", "at most 16"]),
    "above the pixel limit": (Image(20000, 10000, 3, "uint8", b""), STYLE, [], FAST, TooLargeError,
                              ["200.0 MP", "at most 64.0 MP", "--max-pixels"]),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_get_a_readable_refusal(client, case):
    content, style, regions, options, error, words = BAD_REQUESTS[case]
    with pytest.raises(error) as caught:
        client.transfer(content, style, regions, options).result()
    for word in words:
        assert word in str(caught.value)
    assert client.capabilities().jobs_in_line == 0  # still serving, nothing left behind


def _setup(**changes: object) -> pb.TransferRequest:
    content = CONTENT.info()
    for name, value in changes.items():
        setattr(content, name, value)
    return pb.TransferRequest(setup=pb.TransferSetup(options=FAST.to_wire(), content=content, style=STYLE.info()))


def _chunk(data: bytes) -> pb.TransferRequest:
    return pb.TransferRequest(chunk=pb.Chunk(data=data))


RAW_REQUESTS = {
    "truncated pixel data": ([_setup(), _chunk(bytes(CONTENT.data)[:5000])], grpc.StatusCode.INVALID_ARGUMENT,
                             ["truncated", "5000 of 23040"]),
    "extra pixel data": ([_setup(), _chunk(bytes(CONTENT.data) + bytes(STYLE.data) + b"x")],
                         grpc.StatusCode.INVALID_ARGUMENT, ["More data arrived than the setup declared"]),
    "unknown sample type": ([_setup(sample_type=7)], grpc.StatusCode.INVALID_ARGUMENT, ["sample type 7", "UINT16"]),
    "chunks before the setup": ([_chunk(b"abc")], grpc.StatusCode.INVALID_ARGUMENT, ["setup message"]),
    "region without a style mask": (
        [pb.TransferRequest(setup=pb.TransferSetup(content=CONTENT.info(), style=STYLE.info(), regions=[
            pb.Region(name="sky", content_mask=mask(80, 96).info())]))],
        grpc.StatusCode.INVALID_ARGUMENT, ["no style mask"]),
    "header above the pixel limit, no data": ([_setup(width=100_000, height=100_000, size_bytes=3 * 10**10)],
                                              grpc.StatusCode.RESOURCE_EXHAUSTED, ["at most 64.0 MP"]),
}


@pytest.mark.parametrize("case", RAW_REQUESTS, ids=list(RAW_REQUESTS))
def test_malformed_protocol_messages_are_refused(daemon, client, case):
    requests, code, words = RAW_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as caught:
        raw_transfer(daemon.address, requests)
    assert caught.value.code() == code
    for word in words:
        assert word in caught.value.details()
    assert client.capabilities().jobs_in_line == 0


def test_unknown_region_mode_is_refused_before_the_pixels_are_asked_for(daemon, client):
    setup = pb.TransferSetup(options=pb.TransferOptions(regions=7), content=CONTENT.info(), style=STYLE.info())
    events = []
    with grpc.insecure_channel(daemon.address) as channel, pytest.raises(grpc.RpcError) as caught:
        call = channel.stream_stream(TRANSFER_PATH, request_serializer=pb.TransferRequest.SerializeToString,
                                     response_deserializer=pb.TransferEvent.FromString)
        for event in call(iter([pb.TransferRequest(setup=setup)]), timeout=60):
            events.append(event)
    assert events == []  # not queued, no SendPixels
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Unknown region mode 7" in caught.value.details() and "REGION_MODE_AUTO" in caught.value.details()
    assert dict(caught.value.trailing_metadata())[ERROR_KIND_METADATA_KEY] == "options"
    assert client.capabilities().jobs_in_line == 0


def test_cancel_mid_job_stops_the_engine_and_the_line_moves_on(daemon):
    with Client(daemon.address) as first_client, Client(daemon.address) as second_client:
        slow = first_client.transfer(CONTENT, STYLE, options=SLOW)
        slow_events = iter(slow)
        next(e for e in slow_events if isinstance(e, Progress))
        waiting = second_client.transfer(CONTENT, STYLE, options=FAST)
        waiting_events = iter(waiting)
        assert next(waiting_events) == Queued(1)
        cancelled_at = time.monotonic()
        slow.cancel()
        with pytest.raises(CancelledError, match="cancelled"):
            list(slow_events)
        assert next(waiting_events) == Queued(0)
        assert time.monotonic() - cancelled_at < 1.5
        assert isinstance(list(waiting_events)[-1], Result)


CLIENT_THAT_DIES = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    from daemon_fixtures import CONTENT, SLOW, STYLE
    from photostyle.server.client import Client, Progress
    for event in Client(sys.argv[1]).transfer(CONTENT, STYLE, options=SLOW):
        if isinstance(event, Progress):
            print("running", flush=True)
            os.kill(os.getpid(), 9)
""")


def test_client_disconnect_cancels_its_job(daemon):
    dying = subprocess.Popen([sys.executable, "-c", CLIENT_THAT_DIES.format(tests=str(ROOT / "tests")), daemon.address],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert dying.stdout.readline().strip() == "running"
        dying.wait(30)
        with Client(daemon.address) as client:
            started = time.monotonic()
            result = client.transfer(CONTENT, STYLE, options=FAST).result()
        assert isinstance(result, Result) and time.monotonic() - started < 10  # not behind 2000 iterations
    finally:
        dying.kill()


def test_full_line_is_refused_with_busy(daemon):
    with Client(daemon.address) as client:
        calls = []
        try:
            for position in range(4):  # the module daemon holds 4; join the line one after the other
                calls.append(client.transfer(CONTENT, STYLE, options=SLOW))
                assert next(iter(calls[-1])) == Queued(position)
            with pytest.raises(DaemonBusyError, match="already holds 4 jobs"):
                client.transfer(CONTENT, STYLE, options=FAST).result()
        finally:
            for call in calls:
                call.cancel()
        assert wait_until(lambda: client.capabilities().jobs_in_line == 0, 5)


def test_a_client_that_stalls_before_its_pixels_is_dropped_and_the_line_moves_on():
    with running_daemon(limits=Limits(upload_idle_s=2)) as daemon, grpc.insecure_channel(daemon.address) as channel:
        never = threading.Event()

        def setup_then_silence():
            yield _setup()
            never.wait(60)  # the pixels never come (a hung or malicious client)

        transfer = channel.stream_stream(TRANSFER_PATH, request_serializer=pb.TransferRequest.SerializeToString,
                                          response_deserializer=pb.TransferEvent.FromString)
        with Client(daemon.address) as client:
            assert client.capabilities().limits.upload_idle_seconds == 2
        stalled = transfer(setup_then_silence())
        assert [next(stalled).WhichOneof("event") for _ in range(2)] == ["queued", "send_pixels"]
        try:
            with Client(daemon.address) as client:
                started = time.monotonic()
                assert isinstance(client.transfer(CONTENT, STYLE, options=FAST).result(), Result)
                assert 1.5 < time.monotonic() - started < 15  # waited out the stall, not forever
            with pytest.raises(grpc.RpcError) as caught:
                list(stalled)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "heard nothing from the client for 2 s" in caught.value.details()
        finally:
            never.set()


def test_eight_clients_all_get_results_in_order_with_bounded_memory():
    big = image(photo(1500, 2000, 4, np.uint16))  # 24 MB of pixels per job
    options = Options(size=64, iterations=2, smooth=False)
    with daemon_process("--device", "cpu") as daemon:  # host memory is what this measures
        with Client(daemon.address) as client:
            assert client.transfer(big, STYLE, options=options).result().image.width == 2000
        one_job_peak = daemon.peak_memory_mb()
        finished: list[int] = []
        errors: list[BaseException] = []
        admitted = [threading.Event() for _ in range(8)]

        def run(index: int) -> None:
            try:
                with Client(daemon.address) as own:
                    for event in own.transfer(big, STYLE, options=options):
                        if isinstance(event, Queued):
                            admitted[index].set()
                        elif isinstance(event, Result):
                            assert (event.image.width, event.image.height, event.image.channels) == (2000, 1500, 4)
                            finished.append(index)
            except BaseException as exc:  # reported below
                errors.append(exc)
                admitted[index].set()

        threads = []
        for index in range(8):
            threads.append(threading.Thread(target=run, args=(index,)))
            threads[-1].start()
            assert admitted[index].wait(30)  # join the line in this order
        for thread in threads:
            thread.join(120)
        assert not errors and finished == list(range(8))
        assert daemon.log().count(" done in ") == 9  # one log line per job
        # Beyond one job's peak: the next job's pixels and the previous result on its way out, and
        # what the running job's heap keeps for reuse meanwhile (server/heap.py: 54-84 MB in all);
        # the other jobs wait with headers only (all eight layers held would be 7 × 24 MB more).
        assert daemon.peak_memory_mb() - one_job_peak < 4 * 24


def test_daemon_killed_mid_job_gives_a_clear_unavailable():
    with daemon_process() as daemon, Client(daemon.address) as client:
        events = iter(client.transfer(CONTENT, STYLE, options=SLOW))
        next(e for e in events if isinstance(e, Progress))
        daemon.kill()
        killed_at = time.monotonic()
        with pytest.raises(DaemonDiedError) as caught:
            list(events)
        assert time.monotonic() - killed_at < 5
        assert "stopped while working on this job" in str(caught.value) and "photostyle serve" in str(caught.value)
        with pytest.raises(DaemonUnavailableError, match="photostyle serve"):
            client.capabilities(timeout=5)


def test_no_daemon_running_names_the_command_that_starts_one():
    with running_daemon() as daemon:
        address = daemon.address
    with Client(address) as client:
        started = time.monotonic()
        with pytest.raises(DaemonUnavailableError, match="Start one with `photostyle serve`"):
            client.transfer(CONTENT, STYLE, options=FAST).result()
        assert time.monotonic() - started < 5


BLOCKED = frozenset({signal.SIGTERM, signal.SIGINT})


@pytest.mark.parametrize("signum, blocked", [(signal.SIGTERM, frozenset()), (signal.SIGTERM, BLOCKED),
                                             (signal.SIGINT, BLOCKED)],
                         ids=["sigterm", "sigterm-inherited-blocked", "ctrl-c-inherited-blocked"])
def test_stop_signal_shuts_down_gracefully_and_exits_zero(signum, blocked):
    # CI runners and host applications may start the daemon with these signals blocked; it must still stop.
    with daemon_process("--shutdown-grace", "1", blocked=blocked) as daemon, Client(daemon.address) as client:
        running = iter(client.transfer(CONTENT, STYLE, options=SLOW))
        next(e for e in running if isinstance(e, Progress))
        waiting = iter(client.transfer(CONTENT, STYLE, options=FAST))
        assert next(waiting) == Queued(1)
        daemon.signal(signum)
        assert wait_until(lambda: f"{signal.Signals(signum).name} received." in daemon.log(), 10), daemon.log()
        with pytest.raises(DaemonDiedError, match="shutting down"):
            list(waiting)
        with pytest.raises(DaemonDiedError, match="shutting down"):
            list(running)
        assert daemon.wait(20) == 0
        assert "PhotoStyle daemon stopped." in daemon.log()


def test_out_of_memory_is_resource_exhausted_and_the_daemon_survives():
    # On the CPU: capping the address space is how the test runs out of memory (a CUDA context
    # maps far more address space than it uses).
    with daemon_process("--device", "cpu") as daemon, Client(daemon.address) as client:
        assert client.transfer(CONTENT, STYLE, options=FAST).result()
        # Cap the daemon's address space a little above what it uses now; a 700 px job needs far more.
        status = open(f"/proc/{daemon.process.pid}/status").read()
        used = int(status.split("VmSize:")[1].split()[0]) * 1024
        resource.prlimit(daemon.process.pid, resource.RLIMIT_AS, (used + (300 << 20), resource.RLIM_INFINITY))
        big = image(photo(700, 700))
        with pytest.raises(DeviceOutOfMemoryError) as caught:
            client.transfer(big, big, options=Options(preset="classic", size=700, iterations=2)).result()
        assert "ran out of memory" in str(caught.value) and "smaller working size" in str(caught.value)
        resource.prlimit(daemon.process.pid, resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert isinstance(client.transfer(CONTENT, STYLE, options=FAST).result(), Result)


@pytest.mark.parametrize("message, out_of_memory", [
    ("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes.", True),
    ("could not create a primitive", True),  # oneDNN, when its allocations fail
    ("could not create a primitive descriptor for a convolution forward propagation primitive", False),
    ("shape mismatch", False)])
def test_out_of_memory_is_told_from_other_engine_failures(message, out_of_memory):
    assert engine_module._out_of_memory(RuntimeError(message)) is out_of_memory


@pytest.fixture(scope="module")
def locked():
    with running_daemon(token="letmein") as daemon:
        yield daemon


def test_missing_token(locked):
    with Client(locked.address) as client, pytest.raises(AuthenticationError, match="requires a token"):
        client.capabilities()


def test_wrong_token(locked):
    with Client(locked.address, token="guess") as client, pytest.raises(AuthenticationError, match="refused the token"):
        client.transfer(CONTENT, STYLE, options=FAST).result()


def test_right_token_and_open_health_checks(locked):
    with grpc.insecure_channel(locked.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert health.status == health_pb2.HealthCheckResponse.SERVING  # load balancers need no token
    with Client(locked.address, token="letmein") as client:
        assert client.transfer(CONTENT, STYLE, options=FAST).result().image.width == 96


def test_listening_beyond_loopback_requires_a_token():
    with pytest.raises(ConfigError, match="token"):
        Daemon(DaemonConfig(host="0.0.0.0", port=0))


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan")])
def test_upload_idle_limit_must_be_a_positive_time(seconds):
    with pytest.raises(ConfigError, match="--upload-idle must be a positive number of seconds"):
        Daemon(DaemonConfig(port=0, limits=Limits(upload_idle_s=seconds)))
