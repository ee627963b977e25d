"""What installing any host plug-in (GIMP, Krita) involves besides the host's own layout.

A host plug-in is a folder that the host application loads with its *own* Python (Debian's
python3 for GIMP 3 and Krita on Linux, a bundled Python on Windows), never with our venv. So an
installer puts these host-neutral things into that folder, all written here once:

- the plug-in's own files, taken from the package `photostyle.plugins` (`PLUGINS`), so that an
  install from the wheel finds them as well as an editable one (`copy_files`, and `copy_package`
  for a plug-in's package of modules);
- the client library and the wire contract it speaks, vendored under their own names
  (`photostyle.server.client`, `photostyle.server.wire`) as a package `photostyle` holding only
  them (`copy_client`): the plug-in adds its folder to `sys.path` and imports them; they need
  only grpcio and protobuf;
- grpcio and protobuf themselves, in `vendor/`, when the host's Python lacks them
  (`provide_host_packages`, see host_packages.py): that is the step that fails on users' machines;
  where that Python cannot be run (Krita on Windows and macOS), for the Python the host is known
  or said to embed (`provide_assumed_host_packages`), unchecked; an install that vendors nothing
  removes the `vendor/` an earlier one left (`remove_stale_vendor`), which would shadow the host's own;
- a small JSON file recording the daemon's address and how to start it (`write_daemon_config`),
  so that the plug-in can start the daemon it was installed with when none answers;
- a check that the host's Python really imports grpc, protobuf and the vendored client
  (`check_host_python`), the way the plug-in will.

Each step returns a line saying what it did; `InstallReport` collects them for the CLI.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from photostyle import plugins
from photostyle.server import client, wire
from photostyle.server.client.launch import CONFIG_NAME, DaemonConfig
from photostyle.server.wire.contract import DEFAULT_ADDRESS, clean_token

from .host_packages import (VENDOR_DIR, AssumedHostPython, HostPackagesError, assumed_host_python, probe, vendor,
                            wheel_versions)
from .staging import Staging

#: The vendored package's name inside a plug-in folder: `photostyle`, holding only `server.client`
#: and `server.wire`, so that the plug-ins import the client by the name it has everywhere.
CLIENT_PACKAGE = "photostyle"
#: What an install before the vendored package had that name left in the plug-in folder.
_FORMER_CLIENT_PACKAGE = "photostyle_client"
#: Modules of the wire package the plug-ins never import (numpy), left out of the vendored copy.
_NOT_VENDORED = ("arrays.py",)
_VENDORED_INIT = '''"""PhotoStyle's client library and wire contract, vendored into a host plug-in by `photostyle plugins
install` (the engine and the daemon are not here: they run in the PhotoStyle daemon)."""
'''
#: The daemon config file's name inside a plug-in folder; its presence also marks a folder as ours.
DAEMON_CONFIG = CONFIG_NAME
#: The plug-ins' source files: plugins/ in the source tree, photostyle/plugins/ installed from the wheel.
PLUGINS = Path(plugins.__file__).resolve().parent

#: Why --host-python-version/--host-platform are refused with --no-vendor (by the CLI, and in an install's report).
NO_VENDOR_CONFLICT = ("--host-python-version/--host-platform choose the wheels to vendor, so they cannot go with "
                      "--no-vendor: drop --no-vendor to vendor for that Python, or drop them to only check it")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", *_NOT_VENDORED)


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

    def shown_by(self, staging: Staging) -> "InstallReport":
        """This report naming the places an install was put in, not where it was built."""
        return InstallReport([staging.shown(line) for line in self.done],
                             [staging.shown(line) for line in self.problems])


@dataclass(frozen=True)
class HostPythonCheck:
    """Whether a host's Python imports grpc, protobuf and the vendored client, and what it said."""

    ok: bool
    message: str


def copy_client(plugin_dir: Path) -> str:
    """Replace `plugin_dir/photostyle` with a fresh copy of the client library and the wire package."""
    target = plugin_dir / CLIENT_PACKAGE
    for old in (target, plugin_dir / _FORMER_CLIENT_PACKAGE):
        if old.exists():
            shutil.rmtree(old)
    (target / "server").mkdir(parents=True)
    (target / "__init__.py").write_text(_VENDORED_INIT)
    (target / "server" / "__init__.py").write_text("")
    for package in (client, wire):
        source = Path(package.__file__).resolve().parent
        shutil.copytree(source, target / "server" / source.name, ignore=_IGNORED)
    return f"Copied the client library to {target}"


def copy_package(package: Path, plugin_dir: Path) -> str:
    """Replace `plugin_dir`/<package's name> with a fresh copy of the plug-in package's modules
    (so a module an older version had cannot linger)."""
    target = plugin_dir / package.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source in sorted(package.glob("*.py")):
        shutil.copyfile(source, target / source.name)
    return f"Installed {target}"


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

    The plug-in reads it back with `photostyle.server.client.launch.DaemonConfig.load`; an empty
    start command means the plug-in must not start one.
    """
    command = list(daemon_start_command(address) if start_command is None else start_command)
    path = DaemonConfig(address, command, token=clean_token(token) if token else None).save(plugin_dir)
    started = " ".join(command) if command else "nothing (start it yourself)"
    return f"Recorded the daemon at {address} in {path}; when none answers the plug-in starts: {started}"


def read_daemon_config(plugin_dir: Path) -> dict:
    """The config `write_daemon_config` wrote (for installers and tests; plug-ins read the JSON themselves)."""
    return json.loads((plugin_dir / DAEMON_CONFIG).read_text())


_CHECK_SCRIPT = """
import os, sys
vendored = os.path.join(sys.argv[1], sys.argv[2])
sys.path[:0] = [vendored, sys.argv[1]]  # as the plug-ins do
import grpc, google.protobuf
import photostyle.server.client
where = lambda module: " (vendored)" if module.__file__.startswith(vendored + os.sep) else ""
print("Python %d.%d, grpcio %s%s, protobuf %s%s" % (sys.version_info[0], sys.version_info[1],
      grpc.__version__, where(grpc), google.protobuf.__version__, where(google.protobuf)))
"""


def check_host_python(python: Sequence[str], plugin_dir: Path, seen_as: str | None = None,
                      timeout_s: float = 60) -> HostPythonCheck:
    """Run the host's Python (an argv prefix, e.g. ["/usr/bin/python3"]) and import the vendored client.

    It puts the plug-in folder and its `vendor/` first on sys.path, as the plug-ins do. seen_as:
    the plug-in folder's path as that Python sees it, when the host runs in a chroot or container
    (default: `plugin_dir`). The message is the versions found (marked "(vendored)" when they
    come from `vendor/`), or the last line of the failure (e.g. "No module named 'grpc'"); the
    caller adds host-specific advice.
    """
    try:
        done = subprocess.run([*python, "-c", _CHECK_SCRIPT, seen_as or str(plugin_dir), VENDOR_DIR],
                              capture_output=True, text=True, timeout=timeout_s)
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


def remove_stale_vendor(plugin_dir: Path, host: str) -> str | None:
    """Delete `plugin_dir/vendor` left by an earlier install, for an install that vendors nothing; say so.

    Every install that does not vendor calls this (--no-vendor, check=False, no Python known,
    a host Python with packages of its own): the plug-ins put `vendor/` first on sys.path, so
    wheels vendored for another Python (say cp312 after the host moved to 3.13) would shadow
    the host's own grpc/protobuf. None when there was none.
    """
    target = plugin_dir / VENDOR_DIR
    if not target.exists():
        return None
    shutil.rmtree(target)
    return (f"Removed {target}, left by an earlier install: this one vendors nothing, and packages there would "
            f"shadow {host}'s own")


def _kept_vendor(plugin_dir: Path) -> str:
    """A note for a failed vendoring: the earlier install's `vendor/`, if any, was kept as it was."""
    target = plugin_dir / VENDOR_DIR
    return f" ({target}, from an earlier install, was left as it was)" if target.exists() else ""


def provide_host_packages(host: str, python: Sequence[str], plugin_dir: Path, offline: Path | None = None) -> str:
    """Make grpcio/protobuf importable by `host`'s Python for the plug-in in `plugin_dir`; say what was done.

    When that Python has usable ones of its own, a `vendor/` left by an earlier install is
    removed (it would shadow them); otherwise wheels for that Python are fetched (from the
    folder `offline` only, if given) and unpacked as `plugin_dir/vendor`. Raises
    HostPackagesError with the reason and the way out.
    """
    found = probe(python)
    target = plugin_dir / VENDOR_DIR
    lacking = found.lacking()
    if not lacking:
        removed = remove_stale_vendor(plugin_dir, host)
        return (f"{host}'s {found.label} has grpcio {found.grpcio} and protobuf {found.protobuf} of its own: "
                f"nothing to vendor{'; ' + removed if removed else ''}")
    wheels = vendor(found, target, offline)
    return (f"{host}'s {found.label} lacks {', '.join(lacking)}: unpacked {', '.join(wheels)} "
            f"{'from ' + str(offline) + ' ' if offline else ''}into {target}")


def provide_assumed_host_packages(assumed: AssumedHostPython, plugin_dir: Path, offline: Path | None = None) -> str:
    """Vendor grpcio/protobuf into `plugin_dir/vendor` for a host Python that is not run; say what was done.

    Raises HostPackagesError with the reason and the way out.
    """
    target = plugin_dir / VENDOR_DIR
    versions = wheel_versions(vendor(assumed, target, offline))
    return (f"Vendored grpcio {versions.get('grpcio', '?')} and protobuf {versions.get('protobuf', '?')} for "
            f"{assumed.label} ({assumed.origin}) {'from ' + str(offline) + ' ' if offline else ''}into {target}")


def report_host_python(report: InstallReport, host: str, python: Sequence[str] | None, plugin_dir: Path,
                       advice: str, option: str, seen_as: str | None = None, provide: bool = False,
                       offline: Path | None = None, host_python_version: str | None = None,
                       host_platform: str | None = None, platform: str = sys.platform) -> None:
    """Give `host`'s Python grpcio/protobuf when `provide`, check that it imports the client, and report.

    python: that Python as an argv prefix, None when it cannot be told (then `option` is the
    flag that names it); advice: how to get grpc/protobuf there by hand on this platform;
    offline: a folder of wheels to vendor from instead of the package index.

    When `python` is None, or host_python_version/host_platform are given (they say which
    Python, so it is not probed), the wheels are chosen by `assumed_host_python` (the Python a
    known release embeds on `platform`, or the one given) and vendored unchecked when no Python
    can be run: a line in `done`, saying that the import went unchecked and what to pass if the
    host cannot load the plug-in (not a problem: nothing more can be done from here).
    """
    needs = "needs grpcio >= 1.51 and protobuf >= 4.21 there"
    given = bool(host_python_version or host_platform)
    if not provide:
        advice = f"run this command without --no-vendor to have them fetched into the plug-in's folder, or {advice}"
        if given:
            report.problems.append(f"{NO_VENDOR_CONFLICT}: nothing was vendored for {host}'s Python")
        note_stale_vendor_removed(report, plugin_dir, host)
    if provide and (python is None or given):
        try:
            assumed = assumed_host_python(host, host_python_version, host_platform, platform)
            vendored = provide_assumed_host_packages(assumed, plugin_dir, offline) if assumed else None
        except HostPackagesError as error:
            report.problems.append(f"{host}'s Python was not given grpcio/protobuf: {error}"
                                   f"{_kept_vendor(plugin_dir)}. The plug-in {needs}; {advice}")
            return
        if vendored and python is None:
            report.done.append(f"{vendored}; {host}'s Python could not be run to check the import — if {host} says "
                               f"it cannot load the plug-in, pass {option} or --host-python-version/--host-platform")
            return
        if vendored:
            report.done.append(vendored)
    if python is None:
        if provide:  # else removed above
            note_stale_vendor_removed(report, plugin_dir, host)
        report.problems.append(f"Could not tell which Python {host} uses, so it was not given grpc/protobuf nor "
                               f"checked (pass {option} PATH, or --host-python-version X.Y and --host-platform TAG "
                               f"to vendor for it unchecked). The plug-in {needs}; {advice}")
        return
    if provide and not given:
        try:
            report.done.append(provide_host_packages(host, python, plugin_dir, offline))
        except HostPackagesError as error:
            report.problems.append(f"{host}'s Python ({' '.join(python)}) was not given grpcio/protobuf: {error}"
                                   f"{_kept_vendor(plugin_dir)}")
    result = check_host_python(python, plugin_dir, seen_as)
    if result.ok:
        report.done.append(f"{host}'s Python ({' '.join(python)}) imports the client: {result.message}. "
                           "The plug-in will work.")
    else:
        report.problems.append(f"{host}'s Python ({' '.join(python)}) cannot load the client: {result.message}. "
                               f"The plug-in will not work: it {needs}; {advice} Then run this command again.")


def note_stale_vendor_removed(report: InstallReport, plugin_dir: Path, host: str) -> None:
    """`remove_stale_vendor`, its line (if any) added to `report.done`."""
    removed = remove_stale_vendor(plugin_dir, host)
    if removed:
        report.done.append(removed)


def add_daemon_arguments(parser: argparse.ArgumentParser, plug_in: str) -> None:
    """--address, --no-start and --token: how an installed `plug_in` reaches its daemon."""
    parser.add_argument("--address", default=DEFAULT_ADDRESS,
                        help=f"where the {plug_in} finds the daemon, host:port (default {DEFAULT_ADDRESS})")
    parser.add_argument("--no-start", action="store_true",
                        help=f"never let the {plug_in} start a daemon (you run `photostyle serve` yourself)")
    parser.add_argument("--token", help="the daemon's shared token, when it has one (a daemon off this machine)")


def add_vendor_arguments(parser: argparse.ArgumentParser, host: str, option: str) -> None:
    """--offline DIR, --no-vendor, --host-python-version and --host-platform: grpcio/protobuf for `host`'s Python.

    option: the installer's flag naming `host`'s Python (e.g. --krita-python).
    """
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--offline", type=Path, metavar="DIR",
                        help=f"take the grpcio/protobuf wheels for {host}'s Python from DIR instead of the package "
                             "index (fill it elsewhere with `pip download --only-binary=:all: --python-version X.Y "
                             "--platform TAG -d DIR grpcio protobuf`; see the README)")
    source.add_argument("--no-vendor", action="store_true",
                        help=f"do not put grpcio/protobuf into the plug-in's folder even when {host}'s Python lacks "
                             "them; only check it")
    parser.add_argument("--host-python-version", metavar="X.Y",
                        help=f"vendor wheels for this Python version, without running {host}'s Python (default when "
                             f"{option} is neither given nor found: the version the known {host} release embeds, "
                             f"e.g. 3.10 for Krita 5.2 and 3.12 for GIMP 3.0 on Windows and macOS)")
    parser.add_argument("--host-platform", metavar="TAG",
                        help=f"with --host-python-version: the wheel platform tag {host}'s Python takes, e.g. "
                             "win_amd64, macosx_11_0_arm64, manylinux_2_17_x86_64 (default: this machine's)")


