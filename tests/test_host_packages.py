"""Giving a host's Python grpcio/protobuf (server/install/host_packages.py) and the installers' --offline / --no-vendor.

The tag choice is checked without network against the hosts we target and against the file
names of wheels that grpcio and protobuf really publish, also for hosts whose Python cannot be run
(the known-host table, --host-python-version / --host-platform; platforms passed as parameters). Vendoring is checked offline with
home-made wheels (the selection by tags, the unpacking) and, where a package index answers,
with the real wheels for this machine's Python run without its site-packages (`python -S`,
a stand-in for a host Python without grpc), through both installers' command lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path

import grpc
import pytest
from google import protobuf

from photostyle.server.install import gimp as install_gimp
from photostyle.server.install import krita as install_krita
from photostyle.server.install.host_packages import (KNOWN_HOST_PYTHONS, REQUIREMENTS, VENDOR_DIR, HostPackagesError,
                                             HostPython, WheelTags, assumed_host_python, download_command, probe,
                                             vendor, wheel_tags)

#: A Python without site-packages, so without grpc/protobuf: what a bare host Python looks like.
BARE_PYTHON = [sys.executable, "-S"]
THIS_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def accepts(tags: WheelTags, wheel: str) -> bool:
    """Whether pip, given `tags`, may pick the wheel file named `wheel` (its ABI and one of its platforms match)."""
    _name, _version, python, abi, platforms = wheel[:-len(".whl")].split("-")
    if abi == "abi3" and int(python[3:]) > int(tags.python_version.replace(".", "")[1:]):
        return False  # an abi3 wheel for a newer Python than this one
    return abi in tags.abis and any(platform in tags.platforms for platform in platforms.split("."))


# --- which wheels: pure, no network ---------------------------------------------------------------------

#: Hosts we target: (what, python_version, sysconfig platform, platform.machine(), OS/glibc version),
#: and wheels of grpcio 1.85.3 / protobuf 7.36.2 that PyPI publishes for them (seen there on 2025-12-02).
HOSTS = {
    "GIMP 3.0, Windows": ("3.12", "win-amd64", "AMD64", "",
                          ["grpcio-1.85.3-cp312-cp312-win_amd64.whl", "protobuf-7.36.2-cp310-abi3-win_amd64.whl"]),
    "GIMP 3.0, macOS arm64": ("3.12", "macosx-11.0-arm64", "arm64", "14.5",
                              ["grpcio-1.85.3-cp312-cp312-macosx_11_0_universal2.whl",
                               "protobuf-7.36.2-cp310-abi3-macosx_10_9_universal2.whl"]),
    "GIMP 3.0, macOS x86_64": ("3.12", "macosx-10.13-x86_64", "x86_64", "13.6",
                               ["grpcio-1.85.3-cp312-cp312-macosx_11_0_universal2.whl",
                                "protobuf-7.36.2-cp310-abi3-macosx_10_9_universal2.whl"]),
    "Krita 5.2, Windows": ("3.10", "win-amd64", "AMD64", "",
                           ["grpcio-1.85.3-cp310-cp310-win_amd64.whl", "protobuf-7.36.2-cp310-abi3-win_amd64.whl"]),
    "GIMP 3.0, Debian 13 x86_64": ("3.13", "linux-x86_64", "x86_64", "2.41",
                                   ["grpcio-1.85.3-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
                                    "protobuf-7.36.2-cp310-abi3-manylinux2014_x86_64.whl"]),
}


@pytest.mark.parametrize("host", HOSTS)
def test_the_tags_accept_the_wheels_grpcio_and_protobuf_publish_for_each_host(host: str) -> None:
    python_version, platform, machine, os_version, published = HOSTS[host]
    tags = wheel_tags(python_version, platform, machine, os_version)
    nodot = python_version.replace(".", "")
    assert tags.python_version == python_version
    assert tags.abis == [f"cp{nodot}", "abi3", "none"]  # its own ABI, protobuf's stable-ABI wheels, pure Python
    for wheel in published:
        assert accepts(tags, wheel), (wheel, tags.platforms)
    options = tags.pip_options()
    assert options[:5] == ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    assert options.count("--platform") == len(tags.platforms) and options.count("--abi") == 3


def test_windows_takes_the_pythons_own_architecture() -> None:
    assert wheel_tags("3.12", "win-amd64", "AMD64").platforms == ["win_amd64"]
    assert wheel_tags("3.12", "win32", "AMD64").platforms == ["win32"]  # a 32-bit Python on a 64-bit Windows
    assert not accepts(wheel_tags("3.12", "win-amd64", "AMD64"), "grpcio-1.85.3-cp312-cp312-win32.whl")
    assert not accepts(wheel_tags("3.10", "win-amd64", "AMD64"), "grpcio-1.85.3-cp312-cp312-win_amd64.whl")


def test_macos_tags_follow_the_cpu_and_stop_at_the_os_version() -> None:
    arm = wheel_tags("3.12", "macosx-11.0-arm64", "arm64", "14.5").platforms
    assert arm[:2] == ["macosx_14_0_arm64", "macosx_14_0_universal2"]  # newest first, specific before universal
    assert {"macosx_11_0_arm64", "macosx_10_9_universal2"} <= set(arm)
    assert not [tag for tag in arm if "x86_64" in tag or tag.startswith("macosx_15")]
    assert "macosx_10_9_arm64" not in arm  # no arm64 build targets macOS 10
    # A universal2 Python (python.org's) on Apple silicon runs as arm64: same wheels as the arm64 build.
    assert wheel_tags("3.12", "macosx-10.9-universal2", "arm64", "14.5").platforms == arm
    intel = wheel_tags("3.12", "macosx-10.13-x86_64", "x86_64", "10.15.7").platforms
    assert intel[:2] == ["macosx_10_15_x86_64", "macosx_10_15_universal2"]
    assert "macosx_10_9_x86_64" in intel and not [tag for tag in intel if tag.startswith("macosx_11")]
    # Without the OS's version, the Python's deployment target is the newest that surely loads.
    assert wheel_tags("3.12", "macosx-11.0-arm64", "arm64").platforms[:2] == ["macosx_11_0_arm64",
                                                                              "macosx_11_0_universal2"]


def test_linux_tags_run_from_the_hosts_glibc_down_to_manylinux2014() -> None:
    tags = wheel_tags("3.13", "linux-x86_64", "x86_64", "2.41").platforms
    assert tags[0] == "manylinux_2_41_x86_64" and tags[-2:] == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert len(tags) == 41 - 17 + 2
    arm = wheel_tags("3.11", "linux-aarch64", "aarch64", "2.36").platforms
    assert arm[0] == "manylinux_2_36_aarch64" and all(tag.endswith("_aarch64") for tag in arm)
    assert not accepts(wheel_tags("3.13", "linux-x86_64", "x86_64", "2.31"),
                       "grpcio-1.85.3-cp313-cp313-manylinux_2_34_x86_64.whl")  # needs a newer glibc


def test_free_threaded_python_gets_no_stable_abi_wheels() -> None:
    assert wheel_tags("3.13", "linux-x86_64", "x86_64", "2.41", abiflags="t").abis == ["cp313t", "none"]


@pytest.mark.parametrize("platform, machine, os_version, reason", [
    ("linux-x86_64", "x86_64", "", "glibc version"),  # musl: libc_ver() says nothing
    ("linux-x86_64", "x86_64", "2.12", "older than 2.17"),
    ("freebsd-14.1-RELEASE-amd64", "amd64", "", "no grpcio/protobuf wheels are chosen"),
    ("macosx-11.0-ppc", "ppc", "11.0", "unknown Mac CPU"),
])
def test_hosts_without_wheels_are_refused_with_the_reason(platform: str, machine: str, os_version: str,
                                                          reason: str) -> None:
    with pytest.raises(HostPackagesError, match=reason):
        wheel_tags("3.12", platform, machine, os_version)


def _host(**facts: str | None) -> HostPython:
    base = dict(python_version="3.12", implementation="cpython", abiflags="", platform="win-amd64", machine="AMD64",
                os_version="", grpcio="1.51.1", protobuf="4.21.12")
    return HostPython(**{**base, **facts})


def test_lacking_names_missing_and_too_old_packages() -> None:
    assert _host().lacking() == []  # Debian 13's versions are enough
    assert _host(grpcio="1.85.3", protobuf="7.36.2").lacking() == []
    assert _host(protobuf="5.29.0rc1").lacking() == []
    assert _host(grpcio=None).lacking() == ["grpcio (missing)"]
    assert _host(grpcio="1.50.0", protobuf="3.20.3").lacking() == ["grpcio 1.50.0 (older than 1.51)",
                                                                    "protobuf 3.20.3 (older than 4.21)"]
    with pytest.raises(HostPackagesError, match="is pypy, not CPython"):
        _host(implementation="pypy").wheel_tags()


def test_download_command_runs_our_pip_on_the_index_or_only_the_offline_folder(tmp_path: Path) -> None:
    tags = wheel_tags("3.12", "win-amd64", "AMD64")
    online = download_command(tags, tmp_path / "out")
    assert online[:4] == [sys.executable, "-m", "pip", "download"]
    assert online[-2:] == list(REQUIREMENTS) == ["grpcio>=1.51", "protobuf>=4.21"]
    assert "--no-index" not in online and online[online.index("--dest") + 1] == str(tmp_path / "out")
    offline = download_command(tags, tmp_path / "out", tmp_path / "wheels")
    assert offline[offline.index("--no-index") + 1:offline.index("--no-index") + 3] == ["--find-links",
                                                                                       str(tmp_path / "wheels")]


# --- asking a real Python -----------------------------------------------------------------------------


def test_probe_reports_this_python_and_its_packages() -> None:
    found = probe([sys.executable])
    assert found.python_version == THIS_PYTHON and found.implementation == "cpython"
    assert found.platform == sysconfig.get_platform()
    assert (found.grpcio, found.protobuf) == (grpc.__version__, protobuf.__version__)
    assert found.lacking() == []
    bare = probe(BARE_PYTHON)
    assert (bare.grpcio, bare.protobuf) == (None, None)
    assert bare.lacking() == ["grpcio (missing)", "protobuf (missing)"]
    if sys.platform == "linux":
        assert bare.os_version.startswith("2.")  # glibc


def test_probe_of_a_missing_python_says_so() -> None:
    with pytest.raises(HostPackagesError, match="/nonexistent/python3 was not found"):
        probe(["/nonexistent/python3"])


# --- vendoring from a folder of wheels, no network ------------------------------------------------------


def make_wheel(folder: Path, name: str, version: str, tag: str, package: str) -> Path:
    """A minimal wheel of `name` whose importable `package` says `__version__ = version`."""
    info = f"{name}-{version}.dist-info"
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{package.replace('.', '/')}/__init__.py", f"__version__ = {version!r}\n")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


def test_vendor_picks_the_hosts_wheels_from_the_offline_folder_and_unpacks_them(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "grpcio", "1.99.0", "py3-none-any", "grpc")
    make_wheel(wheels, "grpcio", "2.0.0", "cp311-cp311-win_amd64", "grpc")  # newer, but another platform
    make_wheel(wheels, "protobuf", "9.0.0", "py3-none-any", "google.protobuf")
    host = probe(BARE_PYTHON)
    target = tmp_path / "plugin" / VENDOR_DIR
    target.mkdir(parents=True)
    (target / "stale.py").write_text("")
    unpacked = vendor(host, target, offline=wheels)
    assert unpacked == ["grpcio-1.99.0-py3-none-any.whl", "protobuf-9.0.0-py3-none-any.whl"]
    assert not (target / "stale.py").exists()  # the folder is replaced, not merged
    assert (target / "grpcio-1.99.0.dist-info" / "METADATA").is_file()  # dist-info kept
    imported = subprocess.run([*BARE_PYTHON, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import grpc, "
                               "google.protobuf as p; print(grpc.__version__, p.__version__)", str(target)],
                              capture_output=True, text=True, check=True)
    assert imported.stdout.split() == ["1.99.0", "9.0.0"]


def test_an_offline_folder_without_the_wheels_says_how_to_fill_it(tmp_path: Path) -> None:
    host = probe(BARE_PYTHON)
    with pytest.raises(HostPackagesError) as refused:
        vendor(host, tmp_path / VENDOR_DIR, offline=tmp_path)
    message = str(refused.value)
    assert f"{tmp_path} holds no grpcio/protobuf wheels for Python {THIS_PYTHON} {host.platform}" in message
    assert "pip said: ERROR: " in message and "grpcio" in message
    assert "python -m pip download --only-binary=:all:" in message and f"--python-version {THIS_PYTHON}" in message
    assert not (tmp_path / VENDOR_DIR).exists()


def test_no_vendor_only_checks_and_tells_how_to_vendor(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = _parse(install_gimp, ["install", "--gimp-dir", str(tmp_path), "--gimp-python", " ".join(BARE_PYTHON),
                                 "--no-vendor"])
    assert install_gimp.run(args) == 1
    out = capsys.readouterr().out
    assert "cannot load the client: ModuleNotFoundError: No module named 'grpc'" in out
    assert "The plug-in will not work" in out and "without --no-vendor" in out
    assert not (tmp_path / "plug-ins" / "photostyle" / VENDOR_DIR).exists()


def test_a_failed_fetch_is_reported_with_the_way_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = _parse(install_krita, ["install", "--krita-dir", str(tmp_path / "krita"), "--kritarc",
                                  str(tmp_path / "kritarc"), "--krita-python", " ".join(BARE_PYTHON),
                                  "--offline", str(tmp_path / "empty")])
    (tmp_path / "empty").mkdir()
    assert install_krita.run(args) == 1
    out = capsys.readouterr().out
    assert "Krita's Python" in out and "was not given grpcio/protobuf" in out and "holds no grpcio/protobuf" in out
    assert "The plug-in will not work" in out


def _parse(installer, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["install", "uninstall"])
    installer.add_arguments(parser)
    return parser.parse_args(argv)


# --- the real wheels, where a package index answers -----------------------------------------------------


def _index_url() -> str:
    """The index our pip uses (PIP_INDEX_URL, pip's config, or PyPI)."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    configured = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                                capture_output=True, text=True)
    return configured.stdout.strip() if configured.returncode == 0 else "https://pypi.org/simple"


@pytest.fixture(scope="module")
def package_index() -> str:
    """The package index's URL; the test is skipped, with the reason, when it does not answer."""
    url = _index_url().rstrip("/") + "/grpcio/"
    try:
        with urllib.request.urlopen(url, timeout=15):
            pass
    except OSError as error:
        pytest.skip(f"the package index does not answer ({url}: {error}), so real wheels cannot be fetched")
    return url


@pytest.fixture(scope="module")
def real_wheels(package_index: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """grpcio/protobuf wheels for this machine's Python, fetched once with the installer's own command."""
    folder = tmp_path_factory.mktemp("wheels")
    subprocess.run(download_command(probe(BARE_PYTHON).wheel_tags(), folder), check=True, capture_output=True)
    return folder


@pytest.mark.parametrize("host", HOSTS)
def test_the_index_has_wheels_for_each_hosts_tags(host: str, package_index: str, tmp_path: Path) -> None:
    """pip resolves grpcio and protobuf for the host's tags to binary wheels those tags accept (no download)."""
    python_version, platform, machine, os_version, _published = HOSTS[host]
    tags = wheel_tags(python_version, platform, machine, os_version)
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--target", str(tmp_path / "target"), "--report", str(report), *tags.pip_options(),
                    *REQUIREMENTS], check=True, capture_output=True, timeout=300)
    chosen = {item["metadata"]["name"]: item["download_info"]["url"].rsplit("/", 1)[1]
              for item in json.loads(report.read_text())["install"]}
    for name in ("grpcio", "protobuf"):
        assert accepts(tags, chosen[name]), (name, chosen[name])


