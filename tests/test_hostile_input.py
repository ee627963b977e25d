"""Hostile input and faults, one table: each row provokes one bad input or fault through one front
(the `photostyle` command line, `photostyle serve`, the client library, or raw gRPC) and says
what the user must get back.

Every case asserts the exit status / gRPC status code and `photostyle-error` kind / client error
class, the words that name the problem and its fix, that no traceback reaches the user, that the
side effects which must not happen did not (a file overwritten, a job run before a refusal), and
that every daemon the case touched still answers a health check. Most cases are refused before
any work is done; the few that run a job use the `preview` preset without the smooth finish.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from daemon_fixtures import (CONTENT, FAST, SLOW, STYLE, image, open_streams, photo, raw_transfer, running_daemon, silent_calls,
                             wait_until)
from hostile_files import encode, jpeg_declaring, png_declaring, tiff_declaring, tiff_without_width
from photostyle.server.client import (AuthenticationError, CancelledError, Client, EncodedImage, Image,
                                      InvalidMasksError, InvalidRequestError, Options, PhotoStyleClientError, Region,
                                      TooLargeError)
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import CAPABILITIES_PATH, ERROR_KIND_METADATA_KEY, SERVICE, TRANSFER_PATH, ErrorKind
from photostyle.server.daemon import Limits

_SCRIPT = Path(sys.executable).with_name("photostyle")
#: The command line as users run it (the console script), or through the module where it is not installed.
PHOTOSTYLE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "photostyle.server.cli"]

SEED_RANGE = "0 to 9223372036854775807"
BOMB_SIZE = "20000×20000"
SMALL_WORKING_SIZE = 48  # the "small" daemon's --max-working-size
QUIET_CALLS = 2  # the "quiet" daemon's --max-calls
SETUP_TIMEOUT = 4.0  # the "quiet" daemon's --setup-timeout, seconds
UPLOAD_IDLE = 3.0  # the "impatient" daemon's --upload-idle, seconds
TOKEN = "letmein"
#: The longest file name Linux file systems take, in bytes.
NAME_MAX = 255

#: The daemons the cases use, started on first use and kept for the module (in this process: the
#: model is loaded once). Settings are built lazily so that one a daemon lacks fails only its cases.
DAEMONS: dict[str, Callable[[], dict]] = {
    "main": lambda: dict(limits=Limits(max_jobs=4)),
    "small": lambda: dict(limits=Limits(max_working_size=SMALL_WORKING_SIZE)),
    "quiet": lambda: dict(limits=Limits(max_jobs=1, max_calls=QUIET_CALLS, setup_timeout_s=SETUP_TIMEOUT)),
    "locked": lambda: dict(token=TOKEN),
    "impatient": lambda: dict(limits=Limits(upload_idle_s=UPLOAD_IDLE)),
}

#: The progress bar's "[####.....]": shown only once the engine runs.
PROGRESS_BAR = re.compile(r"\[[#.]{10,}\]")
OK = "succeeded"  # the status of a call or command that did not fail
LIMIT_HELD = "ran within the limit"


@dataclass
class Outcome:
    """What the user got back."""

    status: object  # exit status, grpc.StatusCode, client error class, OK or LIMIT_HELD
    message: str  # stderr and stdout, the gRPC details, or the error's text
    kind: str | None = None  # the photostyle-error trailing metadata of a raw gRPC call
    aftermath: list[str] = field(default_factory=list)  # side effects that must not have happened


class Lab:
    """The module's files and daemons; `str.format_map(lab)` fills `{content}`, `{dir}`, `{main}`..."""

    def __init__(self, folder: Path, stack: ExitStack) -> None:
        self.folder = folder
        self.files = _make_files(folder)
        self._stack = stack
        self._daemons: dict[str, str] = {}
        self.used: set[str] = set()
        self.dir = folder

    def start_case(self, name: str) -> None:
        self.dir = self.folder / re.sub(r"\W+", "-", name)
        self.dir.mkdir()
        self.used = {"main"}

    def address(self, daemon: str) -> str:
        if daemon not in self._daemons:
            self._daemons[daemon] = self._stack.enter_context(running_daemon(**DAEMONS[daemon]())).address
        self.used.add(daemon)
        return self._daemons[daemon]

    def __getitem__(self, key: str) -> str:
        if key == "dir":
            return str(self.dir)
        if key in DAEMONS:
            return self.address(key)
        return str(self.files[key])  # by stem: "{content}" is content.png


def mask(height: int, width: int, inside: slice = slice(0, 40)) -> np.ndarray:
    """An 8-bit grey H×W×1 region mask, white (inside) in rows `inside`."""
    array = np.zeros((height, width, 1), np.uint8)
    array[inside] = 255
    return array


