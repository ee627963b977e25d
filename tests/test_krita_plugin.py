"""The Krita docker: its installer, its pixel conversions, and end-to-end runs inside a real Krita 5.

The end-to-end tests install the plug-in with our installer into a throwaway HOME, start a real
daemon on a free loopback port, and run Krita under Xvfb with a test-only extension
(tests/krita/photostyle_krita_test) that drives the docker's real widgets and dumps what it saw;
the checks are made here. The live preview's shrinking and pictures (`qimages`) also run on
their own in the system Python with Krita's PyQt5 (tests/krita/check_qimages.py). Without Krita,
Xvfb or Debian's python3-grpcio/protobuf/pyqt5 they are skipped with the reason (CI installs them:
see .ci/run).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from PIL import Image

from photostyle.core import apply_look, load_look
from photostyle.server.install import krita as install_krita
from photostyle.server.client import LIVE_PREVIEW_SIDE, Client, DaemonUnavailableError, live_preview_scale
from photostyle.server.client.option_form import option_fields
from photostyle.server.install.common import read_daemon_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "server" / "cli" / "examples"
PHOTO, REFERENCE = EXAMPLES / "coffee.png", EXAMPLES / "rocket.jpg"
DRIVER = Path(__file__).resolve().parent / "krita"
SCREENSHOT = ROOT / "docs" / "krita-docker.png"
KRITA_TIMEOUT_S = 180
# Engine overrides in kritarc (one HOME serves every test, so each sets them all): 10 iterations
# give each of the default preset's stages (coarse, medium, fine) at least one. The cancel test
# needs a long job with a "style" stage: the classic preset.
FAST = {"preset": "default", "engine_options": "size=64 iterations=10", "preview_every": "1"}
# SLOW's working size is where a kritarc from before the option widgets kept it.
SLOW = {"preset": "classic", "working_size": "256", "engine_options": "iterations=400", "preview_every": "1"}


def load_pixels_module():
    """plugins/krita/photostyle_krita/pixels.py on its own (the package itself needs Krita)."""
    spec = importlib.util.spec_from_file_location("krita_pixels", ROOT / "plugins/krita/photostyle_krita/pixels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestPixels:
    pixels = load_pixels_module()

    @pytest.mark.parametrize("depth, pack", [("U8", "<4B"), ("U16", "<4H")])
    def test_integer_depths_are_bgra_in_krita(self, depth, pack):
        krita = struct.pack(pack, 1, 2, 3, 4) * 2  # B, G, R, A
        wire = self.pixels.to_wire(krita, depth)
        assert struct.unpack(pack, wire[:len(wire) // 2]) == (3, 2, 1, 4)
        assert bytes(self.pixels.from_wire(wire, depth)) == krita

    @pytest.mark.parametrize("depth, pack", [("F16", "<4e"), ("F32", "<4f")])
    def test_float_depths_are_rgba_and_travel_as_float32(self, depth, pack):
        krita = struct.pack(pack, 0.25, 0.5, 0.75, 1.0)
        wire = self.pixels.to_wire(krita, depth)
        assert struct.unpack("<4f", wire) == (0.25, 0.5, 0.75, 1.0)
        assert bytes(self.pixels.from_wire(wire, depth)) == krita
        assert self.pixels.DEPTHS[depth][0] == "float32"


class TestInstaller:
    def test_install_copies_enables_and_records_the_daemon(self, tmp_path):
        kritarc = tmp_path / "kritarc"
        kritarc.write_text("[General]\nfoo=bar\n\n[python]\nenable_other=true\n")
        report = install_krita.install(tmp_path / "krita", kritarc, address="127.0.0.1:5999", check=False)
        plugin = tmp_path / "krita" / "pykrita" / "photostyle_krita"
        assert report.ok, str(report)
        for name in ("__init__.py", "docker.py", "layers.py", "pixels.py", "qimages.py", "qtloop.py", "settings.py",
                     "photostyle/server/client/launch.py", "photostyle/server/client/live_preview.py",
                     "photostyle/server/client/__init__.py", "photostyle/server/client/controller.py",
                     "photostyle/server/wire/photostyle_pb2.py"):
            assert (plugin / name).is_file(), name
        assert "X-KDE-Library=photostyle_krita" in (plugin.parent / "photostyle_krita.desktop").read_text()
        text = kritarc.read_text()
        assert "enable_photostyle_krita=true" in text and "enable_other=true" in text and "foo=bar" in text
        config = read_daemon_config(plugin)
        assert config["address"] == "127.0.0.1:5999" and "serve" in config["start_command"]

    def test_uninstall_removes_only_what_install_made(self, tmp_path):
        kritarc = tmp_path / "kritarc"
        install_krita.install(tmp_path / "krita", kritarc, check=False)
        (tmp_path / "krita" / "pykrita" / "other.desktop").write_text("x")
        install_krita.uninstall(tmp_path / "krita", kritarc)
        assert sorted(p.name for p in (tmp_path / "krita" / "pykrita").iterdir()) == ["other.desktop"]
        assert "photostyle_krita" not in kritarc.read_text()

    def test_check_reports_a_python_without_grpc(self, tmp_path):
        python = shutil.which("python3") or sys.executable
        report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc",
                                       krita_python=[python, "-S", "-I"])  # -S: no site-packages, so no grpc
        assert not report.ok and "grpc" in str(report) and "apt install python3-grpcio" in str(report)

    def test_debian_krita_python_imports_the_client(self, tmp_path):
        python = install_krita.default_krita_python()
        if python is None:
            pytest.skip("no Debian Krita here (its kritapykrita.so names the Python it embeds)")
        report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc")
        assert report.ok, str(report)


class TestLivePreviewImages:
    def test_shrinking_and_compositing_in_kritas_python(self, tmp_path):
        """qimages in Krita's own Python and PyQt5 (tests/krita/check_qimages.py asserts the pixels)."""
        python = install_krita.default_krita_python()
        if python is None:
            pytest.skip("no Debian Krita here (its kritapykrita.so names the Python it embeds)")
        report = install_krita.install(tmp_path / "krita", tmp_path / "kritarc", check=False)
        assert report.ok, str(report)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
        plugin = tmp_path / "krita" / "pykrita" / "photostyle_krita"
        done = subprocess.run([*python, str(DRIVER / "check_qimages.py"), str(plugin), str(REFERENCE)],
                              capture_output=True, text=True, env=env, timeout=120)
        missing = [name for name in ("PyQt5", "grpc", "google") if f"No module named '{name}" in done.stderr]
        if missing:
            pytest.skip(f"Krita's Python lacks {missing[0]}: apt-get install python3-pyqt5 python3-grpcio "
                        "python3-protobuf")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        # Only a quarter (integer layers) or an eighth (float layers) of the area was read.
        assert all(summary[depth] <= 0.25 for depth in ("U8", "U16", "F16", "F32")), summary
        assert "daemon bug" in summary["wrong_size"]