def test_the_gimp_installer_vendors_real_grpc_for_a_python_without_it(package_index: str, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """From the package index, as a user runs it: then the bare Python imports the client through vendor/."""
    args = _parse(install_gimp, ["install", "--gimp-dir", str(tmp_path), "--gimp-python", " ".join(BARE_PYTHON)])
    assert install_gimp.run(args) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    plugin = tmp_path / "plug-ins" / "photostyle"
    assert "lacks grpcio (missing), protobuf (missing): unpacked grpcio-" in out
    assert "(vendored), protobuf" in out and "The plug-in will work." in out
    assert (plugin / VENDOR_DIR / "grpc" / "__init__.py").is_file()
    assert list((plugin / VENDOR_DIR).glob("protobuf-*.dist-info"))
    _assert_imports_the_client_from_vendor(plugin)


def test_the_krita_installer_vendors_from_an_offline_folder(real_wheels: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    args = _parse(install_krita, ["install", "--krita-dir", str(tmp_path / "krita"), "--kritarc",
                                  str(tmp_path / "kritarc"), "--krita-python", " ".join(BARE_PYTHON),
                                  "--offline", str(real_wheels)])
    assert install_krita.run(args) == 0, capsys.readouterr().out
    assert f"from {real_wheels} into" in capsys.readouterr().out
    _assert_imports_the_client_from_vendor(tmp_path / "krita" / "pykrita" / "photostyle_krita")


def test_reinstalling_for_a_python_that_has_grpc_removes_the_vendored_copy(real_wheels: Path,
                                                                            tmp_path: Path) -> None:
    """Stale vendored packages would shadow the host's own: a host that has them gets none."""
    plugin = tmp_path / "plug-ins" / "photostyle"
    assert install_gimp.install(tmp_path, gimp_python=BARE_PYTHON, vendor=True, offline=real_wheels).ok
    assert (plugin / VENDOR_DIR).is_dir()
    report = install_gimp.install(tmp_path, gimp_python=[sys.executable], vendor=True, offline=real_wheels)
    assert report.ok and "nothing to vendor" in str(report)
    assert not (plugin / VENDOR_DIR).exists()


def _assert_imports_the_client_from_vendor(plugin: Path) -> None:
    """The bare Python, with the plug-in's paths as the plug-in sets them, loads grpc and protobuf from vendor/."""
    script = ("import sys; sys.path[:0] = [sys.argv[1] + '/vendor', sys.argv[1]]; import grpc, google.protobuf, "
              "photostyle.server.client; from photostyle.server.wire import photostyle_pb2; "
              "print(grpc.__file__); print(google.protobuf.__file__); print(photostyle_pb2.DESCRIPTOR.package)")
    done = subprocess.run([*BARE_PYTHON, "-c", script, str(plugin)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    grpc_file, protobuf_file, package = done.stdout.split()
    assert Path(grpc_file).is_relative_to(plugin / VENDOR_DIR)
    assert Path(protobuf_file).is_relative_to(plugin / VENDOR_DIR)
    assert package == "photostyle.v1"


# --- hosts whose Python cannot be run: the known-host table and --host-python-version / --host-platform ------


def test_the_known_host_table_gives_the_tags_of_the_python_each_release_embeds() -> None:
    krita = assumed_host_python("Krita", platform="win32")
    assert krita.label == "Python 3.10 win_amd64" and krita.origin == "the Python Krita 5.2 embeds on Windows"
    assert krita.python.wheel_tags() == wheel_tags("3.10", "win-amd64", "AMD64")
    assert krita.python.wheel_tags().abis[0] == "cp310"
    assert (krita.python.grpcio, krita.python.protobuf) == (None, None)  # not known: never asked
    gimp = assumed_host_python("GIMP", platform="win32")
    assert gimp.label == "Python 3.12 win_amd64" and gimp.python.wheel_tags().abis[0] == "cp312"
    for host, python in (("Krita 5.2, Windows", krita), ("GIMP 3.0, Windows", gimp)):
        for wheel in HOSTS[host][-1]:
            assert accepts(python.python.wheel_tags(), wheel), wheel
    # macOS: this Mac's CPU and version (passed here; the installer reads its own machine's).
    for host, machine, os_version in (("GIMP 3.0, macOS arm64", "arm64", "14.5"),
                                      ("GIMP 3.0, macOS x86_64", "x86_64", "13.6")):
        mac = assumed_host_python("GIMP", platform="darwin", machine=machine, os_version=os_version)
        assert mac.origin == "the Python GIMP 3.0 embeds on macOS"
        assert mac.label == f"Python 3.12 macosx_{os_version.split('.')[0]}_0_{machine}"
        for wheel in HOSTS[host][-1]:
            assert accepts(mac.python.wheel_tags(), wheel), wheel
    assert assumed_host_python("Krita", platform="darwin", machine="arm64", os_version="14.5").python.wheel_tags() \
        == wheel_tags("3.10", "macosx-11.0-arm64", "arm64", "14.5")
    assert set(KNOWN_HOST_PYTHONS) == {("Krita", "win32"), ("Krita", "darwin"), ("GIMP", "win32"), ("GIMP", "darwin")}
    assert assumed_host_python("Krita", platform="linux") is None  # the system Python is found and run there


def test_the_host_options_override_the_known_python() -> None:
    newer = assumed_host_python("Krita", "3.11", platform="win32")
    assert newer.label == "Python 3.11 win_amd64" and newer.origin == "given by --host-python-version"
    assert newer.python.wheel_tags().abis == ["cp311", "abi3", "none"]
    mac = assumed_host_python("Krita", platform_tag="macosx_11_0_arm64", platform="darwin")
    assert mac.origin == "given by --host-platform" and mac.python.python_version == "3.10"
    assert mac.python.wheel_tags().platforms[:3] == ["macosx_11_0_arm64", "macosx_11_0_universal2",
                                                     "macosx_10_16_universal2"]
    appimage = assumed_host_python("Krita", "3.10", "manylinux_2_17_x86_64", platform="linux")
    assert appimage.origin == "given by --host-python-version and --host-platform"
    assert appimage.python.wheel_tags() == wheel_tags("3.10", "linux-x86_64", "x86_64", "2.17")
    assert assumed_host_python("GIMP", "3.12", "manylinux2014_aarch64", platform="linux").python.wheel_tags() \
        .platforms == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert assumed_host_python("GIMP", "3.12", "win_arm64", platform="win32").label == "Python 3.12 win_arm64"
    with pytest.raises(HostPackagesError, match="pass --host-python-version X.Y too"):
        assumed_host_python("Krita", platform_tag="manylinux_2_17_x86_64", platform="linux")
    with pytest.raises(HostPackagesError, match="is not a wheel platform tag"):
        assumed_host_python("Krita", "3.10", "linux_x86_64", platform="linux")
    with pytest.raises(HostPackagesError, match="is not a Python version"):
        assumed_host_python("Krita", "310", platform="win32")


def _windows_wheels(folder: Path) -> Path:
    """Home-made wheels for Windows Pythons 3.10 and 3.12, and a decoy for Linux."""
    folder.mkdir()
    make_wheel(folder, "grpcio", "1.99.0", "cp310-cp310-win_amd64", "grpc")
    make_wheel(folder, "grpcio", "1.99.1", "cp312-cp312-win_amd64", "grpc")
    make_wheel(folder, "grpcio", "2.0.0", "cp310-cp310-manylinux_2_17_x86_64", "grpc")  # newer, another platform
    make_wheel(folder, "protobuf", "9.0.0", "cp310-abi3-win_amd64", "google.protobuf")
    return folder


def test_krita_on_windows_without_its_python_vendors_for_310_and_says_the_import_is_unchecked(
        tmp_path: Path) -> None:
    wheels = _windows_wheels(tmp_path / "wheels")
    report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", vendor=True, offline=wheels,
                                   platform="win32")
    text = str(report)
    assert report.ok, text  # done what can be done: exit status 0
    vendor_dir = tmp_path / "krita" / "pykrita" / "photostyle_krita" / VENDOR_DIR
    assert (f"Vendored grpcio 1.99.0 and protobuf 9.0.0 for Python 3.10 win_amd64 (the Python Krita 5.2 embeds on "
            f"Windows) from {wheels} into {vendor_dir}; Krita's Python could not be run to check the import — if "
            "Krita says it cannot load the plug-in, pass --krita-python or --host-python-version/--host-platform"
            ) in text
    assert (vendor_dir / "grpc" / "__init__.py").read_text() == "__version__ = '1.99.0'\n"
    assert (vendor_dir / "protobuf-9.0.0.dist-info" / "METADATA").is_file()
    assert "pip install --target" not in text


def test_gimp_on_windows_without_its_python_vendors_for_312(tmp_path: Path) -> None:
    wheels = _windows_wheels(tmp_path / "wheels")
    report = install_gimp.install(tmp_path, vendor=True, offline=wheels, platform="win32")
    assert report.ok and "Vendored grpcio 1.99.1 and protobuf 9.0.0 for Python 3.12 win_amd64 (the Python GIMP 3.0 " \
        "embeds on Windows)" in str(report) and "GIMP's Python could not be run" in str(report)


def test_the_host_options_choose_the_wheels_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_krita, "default_krita_python", lambda platform: None)  # e.g. the AppImage
    wheels = _windows_wheels(tmp_path / "wheels")
    args = _parse(install_krita, ["install", "--krita-dir", str(tmp_path / "krita"), "--kritarc",
                                  str(tmp_path / "kritarc"), "--offline", str(wheels), "--host-python-version",
                                  "3.12", "--host-platform", "win_amd64"])
    assert install_krita.run(args) == 0
    out = capsys.readouterr().out
    assert ("Vendored grpcio 1.99.1 and protobuf 9.0.0 for Python 3.12 win_amd64 (given by --host-python-version "
            "and --host-platform)") in out and "could not be run to check the import" in out


def test_wheels_missing_for_the_known_python_are_a_problem_with_the_way_out(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "grpcio", "1.99.1", "cp312-cp312-win_amd64", "grpc")  # not for Krita's 3.10
    report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", vendor=True, offline=wheels,
                                   platform="win32")
    text = str(report)
    assert not report.ok and "Krita's Python was not given grpcio/protobuf" in text
    assert f"{wheels} holds no grpcio/protobuf wheels for Python 3.10" in text
    assert "--python-version 3.10" in text and "--platform win_amd64" in text
    assert "--host-python-version X.Y" in text and "pip install --target" not in text


def test_an_unknown_host_python_is_reported_with_the_options(tmp_path: Path) -> None:
    report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", vendor=True, platform="freebsd14")
    assert not report.ok
    assert "Could not tell which Python Krita uses" in str(report) and "--host-python-version X.Y" in str(report)


# --- a stale vendor/, a Python that prints something else, a failed unpacking --------------------------


def _stale_vendor(plugin: Path) -> Path:
    """A vendor/ as an earlier install for another Python left it."""
    stale = plugin / VENDOR_DIR / "grpc"
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text("__version__ = '0.0.1'  # cp312, the host moved on\n")
    return plugin / VENDOR_DIR


def test_an_install_that_vendors_nothing_removes_an_earlier_vendor_folder(tmp_path: Path) -> None:
    gimp_plugin = tmp_path / "gimp" / "plug-ins" / "photostyle"
    stale = _stale_vendor(gimp_plugin)  # --no-vendor: only checked
    report = install_gimp.install(tmp_path / "gimp", gimp_python=BARE_PYTHON, vendor=False)
    assert not stale.exists() and f"Removed {stale}, left by an earlier install" in str(report)
    assert "No module named 'grpc'" in str(report)  # then checked without it
    stale = _stale_vendor(gimp_plugin)  # check=False
    report = install_gimp.install(tmp_path / "gimp", check=False)
    assert report.ok and not stale.exists() and f"Removed {stale}" in str(report)
    krita_plugin = tmp_path / "krita" / "pykrita" / "photostyle_krita"
    stale = _stale_vendor(krita_plugin)  # check=False
    assert f"Removed {stale}" in str(install_krita.install(tmp_path / "krita", tmp_path / "kritarc", check=False))
    assert not stale.exists()
    stale = _stale_vendor(krita_plugin)  # no Python known nor given
    report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", vendor=True, platform="freebsd14")
    assert not stale.exists() and f"Removed {stale}" in str(report)
    assert "Could not tell which Python Krita uses" in str(report)
    # Nothing there: nothing said.
    assert "Removed" not in str(install_krita.install(tmp_path / "krita", tmp_path / "kritarc", check=False))


def test_a_failed_vendoring_keeps_the_earlier_vendor_folder_and_says_so(tmp_path: Path) -> None:
    plugin = tmp_path / "krita" / "pykrita" / "photostyle_krita"
    stale = _stale_vendor(plugin)
    (tmp_path / "empty").mkdir()
    report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", vendor=True,
                                   offline=tmp_path / "empty", platform="win32")
    assert not report.ok and f"({stale}, from an earlier install, was left as it was)" in str(report)
    assert (stale / "grpc" / "__init__.py").is_file()