def _make_files(folder: Path) -> dict[str, Path]:
    """The inputs the cases name, by stem: good photos and masks, and every kind of broken or hostile file."""
    nan_mask = mask(80, 96).astype(np.float32) / 255
    nan_mask[5, 5] = np.nan
    content = photo()
    images = {
        "content.png": content, "style.png": photo(90, 70, flip=True), "rgba.png": photo(80, 96, 4),
        "tiny.png": photo(1, 1), "mask-content.png": mask(80, 96), "mask-style.png": mask(90, 70, slice(0, 30)),
        "mask-50.png": mask(50, 50, slice(0, 25)),
        "seg-content.png": np.full((80, 96, 3), (0x12, 0xAB, 0x34), np.uint8),
        "seg-style.png": np.full((90, 70, 3), (0x12, 0xAB, 0x34), np.uint8),
    }
    files = {
        **{name: encode(pixels, "PNG") for name, pixels in images.items()},
        "bomb16.png": png_declaring(20000, 20000, 16), "bomb8.png": png_declaring(20000, 20000, 8),
        "tiff-bomb16.tif": tiff_declaring(20000, 20000), "truncated.png": encode(content, "PNG")[:600],
        "empty.png": b"", "text.png": b"Not an image, just text with a .png name.\n",
        "corrupt.jpg": encode(content, "JPEG")[:300] + bytes(range(256)) * 8, "a-file": b"not a folder\n",
        "cert.pem": b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
        "key.pem": b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
        "token-spaces.txt": b"let me\tin\n", "token-accents.txt": "l\u00e9tmein\n".encode(),
        "nan-mask.tif": encode(nan_mask, "TIFF"), "broken-tag.tif": tiff_without_width(content),
    }
    paths = {"missing-weights": folder / "no-such-folder" / "vgg19.pth"}
    for name, data in files.items():
        paths[Path(name).stem] = folder / name
        (folder / name).write_bytes(data)
    return paths


Provoke = Callable[[Lab], Outcome]


# --- The command line -------------------------------------------------------------------------

#: A transfer that takes well under a second once started (no neural optimisation, no finish).
TRANSFER = ("transfer", "{content}", "{style}", "-o", "{dir}/out.png", "--preset", "preview", "--no-smooth")


def cli(*args: str, quick: bool = False, keep: Sequence[str] = (), made: Sequence[str] = (),
        links: dict[str, str] | None = None, file_limit: int | None = None,
        interrupt_after: float | None = None) -> Provoke:
    """`photostyle ARGS` in a subprocess.

    quick: refused before the engine runs (no progress shown). keep: files put in the case's folder
    first (a previous result, a photo: copies of the content image) that must come out
    byte-identical, with nothing left beside them. links: more names in the folder for kept files,
    "symlink:NAME" or "hardlink:NAME" by link name. made: files the command must write. file_limit:
    the largest file the command may write (RLIMIT_FSIZE: a full disk). interrupt_after: Ctrl-C
    after this many seconds.
    """
    def provoke(lab: Lab) -> Outcome:
        previous = lab.files["content"].read_bytes()
        for name in keep:
            (lab.dir / name).write_bytes(previous)
        for name, target in (links or {}).items():
            kind, _, kept = target.partition(":")
            (os.symlink if kind == "symlink" else os.link)(lab.dir / kept, lab.dir / name)
        command = [*PHOTOSTYLE, *(arg.format_map(lab) for arg in args)]
        process = subprocess.Popen(with_file_limit(file_limit, command) if file_limit else command,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if interrupt_after is not None:
            time.sleep(interrupt_after)
            process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
        outcome = Outcome(process.returncode, stderr + stdout)
        if quick and PROGRESS_BAR.search(stderr):
            outcome.aftermath.append("the job ran before the refusal (its progress was shown)")
        for name in keep:
            if (lab.dir / name).read_bytes() != previous:
                outcome.aftermath.append(f"the existing {name} was changed")
        present = sorted(p.name for p in lab.dir.iterdir())
        if keep and present != sorted([*keep, *(links or {})]):
            outcome.aftermath.append(f"left behind: {present}")
        outcome.aftermath += [f"{name} was not written" for name in made if not (lab.dir / name).is_file()]
        return outcome
    return provoke


def with_file_limit(limit: int, command: list[str]) -> list[str]:
    """`command` run with RLIMIT_FSIZE at `limit` bytes (a full disk), set by a small Python that then
    execs it: not by a preexec_fn, which forks this process while gRPC's threads run in it."""
    setup = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); "
             "os.execv(sys.argv[2], sys.argv[2:])")
    executable = command[0] if os.path.isabs(command[0]) else shutil.which(command[0])
    return [sys.executable, "-c", setup, str(limit), executable, *command[1:]]


def regions(*names: str, mask: str = "{mask-content}") -> list[str]:
    return [arg for name in names for arg in ("--region", name, mask, "{mask-style}")]


# --- `photostyle serve` -----------------------------------------------------------------------

