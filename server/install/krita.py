"""`photostyle plugins install krita` / `uninstall krita`: put the Photo Style docker where Krita 5 looks.

Krita loads Python plug-ins from `<resources>/pykrita/`: a package folder plus a `.desktop`
file, enabled by `enable_<name>=true` in the `[python]` group of `kritarc`. It runs them in its
own Python: Debian's system Python (3.11 on bookworm) on Linux, a Python 3.10 embedded in Krita
5.2 on Windows and macOS. That Python must import grpc and protobuf, so the installer vendors them
into the plug-in's folder when it lacks them (the CLI's default) and checks it where it can run it;
where it cannot (Windows, macOS, the AppImage), it vendors them for the Python Krita 5.2 embeds (or
the one --host-python-version/--host-platform name) and says that the import went unchecked.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from glob import glob
from pathlib import Path
from typing import Sequence

from photostyle.server.wire.contract import DEFAULT_ADDRESS

from .common import (PLUGINS, InstallReport, add_daemon_arguments, add_vendor_arguments, copy_client,
                                    copy_files, daemon_start_command, note_stale_vendor_removed, remove_plugin_dir,
                                    report_host_python, run_action, write_daemon_config)
from .host_packages import VENDOR_DIR
from .staging import Staging

PLUGIN_NAME = "photostyle_krita"
_DESKTOP = PLUGINS / "krita" / f"{PLUGIN_NAME}.desktop"
#: The plug-in package (the client library, with its daemon launcher, is copied beside it).
_SOURCES = tuple(sorted((PLUGINS / "krita" / PLUGIN_NAME).glob("*.py")))
_PYKRITA_SO = "/usr/lib/*/kritaplugins/kritapykrita.so"

_GET_DEPENDENCIES = {
    "linux": "install your distribution's packages: `sudo apt install python3-grpcio python3-protobuf` "
             "(Fedora: `sudo dnf install python3-grpcio python3-protobuf`). The Krita AppImage and Flatpak "
             "have their own Python: pass --host-python-version X.Y (its version) to vendor for it; see the README.",
    "win32": "let this installer fetch them into the plug-in's vendor folder for the Python Krita for Windows "
             "embeds (3.10 in Krita 5.2): without network, pass --offline DIR holding the wheels (see the README); "
             "for a Krita with another Python, pass --host-python-version X.Y.",
    "darwin": "let this installer fetch them into the plug-in's vendor folder for the Python Krita for macOS embeds "
              "(3.10 in Krita 5.2): without network, pass --offline DIR holding the wheels (see the README); for a "
              "Krita with another Python, pass --host-python-version X.Y (and --host-platform TAG, e.g. "
              "macosx_11_0_arm64).",
}


def default_krita_dir() -> Path:
    """Krita's user resource folder, holding pykrita/."""
    if sys.platform == "win32":
        return Path(os.environ["APPDATA"]) / "krita"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "krita"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "krita"


def default_kritarc() -> Path:
    """Krita's settings file."""
    if sys.platform == "win32":
        return Path(os.environ["LOCALAPPDATA"]) / "kritarc"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Preferences" / "kritarc"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kritarc"


def default_krita_python(platform: str = sys.platform) -> list[str] | None:
    """The system Python matching the libpython Krita's Python plug-in is linked with (Linux distributions).

    None where Krita bundles its own Python (Windows, macOS, AppImage) or no Krita is installed.
    """
    if platform != "linux":
        return None
    for library in glob(_PYKRITA_SO):
        found = re.search(rb"libpython(3\.\d+)", Path(library).read_bytes())
        if found:
            return [f"/usr/bin/python{found.group(1).decode()}"]
    return None


def set_kritarc_value(kritarc: Path, group: str, key: str, value: str | None) -> None:
    """Set (or with None remove) `key` in `[group]` of a KConfig file, leaving every other line as it was."""
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text(kritarc_with(kritarc, group, key, value), encoding="utf-8")


def kritarc_with(kritarc: Path, group: str, key: str, value: str | None) -> str:
    """The text of the KConfig file `kritarc` (if any) with `key` in `[group]` set, or with None removed."""
    lines = kritarc.read_text(encoding="utf-8").splitlines() if kritarc.is_file() else []
    header = f"[{group}]"
    entry = [] if value is None else [f"{key}={value}"]
    if header in lines:
        start = lines.index(header) + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        lines[start:end] = entry + [line for line in lines[start:end] if line.split("=", 1)[0].strip() != key]
    elif entry:
        lines += [header, *entry]
    return "\n".join(lines) + "\n"