# End to end, in a real Krita --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def krita_problem() -> str | None:
    """Why Krita cannot run here, or None."""
    missing = [tool for tool in ("krita", "xvfb-run", "timeout") if shutil.which(tool) is None]
    if missing:
        return (f"{', '.join(missing)} not installed: apt-get install krita python3-pyqt5 xvfb xauth "
                "python3-grpcio python3-protobuf")
    if install_krita.default_krita_python() is None:
        return "cannot tell which Python Krita embeds (no kritapykrita.so)"
    return None


@pytest.fixture(scope="session")
def daemon():
    """A real daemon on a free loopback port, from this venv."""
    address = f"127.0.0.1:{free_port()}"
    host, port = address.split(":")
    process = subprocess.Popen([sys.executable, "-m", "photostyle.server.cli", "serve", "--host", host,
                                "--port", port], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    with Client(address) as client:
        while True:
            try:
                client.capabilities(timeout=2)
                break
            except DaemonUnavailableError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"the daemon did not start: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
    yield address
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="session")
def krita_home(tmp_path_factory, pytestconfig):
    """A throwaway HOME; Krita's resource database is cached between sessions (19-23 s fresh, 4-8 s after)."""
    problem = krita_problem()
    if problem:
        pytest.skip(problem)
    home = tmp_path_factory.mktemp("krita-home")
    pytest_cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    cache = pytest_cache.mkdir("krita-share") if pytest_cache else home / "no-cache"
    share = home / ".local" / "share" / "krita"
    if cache.is_dir() and any(cache.iterdir()):
        shutil.copytree(cache, share, ignore=shutil.ignore_patterns("pykrita"))
    yield home
    if pytest_cache and not any(cache.iterdir()) and share.is_dir():
        shutil.copytree(share, cache, ignore=shutil.ignore_patterns("pykrita"), dirs_exist_ok=True)