def serve(*args: str, load_model: bool = False) -> Provoke:
    """`photostyle serve ARGS`, which must refuse to start; unless `load_model`, its weights file
    does not exist, so a setting checked only after the model loads fails on the weights instead."""
    def provoke(lab: Lab) -> Outcome:
        argv = [*PHOTOSTYLE, "serve", *([] if "--port" in args else ["--port", "0"]),
                *([] if load_model else ["--weights", "{missing-weights}"]), *args]
        process = subprocess.Popen([arg.format_map(lab) for arg in argv], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        started = threading.Event()

        def read() -> None:
            for line in process.stderr:
                lines.append(line)
                if "ready on" in line:
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while process.poll() is None and not started.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.kill()
        process.wait(10)
        reader.join(10)
        return Outcome("started" if started.is_set() else process.returncode, "".join(lines))
    return provoke


# --- The client library -----------------------------------------------------------------------

def client(call: Callable[[Client], object], daemon: str = "main") -> Provoke:
    """`call(client)` on a client of `daemon`; its PhotoStyleClientError is the outcome."""
    def provoke(lab: Lab) -> Outcome:
        with Client(lab.address(daemon)) as connected:
            try:
                result = call(connected)
            except PhotoStyleClientError as error:
                return Outcome(type(error), str(error))
        return Outcome(OK, repr(result)[:300])
    return provoke


def transfer(content: Image | EncodedImage = CONTENT, style: Image | EncodedImage = STYLE, masks: Sequence[Region] = (),
             options: Options = FAST) -> Callable[[Client], object]:
    """A client call running one transfer to its result."""
    return lambda connected: connected.transfer(content, style, masks, options).result()


def working_limit_held(content: Image | EncodedImage = CONTENT, style: Image | EncodedImage = STYLE,
                       options: Options = Options(preset="preview", smooth=False)) -> Provoke:
    """A job on the "small" daemon, whose --max-working-size is below every preset's: the limit
    holds whatever the options and the images' shapes, by a refusal naming it or by a run within it."""
    def provoke(lab: Lab) -> Outcome:
        with Client(lab.address("small")) as connected:
            try:
                result = connected.transfer(content, style, options=options).result()
            except PhotoStyleClientError as error:
                return Outcome(type(error), str(error))
        width, height = result.working_size
        held = max(width, height) <= SMALL_WORKING_SIZE
        return Outcome(LIMIT_HELD if held else OK, f"worked at {width}×{height} on a daemon limited to "
                       f"{SMALL_WORKING_SIZE} px; notes: {result.notes}")
    return provoke


#: A 40:1 panorama and its reference turned upright: at a long side of 48 px their short sides
#: would be a pixel, far below the 32 px VGG19 needs.
WIDE, TALL = photo(100, 4000), photo(4000, 100, flip=True)
AT_THE_LIMIT = Options(preset="preview", size=SMALL_WORKING_SIZE, smooth=False)


def client_with_token(token: str) -> Provoke:
    """A client of the "locked" daemon given `token` as a user might paste it, asking for the capabilities."""
    def provoke(lab: Lab) -> Outcome:
        try:
            with Client(lab.address("locked"), token=token) as connected:
                reply = connected.capabilities(timeout=10)
        except PhotoStyleClientError as error:
            return Outcome(type(error), str(error))
        return Outcome(OK, f"capabilities of {reply.instance}")
    return provoke


def plugin_install_on_a_full_disk(lab: Lab) -> Outcome:
    """A reinstall of the GIMP plug-in that runs out of space part-way (RLIMIT_FSIZE below the
    plug-in's largest file): the earlier install stays exactly as it was, nothing half-written is
    left beside it, and the error is one line."""
    gimp = lab.dir / "gimp"
    command = [*PHOTOSTYLE, "plugins", "install", "gimp", "--gimp-dir", str(gimp), "--no-vendor",
               "--gimp-python", sys.executable]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    before = _tree(gimp)
    process = subprocess.run(with_file_limit(16 << 10, command), capture_output=True, text=True, timeout=120)
    outcome = Outcome(process.returncode, process.stderr + process.stdout)
    after = _tree(gimp)
    if after != before:
        changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
        outcome.aftermath.append(f"the earlier install was changed: {changed}")
    if len(process.stderr.strip().splitlines()) != 1:
        outcome.aftermath.append(f"not one line: {process.stderr!r}")
    return outcome


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative name → bytes), hidden ones included."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def cancel_at_once(lab: Lab) -> Outcome:
    """A client that cancels right after starting; its job must leave the line."""
    with Client(lab.address("main")) as connected:
        call = connected.transfer(CONTENT, STYLE, options=SLOW)
        call.cancel()
        try:
            list(call)
            outcome = Outcome(OK, "the cancelled call ended with a result")
        except PhotoStyleClientError as error:
            outcome = Outcome(type(error), str(error))
        if not wait_until(lambda: connected.capabilities().jobs_in_line == 0, 10):
            outcome.aftermath.append("the cancelled job stayed in the line")
    return outcome


# --- Raw gRPC ---------------------------------------------------------------------------------

def setup(content: pb.ImageInfo | None = None, masks: Sequence[pb.Region] = (),
          **options: object) -> pb.TransferRequest:
    """A setup message for CONTENT (or `content`) and STYLE, the regions `masks`, and FAST options
    changed by `options`."""
    wire = FAST.to_wire()
    for name, value in options.items():
        setattr(wire, name, value)
    return pb.TransferRequest(setup=pb.TransferSetup(options=wire, content=content or CONTENT.info(),
                                                     style=STYLE.info(), regions=masks))


def chunk(data: bytes) -> pb.TransferRequest:
    return pb.TransferRequest(chunk=pb.Chunk(data=data))


PIXELS = bytes(CONTENT.data) + bytes(STYLE.data)


def rpc_outcome(error: grpc.RpcError) -> Outcome:
    kind = dict(error.trailing_metadata() or ()).get(ERROR_KIND_METADATA_KEY)
    return Outcome(error.code(), error.details() or "", kind)


def raw(*messages: pb.TransferRequest | bytes, daemon: str = "main", metadata: tuple = (),
        method: str = TRANSFER_PATH) -> Provoke:
    """The messages (protobuf, or bytes sent as they are) on one Transfer or GetCapabilities call."""
    def provoke(lab: Lab) -> Outcome:
        wire = [m if isinstance(m, bytes) else m.SerializeToString() for m in messages]
        with grpc.insecure_channel(lab.address(daemon)) as channel:
            try:
                if method == CAPABILITIES_PATH:
                    reply = channel.unary_unary(method)(wire[0], timeout=30, metadata=metadata)
                    return Outcome(OK, f"{len(reply)}-byte reply")
                events = list(channel.stream_stream(method)(iter(wire), timeout=30, metadata=metadata))
            except grpc.RpcError as error:
                return rpc_outcome(error)
        return Outcome(OK, f"{len(events)} events")
    return provoke


