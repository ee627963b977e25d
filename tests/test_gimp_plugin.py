"""The GIMP 3 plug-in (plugins/gimp: photostyle.py and the package photostyle_gimp) and its installer
(server/install/gimp.py).

The first tests need no GIMP: the installer's layout, its check of GIMP's Python, and the
plug-in's daemon start-up, run with this venv's Python. The `gimp`-marked tests run the plug-in
inside a real GIMP 3 (Debian trixie chroot, see tests/gimp/chroot.py) against a real daemon on
127.0.0.1; they are skipped, with the reason, where the chroot cannot be built or no package
index gives the grpcio/protobuf wheels that the installer vendors into it (the chroot has none).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import PIL.Image
import pytest

from daemon_fixtures import daemon_process, running_daemon
from gimp.chroot import (DATA_DIR, GIMP_DIR, ChrootUnavailable, chroot_python, ensure_chroot, inside, result_of,
                         start_gimp)
from photostyle.core import PRESETS, apply_look, load_look
from photostyle.server.install import gimp as install_gimp
from photostyle.server.client import LIVE_PREVIEW_PRESET, LIVE_PREVIEW_SIDE, Client, live_preview_scale
from photostyle.server.install.host_packages import VENDOR_DIR, download_command, probe
from photostyle.server.install.common import (CLIENT_PACKAGE, DAEMON_CONFIG, daemon_start_command,
                                                    read_daemon_config)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "server" / "cli" / "examples"
SCENARIO = Path(__file__).resolve().parent / "gimp" / "scenario.py"
DIALOG_GRABBER = Path(__file__).resolve().parent / "gimp" / "dialog_screenshot.py"
X_WINDOWS = Path(__file__).resolve().parent / "gimp" / "xwindows.py"
PLUGIN = "plug-ins/photostyle"
#: Inside the chroot: grpcio/protobuf wheels for its Python, fetched once per run for `install_into`.
WHEELS_DIR = "/tmp/photostyle-test/wheels"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the installer, no GIMP needed ---------------------------------------------------------------


def test_install_lays_out_the_plugin_folder(tmp_path: Path) -> None:
    report = install_gimp.install(tmp_path, address="127.0.0.1:50999", check=False)
    folder = tmp_path / PLUGIN
    assert report.ok, report
    assert os.access(folder / "photostyle.py", os.X_OK)  # GIMP skips a plug-in that is not executable
    for module in ("__init__", "capture", "dialog", "layers", "looks", "options", "pixels", "preview", "regions",
                   "transfer"):
        assert (folder / "photostyle_gimp" / f"{module}.py").is_file(), module
    assert (folder / CLIENT_PACKAGE / "server" / "client" / "launch.py").is_file()
    assert (folder / CLIENT_PACKAGE / "server" / "wire" / "photostyle_pb2.py").is_file()
    assert not (folder / CLIENT_PACKAGE / "server" / "wire" / "arrays.py").exists()  # numpy: never in a host
    assert not list(folder.rglob("__pycache__"))
    config = read_daemon_config(folder)
    assert config["address"] == "127.0.0.1:50999"
    assert config["start_command"][0] == sys.executable
    assert config["start_command"][-4:] == ["--host", "127.0.0.1", "--port", "50999"]
    assert str(folder / DAEMON_CONFIG) in str(report)


def test_install_over_an_old_install_replaces_the_client(tmp_path: Path) -> None:
    install_gimp.install(tmp_path, check=False)
    stale = tmp_path / PLUGIN / CLIENT_PACKAGE / "server" / "client" / "stale_module.py"
    stale.write_text("")
    gone = tmp_path / PLUGIN / "photostyle_gimp" / "module_of_an_older_version.py"
    gone.write_text("")
    install_gimp.install(tmp_path, start_command=[], check=False)
    assert not stale.exists() and not gone.exists()
    assert read_daemon_config(tmp_path / PLUGIN)["start_command"] == []


def test_uninstall_removes_only_our_folder(tmp_path: Path) -> None:
    install_gimp.install(tmp_path, check=False)
    assert "Removed" in str(install_gimp.uninstall(tmp_path))
    assert not (tmp_path / PLUGIN).exists()
    assert "Nothing to remove" in str(install_gimp.uninstall(tmp_path))
    (tmp_path / PLUGIN).mkdir(parents=True)  # someone else's plug-in of the same name
    with pytest.raises(FileExistsError, match="not installed by photostyle"):
        install_gimp.uninstall(tmp_path)
    assert (tmp_path / PLUGIN).exists()


def test_install_checks_that_gimps_python_imports_the_client(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert install_gimp.install(tmp_path, gimp_python=[sys.executable]).ok
    # `python -S` has no site-packages: it stands for a GIMP whose Python lacks grpc. With
    # --no-vendor nothing provides it (vendoring itself: tests/test_host_packages.py).
    args = _parse(["install", "--gimp-dir", str(tmp_path), "--gimp-python", f"{sys.executable} -S", "--no-vendor"])
    assert install_gimp.run(args) == 1
    out = capsys.readouterr().out
    assert "cannot load the client: ModuleNotFoundError: No module named 'grpc'" in out
    assert "python3-grpcio python3-protobuf" in out


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["install", "uninstall"])
    install_gimp.add_arguments(parser)
    return parser.parse_args(argv)


# --- the plug-in's daemon start-up, with this venv's Python -------------------------------------


@pytest.fixture
def daemon_launch() -> ModuleType:
    """The client's daemon launcher (the plug-ins vendor this very module: the vendored copy is
    imported by a host's Python in tests/test_daemon_client_compat.py)."""
    return importlib.import_module("photostyle.server.client.launch")


