"""Looks: fitting a 3D LUT to a photo and its result, applying it, and .cube / Hald CLUT files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core_test_helpers import smooth_rgb
from photostyle.core import (Cancelled, CancelToken, Fidelity, Look, LookFileError, Lut, MaskError, RegionPair, apply_look, fit_look,
                             load_image, load_look, save_image, save_look)
from photostyle.core.looks import lattice_colours, tetrahedral, trilinear

STEP = 1 / 255


def swap_and_gamma(rgb: np.ndarray, gamma: float = 1 / 2.2) -> np.ndarray:
    """A known global transform: channels rotated (R←G, G←B, B←R), then a gamma curve."""
    return (rgb[..., [1, 2, 0]] ** gamma).astype(np.float32)


def photo_in(low: float, high: float, seed: int = 1, size: int = 160) -> np.ndarray:
    """A smooth float32 photo whose colours fill [low, high]³ (a photo's gamut: not the whole cube)."""
    return (low + (high - low) * smooth_rgb(size, size, seed=seed)).astype(np.float32)


def as_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def identity_lut(size: int) -> Lut:
    return Lut(lattice_colours(size).reshape(size, size, size, 3).astype(np.float32))


def cube_text(table: np.ndarray, header: str = "") -> str:
    """A .cube file as other tools write it: header lines, then one line per node, red fastest."""
    size = table.shape[0]
    rows = table.transpose(2, 1, 0, 3).reshape(-1, 3)  # [b, g, r]: red changes fastest
    return header + f"LUT_3D_SIZE {size}\n" + "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in rows) + "\n"


class TestFit:
    def test_known_transform_is_reproduced_within_an_8_bit_step_inside_the_photos_gamut(self):
        photo = photo_in(0.15, 0.95)
        look = fit_look(photo, swap_and_gamma(photo))
        assert np.abs(apply_look(look, photo) - swap_and_gamma(photo)).max() < STEP
        # The 8-bit photo's colours, between those fitted:
        assert np.abs(apply_look(look, as_uint8(photo)).astype(np.float64)
                      - as_uint8(swap_and_gamma(as_uint8(photo) / np.float32(255)))).max() <= 1
        assert look.lut.size == 33 and look.fidelity.carried and look.fidelity.median < 0.5

    @pytest.mark.parametrize("size", [2, 17, 65])
    def test_other_sizes(self, size):
        photo = photo_in(0.0, 1.0)
        grade = (0.1 + 0.8 * photo[..., [2, 0, 1]]).astype(np.float32)  # affine: any lattice holds it exactly
        look = fit_look(photo, grade, size=size)
        assert look.lut.table.shape == (size, size, size, 3)
        assert np.abs(apply_look(look, photo) - grade).max() < STEP

    def test_colours_far_outside_the_photos_gamut_continue_smoothly(self):
        photo = photo_in(0.3, 0.6)  # mid-tones only: most of the cube is empty
        grade = np.clip(0.05 + photo * np.float32([1.2, 1.0, 0.8]), 0, 1) ** 0.9
        table = fit_look(photo, grade.astype(np.float32)).lut.table
        assert np.isfinite(table).all() and table.min() >= 0 and table.max() <= 1
        # No jumps: a node never differs from its neighbour by more than a steep grade's slope allows.
        assert max(np.abs(np.diff(table, axis=axis)).max() for axis in range(3)) < 0.07
        # The grade brightens every channel along the grey axis, well beyond the mid-tones too.
        grey = table[np.arange(33), np.arange(33), np.arange(33)]
        assert (np.diff(grey, axis=0) >= -1e-3).all()
        assert grey[0].max() < 0.1 and grey[-1].min() > 0.75

    def test_a_grey_photo_leaves_colours_it_never_spans_alone(self):
        grey = np.repeat(photo_in(0.1, 0.9)[..., :1], 3, axis=2)
        look = fit_look(grey, grey * np.float32(0.9))
        assert np.isfinite(look.lut.table).all()
        assert np.abs(apply_look(look, grey) - grey * 0.9).max() < STEP

    def test_region_looks_reproduce_regions_graded_differently_where_one_lut_cannot(self):
        photo = photo_in(0.1, 0.9)
        top = np.zeros(photo.shape[:2], np.float32)
        top[: photo.shape[0] // 2] = 1
        result = np.where(top[..., None] > 0, swap_and_gamma(photo), 1 - photo).astype(np.float32)
        regions = [RegionPair("top", top, top), RegionPair("bottom", 1 - top, 1 - top)]
        local = fit_look(photo, result, regions)
        assert [region.name for region in local.regions] == ["top", "bottom"]
        assert np.abs(apply_look(local, photo) - result).max() < 2 * STEP
        assert local.fidelity.median < 0.5 and local.fidelity.carried
        one_lut = fit_look(photo, result)
        assert one_lut.fidelity.median > 5 and not one_lut.fidelity.carried
        assert "the result is local" in one_lut.fidelity.note

    def test_region_masks_must_match_the_photo(self):
        photo = photo_in(0.1, 0.9)
        with pytest.raises(MaskError, match="40×30 but the photo is 160×160"):
            fit_look(photo, photo, [RegionPair("sky", np.ones((30, 40), np.float32), np.ones((30, 40)))])

    def test_a_look_with_regions_applies_only_to_its_photos_size(self):
        photo = photo_in(0.1, 0.9)
        half = np.zeros(photo.shape[:2], np.uint8)
        half[:80] = 255
        look = fit_look(photo, photo, [RegionPair("sky", half, half)])
        with pytest.raises(MaskError, match="without its regions"):
            apply_look(look, photo[:100])
        assert apply_look(look.without_regions(), photo[:100]).shape == (100, 160, 3)

    def test_photo_and_result_must_be_the_same_size(self):
        with pytest.raises(Exception, match="a look is fitted to a photo and its own result"):
            fit_look(photo_in(0, 1), photo_in(0, 1, size=100))

    @pytest.mark.parametrize("size", [1, 66])
    def test_size_out_of_range(self, size):
        with pytest.raises(Exception, match="choose a size from 2 to 65"):
            fit_look(photo_in(0, 1), photo_in(0, 1), size=size)


class TestFidelity:
    def test_note_says_whether_a_lut_carries_the_result(self):
        carried = Fidelity(0.8, 2.1)
        assert carried.note == ("The look reproduces this result within ΔE 0.8 (median), 2.1 (95th percentile): "
                                "a LUT carries it.")
        assert not Fidelity(0.8, 7.0).carried and not Fidelity(3.0, 4.0).carried
        assert Fidelity(3.0, 4.0).note.endswith("the result is local (regions graded differently); a LUT is an "
                                                "approximation.")

    def test_measured_in_delta_e_2000(self):
        photo = photo_in(0.1, 0.9)
        exact = fit_look(photo, photo).fidelity  # the identity
        assert exact.median < 0.05 and exact.p95 < 0.1
        shifted = photo.copy()
        shifted[: 80, :, 0] += 0.1  # half the photo a little redder: not a colour map of the photo
        local = fit_look(photo, np.clip(shifted, 0, 1)).fidelity
        assert 1 < local.p95 < 10


class TestApply:
    def test_trilinear_and_tetrahedral_agree_on_the_identity_and_a_smooth_lut(self):
        colours = np.random.default_rng(0).random((20000, 3)).astype(np.float32)
        for size in (2, 17, 33, 34, 65):  # exact to below half a 16-bit level (7.6e-6), the largest LUT too
            identity = identity_lut(size)
            assert np.abs(trilinear(identity, colours) - colours).max() < 3e-6
            assert np.abs(tetrahedral(identity, colours) - colours).max() < 1e-6
        smooth = Lut(swap_and_gamma(identity_lut(33).table, 1.8))
        assert np.abs(trilinear(smooth, colours) - tetrahedral(smooth, colours)).max() < STEP
        assert np.abs(tetrahedral(smooth, colours) - swap_and_gamma(colours, 1.8)).max() < STEP

    def test_tetrahedral_keeps_greys_grey(self):
        look = Look(Lut(swap_and_gamma(identity_lut(9).table, 1.0)))  # a channel rotation: grey stays grey
        grey = np.repeat(np.linspace(0, 1, 1000, dtype=np.float32)[:, None], 3, axis=1)
        out = tetrahedral(look.lut, grey)
        assert np.abs(out - grey).max() < 1e-6

    @pytest.mark.parametrize("dtype, channels", [(np.uint16, 4), (np.uint8, 2), (np.uint8, 1), (np.float32, 3)])
    def test_layouts_and_depths_are_kept_alpha_untouched(self, dtype, channels):
        scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
        rgb = photo_in(0, 1, size=70)
        colour = rgb[..., :1] if channels <= 2 else rgb
        image = np.concatenate([colour, rgb[..., 2:3] * 0.5][: 1 + (channels in (2, 4))], axis=2)
        image = (image * scale).round().astype(dtype) if scale != 1 else image.astype(dtype)
        out = apply_look(Look(Lut(swap_and_gamma(identity_lut(33).table, 1.0))), image)
        assert out.dtype == dtype and out.shape == (70, 70, 4 if channels in (2, 4) else 3)
        if channels in (2, 4):
            assert np.array_equal(out[..., 3], image[..., -1])
        expected = np.repeat(colour, 3, axis=2) if channels <= 2 else colour[..., [1, 2, 0]]
        assert np.abs(out[..., :3].astype(np.float64) / scale - expected).max() <= 1.01 / min(scale, 255)

    def test_domain_scales_the_input(self):
        table = lattice_colours(5).reshape(5, 5, 5, 3).astype(np.float32)
        lut = Lut(table, ((0.0, 0.0, 0.0), (2.0, 2.0, 2.0)))  # input 0..2 onto the lattice: halves each colour
        assert np.allclose(trilinear(lut, np.float32([[1.0, 0.5, 2.0]])), [[0.5, 0.25, 1.0]])

    def test_unknown_interpolation(self):
        with pytest.raises(Exception, match="Unknown interpolation 'cubic'; use one of trilinear, tetrahedral"):
            apply_look(Look(identity_lut(3)), photo_in(0, 1), "cubic")


class TestCubeFiles:
    def test_round_trip_keeps_table_title_and_notes_the_fidelity(self, tmp_path):
        photo = photo_in(0.1, 0.9)
        look = fit_look(photo, swap_and_gamma(photo), title="Blue hour")
        save_look(tmp_path / "look.cube", look)
        text = (tmp_path / "look.cube").read_text()
        assert text.startswith('TITLE "Blue hour"\n') and f"# {look.fidelity.note}\n" in text
        assert "LUT_3D_SIZE 33\n" in text and "DOMAIN" not in text
        loaded = load_look(tmp_path / "look.cube")
        assert loaded.title == "Blue hour" and loaded.regions == () and loaded.fidelity is None
        assert np.abs(loaded.lut.table - look.lut.table).max() < 1e-6
        assert [path.name for path in tmp_path.iterdir()] == ["look.cube"]  # no temporary file left

    def test_red_changes_fastest_in_the_lines(self, tmp_path):
        save_look(tmp_path / "identity.cube", Look(identity_lut(2)))
        lines = (tmp_path / "identity.cube").read_text().splitlines()[-8:]
        assert [tuple(float(value) for value in line.split()) for line in lines[:3]] == [(0, 0, 0), (1, 0, 0),
                                                                                           (0, 1, 0)]

    @pytest.mark.parametrize("size", [17, 65])
    def test_reads_cubes_made_elsewhere_with_comments_and_a_domain(self, tmp_path, size):
        low, high = np.float32([-0.1, 0.0, 0.2]), np.float32([1.5, 2.0, 1.2])
        nodes = low + (high - low) * lattice_colours(size).reshape(size, size, size, 3)
        table = np.sqrt(np.clip(nodes, 0, None)) / 2  # f(input) for the input the node stands for
        header = ("# Made by another tool\n\nTITLE \"Other\"\n# a comment between keywords\n"
                  f"DOMAIN_MIN {low[0]} {low[1]} {low[2]}\nDOMAIN_MAX {high[0]} {high[1]} {high[2]}\n")
        (tmp_path / "other.cube").write_text(cube_text(table, header).replace("\n", "\r\n"))
        look = load_look(tmp_path / "other.cube")
        assert look.title == "Other" and look.lut.size == size
        colours = np.float32([[0.5, 1.0, 0.7], [1.2, 0.3, 0.9], [0.0, 1.9, 1.1]])
        assert np.abs(trilinear(look.lut, colours) - np.sqrt(colours) / 2).max() < 0.01

    def test_reads_resolve_input_range(self, tmp_path):
        table = identity_lut(3).table * 2
        (tmp_path / "resolve.cube").write_text(cube_text(table, "LUT_3D_INPUT_RANGE 0.0 2.0\n"))
        look = load_look(tmp_path / "resolve.cube")
        assert np.allclose(trilinear(look.lut, np.float32([[1.0, 0.5, 2.0]])), [[1.0, 0.5, 2.0]])

    @pytest.mark.parametrize("content, words", [
        ("", "is empty"),
        ("just some notes\nabout colours\n", "no LUT_3D_SIZE line comes before its data"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "it is not text"),
        ("LUT_1D_SIZE 4\n0 0 0\n0.3 0.3 0.3\n0.6 0.6 0.6\n1 1 1\n", "is a 1D LUT"),
        ("LUT_1D_SIZE 2\nLUT_3D_SIZE 2\n" + "0 0 0\n" * 10, "1D shaper LUT"),
        ("LUT_3D_SIZE 1\n0 0 0\n", "declares LUT_3D_SIZE 1; sizes from 2 to 256"),
        ("LUT_3D_SIZE 300\n0 0 0\n", "declares LUT_3D_SIZE 300"),
        ("LUT_3D_SIZE two\n0 0 0\n", "declares LUT_3D_SIZE two"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7, "must be 8 lines of three numbers"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "0 0.", "must be 8 lines of three numbers"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "0 abc 1\n", "abc"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "0 nan 1\n", "NaN or infinite"),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 0 0\n" + "0 0 0\n" * 8, "is not below its DOMAIN_MAX"),
    ], ids=["empty", "text", "binary", "1D", "shaper", "size 1", "size 300", "size in words", "too few", "truncated",
            "text in numbers", "NaN", "domain reversed"])
    def test_malformed_files_are_refused_in_one_line_naming_the_file(self, tmp_path, content, words):
        path = tmp_path / "bad.cube"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(LookFileError) as error:
            load_look(path)
        message = str(error.value)
        assert words in message and str(path) in message and "\n" not in message, message

    def test_missing_file_and_unknown_kind(self, tmp_path):
        with pytest.raises(LookFileError, match="Look file not found"):
            load_look(tmp_path / "none.cube")
        with pytest.raises(LookFileError, match="'.3dl' is not a look file PhotoStyle knows; use .cube"):
            load_look(tmp_path / "look.3dl")

    def test_a_look_with_regions_is_saved_only_as_its_global_lut(self, tmp_path):
        photo = photo_in(0.1, 0.9)
        half = np.zeros(photo.shape[:2], np.float32)
        half[:80] = 1
        look = fit_look(photo, photo, [RegionPair("sky", half, half)])
        with pytest.raises(LookFileError, match=r"it has regions \(sky\).*look.without_regions\(\)"):
            save_look(tmp_path / "look.cube", look)
        assert not (tmp_path / "look.cube").exists()
        save_look(tmp_path / "look.cube", look.without_regions())
        assert load_look(tmp_path / "look.cube").lut.size == 33


class TestHaldFiles:
    def test_round_trip_is_a_level_8_sixteen_bit_png(self, tmp_path):
        photo = photo_in(0.1, 0.9)
        look = fit_look(photo, swap_and_gamma(photo, 1.5))
        save_look(tmp_path / "hald.png", look)
        image = load_image(tmp_path / "hald.png")
        assert image.shape == (512, 512, 3) and image.dtype == np.uint16
        loaded = load_look(tmp_path / "hald.png")
        assert loaded.lut.size == 64
        colours = np.random.default_rng(2).random((20000, 3)).astype(np.float32)
        assert np.abs(trilinear(loaded.lut, colours) - trilinear(look.lut, colours)).max() < 0.5 * STEP

    def test_standard_order_red_fastest(self, tmp_path):
        save_look(tmp_path / "identity.png", Look(identity_lut(2)))
        first_row = load_image(tmp_path / "identity.png")[0, :3].astype(np.float64) / 65535
        step = 1 / 63
        assert np.allclose(first_row, [[0, 0, 0], [step, 0, 0], [2 * step, 0, 0]], atol=1e-4)

    @pytest.mark.parametrize("level", [2, 4])
    def test_reads_other_levels_at_8_bits(self, tmp_path, level):
        nodes = level * level
        hald = lattice_colours(nodes).reshape(nodes, nodes, nodes, 3).transpose(2, 1, 0, 3).reshape(level ** 3, level ** 3, 3)
        save_image(tmp_path / "hald.png", as_uint8(hald))
        look = load_look(tmp_path / "hald.png")
        assert look.lut.size == nodes
        colours = np.random.default_rng(3).random((1000, 3)).astype(np.float32)
        assert np.abs(trilinear(look.lut, colours) - colours).max() < STEP

    @pytest.mark.parametrize("shape", [(512, 500, 3), (100, 100, 3), (512, 512, 1)], ids=["not square",
                                                                                          "not a cube", "grey"])
    def test_an_image_that_is_no_hald_is_refused(self, tmp_path, shape):
        save_image(tmp_path / "not.png", np.zeros(shape, np.uint8))
        with pytest.raises(LookFileError, match="not a Hald CLUT.*512×512 for level 8"):
            load_look(tmp_path / "not.png")

    def test_an_unreadable_png(self, tmp_path):
        (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
        with pytest.raises(LookFileError, match="bad.png"):
            load_look(tmp_path / "bad.png")


FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(scope="module")
def look_and_photo(tmp_path_factory) -> tuple[Look, np.ndarray, Path]:
    """A fitted look, an 8-bit photo spanning the whole cube (not only the fitted gamut), and a folder."""
    folder = tmp_path_factory.mktemp("ffmpeg")
    photo = photo_in(0.1, 0.9)
    look = fit_look(photo, swap_and_gamma(photo, 0.7) * np.float32([1.0, 0.9, 0.8]))
    other = as_uint8(photo_in(0.0, 1.0, seed=11, size=96))
    save_image(folder / "in.png", other)
    return look, other, folder


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (apt install ffmpeg): the interop checks need it")
class TestFfmpegAgrees:
    """Our files mean to ffmpeg what they mean to us: its `lut3d` and `haldclut` filters give our
    `apply_look`'s 8-bit result within 2 levels (it rounds at other places)."""

    def ffmpeg(self, *args: str) -> None:
        subprocess.run([FFMPEG, "-y", "-loglevel", "error", *args], check=True, timeout=120)

    @pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
    def test_cube_through_lut3d(self, look_and_photo, interpolation):
        look, photo, folder = look_and_photo
        save_look(folder / "look.cube", look)
        self.ffmpeg("-i", str(folder / "in.png"), "-vf", f"lut3d=file={folder / 'look.cube'}:interp={interpolation}",
                    str(folder / f"cube-{interpolation}.png"))
        theirs = load_image(folder / f"cube-{interpolation}.png").astype(int)
        assert np.abs(theirs - apply_look(load_look(folder / "look.cube"), photo, interpolation)).max() <= 2

    @pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
    def test_hald_through_haldclut(self, look_and_photo, interpolation):
        look, photo, folder = look_and_photo
        save_look(folder / "hald.png", look)
        self.ffmpeg("-i", str(folder / "in.png"), "-i", str(folder / "hald.png"), "-filter_complex",
                    f"haldclut=interp={interpolation}", str(folder / f"hald-{interpolation}.png"))
        theirs = load_image(folder / f"hald-{interpolation}.png").astype(int)
        assert np.abs(theirs - apply_look(load_look(folder / "hald.png"), photo, interpolation)).max() <= 2
        assert np.abs(theirs - apply_look(look, photo, interpolation)).max() <= 2


def test_apply_look_stops_when_cancelled():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        apply_look(Look(identity_lut(5)), as_uint8(photo_in(0, 1)), cancel=token)
