"""`photostyle plugins install gimp` / `uninstall gimp`: put the GIMP 3 plug-in where GIMP looks.

GIMP 3 loads `<config>/plug-ins/NAME/NAME.py` (executable, folder named after the file) with
its own Python: on Linux the `python3` of the system (the plug-in's `#!/usr/bin/env python3`),
on Windows the Python 3.12 bundled with GIMP (named in its `pygimp.interp`). That Python must
import grpc and protobuf, so the installer vendors them into the plug-in's folder when it lacks
them (the CLI's default), checks it, and says how to get them by hand when that fails. When that
Python is not found (nor given), it vendors them for the Python GIMP 3.0 bundles on Windows and
macOS (3.12), or the one --host-python-version/--host-platform name, and says that the import went
unchecked.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

from photostyle.server.wire.contract import DEFAULT_ADDRESS

from .host_packages import VENDOR_DIR
from .staging import Staging
from .common import (PLUGINS, InstallReport, add_daemon_arguments, add_vendor_arguments, copy_client, copy_files,
                     copy_package, daemon_start_command, note_stale_vendor_removed, remove_plugin_dir,
                     report_host_python, run_action, write_daemon_config)

PLUGIN_NAME = "photostyle"
PLUGIN_SOURCE = PLUGINS / "gimp"
#: The file GIMP runs (GIMP wants NAME/NAME.py) and the package of modules beside it.
_ENTRY = PLUGIN_SOURCE / f"{PLUGIN_NAME}.py"
_PACKAGE = PLUGIN_SOURCE / "photostyle_gimp"

_GET_DEPENDENCIES = {
    "linux": "install Debian's/Ubuntu's packages: `sudo apt install python3-grpcio python3-protobuf` "
             "(Fedora: `sudo dnf install python3-grpcio python3-protobuf`). Flatpak GIMP has its own Python: "
             "see the README.",
    "win32": "let this installer fetch them into the plug-in's vendor folder ({vendor_dir}) for the Python GIMP for "
             "Windows bundles (3.12 in GIMP 3.0): without network, pass --offline DIR holding the wheels (see the "
             "README); for a GIMP with another Python, pass --host-python-version X.Y.",
    "darwin": "let this installer fetch them into the plug-in's vendor folder ({vendor_dir}) for the Python GIMP.app "
              "bundles (3.12 in GIMP 3.0): without network, pass --offline DIR holding the wheels (see the README); "
              "for a GIMP with another Python, pass --host-python-version X.Y (and --host-platform TAG, e.g. "
              "macosx_11_0_arm64).",
}


def default_gimp_dir() -> Path:
    """GIMP 3's user config folder on this platform ($GIMP3_DIRECTORY wins, as in GIMP)."""
    if os.environ.get("GIMP3_DIRECTORY"):
        return Path(os.environ["GIMP3_DIRECTORY"])
    if sys.platform == "win32":
        return Path(os.environ["APPDATA"]) / "GIMP" / "3.0"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "GIMP" / "3.0"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "GIMP" / "3.0"


def default_gimp_python(platform: str = sys.platform) -> list[str] | None:
    """The Python GIMP runs plug-ins with on `platform` (sys.platform), as an argv prefix; None if it cannot be told."""
    if platform == "win32":
        for root in (os.environ.get("ProgramFiles", r"C:\Program Files"), os.environ.get("LOCALAPPDATA", "")):
            interp = Path(root) / "GIMP 3" / "lib" / "gimp" / "3.0" / "interpreters" / "pygimp.interp"
            if interp.is_file():
                for line in interp.read_text(errors="replace").splitlines():
                    if line.startswith("python="):
                        return [line.split("=", 1)[1].strip()]
        return None
    if platform == "darwin":
        bundled = Path("/Applications/GIMP.app/Contents/MacOS/python3")
        return [str(bundled)] if bundled.is_file() else None
    return ["/usr/bin/python3"]