def test_plugin_starts_the_recorded_daemon_and_waits_for_it(daemon_launch: ModuleType, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    pid_file = tmp_path / "daemon.pid"
    command = ["sh", "-c", f'echo $$ > "{pid_file}"; exec "$@"', "sh", *daemon_start_command(address)]
    config = daemon_launch.DaemonConfig(address, command, start_timeout_s=120)
    waits = []
    try:
        with daemon_launch.connect(config, on_wait=waits.append) as client:
            assert client.capabilities().instance.endswith(address.rsplit(":", 1)[1])
        assert waits, "the daemon answered at once, so nothing was started"
        with daemon_launch.connect(config, on_wait=waits.append):  # now it answers: nothing more is started
            pass
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_plugin_explains_a_daemon_that_will_not_start(daemon_launch: ModuleType) -> None:
    address = f"127.0.0.1:{free_port()}"
    exits = [sys.executable, "-c", "import sys; print('error: port taken by a test'); sys.exit(3)"]
    with pytest.raises(daemon_launch.DaemonUnavailableError, match=r"exited \(status 3\): error: port taken by a test"):
        daemon_launch.connect(daemon_launch.DaemonConfig(address, exits))
    with pytest.raises(daemon_launch.DaemonUnavailableError, match=r"No such file.*Start it yourself"):
        daemon_launch.connect(daemon_launch.DaemonConfig(address, ["/nonexistent/photostyle", "serve"]))
    with pytest.raises(daemon_launch.DaemonUnavailableError, match="does not start a daemon itself.*photostyle serve"):
        daemon_launch.connect(daemon_launch.DaemonConfig(address, []))


# --- inside a real GIMP 3 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gimp_root() -> Path:
    """The chroot, with the test's photos and scenario script copied into it, and grpcio/protobuf
    wheels for its Python fetched (by the installer's own command) into WHEELS_DIR."""
    try:
        root = ensure_chroot()
    except ChrootUnavailable as reason:
        pytest.skip(f"no GIMP 3 to test in: {reason}")
    data = inside(root, DATA_DIR)
    data.mkdir(parents=True, exist_ok=True)
    for source in (EXAMPLES / "coffee.png", EXAMPLES / "rocket.jpg", SCENARIO, DIALOG_GRABBER, X_WINDOWS):
        shutil.copyfile(source, data / source.name)
    wheels = inside(root, WHEELS_DIR)
    shutil.rmtree(wheels, ignore_errors=True)
    fetched = subprocess.run(download_command(probe(chroot_python(root)).wheel_tags(), wheels), capture_output=True,
                             text=True, timeout=900)
    if fetched.returncode != 0:
        pytest.skip(f"no grpcio/protobuf wheels for the chroot's Python (pip: {fetched.stderr.strip()[-500:]})")
    return root


@pytest.fixture(scope="module")
def daemon_address():
    with daemon_process() as daemon:
        yield daemon.address


def install_into(root: Path, address: str) -> None:
    """Our installer into the chroot's GIMP config: it vendors grpcio/protobuf for GIMP's own Python
    (from the wheels the fixture fetched, to spare the index a download per test) and checks it."""
    report = install_gimp.install(inside(root, GIMP_DIR), address=address, gimp_python=chroot_python(root),
                                  gimp_root=root, vendor=True, offline=inside(root, WHEELS_DIR))
    assert report.ok, report
    assert "(vendored)" in str(report), report


@pytest.mark.gimp
def test_the_installer_vendors_grpc_that_only_the_plugin_sees(gimp_root: Path) -> None:
    """GIMP's Python in the chroot has no grpc/protobuf of its own; the installer, as a user runs it
    (from the package index), gives the plug-in folder a copy built for that Python, and that copy,
    found through the plug-in's folder, is what imports."""
    report = install_gimp.install(inside(gimp_root, GIMP_DIR), gimp_python=chroot_python(gimp_root),
                                  gimp_root=gimp_root, vendor=True)
    assert report.ok, report
    assert "GIMP's Python 3.13 linux-x86_64 lacks grpcio (missing), protobuf (missing)" in str(report)
    assert "(vendored), protobuf" in str(report)
    plugin = f"{GIMP_DIR}/{PLUGIN}"
    bare = subprocess.run([*chroot_python(gimp_root), "-c", "import grpc"], capture_output=True, text=True)
    assert bare.returncode != 0 and "No module named 'grpc'" in bare.stderr, bare
    bare = subprocess.run([*chroot_python(gimp_root), "-c", "import google.protobuf"], capture_output=True, text=True)
    assert bare.returncode != 0 and "No module named 'google'" in bare.stderr, bare
    script = (f"import sys; sys.path[:0] = [{plugin!r} + '/{VENDOR_DIR}', {plugin!r}]; import grpc, google.protobuf, "
              "photostyle.server.client; print(grpc.__file__); print(google.protobuf.__file__)")
    vendored = subprocess.run([*chroot_python(gimp_root), "-c", script], capture_output=True, text=True)
    assert vendored.returncode == 0, vendored.stderr
    assert all(path.startswith(f"{plugin}/{VENDOR_DIR}/") for path in vendored.stdout.split()), vendored.stdout


@pytest.mark.gimp
def test_transfer_adds_a_masked_layer_and_leaves_the_photo_alone(gimp_root: Path, daemon_address: str) -> None:
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "transfer"))
    assert facts["status"] == "success", facts["message"]
    assert facts["layers"] == [f"Background (style: {facts['reference_name']})", "Background"]
    assert facts["size"] == facts["source_size"] == [600, 400]
    assert facts["offsets"] == facts["source_offsets"] == [10, 5]
    assert facts["has_mask"]
    assert facts["bpp"] == 4  # RGBA, 8-bit, like the photo (plus alpha)
    assert facts["source_unchanged"]
    assert facts["changed_inside"] > 0.2
    assert facts["changed_outside"] == 0.0


