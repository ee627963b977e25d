"""What installing any host plug-in (GIMP, Krita) involves besides the host's own layout.

A host plug-in is a folder that the host application loads with its *own* Python (Debian's
python3 for GIMP 3 and Krita on Linux, a bundled Python on Windows), never with our venv. So an
installer puts three host-neutral things into that folder, all written here once:

- the client library, vendored as the package `photostyle_client` (`copy_client`): the plug-in
  adds its folder to `sys.path` and imports it; it needs only grpcio and protobuf;
- a small JSON file recording the daemon's address and how to start it (`write_daemon_config`),
  so that the plug-in can start the daemon it was installed with when none answers;
- a check that the host's Python really imports grpc, protobuf and the vendored client
  (`check_host_python`), because that is the step that fails on users' machines.

Each step returns a line saying what it did; `InstallReport` collects them for the CLI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from photostyle.server.client.launch import CONFIG_NAME, DaemonConfig
from photostyle.server.client.wire import DEFAULT_ADDRESS

#: The vendored client package's name inside a plug-in folder.
CLIENT_PACKAGE = "photostyle_client"
#: The daemon config file's name inside a plug-in folder; its presence also marks a folder as ours.
DAEMON_CONFIG = CONFIG_NAME

_CLIENT_SOURCE = Path(__file__).resolve().parent / "client"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass
class InstallReport:
    """What an install or uninstall did (`done`) and what the user still has to do (`problems`)."""

    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return "\n".join([*self.done, *(f"warning: {line}" for line in self.problems)])


@dataclass(frozen=True)
class HostPythonCheck:
    """Whether a host's Python imports grpc, protobuf and the vendored client, and what it said."""

    ok: bool
    message: str


def copy_client(plugin_dir: Path) -> str:
    """Replace `plugin_dir/photostyle_client` with a fresh copy of the client library."""
    target = plugin_dir / CLIENT_PACKAGE
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(_CLIENT_SOURCE, target, ignore=_IGNORED)
    return f"Copied the client library to {target}"


def copy_files(files: Sequence[Path], plugin_dir: Path, executable: Sequence[Path] = ()) -> list[str]:
    """Copy plug-in source files into `plugin_dir` (created), marking `executable` ones +x."""
    plugin_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for source in files:
        target = plugin_dir / source.name
        shutil.copyfile(source, target)
        if source in executable:
            target.chmod(0o755)
        lines.append(f"Installed {target}")
    return lines


def daemon_start_command(address: str = DEFAULT_ADDRESS) -> list[str]:
    """The command that starts this installation's daemon on `address`, with absolute paths.

    Uses the running interpreter (the venv the installer runs from), so the plug-in starts the
    same engine the user installed, whatever is on the host application's PATH.
    """
    host, _, port = address.rpartition(":")
    return [sys.executable, "-m", "photostyle.server.cli", "serve", "--host", host.strip("[]"), "--port", port]


def write_daemon_config(plugin_dir: Path, address: str = DEFAULT_ADDRESS, start_command: Sequence[str] | None = None,
                        token: str | None = None) -> str:
    """Record where the daemon listens and how to start it, as `plugin_dir/photostyle-daemon.json`.

    The plug-in reads it back with `photostyle_client.launch.DaemonConfig.load`; an empty
    start command means the plug-in must not start one.
    """
    command = list(daemon_start_command(address) if start_command is None else start_command)
    path = DaemonConfig(address, command, token=token).save(plugin_dir)
    started = " ".join(command) if command else "nothing (start it yourself)"
    return f"Recorded the daemon at {address} in {path}; when none answers the plug-in starts: {started}"


def read_daemon_config(plugin_dir: Path) -> dict:
    """The config `write_daemon_config` wrote (for installers and tests; plug-ins read the JSON themselves)."""
    return json.loads((plugin_dir / DAEMON_CONFIG).read_text())


