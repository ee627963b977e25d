"""Shared helpers for the daemon and client tests: tiny photos, and a real daemon on 127.0.0.1,
in this process or as a subprocess (on a port the daemon picks itself, so runs never collide)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import grpc
import numpy as np
import pytest

from photostyle.server.client import Client, Image, Options
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import TRANSFER_PATH
from photostyle.server.daemon import Daemon, DaemonConfig, Limits
from photostyle.server.wire.arrays import image_from_array

ROOT = Path(__file__).resolve().parent.parent

#: A transfer that takes a second or two on a CPU (the default preset, all five iterations with
#: the photorealism term, split over its coarse-to-fine stages).
FAST = Options(size=64, iterations=5)
#: A transfer that runs for many seconds, to be cancelled or interrupted.
SLOW = Options(preset="classic", size=64, iterations=4000)


def photo(height: int = 80, width: int = 96, channels: int = 3, dtype: type = np.uint8, flip: bool = False) -> np.ndarray:
    """A smooth colour gradient with some texture; `flip` gives a different-looking reference."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width, y / height, 0.5 + 0.4 * np.sin(x / 7.0) * np.cos(y / 5.0)], axis=2)
    if flip:
        rgb = rgb[::-1, :, ::-1]
    planes = [rgb.mean(axis=2, keepdims=True)] if channels in (1, 2) else [rgb]
    if channels in (2, 4):
        planes.append(np.full((height, width, 1), 0.75, np.float32))
    pixels = np.concatenate(planes, axis=2)
    if dtype == np.float32:
        return pixels.astype(np.float32)
    scale = 65535 if dtype == np.uint16 else 255
    return np.round(pixels * scale).astype(dtype)


def image(array: np.ndarray) -> Image:
    return image_from_array(array)


CONTENT = image(photo())
STYLE = image(photo(90, 70, flip=True))


@contextmanager
def running_daemon(**settings: object) -> Iterator[Daemon]:
    """A started in-process daemon on a free loopback port; stopped on exit."""
    daemon = Daemon(DaemonConfig(port=0, **settings))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop(grace=1.0)


@pytest.fixture(scope="module")
def daemon(device: str) -> Iterator[Daemon]:
    """A daemon on each device present (`device`, tests/conftest.py: the CPU always, CUDA when
    present), one per module and device; its tests' ids end in [cpu] / [cuda]."""
    with running_daemon(device=device, limits=Limits(max_jobs=4)) as started:
        yield started


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address) as connected:
        yield connected


class DaemonProcess:
    """`photostyle serve` as a subprocess; its log lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, blocked: frozenset[int] = frozenset()) -> None:
        """`blocked`: signals the daemon inherits blocked, as from a CI runner or a host application."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "photostyle.server.cli", "serve", "--port", "0", *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})},
            preexec_fn=(lambda: signal.pthread_sigmask(signal.SIG_BLOCK, blocked)) if blocked else None)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(90) or self.process.poll() is not None:
            self.kill()
            raise RuntimeError("the daemon did not start:\n" + "".join(self.lines))
        self.address = re.search(r"ready on (\S+)", "".join(self.lines)).group(1)

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            if "ready on" in line:
                self._ready.set()
        self._ready.set()  # exited

    def log(self) -> str:
        return "".join(self.lines)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def peak_memory_mb(self) -> float:
        """The daemon's peak resident memory so far (VmHWM)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@contextmanager
def daemon_process(*args: str, env: dict[str, str] | None = None,
                   blocked: frozenset[int] = frozenset()) -> Iterator[DaemonProcess]:
    process = DaemonProcess(*args, env=env, blocked=blocked)
    try:
        yield process
    finally:
        process.kill()


def raw_transfer(address: str, requests: list[pb.TransferRequest], timeout: float = 60) -> list[pb.TransferEvent]:
    """Send hand-made request messages (bypassing the client library's checks); grpc.RpcError on failure."""
    with grpc.insecure_channel(address) as channel:
        call = channel.stream_stream(TRANSFER_PATH, request_serializer=pb.TransferRequest.SerializeToString,
                                     response_deserializer=pb.TransferEvent.FromString)
        return list(call(iter(requests), timeout=timeout))


def wait_until(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@contextmanager
def open_streams(address: str, path: str, count: int, request: bytes | None = None, timeout: float = 30.0,
                 settle: float = 1.0) -> Iterator[list[grpc.Future]]:
    """`count` calls of the streaming method at `path` left open and silent: a bidirectional one
    sends nothing, a server-streaming one its `request` and then only listens (as a stuck or
    hostile client would); `settle` seconds are left for the daemon to take them all before the
    caller goes on, and they are cancelled on exit."""
    never = threading.Event()

    def nothing() -> Iterator[bytes]:
        never.wait(timeout)
        yield from ()

    with grpc.insecure_channel(address) as channel:
        if request is None:
            calls = [channel.stream_stream(path)(nothing(), timeout=timeout) for _ in range(count)]
        else:
            calls = [channel.unary_stream(path)(request, timeout=timeout) for _ in range(count)]
        time.sleep(settle)
        try:
            yield calls
        finally:
            never.set()
            for call in calls:
                call.cancel()


def silent_calls(address: str, count: int, timeout: float = 60.0, settle: float = 0.0):
    """`count` Transfer calls that are opened and then send nothing (hung or hostile clients)."""
    return open_streams(address, TRANSFER_PATH, count, timeout=timeout, settle=settle)