@pytest.mark.gimp
def test_the_painterly_preset_and_kept_brightness_through_the_options_text(gimp_root: Path,
                                                                          daemon_address: str) -> None:
    """A preset and an option GIMP's plug-in does not know by name: the daemon offers and runs them."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "painterly"))
    assert facts["status"] == "success", facts["message"]
    assert facts["size"] == facts["source_size"] and facts["source_unchanged"]
    assert facts["changed_inside"] > 0.05 and facts["changed_outside"] == 0.0
    # Colour from the reference, brightness from the photo (8-bit rounding aside).
    tone = facts["tone_change"]
    assert tone["colour"] > 5 and tone["luma"] < 0.1 * tone["colour"], tone


@pytest.mark.gimp
def test_16_bit_image_comes_back_at_16_bits(gimp_root: Path, daemon_address: str) -> None:
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "16bit"))
    assert facts["status"] == "success", facts["message"]
    assert facts["new_layer"] == "Background (style: rocket.jpg)"  # the reference given as a file
    assert facts["bpp"] == 8  # RGBA u16
    assert not facts["has_mask"]  # no selection: the whole layer, no mask
    assert facts["not_8bit_fraction"] > 0.5  # real 16-bit values, not 8-bit ones scaled up
    assert facts["source_unchanged"]


@pytest.mark.gimp
def test_channels_with_the_same_name_pair_regions(gimp_root: Path, daemon_address: str) -> None:
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "channels"))
    assert facts["status"] == "success", facts["message"]
    assert facts["size"] == facts["source_size"] and not facts["has_mask"]  # no selection: whole layer
    assert facts["source_unchanged"]


@pytest.mark.gimp
def test_automatic_regions_come_back_as_channels(gimp_root: Path, daemon_address: str) -> None:
    """The default region mode, with no channel named alike in both images (the photo has only a stale
    "auto: 9"): the engine finds regions, and they arrive with the result as hidden channels
    "auto: 1"… of the photo's image (placed where the selection's part of the layer was sent, zero
    elsewhere) and of the reference's image (over its layer)."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "auto"))
    assert facts["status"] == "success", facts["message"]
    assert facts["region_mode"] == "auto"
    assert facts["layers"] == [f"Background (style: {facts['reference_name']})", "Background"]
    assert facts["source_unchanged"] and facts["has_mask"] and facts["changed_outside"] == 0.0
    found = [channel["name"] for channel in facts["photo_channels"]]
    assert found and found == [f"auto: {index}" for index in range(1, len(found) + 1)], found  # stale one gone
    image_size = [600 + 20, 400 + 10]  # the photo's canvas, grown around the layer
    crop_width, crop_height = facts["crop"][2:]
    assert crop_width * crop_height < 0.5 * image_size[0] * image_size[1]  # the selection's part, not all of it
    for channel in facts["photo_channels"]:
        assert channel["size"] == image_size and not channel["visible"], channel
        assert channel["covered_inside"] > 0 and channel["covered_outside"] == 0, channel
    assert [channel["name"] for channel in facts["reference_channels"]] == found
    for channel in facts["reference_channels"]:
        assert channel["size"] == facts["reference_size"] and channel["covered_inside"] > 0, channel


