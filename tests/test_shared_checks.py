"""The checks the engine, the CLI, `transfer --server` and the daemon share, tried on each path:
image files refused from their headers before decoding (decompression bombs), options checked
with their effective values, region names and masks checked before anything is sent. A refusal
says the same thing whichever way the job came, and comes before any real work."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import tifffile

from daemon_fixtures import CONTENT, STYLE, daemon_process, photo, raw_transfer
from hostile_files import BOMB_SIDE, jpeg_declaring, png_bomb, tiff_declaring
from photostyle.core import (ImageTooLargeError, MaskError, OptionsError, RegionPair, TransferOptions, check_options,
                             load_image, save_image)
from photostyle.core.masks import pair_regions
from photostyle.server.client import (Client, EncodedImage, InvalidMasksError, InvalidRequestError, Options, Region,
                                      Result, TooLargeError)
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import image_from_array

BOMBS = {
    "16-bit PNG": png_bomb(16),
    "8-bit PNG": png_bomb(8),
    "16-bit TIFF": tiff_declaring(BOMB_SIDE, BOMB_SIDE, np.uint16),
    "float TIFF": tiff_declaring(BOMB_SIDE, BOMB_SIDE, np.float32),
    "8-bit TIFF": tiff_declaring(BOMB_SIDE, BOMB_SIDE, np.uint8),
    "JPEG": jpeg_declaring(BOMB_SIDE, BOMB_SIDE),
}
SUFFIXES = {"PNG": ".png", "TIFF": ".tif", "JPEG": ".jpg"}
DIMENSIONS = f"{BOMB_SIDE}×{BOMB_SIDE} px (400.0 MP)"
#: The daemon these tests start refuses working sizes above this (every preset's size is larger).
DAEMON_MAX_WORKING_SIZE = 48


def bomb_file(folder: Path, case: str) -> Path:
    path = folder / f"bomb{SUFFIXES[case.split()[-1]]}"
    path.write_bytes(BOMBS[case])
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "photostyle.server.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_bombs_are_small_files():
    assert max(len(data) for data in BOMBS.values()) < 1_000_000  # the 16-bit PNG: 777 KB


def test_the_png_bombs_are_real_pngs():
    """At a side a test can afford, the same construction decodes to black: the refusals below are
    of valid files, for their size alone."""
    for depth, dtype in ((8, np.uint8), (16, np.uint16)):
        pixels = load_image(io.BytesIO(png_bomb(depth, side=1024)))
        assert pixels.shape == (1024, 1024, 1) and pixels.dtype == dtype and not pixels.any()


@pytest.mark.parametrize("case", BOMBS)
def test_engine_refuses_a_bomb_from_its_header(case):
    with pytest.raises(ImageTooLargeError) as caught:
        load_image(io.BytesIO(BOMBS[case]))
    assert DIMENSIONS in str(caught.value) and "at most 179.0 MP" in str(caught.value)


@pytest.mark.parametrize("case", ["16-bit PNG", "JPEG", "8-bit TIFF"])
def test_engine_applies_the_callers_limit(case):
    with pytest.raises(ImageTooLargeError, match="at most 1.0 MP"):
        load_image(io.BytesIO(BOMBS[case]), max_pixels=1_000_000, name="The upload")


MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    from photostyle.core import ImageTooLargeError, load_image
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refusals = {}
    for path in sys.argv[1:]:
        started = time.monotonic()
        try:
            load_image(path)
        except ImageTooLargeError as exc:
            refusals[path] = [str(exc), time.monotonic() - started]
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"grown_mb": grown, "refusals": refusals}))
""")


