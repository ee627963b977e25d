"""The CLI's side of the daemon: `serve` settings errors, and `transfer --server` through
RemoteTransfer, which must behave like photostyle.core.transfer."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch

from daemon_fixtures import daemon, photo, running_daemon  # noqa: F401  (fixtures)
from photostyle.core import PhotoStyleError, Progress, RegionPair, TransferOptions, TransferResult
from photostyle.server.cli.serve import RemoteTransfer

FAST = TransferOptions(size=64, iterations=5)


def remote(address: str) -> RemoteTransfer:
    return RemoteTransfer(argparse.Namespace(server=address, token=None, tls_ca=None))


def test_remote_transfer_behaves_like_the_engine_call(daemon, device):
    content = photo(72, 90, 4, np.uint16)
    sky = np.zeros((72, 90), np.float32)
    sky[:36] = 1.0
    style_sky = np.zeros((90, 70), np.uint16)
    style_sky[:45] = 65535
    seen: list[Progress] = []
    result = remote(daemon.address)(content, photo(90, 70, flip=True), [RegionPair("sky", sky, style_sky)], FAST,
                                    progress=seen.append)
    assert isinstance(result, TransferResult) and result.device == f"{torch.device(device)} (daemon)"
    assert result.image.dtype == np.uint16 and result.image.shape == (72, 90, 4)
    assert np.array_equal(result.image[:, :, 3], content[:, :, 3])
    assert isinstance(seen[0], Progress) and seen[-1].fraction == 1.0


def test_remote_transfer_returns_the_automatic_regions_as_the_engine_does(daemon):
    result = remote(daemon.address)(photo(72, 90), photo(90, 70, flip=True), None,
                                    TransferOptions(preset="preview", regions="auto"))
    assert result.regions and all(isinstance(region, RegionPair) for region in result.regions)
    for region in result.regions:
        assert region.content_mask.shape == (72, 90) and region.style_mask.shape == (90, 70)
        assert region.content_mask.dtype == region.style_mask.dtype == np.uint8
    assert any(note.startswith("Automatic regions") for note in result.notes)


def test_remote_transfer_errors_read_like_engine_errors(daemon):
    with running_daemon() as gone:
        address = gone.address
    with pytest.raises(PhotoStyleError, match="photostyle serve"):
        remote(address)(photo(), photo(), None, FAST)
    with pytest.raises(PhotoStyleError, match="daemon chooses the device"):
        remote(daemon.address)(photo(), photo(), None, TransferOptions(device="cuda"))
    with pytest.raises(PhotoStyleError, match="at least 64 px"):
        remote(daemon.address)(photo(), photo(40, 40), None, FAST)


def test_serve_refuses_a_network_address_without_a_token():
    run = subprocess.run([sys.executable, "-m", "photostyle.server.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                         capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "error: Listening on 0.0.0.0" in run.stderr and "token" in run.stderr


def test_serve_passes_its_upload_idle_option_to_the_daemon():
    run = subprocess.run([sys.executable, "-m", "photostyle.server.cli", "serve", "--port", "0", "--upload-idle", "0"],
                         capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "error: --upload-idle must be a positive number of seconds" in run.stderr