def install(krita_dir: Path | str | None = None, kritarc: Path | str | None = None, address: str = DEFAULT_ADDRESS,
            start_command: Sequence[str] | None = None, krita_python: Sequence[str] | None = None,
            token: str | None = None, check: bool = True, vendor: bool = False,
            offline: Path | None = None, host_python_version: str | None = None, host_platform: str | None = None,
            platform: str = sys.platform) -> InstallReport:
    """Install (or reinstall over) the docker into `krita_dir`/pykrita and enable it in `kritarc`,
    whole or not at all: its folder, .desktop file and kritarc are made beside their targets (the
    folder with the earlier install's vendor/) and put in place together at the end, so an OSError
    part-way leaves an earlier install and kritarc as they were.

    start_command: how the docker starts a daemon when none answers at `address` (default: this
    installation's daemon; [] = never start one). krita_python: the Python to check, as an argv
    prefix (default: `default_krita_python()`); check=False skips the check (and vendoring;
    a vendor/ an earlier install left is removed).
    vendor: fetch grpcio/protobuf into the plug-in's folder when that Python lacks them (the
    CLI's default; off here so that a library call never reaches the network unasked), from the
    folder of wheels `offline` if given. When no Krita Python is given or found (Windows, macOS,
    AppImage), or host_python_version/host_platform are given, the wheels are for the Python Krita
    5.2 embeds on `platform` (sys.platform) or for the one given; with no Python to run, the import
    goes unchecked and the report, still ok, says so (see `report_host_python`).
    """
    pykrita = Path(krita_dir or default_krita_dir()) / "pykrita"
    plugin_dir = pykrita / PLUGIN_NAME
    kritarc = Path(kritarc or default_kritarc())
    report = InstallReport()
    with Staging() as staging:
        new_dir = staging.folder(plugin_dir, keep=(VENDOR_DIR,))
        report.done += copy_files(_SOURCES, new_dir)
        staging.file(pykrita / _DESKTOP.name, _DESKTOP.read_text(encoding="utf-8"))
        report.done.append(f"Installed {pykrita / _DESKTOP.name}")
        report.done.append(copy_client(new_dir))
        command = daemon_start_command(address) if start_command is None else list(start_command)
        report.done.append(write_daemon_config(new_dir, address, command, token=token))
        staging.file(kritarc, kritarc_with(kritarc, "python", f"enable_{PLUGIN_NAME}", "true"))
        report.done.append(f"Enabled the plug-in in {kritarc} (quit Krita before installing: it rewrites that file "
                           "when it quits; otherwise enable it in Settings ▸ Configure Krita ▸ Python Plugin "
                           "Manager).")
        report.done.append("Restart Krita, then open Settings ▸ Dockers ▸ Photo Style.")
        if check:
            advice = _GET_DEPENDENCIES.get(platform, _GET_DEPENDENCIES["linux"])
            report_host_python(report, "Krita",
                               list(krita_python) if krita_python else default_krita_python(platform), new_dir,
                               advice, "--krita-python", provide=vendor, offline=offline,
                               host_python_version=host_python_version, host_platform=host_platform,
                               platform=platform)
        else:  # nothing vendored: an earlier install's vendor/ would shadow the host's own packages
            note_stale_vendor_removed(report, new_dir, "Krita")
        staging.commit()
    return report.shown_by(staging)


def uninstall(krita_dir: Path | str | None = None, kritarc: Path | str | None = None) -> InstallReport:
    """Remove what `install` put in place (the docker's remembered settings in kritarc stay)."""
    pykrita = Path(krita_dir or default_krita_dir()) / "pykrita"
    report = InstallReport(done=[remove_plugin_dir(pykrita / PLUGIN_NAME)])
    desktop = pykrita / _DESKTOP.name
    if desktop.is_file():
        desktop.unlink()
        report.done.append(f"Removed {desktop}")
    kritarc = Path(kritarc or default_kritarc())
    if kritarc.is_file():
        set_kritarc_value(kritarc, "python", f"enable_{PLUGIN_NAME}", None)
        report.done.append(f"Disabled the plug-in in {kritarc}")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `photostyle plugins install|uninstall krita` (uninstall uses --krita-dir and --kritarc)."""
    parser.add_argument("--krita-dir", type=Path,
                        help=f"Krita's resource folder, holding pykrita/ (default: {default_krita_dir()})")
    parser.add_argument("--kritarc", type=Path, help=f"Krita's settings file (default: {default_kritarc()})")
    add_daemon_arguments(parser, "docker")
    parser.add_argument("--krita-python", type=shlex.split,
                        help="command of the Python Krita embeds, to give it grpc/protobuf and check it (default on "
                             "Linux: the system python3.X that Krita's libpython matches)")
    add_vendor_arguments(parser, "Krita", "--krita-python")


def run(args: argparse.Namespace) -> int:
    """`photostyle plugins install|uninstall krita`."""
    return run_action(args, lambda: install(args.krita_dir, args.kritarc, args.address, [] if args.no_start else None,
                                            args.krita_python, args.token, vendor=not args.no_vendor,
                                            offline=args.offline, host_python_version=args.host_python_version,
                                            host_platform=args.host_platform),
                      lambda: uninstall(args.krita_dir, args.kritarc))