def run_krita(home: Path, out: Path, scenario: str, address: str, engine: dict[str, str | None], files: list[Path],
              start_daemon: bool = False, second_reference: Path | None = None, frames: list[Path] = ()) -> dict:
    """Install plug-in and driver, start Krita on `files` under Xvfb, and return what the driver recorded."""
    share, kritarc = home / ".local" / "share" / "krita", home / ".config" / "kritarc"
    report = install_krita.install(share, kritarc, address=address, start_command=None if start_daemon else [])
    assert report.ok, str(report)
    pykrita = share / "pykrita"
    shutil.copytree(DRIVER / "photostyle_krita_test", pykrita / "photostyle_krita_test", dirs_exist_ok=True)
    shutil.copy(DRIVER / "photostyle_krita_test.desktop", pykrita)
    install_krita.set_kritarc_value(kritarc, "python", "enable_photostyle_krita_test", "true")
    settings = {"address": address, "reference_file": "", "regions": "auto", "pair_regions": None, **engine}
    for key, value in settings.items():  # None: no such key (as in a kritarc from an older version)
        install_krita.set_kritarc_value(kritarc, "PhotoStyle", key, value)
    out.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "PYTHON"))}
    env.update(HOME=str(home), PHOTOSTYLE_TEST_OUT=str(out), PHOTOSTYLE_TEST_SCENARIO=scenario,
               PHOTOSTYLE_TEST_REFERENCE=str(REFERENCE), PHOTOSTYLE_TEST_WATCHDOG_S=str(KRITA_TIMEOUT_S - 20),
               PHOTOSTYLE_TEST_SECOND_REFERENCE=str(second_reference or ""),
               PHOTOSTYLE_TEST_FRAMES=os.pathsep.join(map(str, frames)))
    command = ["timeout", str(KRITA_TIMEOUT_S), "xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "krita",
               "--nosplash", *map(str, files)]
    result, stacks, trace = out / "result.json", out / "watchdog-stacks.txt", out / "trace.txt"
    for _attempt in range(2):  # xvfb-run -a can race another X server for a display number: retry once
        done = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace")
        if stacks.is_file():
            break
    if not result.is_file():
        if not stacks.is_file():  # the driver is loaded with the plug-ins: Krita itself did not come up
            pytest.skip(f"Krita did not start under Xvfb (exit {done.returncode}): {done.stderr[-1500:]}")
        pytest.fail(f"Krita exited {done.returncode} without a result; driver trace:\n"
                    f"{trace.read_text() if trace.is_file() else '(none)'}\nstacks:\n{stacks.read_text()}")
    record = json.loads(result.read_text())
    assert "error" not in record, record["error"]
    return record


def raw(out: Path, name: str, width: int, height: int, channels: int = 4) -> np.ndarray:
    return np.frombuffer((out / name).read_bytes(), np.uint8).reshape(height, width, channels)


def result_layer(record: dict) -> dict | None:
    return next((node for node in record["nodes_after"] if node["name"] not in
                 [before["name"] for before in record["nodes_before"]]), None)