def install(gimp_dir: Path | str | None = None, address: str = DEFAULT_ADDRESS,
            start_command: Sequence[str] | None = None, gimp_python: Sequence[str] | None = None,
            token: str | None = None, check: bool = True, gimp_root: Path | None = None, vendor: bool = False,
            offline: Path | None = None, host_python_version: str | None = None, host_platform: str | None = None,
            platform: str = sys.platform) -> InstallReport:
    """Install (or reinstall over) the plug-in into `gimp_dir`/plug-ins/photostyle, whole or not at
    all: it is built beside that folder (with the earlier install's vendor/) and swapped in at the
    end, so an OSError part-way leaves an earlier install as it was.

    start_command: how the plug-in starts a daemon when none answers at `address` (default:
    this installation's daemon; [] = never start one). gimp_python: the Python to check, as an
    argv prefix (default: `default_gimp_python()`); check=False skips the check (and vendoring;
    a vendor/ an earlier install left is removed).
    gimp_root: the root folder of the chroot or container GIMP runs in (its Python sees paths
    below it from /). vendor: fetch grpcio/protobuf into the plug-in's folder when that Python
    lacks them (the CLI's default; off here so that a library call never reaches the network
    unasked), from the folder of wheels `offline` if given. When no GIMP Python is given or found
    (on `platform`, sys.platform), or host_python_version/host_platform are given, the wheels are
    for the Python GIMP 3.0 bundles on Windows and macOS or for the one given; with no Python to
    run, the import goes unchecked and the report, still ok, says so (see `report_host_python`).
    """
    plugin_dir = Path(gimp_dir or default_gimp_dir()) / "plug-ins" / PLUGIN_NAME
    report = InstallReport()
    with Staging() as staging:
        new_dir = staging.folder(plugin_dir, keep=(VENDOR_DIR,))
        report.done += copy_files([_ENTRY], new_dir, executable=[_ENTRY])
        report.done.append(copy_package(_PACKAGE, new_dir))
        report.done.append(copy_client(new_dir))
        command = daemon_start_command(address) if start_command is None else list(start_command)
        report.done.append(write_daemon_config(new_dir, address, command, token=token))
        report.done.append("Restart GIMP, then use Filters ▸ Artistic ▸ Photo Style Transfer…")
        if check:
            seen_as = f"/{new_dir.resolve().relative_to(gimp_root.resolve()).as_posix()}" if gimp_root else None
            advice = _GET_DEPENDENCIES.get(platform, _GET_DEPENDENCIES["linux"]).format(
                vendor_dir=plugin_dir / VENDOR_DIR)
            report_host_python(report, "GIMP", list(gimp_python) if gimp_python else default_gimp_python(platform),
                               new_dir, advice, "--gimp-python", seen_as, vendor, offline,
                               host_python_version=host_python_version, host_platform=host_platform,
                               platform=platform)
        else:  # nothing vendored: an earlier install's vendor/ would shadow the host's own packages
            note_stale_vendor_removed(report, new_dir, "GIMP")
        staging.commit()
    return report.shown_by(staging)


def uninstall(gimp_dir: Path | str | None = None) -> InstallReport:
    """Remove the plug-in folder this installer made (and nothing else)."""
    plugin_dir = Path(gimp_dir or default_gimp_dir()) / "plug-ins" / PLUGIN_NAME
    return InstallReport(done=[remove_plugin_dir(plugin_dir)])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `photostyle plugins install|uninstall gimp` (uninstall uses only --gimp-dir)."""
    parser.add_argument("--gimp-dir", type=Path,
                        help=f"GIMP 3's config folder, holding plug-ins/ (default: {default_gimp_dir()})")
    add_daemon_arguments(parser, "plug-in")
    parser.add_argument("--gimp-python", type=shlex.split,
                        help="command of the Python GIMP runs plug-ins with, to give it grpc/protobuf and check it "
                             "(default: /usr/bin/python3 on Linux, the one named in GIMP's pygimp.interp on Windows)")
    add_vendor_arguments(parser, "GIMP", "--gimp-python")


def run(args: argparse.Namespace) -> int:
    """`photostyle plugins install|uninstall gimp`."""
    return run_action(args, lambda: install(args.gimp_dir, args.address, [] if args.no_start else None,
                                            args.gimp_python, args.token, vendor=not args.no_vendor,
                                            offline=args.offline, host_python_version=args.host_python_version,
                                            host_platform=args.host_platform),
                      lambda: uninstall(args.gimp_dir))
