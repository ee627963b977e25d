"""Looks over the wire, on a real daemon on 127.0.0.1: a transfer returns its look when asked
(`look_size`), ApplyLook recolours a layer exactly as the engine does, and refuses what it cannot
read or take; `photostyle transfer --server --save-look` keeps the daemon's look."""

from __future__ import annotations

import argparse

import grpc
import numpy as np
import pytest

from daemon_fixtures import CONTENT, STYLE, client, daemon, image, photo, running_daemon  # noqa: F401  (fixtures)
from photostyle.core import Look, Lut, PhotoStyleError, TransferResult, apply_look, load_image, load_look, measure_fidelity, save_image, save_look
from photostyle.core.look_files import CUBE, look_from_bytes
from photostyle.core.looks import lattice_colours
from photostyle.server.cli import looks as look_commands
from photostyle.server.cli import main as cli
from photostyle.server.client import Client, InvalidRequestError, Options, TooLargeError
from photostyle.server.daemon import Limits
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import array_from_image
from photostyle.server.wire.contract import APPLY_LOOK_PATH

#: A look that swaps red and blue and darkens: any mistake in the lattice's order shows.
LOOK = Look(Lut((lattice_colours(9).reshape(9, 9, 9, 3)[..., [2, 1, 0]] ** 1.5).astype(np.float32)))


@pytest.fixture(scope="module")
def cube_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("look") / "look.cube"
    save_look(path, LOOK)
    return path.read_bytes()


def test_capabilities_say_the_daemon_keeps_and_applies_looks(client):
    caps = client.capabilities()
    assert caps.looks and caps.limits.max_look_bytes == Limits().max_look_bytes
    look_size = {spec.name: spec for spec in caps.options}["look_size"]
    assert (look_size.kind, look_size.default, look_size.minimum, look_size.maximum) == ("int", "0", 2, 65)


def test_a_transfer_returns_its_look_when_asked(client):
    result = client.transfer(CONTENT, STYLE, options=Options(preset="preview", look_size=17)).result()
    look = look_from_bytes(result.look_cube, CUBE, "the result's look")
    assert look.lut.size == 17 and result.look_fidelity is not None
    assert any(note.startswith("The look reproduces this result within ΔE") for note in result.notes)
    # The .cube reproduces the result within the fidelity the daemon reports for it.
    measured = measure_fidelity(look, array_from_image(CONTENT), array_from_image(result.image))
    assert measured.median == pytest.approx(result.look_fidelity.median, abs=0.05)
    assert measured.p95 == pytest.approx(result.look_fidelity.p95, abs=0.05)
    assert result.look_fidelity.p95 < 5


def test_no_look_unless_asked(client):
    result = client.transfer(CONTENT, STYLE, options=Options(preset="preview")).result()
    assert result.look_cube == b"" and result.look_fidelity is None


@pytest.mark.parametrize("pixels", [photo(70, 90), photo(70, 90, channels=4, dtype=np.uint16),
                                    photo(3, 5, channels=2, dtype=np.float32)], ids=["8-bit", "16-bit RGBA", "float grey"])
def test_apply_look_equals_the_engines(client, cube_bytes, pixels):
    applied = client.apply_look(image(pixels), cube_bytes, ".cube")
    assert np.array_equal(array_from_image(applied), apply_look(look_from_bytes(cube_bytes, CUBE, "x"), pixels))
    assert np.abs(array_from_image(applied).astype(float) - apply_look(LOOK, pixels)).max() <= 1


def test_apply_look_from_a_hald_clut_with_tetrahedral_interpolation(client, tmp_path):
    save_look(tmp_path / "look.png", LOOK)
    pixels = photo(channels=4, dtype=np.uint16)
    applied = client.apply_look(image(pixels), (tmp_path / "look.png").read_bytes(), ".png", "tetrahedral")
    expected = apply_look(load_look(tmp_path / "look.png"), pixels, "tetrahedral")
    assert np.array_equal(array_from_image(applied), expected)


