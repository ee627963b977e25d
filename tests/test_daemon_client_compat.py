"""The client library where the plug-ins run it: vendored as a plain folder, without numpy or
torch, on Debian's grpcio 1.51 / protobuf 4.21 (GIMP's and Krita's Python); and the checked-in
stubs match the .proto."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daemon_fixtures import ROOT, daemon  # noqa: F401  (fixtures)
from photostyle.server.install.common import copy_client

SYSTEM_PYTHON = "/usr/bin/python3"

VENDORED_CLIENT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import google.protobuf, grpc
    from photostyle.server.client import Client, DaemonUnavailableError, Image, InvalidRequestError, Options
    w, h = 96, 80
    content = bytes(v for y in range(h) for x in range(w) for v in (x * 255 // w, y * 255 // h, 128))
    style = bytes(v for y in range(90) for x in range(70) for v in (255 - x * 255 // 70, y * 255 // 90, 60))
    out = {"grpc": grpc.__version__, "protobuf": google.protobuf.__version__}
    with Client(sys.argv[2]) as client:
        out["api"] = client.capabilities().api_version
        events = list(client.transfer(Image(w, h, 3, "uint8", content), Image(70, 90, 3, "uint8", style),
                                      options=Options(size=64, iterations=5)))
        image = events[-1].image
        out["result"] = [image.width, image.height, image.channels, image.sample_type, len(image.data)]
        out["events"] = sorted({type(event).__name__ for event in events})
        out["given_regions"] = events[-1].regions
        auto = client.transfer(Image(w, h, 3, "uint8", content), Image(70, 90, 3, "uint8", style),
                               options=Options(preset="preview", regions="auto")).result()
        out["auto_masks"] = [[m.width, m.height, m.channels, m.sample_type, len(m.data)]
                             for r in auto.regions for m in (r.content_mask, r.style_mask)]
        try:
            client.transfer(Image(w, h, 3, "uint8", b"short"), Image(70, 90, 3, "uint8", style)).result()
        except InvalidRequestError as exc:
            out["invalid"] = str(exc)
    with Client(sys.argv[3]) as nobody:
        try:
            nobody.capabilities(timeout=5)
        except DaemonUnavailableError as exc:
            out["unavailable"] = str(exc)
    out["heavy_modules"] = sorted({"numpy", "torch"} & set(sys.modules))
    out["client_from"] = sys.modules["photostyle.server.client"].__file__
    print(json.dumps(out))
""")


@pytest.fixture
def vendored(tmp_path: Path) -> Path:
    """The client library and the wire package, vendored by the plug-in installer's own function."""
    copy_client(tmp_path)
    return tmp_path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _has_grpc_and_protobuf(python: str) -> bool:
    return Path(python).exists() and subprocess.run(
        [python, "-c", "import grpc, google.protobuf"], capture_output=True).returncode == 0


@pytest.mark.parametrize("python", [
    pytest.param(SYSTEM_PYTHON, id="debian-grpcio-1.51-protobuf-4.21", marks=pytest.mark.skipif(
        not _has_grpc_and_protobuf(SYSTEM_PYTHON),
        reason="/usr/bin/python3 lacks grpc/protobuf: apt-get install python3-grpcio python3-protobuf")),
    pytest.param(sys.executable, id="current-grpcio-protobuf"),
])
def test_vendored_client_works_against_a_real_daemon(python, vendored, daemon):
    run = subprocess.run([python, "-I", "-c", VENDORED_CLIENT, str(vendored), daemon.address, f"127.0.0.1:{_free_port()}"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["api"] == "photostyle.v1"
    assert out["result"] == [96, 80, 3, "uint8", 96 * 80 * 3]
    assert out["events"] == ["Progress", "Queued", "Result"]
    assert out["given_regions"] == []  # what an old client asks for: no masks follow the result
    assert out["auto_masks"] and out["auto_masks"] == [[96, 80, 1, "uint8", 96 * 80], [70, 90, 1, "uint8", 70 * 90]] * (
        len(out["auto_masks"]) // 2)
    assert "declares 5 bytes" in out["invalid"]
    assert "photostyle serve" in out["unavailable"]
    assert out["heavy_modules"] == []
    assert Path(out["client_from"]).is_relative_to(vendored)  # the vendored copy, not this checkout's


def test_checked_in_stubs_match_the_proto():
    run = subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
