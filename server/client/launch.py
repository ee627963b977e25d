"""Reach the PhotoStyle daemon a plug-in was installed with, starting it when none answers.

Part of the client library, so both plug-ins share it: the installer writes
`photostyle-daemon.json` beside the plug-in (see photostyle.server.install.common), and a
plug-in calls `connect(DaemonConfig.load(its_folder))`. Every failure is a
`DaemonUnavailableError` whose text says exactly what to run, so the host can show it as-is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .client import Client
from .errors import DaemonUnavailableError
from photostyle.server.wire.contract import DEFAULT_ADDRESS

CONFIG_NAME = "photostyle-daemon.json"
#: The started daemon's output goes here, so a failed start can be explained.
LOG_PATH = Path(tempfile.gettempdir()) / "photostyle-daemon.log"
_POLL_S = 0.5


@dataclass(frozen=True)
class DaemonConfig:
    """Where the daemon listens and how to start it (an empty command: never start one)."""

    address: str = DEFAULT_ADDRESS
    start_command: list[str] = field(default_factory=list)
    start_timeout_s: float = 90.0
    token: str | None = None

    @classmethod
    def load(cls, folder: Path) -> "DaemonConfig":
        """The config the installer wrote into `folder`, or the defaults when there is none."""
        path = folder / CONFIG_NAME
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(data.get("address") or DEFAULT_ADDRESS, list(data.get("start_command") or []),
                   float(data.get("start_timeout_s") or cls.start_timeout_s), data.get("token"))

    def save(self, folder: Path) -> Path:
        """Write this config into `folder` (what the installer does), returning the file's path."""
        path = folder / CONFIG_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    def client(self) -> Client:
        return Client(self.address, token=self.token)


def connect(config: DaemonConfig, on_wait: Callable[[float], None] = lambda elapsed: None,
            start: bool = True) -> Client:
    """A client whose daemon has answered; starts the recorded daemon (detached) if none does
    and `start` allows it (a host that only asks what the daemon offers passes False).

    `on_wait(seconds)` is called while waiting for a started daemon, e.g. to pulse a progress bar.
    """
    try:
        return _answering(config)
    except DaemonUnavailableError as error:
        if not start:
            raise
        first_error = error
    if not config.start_command:
        raise DaemonUnavailableError(f"{first_error} This plug-in does not start a daemon itself (installed with "
                                     "--no-start, or pointed at another address): start it there with "
                                     "`photostyle serve`, or reinstall without --no-start to let the plug-in do it.")
    command = " ".join(config.start_command)
    advice = f"Start it yourself in a terminal with `{command}` (its output shows what is wrong), then try again."
    try:
        process = _start_detached(config.start_command)
    except OSError as error:
        raise DaemonUnavailableError(f"No PhotoStyle daemon answers at {config.address}, and starting the one this "
                                     f"plug-in was installed with failed ({error}). {advice}") from None
    started = time.monotonic()
    while True:
        exited = process.poll() is not None
        try:
            return _answering(config)
        except DaemonUnavailableError:
            pass
        elapsed = time.monotonic() - started
        if exited:
            raise DaemonUnavailableError(f"The PhotoStyle daemon started with `{command}` exited (status "
                                         f"{process.returncode}): {_last_log_line()} {advice}")
        if elapsed > config.start_timeout_s:
            raise DaemonUnavailableError(f"The PhotoStyle daemon started with `{command}` did not answer at "
                                         f"{config.address} within {config.start_timeout_s:.0f} s (its output is in "
                                         f"{LOG_PATH}). {advice}")
        on_wait(elapsed)
        time.sleep(_POLL_S)


def _answering(config: DaemonConfig) -> Client:
    """A fresh client (no reconnect back-off carried over) if its daemon answers now."""
    client = config.client()
    try:
        client.capabilities(timeout=3)
    except BaseException:
        client.close()
        raise
    return client


def _start_detached(command: list[str]) -> subprocess.Popen:
    """Start `command` so it outlives the plug-in (the host kills plug-ins on cancel) and the host's env."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONHOME", "PYTHONPATH")}
    detach = ({"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
              if sys.platform == "win32" else {"start_new_session": True})
    with open(LOG_PATH, "ab") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                close_fds=True, **detach)


def _last_log_line() -> str:
    try:
        lines = LOG_PATH.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else f"(no output; see {LOG_PATH})"
