"""Give a host application's Python the grpcio and protobuf that the plug-in's client needs.

GIMP and Krita run plug-ins with their own Python: the system's python3 on Linux (which may
lack python3-grpcio), a Python bundled without pip on Windows and macOS. Asking users to install
packages into that Python is where installs fail, so the installer does it for them: it asks
that Python what it is (`probe`), and when grpc or protobuf do not import there or are too old,
fetches binary wheels built for exactly that Python and platform with *our* pip (`pip download
--python-version/--abi/--platform`: no pip and no compiler needed on the host's side) and unpacks
them into the plug-in's `vendor` folder (`vendor`), which the plug-ins put first on sys.path.

`wheel_tags` is the pure part: which wheels load in a given Python (its version, ABI, and the
platform tags pip should accept, newest first).

Some hosts' Pythons cannot be run: Krita on Windows and macOS (and the AppImage) embeds Python in
the application with no interpreter to call. For those, `assumed_host_python` stands in for
`probe`: the Python a known release embeds (`KNOWN_HOST_PYTHONS`), or the version and platform
the user gives (--host-python-version, --host-platform); wheels are then vendored for it the same
way, but nothing can check that the host imports them.
"""

from __future__ import annotations

import json
import platform as platform_module
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .staging import beside, swap_in

#: The folder inside a plug-in's folder that holds the vendored packages (the plug-ins put it on sys.path).
VENDOR_DIR = "vendor"
#: What the client library needs; the same floors as Debian 13's python3-grpcio / python3-protobuf.
MINIMUM = {"grpcio": (1, 51), "protobuf": (4, 21)}
REQUIREMENTS = tuple(f"{name}>={major}.{minor}" for name, (major, minor) in MINIMUM.items())
#: grpcio >= 1.51 and protobuf >= 4.21 publish Linux wheels for glibc 2.17 (manylinux2014) and newer only.
_OLDEST_GLIBC_MINOR = 17
#: The oldest macOS 10.x that CPython >= 3.10 and these wheels target.
_OLDEST_MACOS_10_MINOR = 9
#: Wheel binary formats that run on each Mac CPU, most specific first.
_MAC_FORMATS = {"arm64": ("arm64", "universal2"), "x86_64": ("x86_64", "universal2")}

#: Host Pythons that cannot be run to ask what they are, by (host, sys.platform): the release they
#: were checked for and the Python version it embeds. Used when no host Python is found or given.
#: Windows builds are win_amd64; on macOS the CPU and OS version are this machine's (the installer
#: runs on the Mac the host runs on).
KNOWN_HOST_PYTHONS: dict[tuple[str, str], tuple[str, str]] = {
    ("Krita", "win32"): ("Krita 5.2", "3.10"),
    ("Krita", "darwin"): ("Krita 5.2", "3.10"),
    ("GIMP", "win32"): ("GIMP 3.0", "3.12"),
    ("GIMP", "darwin"): ("GIMP 3.0", "3.12"),
}
_SYSTEM_NAMES = {"win32": "Windows", "darwin": "macOS", "linux": "Linux"}

_PROBE_SCRIPT = r"""
import json, platform, sys, sysconfig

def version(name):
    try:
        return __import__(name, fromlist=["__version__"]).__version__
    except Exception:  # missing, or there but broken (e.g. built for another Python): either way unusable
        return None

libc, libc_version = platform.libc_ver()
print(json.dumps({
    "python_version": "%d.%d" % sys.version_info[:2],
    "implementation": sys.implementation.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "platform": sysconfig.get_platform(),
    "machine": platform.machine(),
    "os_version": platform.mac_ver()[0] if sys.platform == "darwin" else (libc_version if libc == "glibc" else ""),
    "grpcio": version("grpc"),
    "protobuf": version("google.protobuf"),
}))
"""


class HostPackagesError(Exception):
    """The host's Python could not be given grpcio/protobuf; the message says why and what to do."""


@dataclass(frozen=True)
class WheelTags:
    """Which wheels load in one Python: what pip's --python-version, --abi and --platform should say."""

    python_version: str
    abis: list[str]
    platforms: list[str]

    def pip_options(self) -> list[str]:
        """The `pip download` options that select exactly these wheels (binary only, CPython)."""
        options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", self.python_version]
        for abi in self.abis:
            options += ["--abi", abi]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options