def test_the_host_options_are_refused_with_no_vendor(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = _parse(install_krita, ["install", "--krita-dir", str(tmp_path / "krita"), "--kritarc",
                                  str(tmp_path / "kritarc"), "--no-vendor", "--host-python-version", "3.12"])
    assert install_krita.run(args) == 2
    captured = capsys.readouterr()
    assert "error: --host-python-version/--host-platform choose the wheels to vendor, so they cannot go with " \
           "--no-vendor" in captured.err
    assert not (tmp_path / "krita").exists()  # refused before installing anything
    args = _parse(install_gimp, ["install", "--gimp-dir", str(tmp_path / "gimp"), "--no-vendor",
                                 "--host-platform", "win_amd64"])
    assert install_gimp.run(args) == 2 and "cannot go with --no-vendor" in capsys.readouterr().err
    # The library says it in the report.
    report = install_gimp.install(tmp_path / "gimp", gimp_python=BARE_PYTHON, vendor=False,
                                  host_python_version="3.12")
    assert not report.ok and "cannot go with --no-vendor: drop --no-vendor" in str(report)
    assert not (tmp_path / "gimp" / "plug-ins" / "photostyle" / VENDOR_DIR).exists()


@pytest.mark.parametrize("printed, shown", [
    ("print('Welcome to the host Python!')", "'Welcome to the host Python!'"),  # not JSON
    ("print('[1, 2]')", "'[1, 2]'"),  # JSON, but no object
    ("print('{\"python_version\": \"3.12\"}')", "'{\"python_version\": \"3.12\"}'"),  # an object, not the probe's
    ("print('x' * 5000)", "'" + "x" * 200 + "…'"),  # long: truncated
])
def test_probe_of_a_python_that_prints_something_else_says_what_it_printed(printed: str, shown: str) -> None:
    python = [sys.executable, "-c", printed]  # runs this instead of the probe script (which becomes its argv)
    with pytest.raises(HostPackagesError) as refused:
        probe(python)
    message = str(refused.value)
    assert message.startswith(f"{' '.join(python)} could not be asked what it is: it printed {shown} instead of")


def test_probe_errors_reach_the_installer_report_not_a_traceback(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    args = _parse(install_gimp, ["install", "--gimp-dir", str(tmp_path), "--gimp-python",
                                 f"{sys.executable} -c \"print('hello')\""])
    assert install_gimp.run(args) == 1
    assert "was not given grpcio/protobuf: " in capsys.readouterr().out


def _fake_pip_download(wheels: list[Path]):
    """A stand-in for `pip download` that 'fetches' `wheels` (copies them into --dest)."""
    def run(command: list[str], **_kwargs):
        dest = Path(command[command.index("--dest") + 1])
        for wheel in wheels:
            (dest / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")
    return run


def test_a_broken_wheel_keeps_the_old_vendor_folder_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from photostyle.server.install import host_packages
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    good = make_wheel(wheels, "grpcio", "1.99.0", "py3-none-any", "grpc")
    broken = wheels / "protobuf-9.0.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip file")
    plugin = tmp_path / "plugin"
    stale = _stale_vendor(plugin)
    monkeypatch.setattr(host_packages.subprocess, "run", _fake_pip_download([good, broken]))
    with pytest.raises(HostPackagesError, match=r"protobuf-9\.0\.0-py3-none-any\.whl is not a wheel"):
        vendor(_host(), stale)
    assert sorted(path.name for path in plugin.iterdir()) == [VENDOR_DIR]  # no temporary folder left
    assert sorted(path.name for path in stale.iterdir()) == ["grpc"]  # the old one, whole: nothing half-unpacked
    assert "0.0.1" in (stale / "grpc" / "__init__.py").read_text()
    # With good wheels it is swapped in whole, and nothing else is left beside it.
    protobuf = make_wheel(wheels, "protobuf", "9.0.1", "py3-none-any", "google.protobuf")
    monkeypatch.setattr(host_packages.subprocess, "run", _fake_pip_download([good, protobuf]))
    assert vendor(_host(), stale) == [good.name, protobuf.name]
    assert sorted(path.name for path in plugin.iterdir()) == [VENDOR_DIR]
    assert (stale / "grpc" / "__init__.py").read_text() == "__version__ = '1.99.0'\n"
    assert (stale / "google" / "protobuf" / "__init__.py").is_file()
    assert (stale.stat().st_mode & 0o777) == (plugin.stat().st_mode & 0o777)  # a folder's usual mode, not 0700