@pytest.mark.gimp
def test_one_undo_removes_the_result(gimp_root: Path, daemon_address: str) -> None:
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "undo", gui=True))
    assert facts["status"] == "success", facts["message"]
    assert len(facts["layers"]) == 2
    assert facts["layers_after_undo"] == facts["layers_before"]
    assert facts["channels_after_undo"] == facts["channels_before"]  # the regions the engine found went too
    assert facts["selection_after_undo"]  # only our step was undone, not the selection before it
    assert facts["composite_after_undo_unchanged"]


@pytest.mark.gimp
def test_a_kept_look_applied_to_the_layer_is_a_new_layer_one_undo_removes(gimp_root: Path,
                                                                          daemon_address: str) -> None:
    """The transfer with "look-file" writes the result's look (a 33³ .cube); Apply Photo Style Look
    with that file adds above the photo's layer the engine's own apply of the whole layer (the
    selection plays no part), leaves the layer alone, and one Ctrl+Z removes it."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "look", gui=True))
    assert facts["transfer_status"] == "success", facts["transfer_message"]
    assert facts["look_written"]
    look = load_look(inside(gimp_root, facts["look_file"]))
    assert look.lut.size == 33
    assert facts["apply_status"] == "success", facts["apply_message"]
    assert facts["new_layer"] == "Background (look: kept look)" and not facts["new_has_mask"]
    assert facts["layers"] == [facts["layers_before"][0], "Background (look: kept look)", "Background"]
    assert facts["source_unchanged"]
    width, height = facts["size"]
    data = inside(gimp_root, DATA_DIR)
    photo = np.frombuffer((data / "look-photo.raw").read_bytes(), np.uint8).reshape(height, width, 4)
    applied = np.frombuffer((data / "look-layer.raw").read_bytes(), np.uint8).reshape(height, width, 4)
    assert np.abs(applied.astype(int) - apply_look(look, photo)).max() <= 1
    assert facts["layers_after_undo"] == facts["layers_before"] and facts["composite_after_undo_unchanged"]


@pytest.mark.gimp
def test_all_layers_as_frames_become_styled_layers_one_undo_removes(gimp_root: Path, daemon_address: str) -> None:
    """GIMP's animations are one layer per frame: Photo Style Transfer (all layers as frames) sends
    the three layers (the bottom one first; one mirrored, one smaller and off the origin) as one
    sequence to the real daemon. Each styled frame is a canvas-sized layer directly above its own,
    named after it, its colours moved toward the reference's, its alpha the frame's on the canvas;
    the frames keep their differences under one look (the mirrored frame styled is the first one
    styled, mirrored); the layers are untouched, and one Ctrl+Z removes all three."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "frames", gui=True))
    assert facts["status"] == "success", facts["message"]
    style = f"(style: {facts['reference_name']})"
    assert facts["layers_before"] == ["three (100ms)", "two (100ms)", "one (100ms)"]
    assert facts["layers"] == [f"three (100ms) {style}", "three (100ms)", f"two (100ms) {style}", "two (100ms)",
                               f"one (100ms) {style}", "one (100ms)"]
    assert facts["source_unchanged"]
    reference = facts["reference_mean"]
    for frame, styled in zip(facts["frames"], facts["styled"]):
        assert styled["size"] == [200, 134] and styled["offsets"] == [0, 0], styled
        assert (styled["opaque"], styled["transparent"]) == (frame["opaque"], frame["transparent"]), styled
        assert math.dist(styled["mean"], reference) < 0.7 * math.dist(frame["mean"], reference), (frame, styled)
    assert facts["frames"][2]["transparent"] == 200 * 134 - 100 * 67  # the small frame, placed on the canvas
    assert facts["differing_fraction"] > 0.5 and facts["mirror_difference"] <= 1, facts
    assert facts["layers_after_undo"] == facts["layers_before"] and facts["composite_after_undo_unchanged"]


