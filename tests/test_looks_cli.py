"""The look commands of `photostyle`: transfer --save-look, apply, shoot (run in this process
through `main`, as a start-up per command would cost seconds each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photostyle.core import Look, Lut, apply_look, load_image, load_look, save_image, save_look
from photostyle.core.looks import lattice_colours
from photostyle.server.cli import looks as look_commands
from photostyle.server.cli import main as cli
from test_cli import gradient_photo

PATCH = (200, 120, 60)  # a colour every photo of the shoot holds


def photo(seed: int, height: int = 64, width: int = 80) -> np.ndarray:
    """A small photo of its own (colours vary with the seed), with a PATCH-coloured square."""
    image = np.roll(gradient_photo(height, width), seed * 11, axis=1)[:, :, [seed % 3, (seed + 1) % 3, 2]].copy()
    image[8:24, 8:24] = PATCH
    return image


@pytest.fixture
def shoot(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A reference and five photos."""
    reference = tmp_path / "reference.png"
    save_image(reference, gradient_photo(90, 70)[::-1, :, ::-1].copy())
    photos = []
    for seed in range(5):
        photos.append(tmp_path / "photos" / f"img{seed}.png")
        photos[-1].parent.mkdir(exist_ok=True)
        save_image(photos[-1], photo(seed))
    return reference, photos


@pytest.fixture
def look_file(tmp_path: Path) -> Path:
    """A look rotating the channels (R←G, G←B, B←R)."""
    path = tmp_path / "rotate.cube"
    save_look(path, Look(Lut(lattice_colours(9).reshape(9, 9, 9, 3)[..., [1, 2, 0]].astype(np.float32))))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