def animation_drawings(folder: Path) -> tuple[list[np.ndarray], list[Path]]:
    """Three distinct drawings from the photo, with its colours (RGBA), and the PNG files holding them."""
    with Image.open(PHOTO) as image:
        photo = np.asarray(image.convert("RGBA"))
    drawings = [photo, photo[:, ::-1], np.roll(photo, photo.shape[0] // 3, axis=0)]
    files = [folder / f"drawing-{index}.png" for index in range(len(drawings))]
    for drawing, file in zip(drawings, files):
        Image.fromarray(drawing).save(file)
    return drawings, files


def assert_document_unchanged(record: dict, out: Path) -> None:
    width, height = record["size"]
    assert record["nodes_after"] == record["nodes_before"]
    assert np.array_equal(raw(out, "projection_after.raw", width, height), raw(out, "projection_before.raw", width, height))
    assert (out / "source_after.raw").read_bytes() == (out / "source_before.raw").read_bytes()


@pytest.mark.krita
class TestInKrita:
    def test_run_adds_masked_layer_and_leaves_the_photo_alone(self, krita_home, daemon, tmp_path):
        started = time.monotonic()
        # The README's picture shows the default preset as it is, on the demo pair at its size.
        engine = {**FAST, "engine_options": ""} if os.environ.get("PHOTOSTYLE_UPDATE_SCREENSHOTS") else FAST
        record = run_krita(krita_home, tmp_path, "run", daemon, engine, [REFERENCE, PHOTO])
        width, height = record["size"]
        assert record["status"].startswith("Done: new layer “Background styled like rocket.jpg”"), record["status"]
        assert "regions: top" in record["status_started"]  # local selections named alike were paired
        layer = result_layer(record)
        assert layer == {"name": "Background styled like rocket.jpg", "type": "paintlayer", "depth": "U8",
                         "children": [{"name": "Selection", "type": "transparencymask", "depth": "U8", "children": []}]}
        names = [node["name"] for node in record["nodes_after"]]
        assert names.index(layer["name"]) == names.index(record["source"]) + 1  # right above the source
        inside = raw(tmp_path, "selection.raw", width, height, 1)[:, :, 0] > 127
        before = raw(tmp_path, "projection_before.raw", width, height).astype(int)
        after = raw(tmp_path, "projection_after.raw", width, height).astype(int)
        changed = np.abs(after - before).sum(axis=2) > 0
        assert changed[inside].mean() > 0.9 and not changed[~inside].any()
        assert (tmp_path / "source_after.raw").read_bytes() == (tmp_path / "source_before.raw").read_bytes()
        assert record["preview_seen"]
        stages = {text.split()[0] for _, text in record["progress"]}
        assert {"coarse", "medium", "fine"} <= stages and record["progress_format"] == "done", stages
        # Preview was pressed just before Run: Run cancelled it, and nothing of it showed afterwards.
        after_run = [text for seconds, text in record["statuses"] if seconds >= record["run_clicked_at"]]
        assert after_run and not any("preview" in text.lower() for text in after_run), after_run
        assert record["selection_after"]  # the user's selection is still there
        assert 0 < (tmp_path / "screenshot.png").stat().st_size < 400_000
        if os.environ.get("PHOTOSTYLE_UPDATE_SCREENSHOTS"):  # refresh the README's picture on purpose only
            SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copyfile(tmp_path / "screenshot.png", SCREENSHOT)
        print(f"Krita run: {time.monotonic() - started:.1f} s")

    def test_option_widgets_come_from_the_daemon_and_set_the_job(self, krita_home, daemon, tmp_path):
        """The painterly preset (which Krita's docker does not know by name) with options text
        holding smooth, which that preset does not read: the docker shows the preset's options as
        the daemon describes them, drops smooth (or the daemon would refuse the job), and ticking
        its "Keep the photo's brightness" box runs a job whose result has the photo's brightness."""
        engine = {"preset": "painterly", "engine_options": "size=64 iterations=5 smooth=false"}
        record = run_krita(krita_home, tmp_path, "options", daemon, engine, [PHOTO])
        with Client(daemon) as client:
            offered = client.capabilities()
        assert record["presets_offered"] == [preset.name for preset in offered.presets]
        assert record["preset_chosen"] == "painterly"
        assert record["option_widgets"] == [field.name for field in option_fields(offered, "painterly")]
        assert "keep_brightness" in record["option_widgets"] and "smooth" not in record["option_widgets"]
        assert record["options_text"] == "size=64 iterations=5 keep_brightness=true"
        assert record["status"].startswith("Done: new layer"), record["status"]
        width, height = record["size"]
        inside = raw(tmp_path, "selection.raw", width, height, 1)[:, :, 0] > 127
        photo = raw(tmp_path, "source_before.raw", width, height)[:, :, 2::-1][inside].astype(float)  # BGRA -> RGB
        styled = raw(tmp_path, "result_layer.raw", width, height)[:, :, 2::-1][inside].astype(float)
        luma = np.abs((styled - photo) @ np.array([0.2126, 0.7152, 0.0722])).mean()
        colour = np.abs(styled - photo).mean()
        assert colour > 5 and luma < 0.1 * colour, (luma, colour)
        assert (tmp_path / "source_after.raw").read_bytes() == (tmp_path / "source_before.raw").read_bytes()

    def test_a_runs_look_is_saved_and_applied_to_the_layer_as_a_new_layer(self, krita_home, daemon, tmp_path):
        """Run, Save look… (a 33³ .cube), then Apply look… with that file on the photo's layer: a new
        layer above it holding the engine's own apply of the whole layer (the selection plays no
        part), the layer itself untouched."""
        engine = {"preset": "preview", "engine_options": "", "preview_every": "1"}
        record = run_krita(krita_home, tmp_path, "look", daemon, engine, [PHOTO])
        width, height = record["size"]
        assert record["run_status"].startswith("Done: new layer"), record["run_status"]
        assert "The look reproduces this result within ΔE" in record["run_status"]
        assert record["save_look_enabled"]
        saved = Path(record["saved_look"])
        assert record["save_status"].startswith(f"Saved the look to {saved} (ΔE "), record["save_status"]
        look = load_look(saved)
        assert look.lut.size == 33
        assert record["apply_started_status"] == "Applying the look saved look.cube to “Background”…"
        assert not record["apply_look_enabled_while_applying"]
        assert record["apply_status"].startswith("Done: new layer “Background (look: saved look)”"), \
            record["apply_status"]
        names = [node["name"] for node in record["nodes_with_look"]]
        assert names.index("Background (look: saved look)") == names.index(record["source"]) + 1
        source = raw(tmp_path, "source_before.raw", width, height)[:, :, [2, 1, 0, 3]]  # BGRA -> RGBA
        applied = raw(tmp_path, "look_layer.raw", width, height)[:, :, [2, 1, 0, 3]]
        assert np.abs(applied.astype(int) - apply_look(look, source)).max() <= 1
        assert (tmp_path / "source_after.raw").read_bytes() == (tmp_path / "source_before.raw").read_bytes()
        # One Edit ▸ Undo removes the look's layer, and only it (Krita records adding a node as one step).
        assert record["nodes_after"] == [node for node in record["nodes_with_look"]
                                         if node["name"] != "Background (look: saved look)"]

    def test_preview_shows_a_restyled_look_and_changes_nothing(self, krita_home, daemon, tmp_path):
        photo, second = tmp_path / "coffee-large.png", tmp_path / "second-reference.png"
        with Image.open(PHOTO) as image:  # large enough that the selected area is shrunk before sending
            image.convert("RGB").resize((image.width * 3, image.height * 3), Image.LANCZOS).save(photo)
        second_colour = (40, 190, 90)  # green, far from both the photo and the first reference
        noise = np.random.default_rng(0).integers(-30, 30, (240, 360, 3))
        Image.fromarray(np.clip(np.array(second_colour) + noise, 0, 255).astype(np.uint8)).save(second)
        with Client(daemon) as client:
            min_side = client.capabilities().limits.min_side
        record = run_krita(krita_home, tmp_path, "preview", daemon, FAST, [REFERENCE, photo], second_reference=second)
        width, height = record["size"]
        x, y, w, h = width // 4, height // 4, width // 2, height // 2  # the driver's selection
        scale = live_preview_scale(w, h, min_side)
        sent = [round(w * scale), round(h * scale)]
        assert scale < 1 and max(sent) == LIVE_PREVIEW_SIDE

        first, again, refreshed = record["preview_first"], record["preview_superseding"], record["preview_refreshed"]
        for preview in (first, again, refreshed):
            assert preview["new"] and preview["status"].startswith("Preview of the selection of “Background”"), \
                preview
            assert preview["size"] == sent  # the selected area, shrunk by the client library's policy
            assert max(preview["shown_size"]) <= record["preview_px"]  # fits the docker's preview area
            assert preview["buttons"] == {"live_preview": True, "run": True, "cancel": False}  # nothing in flight
        assert all(record["cancel_enabled_on_click"])  # each preview could be cancelled while in flight
        assert record["reference_changed_to"] == "second-reference.png (file)"
        assert " like rocket.jpg " in first["status"] and " like second-reference.png " in refreshed["status"]
        statuses = [text for _, text in record["statuses"]]
        cancelled_at = statuses.index("Preview cancelled.")  # the last preview, cancelled at once
        assert not any(text.startswith("Preview failed") or "cancelled" in text for text in statuses[:cancelled_at])
        assert record["preview_cancelled"] == {"buttons": {"live_preview": True, "run": True, "cancel": False},
                                               "status": "Preview cancelled.", "same_image_later": True}

        # The colours moved to the reference's: a stub answering with the photo would stay at distance 1.
        # First preview: the local selection "top" (the canvas's upper half) paired with the
        # reference's upper half; then in the "whole" mode, the selected area with the whole reference.
        projection = raw(tmp_path, "projection_before.raw", width, height)[y:y + h, x:x + w, 2::-1]  # BGRA -> RGB
        with Image.open(REFERENCE) as image:
            reference = np.asarray(image.convert("RGB"), float)

        def preview(name: str) -> np.ndarray:
            with Image.open(tmp_path / f"preview_{name}.png") as image:
                return np.asarray(image.convert("RGB"), float)

        def moved(before: np.ndarray, after: np.ndarray, target: np.ndarray) -> float:
            """How far the mean colour still is from `target`'s, as a fraction of where it started."""
            start, end, goal = (part.reshape(-1, 3).mean(axis=0) for part in (before, after, target))
            assert np.linalg.norm(start - goal) > 60, (start, goal)  # clearly different to begin with
            return float(np.linalg.norm(end - goal) / np.linalg.norm(start - goal))

        # "top" holds the area's upper half (less the preview's soft edge) and the reference's.
        first_top = preview("first")[:sent[1] // 2 - 2]
        in_region = moved(projection[:h // 2], first_top, reference[:reference.shape[0] // 2])
        whole = moved(projection, preview("superseding"), reference)
        with Image.open(second) as image:
            refreshed_move = moved(projection, preview("refreshed"), np.asarray(image.convert("RGB"), float))
        assert in_region < 0.2 and whole < 0.2 and refreshed_move < 0.2, (in_region, whole, refreshed_move)
        print(f"Krita preview: remaining colour distance to the reference {in_region:.2f} (paired region), "
              f"{whole:.2f} (whole), {refreshed_move:.2f} (refreshed, second reference)")
        assert_document_unchanged(record, tmp_path)  # no layer added, no pixel changed
        assert record["selection_after"]
        print(f"Krita preview: first {first['seconds']:.2f} s, superseding {again['seconds']:.2f} s, refreshed "
              f"{refreshed['seconds']:.2f} s after the reference changed (incl. the docker's 0.3 s pause); sent "
              f"{sent[0]}×{sent[1]} px of a {w}×{h} px selection")

    def test_automatic_regions_come_back_as_local_selections(self, krita_home, daemon, tmp_path):
        """No local selection named alike in photo and reference (only a stale "auto: 9" from an earlier
        run): the engine finds regions, and they arrive with the result as local selections "auto: 1"…
        on the photo's layer and on the reference document's top layer, at each document's size."""
        record = run_krita(krita_home, tmp_path, "auto", daemon, FAST, [REFERENCE, PHOTO])
        width, height = record["size"]
        assert record["region_mode"] == "auto"
        assert "(regions: found by the engine)" in record["status_started"], record["status_started"]
        assert record["status"].startswith("Done: new layer “Background styled like rocket.jpg”"), record["status"]
        names = [node["name"] for node in record["nodes_after"]]
        assert names.index(result_layer(record)["name"]) == names.index(record["source"]) + 1
        assert (tmp_path / "source_after.raw").read_bytes() == (tmp_path / "source_before.raw").read_bytes()
        found = [region["name"] for region in record["found_photo"]]
        assert found == [f"auto: {index}" for index in range(1, len(found) + 1)] and found, found  # stale one gone
        assert f"Regions found: {', '.join(found)}." in record["status"]
        for regions, (canvas_width, canvas_height) in ((record["found_photo"], (width, height)),
                                                       (record["found_reference"], record["reference_size"])):
            assert [region["name"] for region in regions] == found
            for region in regions:
                x, y, w, h = region["bounds"]
                assert region["covered"] > 0 and 0 <= x and 0 <= y and x + w <= canvas_width and y + h <= canvas_height
            # Soft masks that add up to the whole image: together they reach every edge of their canvas.
            left, top = min(r["bounds"][0] for r in regions), min(r["bounds"][1] for r in regions)
            right = max(r["bounds"][0] + r["bounds"][2] for r in regions)
            bottom = max(r["bounds"][1] + r["bounds"][3] for r in regions)
            assert (left, top, right, bottom) == (0, 0, canvas_width, canvas_height), regions
        assert record["reference_size"] != [width, height]  # so a mask of the wrong image would show
        assert record["selection_after"]

    def test_cancel_mid_run_leaves_the_document_unchanged(self, krita_home, daemon, tmp_path):
        # A kritarc from before the region modes, its "Pair regions by local selection name" unticked:
        # the docker opens in the "whole" mode, so the selection goes against the whole reference file.
        old_settings = {**SLOW, "regions": None, "pair_regions": "False"}
        record = run_krita(krita_home, tmp_path, "cancel", daemon, old_settings, [PHOTO])
        assert record["region_mode"] == "whole"
        assert "(regions: selection)" in record["status_started"], record["status_started"]
        assert record["reference"] == "rocket.jpg (file)"  # chosen through the … button
        assert record["cancelled_at"].startswith("style")
        assert "cancelled" in record["status"].lower(), record["status"]
        assert_document_unchanged(record, tmp_path)

    def test_every_frame_of_an_animated_layer_becomes_a_new_animated_layer(self, krita_home, daemon, tmp_path):
        """An animated paint layer of three drawings (keyframes 1, 4, 7 and Krita's empty one at 0)
        above the photo, the document's frame range starting at 2 (the drawing at 1 is held into it, so
        it is sent; the empty 0 is not), Every frame pressed with a reference file: one sequence job on
        the daemon, then a new animated layer right above it, its keyframes at the same times, each
        drawing styled like the reference and still itself (the mirrored one mirrored); the layer itself
        unchanged."""
        drawings, files = animation_drawings(tmp_path)
        started = time.monotonic()
        record = run_krita(krita_home, tmp_path, "frames", daemon, FAST, [PHOTO], frames=files)
        width, height = record["size"]
        source, times = record["source"], [1, 4, 7]
        assert record["imported"] and record["source_animated"] and record["source_keys_before"] == [0, *times]
        assert record["status_started"] == (f"Restyling the 3 frames of “{source}” like rocket.jpg, one look for "
                                            "them all."), record["status_started"]
        name = f"{source} styled like rocket.jpg"
        assert record["status"].startswith(f"Done: new animated layer “{name}” (3 frames, look fitted on frame"), \
            record["status"]
        names = [node["name"] for node in record["nodes_after"]]
        assert names.index(name) == names.index(source) + 1  # right above the animated layer
        assert record["styled_animated"] and record["styled_keys"] == record["source_keys_before"]
        assert record["time_after"] == record["time_before"] and record["progress_format"] == "done"
        progress = [text for _, text in record["progress"]]  # one bar: frames read, the look fitted, frames styled
        assert [value for value, _ in record["progress"]] == sorted(value for value, _ in record["progress"])
        assert "reading frames 3/3" in " ".join(progress) and "keyframe 0: fine" in " ".join(progress), progress
        assert "styling frames 3/3" in " ".join(progress), progress
        assert raw(tmp_path, "styled_frame_0.raw", width, height).max() == 0  # Krita's empty frame stays empty

        def frame(name: str) -> np.ndarray:
            return raw(tmp_path, name, width, height)[:, :, [2, 1, 0, 3]].astype(float)  # BGRA -> RGBA

        with Image.open(REFERENCE) as image:
            reference = np.asarray(image.convert("RGB"), float).reshape(-1, 3).mean(axis=0)
        styled, moves = [], []
        for time_, drawing in zip(times, drawings):
            before, after = frame(f"source_frame_{time_}_before.raw"), frame(f"source_frame_{time_}_after.raw")
            assert np.array_equal(before, after) and np.array_equal(before, drawing)  # the layer is untouched
            styled.append(frame(f"styled_frame_{time_}.raw"))
            assert (styled[-1][:, :, 3] == 255).all()
            start, end = (image[:, :, :3].reshape(-1, 3).mean(axis=0) for image in (before, styled[-1]))
            moves.append(np.linalg.norm(end - reference) / np.linalg.norm(start - reference))
            assert moves[-1] < 0.3, (time_, moves[-1], start, end, reference)  # the reference's colours
        # Each frame kept its drawing: the mirrored one is the first one's look mirrored.
        mirrored = np.abs(styled[1] - styled[0][:, ::-1]).mean()
        assert mirrored < 0.25 * np.abs(styled[1] - styled[0]).mean(), mirrored
        print(f"Krita, every frame: {time.monotonic() - started:.1f} s for 3 frames; remaining colour distance to "
              f"the reference {', '.join(f'{move:.2f}' for move in moves)}; mirrored frame within {mirrored:.1f} "
              "levels of the first one's mirror image")

    def test_cancelling_every_frame_leaves_the_document_unchanged(self, krita_home, daemon, tmp_path):
        _, files = animation_drawings(tmp_path)
        record = run_krita(krita_home, tmp_path, "frames_cancel", daemon, SLOW, [PHOTO], frames=files)
        assert record["source_keys_before"] == [0, 1, 4, 7]
        assert "keyframe" in record["cancelled_at"], record["cancelled_at"]  # while the look was being fitted
        assert "cancelled" in record["status"].lower() and record["progress_format"] == "stopped", record["status"]
        assert record["styled_keys"] is None and record["nodes_after"] == record["nodes_before"]
        assert record["source_keys_after"] == record["source_keys_before"]
        assert record["time_after"] == record["time_before"]
        for time_ in record["source_keys_before"]:
            assert ((tmp_path / f"source_frame_{time_}_after.raw").read_bytes()
                    == (tmp_path / f"source_frame_{time_}_before.raw").read_bytes())

    def test_daemon_down_is_explained_and_changes_nothing(self, krita_home, tmp_path):
        address = f"127.0.0.1:{free_port()}"  # nothing listens there
        record = run_krita(krita_home, tmp_path, "daemon_down", address, FAST, [PHOTO])
        assert f"No PhotoStyle daemon is answering at {address}" in record["status"], record["status"]
        assert "photostyle serve" in record["status"]
        assert_document_unchanged(record, tmp_path)