def test_engine_reads_no_bomb_into_memory(tmp_path):
    """In a fresh process, so that its peak memory is the bombs' doing alone."""
    paths = []
    for number, case in enumerate(BOMBS):
        paths.append(tmp_path / f"{number}{SUFFIXES[case.split()[-1]]}")
        paths[-1].write_bytes(BOMBS[case])
    run = subprocess.run([sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert sorted(report["refusals"]) == sorted(map(str, paths))  # each refused, none decoded
    for message, seconds in report["refusals"].values():
        assert DIMENSIONS in message and seconds < 2
    assert report["grown_mb"] < 100  # decoding the 16-bit PNG alone would take 800 MB


@pytest.mark.parametrize("case", ["16-bit PNG", "8-bit PNG", "16-bit TIFF", "JPEG"])
def test_cli_refuses_a_bomb_with_one_line(tmp_path, case):
    style = tmp_path / "style.png"
    save_image(style, photo(90, 70))
    result = run_cli("transfer", str(bomb_file(tmp_path, case)), str(style), "-o", str(tmp_path / "out.png"),
                     "--preset", "preview")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and DIMENSIONS in result.stderr and "at most" in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.fixture(scope="module")
def daemon():
    """`photostyle serve` in its own process (its peak memory is measured), with a low working-size limit."""
    with daemon_process("--max-working-size", str(DAEMON_MAX_WORKING_SIZE)) as started:
        yield started


@pytest.mark.parametrize("case", ["16-bit PNG", "8-bit PNG", "JPEG"])
def test_daemon_refuses_an_encoded_bomb_before_decoding_it(daemon, case):
    peak = daemon.peak_memory_mb()
    started = time.monotonic()
    with Client(daemon.address) as client, pytest.raises(TooLargeError) as caught:
        client.transfer(EncodedImage(BOMBS[case]), STYLE, options=Options(size=32)).result()
    message = str(caught.value)
    assert "The content image is " + DIMENSIONS in message and "at most 64.0 MP" in message
    assert "--max-pixels" in message
    assert time.monotonic() - started < 10
    assert daemon.peak_memory_mb() - peak < 100
    assert "Traceback" not in daemon.log()


def test_daemon_refuses_a_file_that_is_not_what_its_encoding_says(daemon):
    jpeg = EncodedImage(jpeg_declaring(100, 100))
    info = jpeg.info()
    info.encoding = pb.ENCODING_PNG
    setup = pb.TransferSetup(options=Options(size=32).to_wire(), content=info, style=STYLE.info())
    requests = [pb.TransferRequest(setup=setup), pb.TransferRequest(chunk=pb.Chunk(data=jpeg.data + bytes(STYLE.data)))]
    with pytest.raises(grpc.RpcError) as caught:
        raw_transfer(daemon.address, requests)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "The content image is not a PNG file" in caught.value.details()


@pytest.mark.parametrize("options, words", [
    (Options(), ["Preset 'default' works at 512 px", f"({DAEMON_MAX_WORKING_SIZE} px)", "32 to 48 px"]),
    (Options(preset="preview"), ["Preset 'preview' works at 384 px", "32 to 48 px"]),
    (Options(size=64), ["Working size 64 px is out of range", "32 to 48 px"]),
    (Options(size=32, seed=-1), ["Seed -1 is out of range", "0 to 9223372036854775807"]),
    (Options(size=32, preview_size=5000), ["Preview size 5000 px", "1 to 1024"]),
], ids=["preset size above the limit", "preview preset above the limit", "size above the limit", "negative seed",
        "preview size"])
def test_daemon_checks_the_effective_options_as_the_engine_does(daemon, options, words):
    with Client(daemon.address) as client, pytest.raises(InvalidRequestError) as caught:
        client.transfer(CONTENT, STYLE, options=options).result()
    for word in words:
        assert word in str(caught.value)
    # The daemon's words are the engine's, given the daemon's limits.
    local = TransferOptions(**options.given())
    with pytest.raises(OptionsError) as engine:
        check_options(local, {"size": DAEMON_MAX_WORKING_SIZE, "iterations": 5000})
    assert str(engine.value) == str(caught.value)


def test_daemon_runs_a_job_within_its_limits_with_the_largest_seed(daemon):
    with Client(daemon.address) as client:
        result = client.transfer(CONTENT, STYLE, options=Options(size=DAEMON_MAX_WORKING_SIZE, seed=2**63 - 1,
                                                                 iterations=2)).result()
    assert isinstance(result, Result) and result.image.width == CONTENT.width


def _mask(height: int, width: int, top: bool) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[: height // 2] = 255 if top else 0
    mask[height // 2:] = 0 if top else 255
    return mask


def test_duplicate_region_names_are_refused_alike_by_engine_and_daemon(daemon):
    regions = [RegionPair("sky", _mask(80, 96, True), _mask(90, 70, True)),
               RegionPair("sky", _mask(80, 96, False), _mask(90, 70, False))]
    with pytest.raises(MaskError) as local:
        pair_regions(regions, (80, 96), (90, 70))
    remote = [Region(r.name, image_from_array(r.content_mask), image_from_array(r.style_mask)) for r in regions]
    with Client(daemon.address) as client, pytest.raises(InvalidMasksError) as caught:
        client.transfer(CONTENT, STYLE, remote, Options(size=32)).result()
    assert str(caught.value) == str(local.value)
    assert "'sky'" in str(local.value) and "unique" in str(local.value)


@pytest.fixture
def nan_mask_run(tmp_path):
    """A CLI transfer whose region mask (a float TIFF) holds a NaN; returns a runner taking extra arguments."""
    content, style = tmp_path / "photo.png", tmp_path / "reference.png"
    save_image(content, photo(80, 96))
    save_image(style, photo(90, 70, flip=True))
    content_mask = np.zeros((80, 96), np.float32)
    content_mask[:40] = 1.0
    content_mask[3, 4] = np.nan
    tifffile.imwrite(tmp_path / "sky.tif", content_mask)
    save_image(tmp_path / "sky-style.png", _mask(90, 70, True))

    def run(*extra: str) -> subprocess.CompletedProcess:
        return run_cli("transfer", str(content), str(style), "-o", str(tmp_path / "out.png"), "--preset", "preview",
                       "--region", "sky", str(tmp_path / "sky.tif"), str(tmp_path / "sky-style.png"), *extra)
    return run


@pytest.mark.parametrize("where", [[], ["--server", "127.0.0.1:9"]], ids=["local", "server"])
def test_a_nan_in_a_mask_is_refused_on_both_paths_before_anything_is_sent(nan_mask_run, where):
    """With --server the masks become 8 bits on the wire, where a NaN would turn into 0; the same
    engine check refuses it first (port 9 has no daemon: the refusal comes before connecting)."""
    result = nan_mask_run(*where)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "The content mask of region 'sky' contains NaN" in result.stderr