@pytest.mark.gimp
def test_all_layers_as_frames_into_a_new_image(gimp_root: Path, daemon_address: str) -> None:
    """With "new-image", the styled frames are the layers of a new image of the same size, in frame
    order (the first frame the bottom layer), returned by the procedure; each styled like its frame
    (as above); the animation itself is left exactly as it was."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "frames-new-image"))
    assert facts["status"] == "success", facts["message"]
    style = f"(style: {facts['reference_name']})"
    assert facts["images_made"] == 1 and facts["new_image_size"] == [200, 134]
    assert facts["new_image_layers"] == [f"three (100ms) {style}", f"two (100ms) {style}", f"one (100ms) {style}"]
    assert facts["layers"] == facts["layers_before"] and facts["source_unchanged"] and facts["composite_unchanged"]
    reference = facts["reference_mean"]
    for frame, styled in zip(facts["frames"], facts["styled"]):
        assert styled["size"] == [200, 134] and styled["offsets"] == [0, 0], styled
        assert (styled["opaque"], styled["transparent"]) == (frame["opaque"], frame["transparent"]), styled
        assert math.dist(styled["mean"], reference) < 0.7 * math.dist(frame["mean"], reference), (frame, styled)
    assert facts["differing_fraction"] > 0.5 and facts["mirror_difference"] <= 1, facts


@pytest.mark.gimp
def test_the_frames_dialog_styles_every_layer_on_ok(gimp_root: Path, daemon_address: str) -> None:
    """Run interactively, the frames procedure shows its dialog (the transfer's, without the live
    preview); OK styles every layer as a frame."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "frames-dialog", gui=True))
    assert facts["helper_exit"] == 0, "the dialog never appeared"
    assert facts["status"] == "success", facts["message"]
    assert facts["layers"][1::2] == ["three (100ms)", "two (100ms)", "one (100ms)"]
    assert all(styled.startswith(f"{source} (style: ") for styled, source in zip(facts["layers"][::2],
                                                                                 facts["layers"][1::2]))


