"""A Debian trixie chroot with GIMP 3 for the end-to-end tests, built once and cached.

Debian 12 has only GIMP 2.10. `ensure_chroot()` builds trixie with mmdebstrap (~2 min, ~700 MB;
needs root and the Debian mirror) under ~/.cache/photostyle/gimp-trixie, or reuses it when its
package list matches; anything that stops the build raises `ChrootUnavailable` with the reason,
which the tests report as a skip. `start_gimp()` runs one tests/gimp/scenario.py inside it.

The chroot deliberately lacks python3-grpcio and python3-protobuf, like a user's Debian: the
tests install the plug-in with our installer, which vendors them into the plug-in's folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(os.environ.get("PHOTOSTYLE_GIMP_CHROOT") or Path.home() / ".cache" / "photostyle" / "gimp-trixie")
#: GIMP 3 with Python, Xvfb + xdotool for the GUI (undo) test; no grpcio/protobuf (the installer provides them).
PACKAGES = ("gimp", "python3-gi", "gir1.2-gimp-3.0", "xvfb", "xauth", "xdotool")
_STAMP = ".photostyle-packages"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: Inside the chroot: the throw-away GIMP config folder and the test's photos and script.
GIMP_DIR = "/tmp/photostyle-test/gimp3"
DATA_DIR = "/tmp/photostyle-test/data"
#: The chroot's Python, which GIMP runs plug-ins with.
PYTHON = "/usr/bin/python3"


class ChrootUnavailable(Exception):
    """The chroot cannot be had here (not root, no mmdebstrap, no network): the reason for the skip."""


def ensure_chroot() -> Path:
    """The cached chroot, built first if missing or made with another package list.

    A lock file makes a second test run wait for the build under way instead of building into
    the same folder.
    """
    if _is_current():
        return ROOT
    if os.geteuid() != 0:
        raise ChrootUnavailable(f"building the GIMP 3 chroot at {ROOT} needs root (mmdebstrap, chroot)")
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT.with_name(ROOT.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current():  # built by another run while this one waited
            return ROOT
        if not shutil.which("mmdebstrap"):
            _run(["apt-get", "update", "-qq"], 600, "apt-get update (to install mmdebstrap)")
            _run(["apt-get", "install", "-y", "-qq", "mmdebstrap"], 600, "installing mmdebstrap")
        partial = ROOT.with_name(ROOT.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _run(["mmdebstrap", "--variant=apt", f"--include={','.join(PACKAGES)}", "trixie", str(partial), _mirror()],
             1800, "building the trixie chroot with mmdebstrap")
        (partial / _STAMP).write_text(" ".join(PACKAGES))
        shutil.rmtree(ROOT, ignore_errors=True)
        partial.rename(ROOT)
    return ROOT


def _is_current() -> bool:
    """Whether ROOT holds a finished chroot made with today's PACKAGES."""
    stamp = ROOT / _STAMP
    return stamp.is_file() and stamp.read_text() == " ".join(PACKAGES)


def _mirror() -> str:
    """The Debian mirror this machine's apt uses (the only network these machines may reach)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    found = re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.M) if sources.is_file() else None
    return found.group(1) if found else _DEFAULT_MIRROR


def _run(command: list[str], timeout: float, what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChrootUnavailable(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ChrootUnavailable(f"{what} failed (exit {done.returncode}): {tail}")


def inside(root: Path, path: str) -> Path:
    """The host path of `path` inside the chroot."""
    return root / path.lstrip("/")


def chroot_python(root: Path) -> list[str]:
    """The chroot's Python as an argv prefix run from outside (what GIMP runs plug-ins with)."""
    return ["chroot", str(root), PYTHON]


def start_gimp(root: Path, scenario: str, gui: bool = False, timeout_s: int = 240) -> subprocess.Popen:
    """Start GIMP 3 on tests/gimp/scenario.py: gimp-console, or the GUI under Xvfb (`gui`).

    GIMP's remembered "last values" of our procedure are forgotten first: an interactive run
    starts from them, and each scenario must start from what it sets itself."""
    for remembered in inside(root, GIMP_DIR).joinpath("plug-in-settings").glob("*photostyle*"):
        remembered.unlink()
    gimp = (["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "gimp-3.0", "--no-splash"] if gui
            else ["gimp-console-3.0", "-i"])
    # A fixed environment: a changed LANG makes GIMP re-query every plug-in.
    command = ["timeout", "--kill-after=10", str(timeout_s), "chroot", str(root), "env", "-i", "HOME=/root", "PATH=/usr/bin:/bin",
               "LANG=C.UTF-8", f"GIMP3_DIRECTORY={GIMP_DIR}", f"PHOTOSTYLE_SCENARIO={scenario}",
               f"PHOTOSTYLE_DATA={DATA_DIR}", *gimp, "--batch-interpreter=python-fu-eval",
               "-b", f'exec(open("{DATA_DIR}/scenario.py").read())', "--quit"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(gimp: subprocess.Popen) -> dict:
    """Wait for a `start_gimp` run and return the facts its scenario printed."""
    stdout, stderr = gimp.communicate()
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise AssertionError(f"GIMP exited {gimp.returncode} without a result.\n"
                         f"stdout:\n{stdout}\nstderr:\n{stderr[-4000:]}")