#: "[Errno 27] File too large: 'a' -> 'b'", as shutil.Error words it → "File too large".
_ERRNO_PREFIX = re.compile(r"^\[Errno \d+\] ([^:]*).*$")


def _first_group(match: re.Match[str]) -> str:
    return match.group(1)


def _reason(error: OSError) -> str:
    """What failed, in a few words: copytree's shutil.Error holds a list of (source, target, why)."""
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        _, target, why = error.args[0][0]
        return f"cannot write {target} ({_ERRNO_PREFIX.sub(_first_group, str(why))})"
    if error.filename is not None:  # a copy names its source first and its target second
        return f"cannot write {error.filename2 or error.filename} ({error.strerror or error})"
    return str(error)


def run_action(args: argparse.Namespace, install: Callable[[], InstallReport],
               uninstall: Callable[[], InstallReport]) -> int:
    """Carry out `args.action` ("install" or "uninstall") and print what was done.

    Exit status: 0 done, 1 done but the user must act (e.g. get grpc into the host's Python),
    2 a file error, or --host-python-version/--host-platform with --no-vendor (refused before
    installing anything). Wheels vendored for a host Python that could not be run to check the
    import (Krita on Windows and macOS) count as done, 0: the report says the import went unchecked and
    what to pass if the host cannot load the plug-in; nothing more can be done from here.
    """
    if args.action == "install" and getattr(args, "no_vendor", False) and (
            getattr(args, "host_python_version", None) or getattr(args, "host_platform", None)):
        print(f"error: {NO_VENDOR_CONFLICT}", file=sys.stderr)  # as argparse refuses conflicting options: status 2
        return 2
    if args.action == "install" and getattr(args, "token", None):
        try:
            clean_token(args.token)
        except ValueError as exc:
            print(f"error: --token: {exc}", file=sys.stderr)
            return 2
    try:
        report = uninstall() if args.action == "uninstall" else install()
    except OSError as exc:
        done = "nothing was changed" if args.action == "install" else "the rest was left in place"
        print(f"error: Could not {args.action} the plug-in: {_reason(exc)}; {done}. Free some space or fix the "
              "folder's permissions, then run this command again.", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.ok else 1