_CHECK_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import grpc, google.protobuf
import photostyle_client
print("Python %d.%d, grpcio %s, protobuf %s" % (sys.version_info[0], sys.version_info[1],
      grpc.__version__, google.protobuf.__version__))
"""


def check_host_python(python: Sequence[str], plugin_dir: Path, seen_as: str | None = None,
                      timeout_s: float = 60) -> HostPythonCheck:
    """Run the host's Python (an argv prefix, e.g. ["/usr/bin/python3"]) and import the vendored client.

    seen_as: the plug-in folder's path as that Python sees it, when the host runs in a chroot or
    container (default: `plugin_dir`). The message is the versions found, or the last line of the
    failure (e.g. "No module named 'grpc'"); the caller adds host-specific advice.
    """
    try:
        done = subprocess.run([*python, "-c", _CHECK_SCRIPT, seen_as or str(plugin_dir)], capture_output=True,
                              text=True, timeout=timeout_s)
    except FileNotFoundError:
        return HostPythonCheck(False, f"{python[0]} was not found")
    except subprocess.TimeoutExpired:
        return HostPythonCheck(False, f"{' '.join(python)} did not finish within {timeout_s:.0f} s")
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return HostPythonCheck(False, lines[-1] if lines else f"exit status {done.returncode}")
    return HostPythonCheck(True, done.stdout.strip())


def remove_plugin_dir(plugin_dir: Path) -> str:
    """Delete an installed plug-in folder, but only one that holds our daemon config (never a stranger's)."""
    if not plugin_dir.exists():
        return f"Nothing to remove: {plugin_dir} does not exist"
    if not (plugin_dir / DAEMON_CONFIG).is_file():
        raise FileExistsError(f"{plugin_dir} was not installed by photostyle (it has no {DAEMON_CONFIG}); "
                              "remove it yourself if you are sure.")
    shutil.rmtree(plugin_dir)
    return f"Removed {plugin_dir}"


def report_host_python(report: InstallReport, host: str, python: Sequence[str] | None, plugin_dir: Path,
                       advice: str, option: str, seen_as: str | None = None) -> None:
    """Check that `host`'s Python imports the vendored client and add the outcome to `report`.

    python: that Python as an argv prefix, None when it cannot be told (then `option` is the
    flag that names it); advice: how to get grpc/protobuf there on this platform.
    """
    needs = "needs grpcio >= 1.51 and protobuf >= 4.21 there"
    if python is None:
        report.problems.append(f"Could not tell which Python {host} uses, so its grpc/protobuf were not checked "
                               f"(pass {option} PATH to check). The plug-in {needs}; {advice}")
        return
    result = check_host_python(python, plugin_dir, seen_as)
    if result.ok:
        report.done.append(f"{host}'s Python ({' '.join(python)}) imports the client: {result.message}")
    else:
        report.problems.append(f"{host}'s Python ({' '.join(python)}) cannot load the client: {result.message}. "
                               f"The plug-in {needs}; {advice} Then run this command again to check.")


def add_daemon_arguments(parser: argparse.ArgumentParser, plug_in: str) -> None:
    """--address, --no-start and --token: how an installed `plug_in` reaches its daemon."""
    parser.add_argument("--address", default=DEFAULT_ADDRESS,
                        help=f"where the {plug_in} finds the daemon, host:port (default {DEFAULT_ADDRESS})")
    parser.add_argument("--no-start", action="store_true",
                        help=f"never let the {plug_in} start a daemon (you run `photostyle serve` yourself)")
    parser.add_argument("--token", help="the daemon's shared token, when it has one (a daemon off this machine)")


def run_action(args: argparse.Namespace, install: Callable[[], InstallReport],
               uninstall: Callable[[], InstallReport]) -> int:
    """Carry out `args.action` ("install" or "uninstall") and print what was done.

    Exit status: 0 done, 1 done but the user must act (e.g. get grpc into the host's Python),
    2 a file error.
    """
    try:
        report = uninstall() if args.action == "uninstall" else install()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.ok else 1