@dataclass(frozen=True)
class HostPython:
    """What `probe` found out about a host's Python: enough to choose wheels, and its grpc/protobuf versions."""

    python_version: str  #: "3.12"
    implementation: str  #: sys.implementation.name, "cpython"
    abiflags: str  #: sys.abiflags ("" on Windows and usual builds, "t" free-threaded)
    platform: str  #: sysconfig.get_platform(): "win-amd64", "linux-x86_64", "macosx-11.0-arm64"
    machine: str  #: platform.machine(): the CPU the process runs as ("arm64" for a universal2 Python on Apple silicon)
    os_version: str  #: glibc's version on Linux, macOS's on macOS, else ""
    grpcio: str | None  #: grpc.__version__, None when it does not import
    protobuf: str | None  #: google.protobuf.__version__, None when it does not import

    @property
    def label(self) -> str:
        """How messages name this Python, e.g. "Python 3.12 win-amd64"."""
        return f"Python {self.python_version} {self.platform}"

    def lacking(self) -> list[str]:
        """The client's packages this Python lacks or has too old, described, e.g. ["grpcio (missing)"]."""
        found = {"grpcio": self.grpcio, "protobuf": self.protobuf}
        lacking = []
        for name, minimum in MINIMUM.items():
            if found[name] is None:
                lacking.append(f"{name} (missing)")
            elif _major_minor(found[name]) < minimum:
                lacking.append(f"{name} {found[name]} (older than {minimum[0]}.{minimum[1]})")
        return lacking

    def wheel_tags(self) -> WheelTags:
        """The wheels that load in this Python (see `wheel_tags`)."""
        if self.implementation != "cpython":
            raise HostPackagesError(f"{self.label} is {self.implementation}, not CPython: grpcio publishes no wheels "
                                    "for it; install grpcio and protobuf into that Python yourself")
        return wheel_tags(self.python_version, self.platform, self.machine, self.os_version, self.abiflags)


