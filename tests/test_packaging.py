"""The sdist and the wheel carry the plug-ins, and an installed wheel, not this source tree, installs them.

`python -m build` makes the sdist and, from it, the wheel, out of a copy of the source tree (so
nothing is written here). The wheel goes into a fresh venv whose only photostyle is the wheel's;
the venv borrows the dev venv's other packages through a .pth file instead of downloading torch
again. From that venv, `photostyle plugins install gimp|krita` must lay out both plug-ins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The plug-ins' files, relative to plugins/: what both archives must carry and the installers copy.
PLUGIN_FILES = sorted(path.relative_to(ROOT / "plugins").as_posix() for path in (ROOT / "plugins").rglob("*")
                      if path.suffix in (".py", ".desktop") and "__pycache__" not in path.parts)
_NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", ".pytest_cache", "__pycache__", "build", "dist", "*.egg-info",
                                      "out")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from it, in a folder."""
    work = tmp_path_factory.mktemp("packaging")
    shutil.copytree(ROOT, work / "src", ignore=_NOT_SOURCES)
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"),
                            str(work / "src")], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return work / "dist"


def _only(folder: Path, pattern: str) -> Path:
    [found] = folder.glob(pattern)
    return found


def test_the_sdist_and_the_wheel_carry_the_plugins(dist: Path) -> None:
    assert "gimp/photostyle.py" in PLUGIN_FILES and "krita/photostyle_krita.desktop" in PLUGIN_FILES
    assert "gimp/photostyle_gimp/capture.py" in PLUGIN_FILES
    with zipfile.ZipFile(_only(dist, "photostyle-*.whl")) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(_only(dist, "photostyle-*.tar.gz")) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for name in PLUGIN_FILES:
        assert f"photostyle/plugins/{name}" in in_wheel, name
        assert f"plugins/{name}" in in_sdist, name
    assert "photostyle/server/wire/photostyle_pb2.py" in in_wheel  # the wire contract the installers vendor
    assert not [name for name in in_wheel if "__pycache__" in name]


@pytest.fixture(scope="module")
def wheel_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no dependencies: those come from the dev venv via a .pth)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Added after the venv's own site-packages, and its .pth files (our editable install) are not read.
    (Path(site) / "dev-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(_only(dist, "photostyle-*.whl"))], check=True, timeout=300)
    return venv


def _photostyle(venv: Path, *args: str) -> None:
    """Run the venv's `photostyle` command, which must succeed (exit 0: nothing left for the user to do)."""
    done = subprocess.run([venv / "bin" / "photostyle", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_venvs_photostyle_is_the_wheel(wheel_venv: Path) -> None:
    script = ("import json, photostyle.server, photostyle.plugins; "
              "print(json.dumps([photostyle.server.__file__, photostyle.plugins.__file__]))")
    done = subprocess.run([wheel_venv / "bin" / "python", "-c", script], capture_output=True, text=True, check=True)
    for module in json.loads(done.stdout):
        assert Path(module).is_relative_to(wheel_venv), module


def test_the_installed_wheel_installs_the_gimp_plugin(wheel_venv: Path, tmp_path: Path) -> None:
    python = wheel_venv / "bin" / "python"
    _photostyle(wheel_venv, "plugins", "install", "gimp", "--gimp-dir", str(tmp_path), "--gimp-python", str(python))
    plugin = tmp_path / "plug-ins" / "photostyle"
    for name in PLUGIN_FILES:
        if name.startswith("gimp/"):
            assert (plugin / name.removeprefix("gimp/")).read_bytes() == (ROOT / "plugins" / name).read_bytes(), name
    assert (plugin / "photostyle" / "server" / "client" / "__init__.py").is_file()
    assert (plugin / "photostyle" / "server" / "wire" / "photostyle_pb2.py").is_file()
    config = json.loads((plugin / "photostyle-daemon.json").read_text())
    assert config["start_command"][0] == str(python)  # the plug-in starts the daemon the wheel installed


def test_the_installed_wheel_installs_the_krita_docker(wheel_venv: Path, tmp_path: Path) -> None:
    python = wheel_venv / "bin" / "python"
    _photostyle(wheel_venv, "plugins", "install", "krita", "--krita-dir", str(tmp_path / "krita"), "--kritarc",
                str(tmp_path / "kritarc"), "--krita-python", str(python))
    pykrita = tmp_path / "krita" / "pykrita"
    for name in PLUGIN_FILES:
        if name.startswith("krita/"):
            source = ROOT / "plugins" / name
            assert (pykrita / name.removeprefix("krita/")).read_bytes() == source.read_bytes(), name
    assert (pykrita / "photostyle_krita" / "photostyle" / "server" / "client" / "launch.py").is_file()
    config = json.loads((pykrita / "photostyle_krita" / "photostyle-daemon.json").read_text())
    assert config["start_command"][0] == str(python)
    assert "enable_photostyle_krita=true" in (tmp_path / "kritarc").read_text()