@pytest.mark.gimp
@pytest.mark.parametrize("scenario", ["bad-preset", "smooth-on-painterly"])
def test_arguments_the_daemon_refuses_are_the_callers_error(gimp_root: Path, daemon_address: str,
                                                            scenario: str) -> None:
    """`preset` is a free string and the iteration counts depend on the preset: the daemon checks
    them, and its sentence reaches the script as the procedure's calling error."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, scenario))
    assert facts["status"] == "calling-error", facts
    if scenario == "bad-preset":
        with Client(daemon_address) as client:
            names = [preset.name for preset in client.capabilities().presets]
        assert "Unknown preset 'no-such-preset'" in facts["message"]
        assert all(name in facts["message"] for name in names), (names, facts["message"])  # the daemon's list
    else:
        assert "The 'painterly' preset does not use smooth" in facts["message"]
    assert facts["layers"] == facts["layers_before"]
    assert facts["source_unchanged"] and facts["composite_unchanged"]


@pytest.mark.gimp
def test_the_dialogs_presets_are_the_daemons(gimp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The combo box's entries come from the daemon's capabilities: a preset that only this test's
    daemon has shows up, with its description, and the list is exactly the daemon's."""
    extra = dataclasses.replace(PRESETS[LIVE_PREVIEW_PRESET], name="gimp-test-only",
                                description="Only the daemon of this test has this preset.")
    monkeypatch.setitem(PRESETS, extra.name, extra)
    with running_daemon() as daemon:
        install_into(gimp_root, daemon.address)
        facts = result_of(start_gimp(gimp_root, "presets"))
        with Client(daemon.address) as client:
            offered = [[preset.name, preset.description] for preset in client.capabilities().presets]
    assert facts["entries"] == offered
    assert [extra.name, extra.description] in facts["entries"]
    assert {"default", "preview"} <= {name for name, _ in facts["entries"]}


@pytest.mark.gimp
def test_live_preview_restyles_a_small_copy_and_leaves_the_image_alone(gimp_root: Path, daemon_address: str) -> None:
    """The dialog's preview path inside GIMP: a 1200×800 photo (coffee, brown) and a reference
    (rocket at blue hour); in the "whole" mode a wide feathered selection and a thin strip with the
    reference as a file, then in the automatic mode no selection and channels named alike in both images."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "preview"))
    min_side = facts["min_side"]
    for case in ("wide", "thin", "channels"):
        preview = facts[case]
        width, height = preview["crop"]
        scale = live_preview_scale(width, height, min_side)  # the client library's policy, read by GEGL
        assert preview["content_size"] == [round(width * scale), round(height * scale)], case
        assert min(preview["content_size"]) >= min_side, case
        assert preview["result_size"] == [*preview["content_size"], 4], case
        assert preview["shown_size"] == preview["content_size"], case
        assert max(preview["style_size"]) == LIVE_PREVIEW_SIDE and min(preview["style_size"]) >= min_side, case
        if case == "channels":  # the daemon took the shrunk masks, so each matched its shrunk image's size
            assert sorted(preview["regions"]) == ["ground", "sky"] and preview["selection_size"] is None
            assert preview["engine_mode"] == "given"  # the automatic mode sends the channels named alike as given
        else:  # the "whole" mode
            assert preview["regions"] == ["selection"] and preview["selection_size"] == preview["content_size"], case
            assert preview["engine_mode"] == "given"
        # Its colours moved toward the reference's (a preview that returned the photo would fail).
        before = math.dist(preview["photo_mean"], preview["reference_mean"])
        after = math.dist(preview["preview_mean"], preview["reference_mean"])
        assert before > 60, preview  # clearly different photos
        assert after < 0.3 * before, (case, preview["photo_mean"], preview["preview_mean"], preview["reference_mean"])
        # The picture shown: the restyled pixels inside the selection, the photo's outside it (no
        # selection: all restyled).
        matching, compared = preview["shown_inside"]
        assert matching == compared > 0, (case, preview["shown_inside"])
        matching, compared = preview["shown_outside"]
        assert matching == compared, (case, preview["shown_outside"])
        # Reading and previewing changed nothing: layers, pixels, channels, selection, dirtiness, open images.
        assert all(preview["image_unchanged"].values()), (case, preview["image_unchanged"])
    wide, thin = facts["wide"], facts["thin"]
    assert max(wide["crop"]) > LIVE_PREVIEW_SIDE and max(wide["content_size"]) == LIVE_PREVIEW_SIDE  # shrunk
    assert wide["shown_outside"][1] > 1000  # the feathered ellipse leaves its bounds' corners unselected
    assert thin["reference_name"] == "rocket.jpg"  # the file, loaded for the preview and closed again
    assert min(thin["content_size"]) == min_side < min(thin["crop"])  # the daemon's minimum side wins
    assert max(thin["content_size"]) > LIVE_PREVIEW_SIDE


@pytest.mark.gimp
def test_dialog_shows_the_live_preview_and_cancel_changes_nothing(gimp_root: Path, daemon_address: str) -> None:
    """The real dialog in GIMP's GUI (Xvfb): opened on a brown photo with a selection and a blue
    reference, it connects, previews by itself, and shows the restyled selection; Escape cancels."""
    install_into(gimp_root, daemon_address)
    grab = inside(gimp_root, "/tmp/photostyle-test/dialog-grab.png")
    grab.unlink(missing_ok=True)
    facts = result_of(start_gimp(gimp_root, "dialog", gui=True))
    assert facts["helper_exit"] == 0 and grab.is_file(), "the dialog never appeared"
    assert facts["status"] == "cancel"  # it ran without an error, and Escape cancelled it
    assert all(facts["image_unchanged"].values()), facts["image_unchanged"]
    with PIL.Image.open(grab) as shot:
        rgb = shot.convert("RGB")
    width, height = rgb.size
    # The preview sits in the right half. The photo is brown (red > blue) and the dialog grey, so
    # clearly blue pixels there can only be the restyled selection (~300x240 px, an ellipse).
    right = rgb.crop((width // 2, 0, width, height)).tobytes()
    bluish = sum(1 for i in range(0, len(right), 3) if right[i + 2] > right[i] + 25)
    assert bluish > 20_000, f"the live preview did not show a restyled selection ({bluish} blue pixels)"
    if os.environ.get("PHOTOSTYLE_UPDATE_SCREENSHOTS"):  # the README's picture of the dialog, as it is now
        shutil.copyfile(grab, ROOT / "docs" / "gimp-dialog.png")


@pytest.mark.gimp
def test_the_dialogs_option_widgets_are_the_presets_and_set_the_job(gimp_root: Path, daemon_address: str) -> None:
    """The dialog opens on the preview preset with options text holding iterations (which that
    preset does not read) and keep_brightness: its widgets, built from the daemon's capabilities,
    drop the first and keep the second, so OK runs a job the daemon accepts, keeping the photo's brightness."""
    install_into(gimp_root, daemon_address)
    facts = result_of(start_gimp(gimp_root, "dialog-ok", gui=True))
    assert facts["helper_exit"] == 0, "the dialog never appeared"
    assert facts["status"] == "success", facts["message"]
    assert len(facts["layers"]) == 2 and facts["layers"][0].startswith("Background (style: ") and facts["source_unchanged"]
    tone = facts["tone_change"]
    assert tone["colour"] > 5 and tone["luma"] < 0.1 * tone["colour"], tone