def _major_minor(version: str) -> tuple[int, ...]:
    """(1, 51) from "1.51.1" or "5.29.0rc1": enough to compare with `MINIMUM`."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def wheel_tags(python_version: str, platform: str, machine: str, os_version: str = "", abiflags: str = "") -> WheelTags:
    """The wheels that load in a CPython `python_version` built for `platform` (sysconfig.get_platform()).

    machine: platform.machine() of that Python (on macOS the CPU it runs as, which a universal2
    build does not tell). os_version: glibc's version on Linux and macOS's version on macOS;
    wheels needing up to that are accepted (on macOS, without it, up to the Python's own
    deployment target). ABIs: the version's own (cp312), the stable ABI that protobuf's wheels
    use (abi3; not for free-threaded builds) and `none` (pure-Python dependencies).
    """
    major, minor = python_version.split(".")
    abis = [f"cp{major}{minor}{abiflags}", *([] if "t" in abiflags else ["abi3"]), "none"]
    return WheelTags(python_version, abis, _platform_tags(platform, machine, os_version))


def _platform_tags(platform: str, machine: str, os_version: str) -> list[str]:
    """pip --platform values, newest first, for `wheel_tags`."""
    if platform.startswith("win"):  # win32, win-amd64, win-arm64
        return [platform.replace("-", "_")]
    system, _, rest = platform.partition("-")
    if system == "linux":
        return _manylinux_tags(rest, os_version)
    if system == "macosx":
        return _macos_tags(rest.partition("-")[0], machine, os_version)
    raise HostPackagesError(f"no grpcio/protobuf wheels are chosen for the platform {platform!r}; install them into "
                            "that Python yourself")


def _manylinux_tags(arch: str, glibc: str) -> list[str]:
    """manylinux_2_N tags for glibc `glibc` down to 2.17 (with its legacy alias manylinux2014)."""
    if not glibc:
        raise HostPackagesError("could not tell the host's glibc version (a musl Linux such as Alpine?): no grpcio "
                                "wheels are chosen for it; install grpcio and protobuf into that Python yourself")
    newest = _major_minor(glibc)[1]
    if newest < _OLDEST_GLIBC_MINOR:
        raise HostPackagesError(f"the host's glibc {glibc} is older than 2.{_OLDEST_GLIBC_MINOR}, the oldest that "
                                "grpcio publishes wheels for; install grpcio and protobuf into that Python yourself")
    return [*(f"manylinux_2_{minor}_{arch}" for minor in range(newest, _OLDEST_GLIBC_MINOR - 1, -1)),
            f"manylinux2014_{arch}"]


def _macos_tags(deployment_target: str, machine: str, os_version: str) -> list[str]:
    """macosx_X_Y tags from macOS `os_version` (else the Python's deployment target) down to 10.9.

    From macOS 11 on only X_0 tags exist; 10.x tags are 10.16 down to 10.9. On Apple silicon the
    10.x ones are universal2 only: no arm64 build targets macOS 10.
    """
    if machine not in _MAC_FORMATS:
        raise HostPackagesError(f"unknown Mac CPU {machine!r}: no grpcio/protobuf wheels are chosen for it")
    newest_major, newest_minor = _major_minor(os_version or deployment_target)
    formats = _MAC_FORMATS[machine]
    tags = [f"macosx_{major}_0_{form}" for major in range(newest_major, 10, -1) for form in formats]
    newest_10 = newest_minor if newest_major == 10 else 16
    tags += [f"macosx_10_{minor}_{form}" for minor in range(newest_10, _OLDEST_MACOS_10_MINOR - 1, -1)
             for form in formats if form == "universal2" or machine == "x86_64"]
    return tags


@dataclass(frozen=True)
class AssumedHostPython:
    """A host Python that is not run: what `assumed_host_python` takes it to be, and on what grounds."""

    python: HostPython  #: its grpcio/protobuf are None: not known
    origin: str  #: "the Python Krita 5.2 embeds on Windows", "given by --host-python-version"

    @property
    def label(self) -> str:
        """How messages name it, with the newest wheel platform tag it takes: "Python 3.10 win_amd64"."""
        return f"Python {self.python.python_version} {self.python.wheel_tags().platforms[0]}"


def assumed_host_python(host: str, python_version: str | None = None, platform_tag: str | None = None,
                        platform: str = sys.platform, machine: str | None = None,
                        os_version: str | None = None) -> AssumedHostPython | None:
    """The Python `host` runs plug-ins with on `platform` (sys.platform), when it cannot be run to ask.

    python_version ("3.11") and platform_tag (a wheel platform tag: "win_amd64",
    "macosx_11_0_arm64", "manylinux_2_17_x86_64", the newest the host takes) override
    `KNOWN_HOST_PYTHONS`; what neither gives is this machine's (machine: platform.machine(),
    os_version: macOS's or glibc's version, both looked up here when None; Windows: win_amd64).
    None when nothing is known and nothing given. Raises HostPackagesError for what no wheels
    can be chosen for.
    """
    known = KNOWN_HOST_PYTHONS.get((host, platform))
    if known is None and python_version is None and platform_tag is None:
        return None
    version = python_version or (known[1] if known else None)
    if version is None:
        raise HostPackagesError(f"the Python {host} embeds on {_SYSTEM_NAMES.get(platform, platform)} is not known: "
                                "pass --host-python-version X.Y too")
    if not re.fullmatch(r"3\.\d+", version):
        raise HostPackagesError(f"--host-python-version {version!r} is not a Python version such as 3.10")
    if platform_tag:
        sysconfig_platform, machine, os_version = _from_platform_tag(platform_tag)
    else:
        sysconfig_platform, machine, os_version = _this_machine(platform, machine, os_version)
    python = HostPython(version, "cpython", "", sysconfig_platform, machine, os_version, None, None)
    python.wheel_tags()  # refuse now what no wheels are chosen for
    given = [option for option, value in (("--host-python-version", python_version),
                                          ("--host-platform", platform_tag)) if value]
    origin = (f"given by {' and '.join(given)}" if given
              else f"the Python {known[0]} embeds on {_SYSTEM_NAMES.get(platform, platform)}")
    return AssumedHostPython(python, origin)


def _from_platform_tag(tag: str) -> tuple[str, str, str]:
    """(sysconfig platform, machine, OS version) that `wheel_tags` takes, from a wheel platform tag."""
    if tag in ("win32", "win_amd64", "win_arm64"):
        return tag.replace("_", "-"), "", ""
    mac = re.fullmatch(r"macosx_(\d+)_(\d+)_(arm64|x86_64)", tag)
    if mac:
        return f"macosx-{mac[1]}.{mac[2]}-{mac[3]}", mac[3], f"{mac[1]}.{mac[2]}"
    linux = re.fullmatch(r"manylinux_2_(\d+)_(\w+)|manylinux2014_(\w+)", tag)
    if linux:
        arch = linux[2] or linux[3]
        return f"linux-{arch}", arch, f"2.{linux[1] or _OLDEST_GLIBC_MINOR}"
    raise HostPackagesError(f"--host-platform {tag!r} is not a wheel platform tag this installer knows: give one "
                            "of win_amd64, win32, win_arm64, macosx_X_Y_arm64, macosx_X_Y_x86_64, "
                            "manylinux_2_N_ARCH (e.g. manylinux_2_17_x86_64)")


def _this_machine(platform: str, machine: str | None, os_version: str | None) -> tuple[str, str, str]:
    """(sysconfig platform, machine, OS version) of an application running on this machine (`platform`)."""
    if platform == "win32":
        return "win-amd64", "AMD64", ""  # the 64-bit builds GIMP and Krita ship
    machine = machine or platform_module.machine()
    if platform == "darwin":
        os_version = os_version if os_version is not None else platform_module.mac_ver()[0]
        return f"macosx-{'11.0' if machine == 'arm64' else '10.13'}-{machine}", machine, os_version
    if platform.startswith("linux"):
        if os_version is None:
            libc, libc_version = platform_module.libc_ver()
            os_version = libc_version if libc == "glibc" else ""
        return f"linux-{machine}", machine, os_version
    raise HostPackagesError(f"no grpcio/protobuf wheels are chosen for {platform!r}: pass --host-platform TAG")


def wheel_versions(wheels: Sequence[str]) -> dict[str, str]:
    """{"grpcio": "1.85.3", ...} from wheel file names ("grpcio-1.85.3-cp312-cp312-win_amd64.whl")."""
    return {name.lower().replace("_", "-"): version
            for name, version, *_rest in (wheel.split("-") for wheel in wheels)}


#: How much of what a host Python printed instead of the probe's answer a message quotes.
_SAID_LIMIT = 200


def probe(python: Sequence[str], timeout_s: float = 60) -> HostPython:
    """Ask a host's Python (an argv prefix, e.g. ["chroot", ROOT, "/usr/bin/python3"]) what it is, in one run."""
    command = " ".join(python)
    try:
        done = subprocess.run([*python, "-c", _PROBE_SCRIPT], capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise HostPackagesError(f"{python[0]} was not found") from None
    except subprocess.TimeoutExpired:
        raise HostPackagesError(f"{command} did not answer within {timeout_s:.0f} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise HostPackagesError(f"{command} could not be asked what it is: "
                                f"{said[-1] if said else f'exit status {done.returncode}'}")
    try:
        return HostPython(**json.loads(lines[-1]))
    except (ValueError, TypeError):  # not JSON (JSONDecodeError is a ValueError), or not the probe's fields
        said = lines[-1] if len(lines[-1]) <= _SAID_LIMIT else lines[-1][:_SAID_LIMIT] + "…"
        raise HostPackagesError(f"{command} could not be asked what it is: it printed {said!r} instead of the "
                                "probe's answer (does it, or its site/startup files, print to stdout?)") from None


def download_command(tags: WheelTags, dest: Path | str, offline: Path | str | None = None) -> list[str]:
    """Our pip fetching grpcio/protobuf wheels for `tags` into `dest` (from folder `offline` only, if given)."""
    source = ["--no-index", "--find-links", str(offline)] if offline else []
    return [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", *tags.pip_options(), *source,
            "--dest", str(dest), *REQUIREMENTS]


def vendor(host: HostPython | AssumedHostPython, target: Path, offline: Path | None = None,
           timeout_s: float = 900) -> list[str]:
    """Fetch grpcio, protobuf and their dependencies for `host` and unpack them as folder `target` (replaced).

    Wheels are zip files of importable folders plus their *.dist-info, kept so that
    importlib.metadata in the host sees what was vendored. They are unpacked beside `target` and
    swapped in only when all are, so a failure leaves an old `target` as it was. Returns the
    wheels' file names.
    """
    if isinstance(host, AssumedHostPython):
        host = host.python
    tags = host.wheel_tags()
    with tempfile.TemporaryDirectory(prefix="photostyle-wheels-") as download:
        command = download_command(tags, download, offline)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise HostPackagesError(_fetch_failure(host, tags, offline,
                                                   f"ERROR: no answer within {timeout_s:.0f} s")) from None
        if done.returncode != 0:
            raise HostPackagesError(_fetch_failure(host, tags, offline, done.stderr or done.stdout))
        wheels = sorted(Path(download).glob("*.whl"))
        _unpack_in_place_of(wheels, target)
    return [wheel.name for wheel in wheels]


def _unpack_in_place_of(wheels: Sequence[Path], target: Path) -> None:
    """Unpack `wheels` into a new folder beside `target`, then swap it in for `target` (an old one is removed).

    On any failure the new folder is removed and an old `target` stays as it was: never a
    half-filled one. A wheel that is no zip file raises HostPackagesError naming it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = beside(target, "new")
    staging.mkdir()  # not tempfile.mkdtemp: its 0700 would follow the folder into place
    try:
        for wheel in wheels:
            try:
                with zipfile.ZipFile(wheel) as archive:
                    archive.extractall(staging)
            except zipfile.BadZipFile as error:
                raise HostPackagesError(f"{wheel.name} is not a wheel ({error}); replace it and run again") from None
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _fetch_failure(host: HostPython, tags: WheelTags, offline: Path | None, pip_output: str) -> str:
    """The message for a failed `pip download`: pip's error, and how to get the wheels another way."""
    lines = pip_output.strip().splitlines()
    said = " ".join(line for line in lines if line.startswith("ERROR:")) or (lines[-1] if lines else "nothing")
    fill = shlex.join(["python", "-m", "pip", "download", *tags.pip_options(), "-d", "DIR", *REQUIREMENTS])
    if offline:
        return (f"{offline} holds no grpcio/protobuf wheels for {host.label} (pip said: {said}); fill it on a machine "
                f"with network with: {fill}")
    return (f"could not fetch grpcio/protobuf for {host.label} (pip said: {said}); run again with --offline DIR "
            f"holding those wheels, fetched on a machine with network with: {fill}")