def serving(address: str, timeout: float = 5) -> str | None:
    """None if the daemon at `address` answers a health check with SERVING in time, else what went wrong."""
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE),
                                                               timeout=timeout)
    except grpc.RpcError as error:
        return f"health check failed: {error.code().name} {error.details()}"
    return None if reply.status == health_pb2.HealthCheckResponse.SERVING else f"health status {reply.status}"


def still_answering(address: str) -> list[str]:
    """What is wrong with the daemon's health check and capabilities, which must answer even when
    Transfer calls hold every slot; empty when both answer in time."""
    problems = [problem for problem in [serving(address)] if problem]
    with Client(address) as connected:
        try:
            connected.capabilities(timeout=5)
        except PhotoStyleClientError as error:
            problems.append(f"capabilities failed: {error}")
    return problems


def silent_call_past_the_setup_deadline(lab: Lab) -> Outcome:
    """A call that never sends its setup is ended after the setup timeout; health checks answer meanwhile."""
    address = lab.address("quiet")
    with silent_calls(address, 1, timeout=30, settle=1.0) as (call,):
        started = time.monotonic()
        problem = serving(address)  # while the call waits
        try:
            list(call)
            outcome = Outcome(OK, "the silent call ended without an error")
        except grpc.RpcError as error:
            outcome = rpc_outcome(error)
        waited = time.monotonic() - started + 1.0
    if problem:
        outcome.aftermath.append(f"while a call waited for its setup: {problem}")
    if not SETUP_TIMEOUT - 1 < waited < SETUP_TIMEOUT + 10:
        outcome.aftermath.append(f"ended after {waited:.1f} s, not after the {SETUP_TIMEOUT:g} s setup timeout")
    return outcome


def call_beyond_the_cap(lab: Lab) -> Outcome:
    """With every call slot taken by silent clients, a new job is refused at once, and health
    checks and capabilities still answer."""
    address = lab.address("quiet")
    with silent_calls(address, QUIET_CALLS, timeout=30, settle=1.0):
        outcome = one_call_too_many(address)
        outcome.aftermath += still_answering(address)
    return outcome


def one_call_too_many(address: str) -> Outcome:
    """A transfer sent while every call slot is held: it must be refused, and at once."""
    started = time.monotonic()
    try:
        raw_transfer(address, [setup(), chunk(PIXELS)], timeout=20)
        outcome = Outcome(OK, "a call beyond --max-calls ran")
    except grpc.RpcError as error:
        outcome = rpc_outcome(error)
    if time.monotonic() - started > 3:
        outcome.aftermath.append(f"refused only after {time.monotonic() - started:.1f} s")
    return outcome


def a_dozen_silent_calls(lab: Lab) -> Outcome:
    """A dozen calls that never send their setup, on a daemon with default call limits: health
    checks and capabilities answer, and a new job runs or is refused as busy at once."""
    address = lab.address("main")
    with silent_calls(address, 12, timeout=30, settle=1.0):
        return serving_beside(address)


def serving_beside(address: str) -> Outcome:
    """OK when health checks and capabilities answer, and a new job runs or is refused as busy at once."""
    problems = still_answering(address)
    if problems:
        return Outcome("starved", "; ".join(problems))
    started = time.monotonic()
    try:
        raw_transfer(address, [setup(), chunk(PIXELS)], timeout=20)
        return Outcome(OK, "a new job ran")
    except grpc.RpcError as error:
        refused = rpc_outcome(error)
    if (refused.status == grpc.StatusCode.RESOURCE_EXHAUSTED and refused.kind == ErrorKind.BUSY.value
            and time.monotonic() - started < 3):
        return Outcome(OK, f"a new job was refused at once: {refused.message}")
    return refused


REFLECTION_PATH = f"/{reflection_pb2.DESCRIPTOR.services_by_name['ServerReflection'].full_name}/ServerReflectionInfo"
WATCH_PATH = f"/{health.SERVICE_NAME}/Watch"
WATCH_REQUEST = health_pb2.HealthCheckRequest(service=SERVICE).SerializeToString()


def streams_left_open(path: str, count: int, request: bytes | None = None) -> Provoke:
    """`count` silent streams on the "main" daemon (--max-jobs 4): it still serves beside them."""
    def provoke(lab: Lab) -> Outcome:
        address = lab.address("main")
        with open_streams(address, path, count, request):
            return serving_beside(address)
    return provoke


def reflection_beyond_the_cap(lab: Lab) -> Outcome:
    """Silent reflection streams hold call slots as transfers do: with --max-calls of them open, a
    new transfer is refused at once."""
    address = lab.address("quiet")
    with open_streams(address, REFLECTION_PATH, QUIET_CALLS):
        return one_call_too_many(address)


def silent_reflection_past_the_setup_deadline(lab: Lab) -> Outcome:
    """A reflection stream that asks nothing is ended after the setup timeout, freeing its slot."""
    address = lab.address("quiet")
    with open_streams(address, REFLECTION_PATH, 1) as (call,):
        started = time.monotonic() - 1.0
        try:
            list(call)
            outcome = Outcome(OK, "the silent stream ended without an error")
        except grpc.RpcError as error:
            outcome = rpc_outcome(error)
        waited = time.monotonic() - started
    if not SETUP_TIMEOUT - 1 < waited < SETUP_TIMEOUT + 10:
        outcome.aftermath.append(f"ended after {waited:.1f} s, not after the {SETUP_TIMEOUT:g} s setup timeout")
    return outcome