@pytest.mark.gimp
def test_daemon_down_and_not_startable_is_an_execution_error(gimp_root: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    install_into(gimp_root, address)  # records this venv's daemon, which does not exist inside the chroot
    started = time.monotonic()
    facts = result_of(start_gimp(gimp_root, "daemon-down"))
    assert facts["status"] == "execution-error"
    assert f"No PhotoStyle daemon answers at {address}" in facts["message"]
    assert "Start it yourself in a terminal with" in facts["message"]
    assert facts["layers"] == facts["layers_before"]
    assert facts["source_unchanged"] and facts["composite_unchanged"]
    assert time.monotonic() - started < 60  # an answer, not a hang


@pytest.mark.gimp
@pytest.mark.parametrize("scenario", ["slow", "frames-slow"])
def test_killing_the_plugin_cancels_the_job_in_the_daemon(gimp_root: Path, daemon_address: str, scenario: str) -> None:
    """GIMP cancels a plug-in by killing it; the daemon must then drop the job (a transfer, or all
    layers as frames), and the image stays as it was."""
    install_into(gimp_root, daemon_address)
    gimp = start_gimp(gimp_root, scenario)
    with Client(daemon_address) as client:
        assert _wait_for(lambda: client.capabilities().jobs_in_line == 1, 120), "the job never reached the daemon"
        plugin = _plugin_pid(gimp_root)
        os.kill(plugin, signal.SIGKILL)
        assert _wait_for(lambda: client.capabilities().jobs_in_line == 0, 30), "the daemon kept the job"
    facts = result_of(gimp)
    assert facts["status"] != "success"
    assert facts["layers"] == facts["layers_before"] and facts["source_unchanged"]


def _wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _plugin_pid(root: Path) -> int:
    """Our plug-in's process: it runs the installed photostyle.py inside this chroot."""
    script = f"{GIMP_DIR}/{PLUGIN}/photostyle.py".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and script in (proc / "cmdline").read_bytes() \
                    and (proc / "root").resolve() == root.resolve():
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError("the plug-in process was not found")