def error_line(err: str) -> str:
    """The one line of a refusal (nothing else on stderr)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def mtimes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


class TestSaveLook:
    def test_transfer_keeps_its_look_and_says_how_faithful_it_is(self, shoot, tmp_path, capsys):
        reference, photos = shoot
        status, out, err = run(capsys, "transfer", photos[0], reference, "-o", tmp_path / "out.png", "--preset",
                               "preview", "--save-look", tmp_path / "look.cube", "--look-size", "17")
        assert status == 0, err
        assert "note: The look reproduces this result within ΔE" in err and f"Wrote the look to {tmp_path / 'look.cube'}" in out
        look = load_look(tmp_path / "look.cube")
        assert look.lut.size == 17
        # The look is the transfer's colour map: the photo through it is (nearly) the result.
        difference = apply_look(look, load_image(photos[0])).astype(int) - load_image(tmp_path / "out.png")
        assert np.median(np.abs(difference)) <= 3

    @pytest.mark.parametrize("look, words", [
        ("out.png", "is also the result (-o)"),
        ("look.3dl", "'.3dl' is not a look file PhotoStyle knows"),
        ("photos/img0.png", "is the same file as the photo"),
    ])
    def test_refused_before_any_work(self, shoot, tmp_path, capsys, look, words):
        reference, photos = shoot
        (tmp_path / "out.png").write_bytes(b"old")
        status, _, err = run(capsys, "transfer", photos[0], reference, "-o", tmp_path / "out.png", "--save-look",
                             tmp_path / look)
        assert status == 2 and words in error_line(err)
        assert (tmp_path / "out.png").read_bytes() == b"old"

    @pytest.mark.parametrize("size, words", [
        ("300", "Look size 300 is out of range; use 0 (none) or 2 to 65."),
        ("1", "Look size 1 is out of range; use 0 (none) or 2 to 65."),
        ("0", "--look-size 0 asks for no look, but --save-look needs one; give --look-size 2 to 65"),
    ])
    def test_look_size_out_of_range_is_refused_before_any_work(self, shoot, tmp_path, capsys, size, words):
        reference, photos = shoot
        status, _, err = run(capsys, "transfer", photos[0], reference, "-o", tmp_path / "out.png", "--save-look",
                             tmp_path / "l.cube", "--look-size", size)
        assert status == 2 and words in error_line(err)
        assert not (tmp_path / "out.png").exists() and not (tmp_path / "l.cube").exists()


class TestApply:
    def test_applies_a_look_to_photos_into_a_new_folder_keeping_names_and_formats(self, shoot, look_file, tmp_path,
                                                                                  capsys):
        _, photos = shoot
        save_image(tmp_path / "photos" / "deep.tif", photo(7).astype(np.uint16) * 257)
        save_image(tmp_path / "photos" / "snap.jpg", photo(8))
        inputs = photos[:2] + [tmp_path / "photos" / "deep.tif", tmp_path / "photos" / "snap.jpg"]
        status, out, err = run(capsys, "apply", look_file, *inputs, "-o", tmp_path / "graded" / "today")
        assert status == 0, err
        assert "Wrote 4 of 4 photo(s)" in out and "100%" in err
        folder = tmp_path / "graded" / "today"
        assert sorted(path.name for path in folder.iterdir()) == ["deep.tif", "img0.png", "img1.png", "snap.jpg"]
        assert np.array_equal(load_image(folder / "img1.png"), load_image(photos[1])[:, :, [1, 2, 0]])
        deep = load_image(folder / "deep.tif")
        assert deep.dtype == np.uint16 and np.array_equal(deep, photo(7)[:, :, [1, 2, 0]].astype(np.uint16) * 257)

    def test_format_and_interpolation(self, shoot, look_file, tmp_path, capsys):
        _, photos = shoot
        status, _, err = run(capsys, "apply", look_file, photos[0], "-o", tmp_path / "out", "--format", "tif",
                             "--interpolation", "tetrahedral")
        assert status == 0, err
        assert np.array_equal(load_image(tmp_path / "out" / "img0.tif"), load_image(photos[0])[:, :, [1, 2, 0]])

    def test_existing_results_are_kept_unless_asked(self, shoot, look_file, tmp_path, capsys):
        _, photos = shoot
        folder = tmp_path / "out"
        folder.mkdir()
        (folder / "img0.png").write_bytes(b"an earlier result")
        status, _, err = run(capsys, "apply", look_file, *photos[:2], "-o", folder)
        assert status == 2 and "--skip-existing" in error_line(err) and "--overwrite" in err
        assert sorted(mtimes(folder)) == ["img0.png"]
        status, out, _ = run(capsys, "apply", look_file, *photos[:2], "-o", folder, "--skip-existing")
        assert status == 0 and "Wrote 1 of 1 photo(s)" in out and "1 skipped" in out
        assert (folder / "img0.png").read_bytes() == b"an earlier result"
        status, out, _ = run(capsys, "apply", look_file, *photos[:2], "-o", folder, "--overwrite")
        assert status == 0 and "Wrote 2 of 2" in out
        assert load_image(folder / "img0.png").shape == (64, 80, 3)

    @pytest.mark.parametrize("case, words", [
        ("into the photos' folder", "is the same file as photo"),
        ("same names", "would both be written to"),
        ("unknown format", "cannot write '.gif' files; pass --format png|tif|jpg"),
        ("look is a photo", "not a Hald CLUT"),
    ])
    def test_refused_before_any_photo_is_read(self, shoot, look_file, tmp_path, capsys, case, words):
        _, photos = shoot
        args = {"into the photos' folder": [look_file, *photos, "-o", photos[0].parent],
                "same names": [look_file, photos[0], tmp_path / "img0.jpg", "-o", tmp_path / "out", "--format", "png"],
                "unknown format": [look_file, tmp_path / "anim.gif", "-o", tmp_path / "out"],
                "look is a photo": [photos[0], photos[1], "-o", tmp_path / "out"]}[case]
        before = mtimes(photos[0].parent)
        status, _, err = run(capsys, "apply", *args)
        assert status == 2 and words in error_line(err)
        assert mtimes(photos[0].parent) == before and not (tmp_path / "out").exists()

    def test_malformed_look_is_one_line(self, shoot, tmp_path, capsys):
        _, photos = shoot
        (tmp_path / "bad.cube").write_text("LUT_3D_SIZE 2\n0 0 0\n0 1\n")
        status, _, err = run(capsys, "apply", tmp_path / "bad.cube", photos[0], "-o", tmp_path / "out")
        line = error_line(err)
        assert status == 2 and "bad.cube" in line and "export it again" in line

    def test_ctrl_c_leaves_the_written_results_and_no_partial_file(self, shoot, look_file, tmp_path, capsys,
                                                                  monkeypatch):
        _, photos = shoot
        calls = []

        def interrupted_on_the_third(look, image, interpolation):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return apply_look(look, image, interpolation)

        monkeypatch.setattr(look_commands, "apply_look", interrupted_on_the_third)
        status, _, err = run(capsys, "apply", look_file, *photos, "-o", tmp_path / "out")
        assert status == 130
        assert err.strip().splitlines()[-1] == (f"cancelled: interrupted at {photos[2]} (2 of 5 done); no result was "
                                                "half-written. Run the same command with --skip-existing to do the rest.")
        assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]


class TestShoot:
    def test_a_failing_photo_stops_only_itself_and_a_second_run_resumes(self, shoot, tmp_path, capsys):
        reference, photos = shoot
        photos[3].write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        folder = tmp_path / "styled"
        status, out, err = run(capsys, "shoot", reference, *photos, "-o", folder, "--preset", "preview")
        assert status == 1
        assert "Wrote 4 of 5 photo(s)" in out
        assert "1 photo(s) failed:" in err and f"  {photos[3]}: Cannot read" in err
        assert sorted(mtimes(folder)) == ["img0.png", "img1.png", "img2.png", "img4.png"]
        assert "5/5 img4.png: finishing" in err  # one bar over the set
        save_image(photos[3], photo(3))  # mended: a second run does it, and only it
        before = mtimes(folder)
        status, out, _ = run(capsys, "shoot", reference, *photos, "-o", folder, "--preset", "preview",
                             "--skip-existing")
        assert status == 0 and "Wrote 1 of 1 photo(s)" in out and "4 skipped" in out
        assert {name: time for name, time in mtimes(folder).items() if name != "img3.png"} == before
        before = mtimes(folder)
        status, out, _ = run(capsys, "shoot", reference, *photos, "-o", folder, "--preset", "preview",
                             "--skip-existing")
        assert status == 0 and "Wrote 0 of 0 photo(s)" in out and "5 skipped" in out
        assert mtimes(folder) == before

    def test_one_look_gives_every_photo_the_same_colours(self, shoot, tmp_path, capsys):
        reference, photos = shoot
        folder = tmp_path / "styled"
        status, out, err = run(capsys, "shoot", reference, *photos, "-o", folder, "--preset", "preview",
                               "--one-look", "--key", photos[2], "--save-look", tmp_path / "shoot.cube")
        assert status == 0, err
        assert "note: img2.png: The look reproduces this result within ΔE" in err and "Wrote 5 of 5 photo(s)" in out
        look = load_look(tmp_path / "shoot.cube")
        patches = [load_image(folder / path.name)[8:24, 8:24].reshape(-1, 3) for path in photos]
        assert all(np.array_equal(patch, patches[0]) for patch in patches)  # the same colour, the same result
        assert np.abs(patches[0][0].astype(int) - PATCH).max() > 5  # ...and it was restyled
        assert np.abs(load_image(folder / "img0.png").astype(int) - apply_look(look, photo(0))).max() <= 1

    @pytest.mark.parametrize("args, words", [
        (["--key", "x.png"], "--key is for the shoot's one look; add --one-look"),
        (["--save-look", "l.cube"], "--save-look is for the shoot's one look"),
        (["--one-look", "--save-look", "styled/img0.png"], "is also the result of"),
        (["--preset", "preview", "--iterations", "3"], "does not use iterations"),
    ])
    def test_refused_before_any_work(self, shoot, tmp_path, capsys, monkeypatch, args, words):
        reference, photos = shoot
        monkeypatch.chdir(tmp_path)
        status, _, err = run(capsys, "shoot", reference, *photos, "-o", "styled", *args)
        assert status == 2 and words in error_line(err)
        assert not any((tmp_path / "styled").glob("*"))