def every_byte_without_half_close(lab: Lab) -> Outcome:
    """A client that sends its setup and every declared byte but keeps its side of the stream open
    (as some gRPC clients do until they have the result): the job runs and its result comes back,
    however long --upload-idle ("impatient": 3 s) the client then stays quiet."""
    address = lab.address("impatient")
    result_read = threading.Event()

    def requests() -> Iterator[bytes]:
        yield setup().SerializeToString()
        yield chunk(PIXELS).SerializeToString()
        result_read.wait(60)

    with grpc.insecure_channel(address) as channel:
        try:
            events = [pb.TransferEvent.FromString(data)
                      for data in channel.stream_stream(TRANSFER_PATH)(requests(), timeout=60)]
        except grpc.RpcError as error:
            return rpc_outcome(error)
        finally:
            result_read.set()
    results = [event for event in events if event.WhichOneof("event") == "result"]
    return Outcome(OK if results else "no result", f"{len(events)} events, {len(results)} result")


# --- The table --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    front: str  # "cli", "serve", "client" or "grpc"
    provoke: Provoke
    status: object  # expected Outcome.status; a tuple: any of these
    kind: ErrorKind | None = None  # expected photostyle-error metadata (raw gRPC)
    words: tuple[str | tuple[str, ...], ...] = ()  # the message contains each (a tuple: one of them)
    absent: tuple[str, ...] = ()  # and none of these


TOO_LARGE_WORDS = (BOMB_SIZE, "MP", "at most")
SERVER = ("--server", "{main}")