@pytest.mark.parametrize("look, kind, words", [
    (b"TITLE \"x\"\nLUT_3D_SIZE 2\n0 0 0\n1 1 1\n", ".cube", "The look file as a 2³ LUT"),
    (b"LUT_1D_SIZE 2\n0 0 0\n1 1 1\n", ".cube", "The look file is a 1D LUT"),
    (b"\x89PNG\r\n\x1a\nnot really", ".png", "The look file"),
])
def test_a_malformed_look_is_invalid_and_named(client, look, kind, words):
    with pytest.raises(InvalidRequestError, match=words):
        client.apply_look(image(photo()), look, kind)


def test_an_image_over_max_pixels_or_a_look_over_max_look_bytes_is_refused(cube_bytes):
    with running_daemon(limits=Limits(max_pixels=96 * 80 - 1, max_look_bytes=len(cube_bytes) - 1)) as small:
        with Client(small.address) as client:
            with pytest.raises(TooLargeError, match="--max-pixels"):
                client.apply_look(image(photo()), cube_bytes, ".cube")
            with pytest.raises(TooLargeError, match=f"at most {len(cube_bytes) - 1} bytes"):
                client.apply_look(image(photo(8, 8)), cube_bytes, ".cube")


def test_transfer_with_server_saves_the_daemons_look_as_a_hald_clut(daemon, tmp_path, capsys):
    save_image(tmp_path / "photo.png", photo())
    save_image(tmp_path / "reference.png", photo(90, 70, flip=True))
    status = cli.main(["transfer", str(tmp_path / "photo.png"), str(tmp_path / "reference.png"), "-o",
                       str(tmp_path / "out.png"), "--preset", "preview", "--server", daemon.address,
                       "--save-look", str(tmp_path / "look.png")])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert f"Wrote the look to {tmp_path / 'look.png'} (33³ LUT)" in out and "note: The look reproduces" in err
    look = load_look(tmp_path / "look.png")
    reproduced = apply_look(look, load_image(tmp_path / "photo.png")).astype(int)
    assert np.abs(reproduced - load_image(tmp_path / "out.png")).mean() < 2


def test_a_result_without_a_look_is_named_not_skipped():
    """An older daemon ignores look_size: the CLI says what to do instead of writing nothing."""
    args = argparse.Namespace(save_look="look.cube")
    with pytest.raises(PhotoStyleError, match="The daemon returned no look with the result: it predates looks"):
        look_commands.keep_look(args, TransferResult(photo()))


def test_cube_bytes_round_trip(cube_bytes):
    assert np.allclose(look_from_bytes(cube_bytes, CUBE, "x").lut.table, LOOK.lut.table, atol=1e-6)
    with pytest.raises(Exception, match="'.3dl' is not a kind of look file"):
        look_from_bytes(cube_bytes, ".3dl", "x")


@pytest.mark.parametrize("requests, words", [
    ([pb.ApplyLookRequest(chunk=pb.Chunk(data=b"x"))], "ApplyLook must start with its setup message"),
    ([pb.ApplyLookRequest(setup=pb.ApplyLookSetup(image=image(photo(4, 4)).info(), look_bytes=10)),
      pb.ApplyLookRequest(chunk=pb.Chunk(data=bytes(image(photo(4, 4)).data) + b"12345"))],
     "The look file's data ended after 5 of 10 bytes"),
    ([pb.ApplyLookRequest(setup=pb.ApplyLookSetup(image=image(photo(4, 4)).info(), look_bytes=0))],
     "The look file declares 0 bytes: it is empty"),
    ([pb.ApplyLookRequest(setup=pb.ApplyLookSetup(image=image(photo(4, 4)).info(), look_bytes=1, interpolation=7))],
     "Unknown interpolation 7"),
])
def test_apply_look_protocol_misuse_is_invalid_and_named(daemon, requests, words):
    with grpc.insecure_channel(daemon.address) as channel:
        call = channel.stream_stream(APPLY_LOOK_PATH, request_serializer=pb.ApplyLookRequest.SerializeToString,
                                     response_deserializer=pb.ApplyLookEvent.FromString)
        with pytest.raises(grpc.RpcError) as failure:
            list(call(iter(requests), timeout=30))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in failure.value.details()