CASES = [
    # The command line, in this process's shoes: files, numbers, outputs, and --server.
    Case("16-bit PNG bomb", "cli", cli("transfer", "{bomb16}", "{style}", "-o", "{dir}/out.png", quick=True),
         2, words=TOO_LARGE_WORDS),
    Case("8-bit PNG bomb", "cli", cli("transfer", "{bomb8}", "{style}", "-o", "{dir}/out.png", quick=True),
         2, words=TOO_LARGE_WORDS),
    Case("16-bit TIFF bomb", "cli", cli("transfer", "{style}", "{tiff-bomb16}", "-o", "{dir}/out.png",
                                        quick=True), 2, words=TOO_LARGE_WORDS),
    Case("seed 2**63", "cli", cli(*TRANSFER, "--seed", str(2**63), quick=True), 2, words=("seed", SEED_RANGE)),
    Case("seed 2**64", "cli", cli(*TRANSFER, "--seed", str(2**64), quick=True), 2, words=("seed", SEED_RANGE)),
    Case("seed -1", "cli", cli(*TRANSFER, "--seed", "-1", quick=True), 2, words=("seed", SEED_RANGE)),
    Case("seed 2**64 with --server", "cli", cli(*TRANSFER, "--seed", str(2**64), *SERVER, quick=True), 2,
         words=("seed", SEED_RANGE)),
    Case("output is a folder", "cli", cli(*TRANSFER[:4], "{dir}", *TRANSFER[5:], quick=True), 2,
         words=("is a folder",)),
    Case("output folder missing", "cli", cli(*TRANSFER[:4], "{dir}/nowhere/out.png", *TRANSFER[5:], quick=True), 2,
         words=("nowhere", "does not exist")),
    Case("unknown extension over an existing file", "cli",
         cli(*TRANSFER[:4], "{dir}/result.xyz", *TRANSFER[5:], quick=True, keep=["result.xyz"]), 2,
         words=(".xyz", ".png", ".jpg", ".tif")),
    Case("write fails over an existing file", "cli",
         cli(*TRANSFER, keep=["out.png"], file_limit=1024), 2, words=("cannot write", "out.png")),
    Case("regions folder is a file", "cli",
         cli(*TRANSFER, "--regions", "auto", "--save-regions", "{a-file}", quick=True), 2,
         words=("a-file", "not a folder")),
    Case("RGBA written as JPEG", "cli", cli("transfer", "{rgba}", "{style}", "-o", "{dir}/out.jpg", *TRANSFER[5:],
                                            made=["out.jpg"]),
         0, words=("note:", "JPEG has no alpha", "transparency was dropped", ".png")),
    Case("segmentation in no known colour", "cli",
         cli(*TRANSFER, "--content-mask", "{seg-content}", "--style-mask", "{seg-style}", quick=True), 2,
         words=("#12ab34", "blue", "white")),
    Case("duplicate region names", "cli", cli(*TRANSFER, *regions("sky", "sky"), quick=True), 2,
         words=("sky", "unique")),
    Case("duplicate region names with --server", "cli", cli(*TRANSFER, *regions("sky", "sky"), *SERVER), 2,
         words=("sky", "unique")),
    Case("NaN in a float mask", "cli", cli(*TRANSFER, *regions("sky", mask="{nan-mask}"), quick=True), 2,
         words=("NaN", "sky")),
    Case("NaN in a float mask with --server", "cli",
         cli(*TRANSFER, *regions("sky", mask="{nan-mask}"), *SERVER, quick=True), 2, words=("NaN", "sky")),
    Case("mask of the wrong size", "cli", cli(*TRANSFER, *regions("sky", mask="{mask-50}"), quick=True), 2,
         words=("sky", "50×50", "96×80")),
    Case("truncated PNG", "cli", cli("transfer", "{truncated}", "{style}", "-o", "{dir}/out.png"), 2,
         words=("cannot read", "truncated.png")),
    Case("zero-byte file", "cli", cli("transfer", "{empty}", "{style}", "-o", "{dir}/out.png"), 2,
         words=("empty.png",)),
    Case("text file named .png", "cli", cli("transfer", "{content}", "{text}", "-o", "{dir}/out.png"), 2,
         words=("cannot read", "text.png")),
    Case("corrupt JPEG", "cli", cli("transfer", "{corrupt}", "{style}", "-o", "{dir}/out.png"), 2,
         words=("cannot read", "corrupt.jpg")),
    Case("TIFF with a broken tag", "cli", cli("transfer", "{broken-tag}", "{style}", "-o", "{dir}/out.png"), 2,
         words=("cannot read", "broken-tag.tif")),
    Case("1×1 image", "cli", cli("transfer", "{tiny}", "{style}", "-o", "{dir}/out.png", quick=True), 2,
         words=("1×1", "at least 64 px")),
    Case("unknown preset", "cli", cli(*TRANSFER[:5], "--preset", "fancy"), 2, words=("fancy", "preview")),
    Case("unknown device", "cli", cli(*TRANSFER, "--device", "tpu", quick=True), 2, words=("tpu", "cpu")),
    Case("size 0", "cli", cli(*TRANSFER, "--size", "0", quick=True), 2, words=("size", "32")),
    Case("size -5", "cli", cli(*TRANSFER, "--size", "-5", quick=True), 2, words=("size", "-5", "32")),
    Case("size 10**9 with --server", "cli", cli(*TRANSFER, "--size", str(10**9), *SERVER, quick=True), 2,
         words=(str(10**9), "2048")),
    Case("size 10**10 with --server", "cli", cli(*TRANSFER, "--size", str(10**10), *SERVER, quick=True), 2,
         words=("size", str(10**10))),
    Case("iterations -1", "cli", cli(*TRANSFER[:6], "default", "--iterations", "-1", quick=True), 2,
         words=("iteration",)),
    Case("no daemon at --server", "cli", cli(*TRANSFER, "--server", "127.0.0.1:1"), 2,
         words=("No PhotoStyle daemon", "127.0.0.1:1", "photostyle serve")),
    Case("wrong token with --server", "cli", cli(*TRANSFER, "--server", "{locked}", "--token", "guess"), 2,
         words=("refused the token",)),
    Case("17 regions with --server", "cli", cli(*TRANSFER, *regions(*(f"r{i}" for i in range(17))), *SERVER), 2,
         words=("17 regions", "at most 16")),
    Case("Ctrl-C while starting", "cli", cli(*TRANSFER, interrupt_after=0.5), 130, words=("cancelled",)),
    Case("output is the photo", "cli",
         cli("transfer", "{dir}/photo.png", "{style}", "-o", "{dir}/photo.png", *TRANSFER[5:], quick=True,
             keep=["photo.png"]), 2, words=("photo.png", "original", "-o")),
    Case("output is a symbolic link to the photo", "cli",
         cli("transfer", "{dir}/photo.png", "{style}", "-o", "{dir}/link.png", *TRANSFER[5:], quick=True,
             keep=["photo.png"], links={"link.png": "symlink:photo.png"}), 2, words=("link.png", "photo", "-o")),
    Case("output is a hard link to the reference", "cli",
         cli("transfer", "{content}", "{dir}/reference.png", "-o", "{dir}/same.png", *TRANSFER[5:], quick=True,
             keep=["reference.png"], links={"same.png": "hardlink:reference.png"}), 2,
         words=("same.png", "reference", "-o")),
    Case("output is a region mask", "cli",
         cli(*TRANSFER[:4], "{dir}/sky.png", *TRANSFER[5:], "--region", "sky", "{dir}/sky.png", "{mask-style}",
             quick=True, keep=["sky.png"]), 2, words=("sky.png", "mask", "-o")),
    Case("output is the photo with --server", "cli",
         cli("transfer", "{dir}/photo.png", "{style}", "-o", "{dir}/photo.png", *TRANSFER[5:], *SERVER,
             quick=True, keep=["photo.png"]), 2, words=("photo.png", "original", "-o")),
    Case("saved regions over the photo", "cli",
         cli("transfer", "{dir}/content-auto-1.png", "{style}", "-o", "{dir}/out.png", *TRANSFER[5:], "--regions",
             "auto", "--save-regions", "{dir}", quick=True, keep=["content-auto-1.png"]), 2,
         words=("content-auto-1.png", "--save-regions")),
    Case("output name of 250 characters", "cli",
         cli(*TRANSFER[:4], "{dir}/" + "r" * 246 + ".png", *TRANSFER[5:], made=["r" * 246 + ".png"]), 0,
         words=("wrote",)),
    Case("output name over 255 bytes", "cli",
         cli(*TRANSFER[:4], "{dir}/" + "r" * 300 + ".png", *TRANSFER[5:], quick=True), 2,
         words=("304 bytes", str(NAME_MAX), "shorter")),
    Case("output name over 255 bytes in UTF-8", "cli",
         cli(*TRANSFER[:4], "{dir}/" + "é" * 128 + ".png", *TRANSFER[5:], quick=True), 2,
         words=("260 bytes", str(NAME_MAX), "shorter")),
    Case("photo name over 255 bytes", "cli",
         cli("transfer", "{dir}/" + "p" * 300 + ".png", "{style}", "-o", "{dir}/out.png", *TRANSFER[5:], quick=True),
         2, words=("304 bytes", str(NAME_MAX), "check the path")),
    Case("regions folder name over 255 bytes", "cli",
         cli(*TRANSFER, "--regions", "auto", "--save-regions", "{dir}/" + "d" * 300, quick=True), 2,
         words=("300 bytes", str(NAME_MAX), "shorter")),
    Case("token with a trailing newline with --server", "cli",
         cli(*TRANSFER, "--server", "{locked}", "--token", TOKEN + "\n", made=["out.png"]), 0, words=("wrote",)),
    Case("token with a space inside with --server", "cli",
         cli(*TRANSFER, "--server", "{locked}", "--token", "let me in", quick=True), 2,
         words=("token", "printable ASCII", "spaces")),
    Case("plug-in install onto a full disk", "cli", plugin_install_on_a_full_disk, 2,
         words=("nothing was changed",), absent=("[(", "Errno")),

    # `photostyle serve`: settings that cannot work are refused before the model loads.
    Case("serve --port 70000", "serve", serve("--port", "70000"), 2, words=("--port", "0 to 65535", "got 70000")),
    Case("serve --max-pixels -1", "serve", serve("--max-pixels", "-1"), 2, words=("--max-pixels", "got -1")),
    Case("serve --max-calls 0", "serve", serve("--max-calls", "0"), 2, words=("--max-calls", "got 0")),
    Case("serve --max-regions 0", "serve", serve("--max-regions", "0"), 2, words=("--max-regions", "got 0")),
    Case("serve --setup-timeout 0", "serve", serve("--setup-timeout", "0"), 2, words=("--setup-timeout", "got 0")),
    Case("serve --upload-idle nan", "serve", serve("--upload-idle", "nan"), 2, words=("--upload-idle", "got nan")),
    Case("serve --shutdown-grace -1", "serve", serve("--shutdown-grace", "-1"), 2,
         words=("--shutdown-grace", "got -1")),
    Case("serve --token with spaces and tabs", "serve", serve("--token", "let me\tin"), 2,
         words=("--token", "printable ASCII", "spaces")),
    Case("serve --token-file holding non-ASCII text", "serve", serve("--token-file", "{token-accents}"), 2,
         words=("--token-file", "printable ASCII")),
    Case("serve --token-file holding spaces", "serve", serve("--token-file", "{token-spaces}"), 2,
         words=("--token-file", "printable ASCII", "spaces")),
    Case("serve with a garbage TLS certificate", "serve",
         serve("--tls-cert", "{cert}", "--tls-key", "{key}", load_model=True), 2, words=("--tls-cert",),
         absent=("in use",)),

    # The client library, as the plug-ins use it.
    Case("16-bit PNG bomb as ENCODING_PNG", "client",
         client(transfer(EncodedImage(png_declaring(20000, 20000, 16)))), TooLargeError, words=TOO_LARGE_WORDS),
    Case("8-bit PNG bomb as ENCODING_PNG", "client",
         client(transfer(EncodedImage(png_declaring(20000, 20000, 8)))), TooLargeError, words=TOO_LARGE_WORDS),
    Case("JPEG bomb as ENCODING_JPEG", "client",
         client(transfer(EncodedImage(jpeg_declaring(20000, 20000)))), TooLargeError, words=TOO_LARGE_WORDS),
    Case("16-bit PNG above the daemon's --max-pixels", "client",
         client(transfer(EncodedImage(png_declaring(9000, 8000, 16)))), TooLargeError,
         words=("9000×8000", "at most 64.0 MP")),
    Case("unset size above --max-working-size", "client", working_limit_held(), (InvalidRequestError, LIMIT_HELD),
         words=(str(SMALL_WORKING_SIZE),)),
    Case("40:1 images under --max-working-size", "client", working_limit_held(image(WIDE), image(TALL), AT_THE_LIMIT),
         (InvalidRequestError, LIMIT_HELD), words=(str(SMALL_WORKING_SIZE),)),
    Case("40:1 PNG files under --max-working-size", "client",
         working_limit_held(EncodedImage(encode(WIDE, "PNG")), EncodedImage(encode(TALL, "PNG")), AT_THE_LIMIT),
         (InvalidRequestError, LIMIT_HELD), words=(str(SMALL_WORKING_SIZE),)),
    Case("token with a trailing newline", "client", client_with_token(TOKEN + "\n"), OK),
    Case("token with a tab inside", "client", client_with_token("let\tmein"), AuthenticationError,
         words=("printable ASCII", "spaces")),
    Case("corrupt JPEG as ENCODING_JPEG", "client",
         client(transfer(EncodedImage(encode(photo(), "JPEG")[:300] + bytes(256)))), InvalidRequestError,
         words=("JPEG", "re-export")),
    Case("empty region name", "client", client(transfer(masks=[Region("", image(mask(80, 96)), image(mask(90, 70)))])),
         InvalidMasksError, words=("name", "empty")),
    Case("preview size 5000", "client", client(transfer(options=Options(size=64, preview_size=5000))),
         InvalidRequestError, words=("Preview size 5000 px", "1024")),
    Case("client cancels at once", "client", cancel_at_once, CancelledError, words=("cancelled",)),

    # Raw gRPC, as a hostile or broken client sends it.
    Case("malformed bytes on Transfer", "grpc", raw(b"\x0a\xff\xff\xff\xff\x0f"), grpc.StatusCode.INVALID_ARGUMENT,
         ErrorKind.INPUT, words=(("malformed", "not a valid"),)),
    Case("malformed bytes on GetCapabilities", "grpc", raw(b"\xff\xff", method=CAPABILITIES_PATH),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=(("malformed", "not a valid"),)),
    Case("malformed bytes after the setup", "grpc", raw(setup(), b"\x12\xff\xff\xff\xff\x0f"),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=(("malformed", "not a valid"),)),
    Case("silent call past the setup deadline", "grpc", silent_call_past_the_setup_deadline,
         grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED, words=("setup",)),
    Case("call beyond --max-calls", "grpc", call_beyond_the_cap, grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.BUSY,
         words=("--max-calls", "retry")),
    Case("a dozen silent calls", "grpc", a_dozen_silent_calls, OK),
    Case("32 silent reflection streams", "grpc", streams_left_open(REFLECTION_PATH, 32), OK),
    Case("64 silent health watches", "grpc", streams_left_open(WATCH_PATH, 64, WATCH_REQUEST), OK),
    Case("reflection streams beyond --max-calls", "grpc", reflection_beyond_the_cap,
         grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.BUSY, words=("--max-calls", "retry")),
    Case("silent reflection stream past the setup deadline", "grpc", silent_reflection_past_the_setup_deadline,
         grpc.StatusCode.DEADLINE_EXCEEDED, ErrorKind.STALLED, words=("reflection",)),
    Case("every byte sent without half-closing", "grpc", every_byte_without_half_close, OK),
    Case("a second setup", "grpc", raw(setup(), setup()), grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT,
         words=("setup",)),
    Case("a chunk past the declared bytes", "grpc", raw(setup(), chunk(PIXELS), chunk(b"x")),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=("More data arrived than the setup declared",)),
    Case("negative seed", "grpc", raw(setup(seed=-1)), grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.OPTIONS,
         words=("seed", SEED_RANGE)),
    Case("working size 2**31-1", "grpc", raw(setup(size=2**31 - 1)), grpc.StatusCode.INVALID_ARGUMENT,
         ErrorKind.OPTIONS, words=(str(2**31 - 1), "2048")),
    Case("negative iterations", "grpc", raw(setup(iterations=-1)), grpc.StatusCode.INVALID_ARGUMENT,
         ErrorKind.OPTIONS, words=("iterations", "-1", "0 to 5000")),
    Case("negative region mode", "grpc", raw(setup(regions=-1)), grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.OPTIONS,
         words=("region mode -1",)),
    Case("unknown encoding", "grpc", raw(setup(pb.ImageInfo(encoding=9, size_bytes=100))),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=("encoding 9",)),
    Case("empty encoded file", "grpc", raw(setup(pb.ImageInfo(encoding=pb.ENCODING_PNG, size_bytes=0))),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=("empty",)),
    Case("encoded file declaring 2**62 bytes", "grpc", raw(setup(pb.ImageInfo(encoding=pb.ENCODING_PNG,
                                                                               size_bytes=2**62))),
         grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorKind.TOO_LARGE, words=(str(2**62), "smaller")),
    Case("mask of negative width", "grpc", raw(setup(masks=[pb.Region(
        name="sky", content_mask=pb.ImageInfo(width=-96, height=80, layout=1, sample_type=1, size_bytes=7680),
        style_mask=image(mask(90, 70)).info())])), grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.MASK,
         words=("sky", "-96×80")),
    Case("PNG sent as ENCODING_JPEG", "grpc", raw(
        setup(pb.ImageInfo(encoding=pb.ENCODING_JPEG, size_bytes=len(encode(photo(), "PNG")))),
        chunk(encode(photo(), "PNG") + bytes(STYLE.data))),
         grpc.StatusCode.INVALID_ARGUMENT, ErrorKind.INPUT, words=("ENCODING_JPEG",)),
    Case("malformed token", "grpc", raw(b"", daemon="locked", metadata=(("authorization", "Basic Zm9v"),),
                                        method=CAPABILITIES_PATH),
         grpc.StatusCode.UNAUTHENTICATED, ErrorKind.TOKEN, words=("refused the token",)),
]

assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with ExitStack() as stack:
        yield Lab(tmp_path_factory.mktemp("hostile"), stack)


@pytest.mark.parametrize("case", CASES, ids=[f"{case.front}: {case.name}" for case in CASES])
def test_hostile_input_gets_a_clear_answer_and_the_daemon_survives(lab: Lab, case: Case) -> None:
    lab.start_case(case.name)
    outcome = case.provoke(lab)
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert outcome.status in expected, f"got {outcome.status}: {outcome.message}"
    if case.kind is not None:
        assert outcome.kind == case.kind.value, f"kind {outcome.kind!r}: {outcome.message}"
    message = outcome.message.lower()
    for word in case.words:
        alternatives = word if isinstance(word, tuple) else (word,)
        assert any(w.lower() in message for w in alternatives), f"{word!r} missing from: {outcome.message}"
    for word in case.absent:
        assert word.lower() not in message, f"{word!r} in: {outcome.message}"
    assert "Traceback" not in outcome.message
    for daemon in sorted(lab.used):
        assert serving(lab.address(daemon)) is None, f"the {daemon} daemon stopped serving"
    assert not outcome.aftermath, outcome.aftermath
