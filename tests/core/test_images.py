"""Pixels in and out: array validation, sample types, alpha, and image files."""

from __future__ import annotations

import numpy as np
import png
import pytest
import tifffile
import torch
from PIL import Image

from photostyle.core.errors import ImageTooLargeError, InputImageError, OptionsError
from photostyle.core import images
from photostyle.core.images import (
    MIN_SIDE,
    Pixels,
    check_output_folder,
    check_output_path,
    downscale,
    load_image,
    rebuild,
    resize_image,
    resize_rows,
    save_image,
    split_pixels,
    working_shape,
)

H, W = 64, 70


def random_pixels(dtype, channels: int, seed: int = 0, height: int = H, width: int = W) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width, channels)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if dtype == np.uint16:
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    return rng.random(shape).astype(dtype)


def join_pixels(rgb: np.ndarray, like: Pixels) -> np.ndarray:
    """`rgb` (H×W×3 float) rebuilt in `like`'s layout, as the engine delivers its results."""
    return rebuild(like, lambda rows, start, stop: torch.from_numpy(np.array(rgb[start:stop])).permute(2, 0, 1))


class TestSplitJoinRoundTrip:
    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
    @pytest.mark.parametrize("channels", [3, 4])
    def test_colour_round_trip_is_exact(self, dtype, channels):
        image = random_pixels(dtype, channels)
        pixels = split_pixels(image, "image")
        assert pixels.rgb.dtype == np.float32 and pixels.rgb.shape == (H, W, 3)
        assert pixels.rgb.min() >= 0 and pixels.rgb.max() <= 1
        assert (pixels.height, pixels.width, pixels.channels) == (H, W, channels)
        back = join_pixels(pixels.rgb, pixels)
        assert back.dtype == image.dtype and back.shape == image.shape
        if dtype in (np.float32, np.float64):
            np.testing.assert_allclose(back, image.astype(np.float32), rtol=0, atol=1e-7)
        else:
            np.testing.assert_array_equal(back, image)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_alpha_preserved_bit_for_bit(self, dtype):
        image = random_pixels(dtype, 4, seed=1)
        pixels = split_pixels(image, "image")
        # Whatever the engine does to the colour, the alpha comes back untouched, in a new array.
        result = join_pixels(np.zeros((H, W, 3), np.float32), pixels)
        assert result.dtype == image.dtype
        np.testing.assert_array_equal(result[:, :, 3], image[:, :, 3])
        assert not np.shares_memory(result, image)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_grey_comes_back_as_rgb(self, dtype):
        grey = random_pixels(dtype, 1, seed=2)
        pixels = split_pixels(grey, "image")
        assert pixels.rgb.shape == (H, W, 3) and pixels.channels == 1
        np.testing.assert_array_equal(pixels.rgb[:, :, 0], pixels.rgb[:, :, 2])
        back = join_pixels(pixels.rgb, pixels)
        assert back.shape == (H, W, 3) and back.dtype == grey.dtype
        for c in range(3):
            np.testing.assert_allclose(back[:, :, c], grey[:, :, 0], rtol=0, atol=1e-7 if dtype == np.float32 else 0)

    def test_grey_2d_array(self):
        grey = random_pixels(np.uint8, 1, seed=3)[:, :, 0]
        pixels = split_pixels(grey, "image")
        assert pixels.channels == 1
        np.testing.assert_array_equal(join_pixels(pixels.rgb, pixels)[:, :, 1], grey)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_grey_alpha(self, dtype):
        image = random_pixels(dtype, 2, seed=4)
        pixels = split_pixels(image, "image")
        assert pixels.channels == 2 and pixels.rgb.shape == (H, W, 3)
        back = join_pixels(pixels.rgb, pixels)
        assert back.shape == (H, W, 4) and back.dtype == image.dtype
        np.testing.assert_array_equal(back[:, :, 3], image[:, :, 1])
        np.testing.assert_allclose(back[:, :, 0], image[:, :, 0], rtol=0, atol=1e-7 if dtype == np.float32 else 0)

    def test_float_out_of_range_clipped(self):
        image = np.full((H, W, 3), 1.5, np.float32)
        image[0, 0] = -0.25
        pixels = split_pixels(image, "image")
        assert pixels.rgb.max() == 1.0 and pixels.rgb.min() == 0.0

    def test_join_clips_and_rounds(self):
        pixels = split_pixels(np.zeros((H, W, 3), np.uint8), "image")
        rgb = np.full((H, W, 3), 0.5, np.float32)
        rgb[0, 0] = (-1.0, 2.0, 1.0 / 255 * 0.49)
        out = join_pixels(rgb, pixels)
        assert out[1, 1, 0] == 128  # round(127.5) half to even is 128
        assert tuple(out[0, 0]) == (0, 255, 0)

    def test_float_alpha_outside_unit_range_untouched(self):
        image = random_pixels(np.float32, 4, seed=5)
        image[..., 3] = 2.5
        pixels = split_pixels(image, "image")
        np.testing.assert_array_equal(join_pixels(pixels.rgb, pixels)[..., 3], image[..., 3])


class TestStrips:
    """A large layer is read and rebuilt strip by strip; the strips must not show in the result."""

    @pytest.mark.parametrize("dtype, channels", [(np.uint8, 4), (np.uint16, 3), (np.float32, 1)])
    def test_rebuild_in_strips_equals_one_strip(self, monkeypatch, dtype, channels):
        pixels = split_pixels(random_pixels(dtype, channels, seed=6, height=97, width=70), "image")

        def render(rows: torch.Tensor, start: int, stop: int) -> torch.Tensor:
            # Depends on the row index, so a strip placed at the wrong rows would show.
            return rows * 0.5 + torch.arange(start, stop, dtype=torch.float32)[None, :, None] / 200

        whole = rebuild(pixels, render)
        monkeypatch.setattr(images, "STRIP_PIXELS", 70 * 8)  # 8 rows a strip, the last one short
        np.testing.assert_array_equal(rebuild(pixels, render), whole)
        assert whole.shape == (97, 70, 4 if channels == 4 else 3) and whole.dtype == dtype

    def test_rebuild_checks_for_cancel_between_strips(self, monkeypatch):
        monkeypatch.setattr(images, "STRIP_PIXELS", W * 10)
        calls = []
        rebuild(split_pixels(random_pixels(np.uint8, 3), "image"), lambda rows, start, stop: rows,
                checkpoint=lambda: calls.append(1))
        assert len(calls) == -(-H // 10)

    def test_downscale_in_strips_matches_resizing_the_whole(self, monkeypatch):
        image = random_pixels(np.uint16, 3, seed=7, height=600, width=450)
        smooth = resize_image(torch.from_numpy(image.astype(np.float32) / 65535).permute(2, 0, 1), (40, 30))
        monkeypatch.setattr(images, "STRIP_PIXELS", 450 * 37)  # strips that are no multiple of the box
        small = downscale(split_pixels(image, "image"), (40, 30))
        assert small.shape == (3, 40, 30) and small.is_contiguous()
        # A box average then an antialiased resize is not the same filter as one resize, but close.
        assert (small - smooth).abs().mean() < 0.01

    def test_downscale_keeps_a_flat_image_flat_to_its_edges(self):
        image = np.full((301, 203, 3), 200, np.uint8)  # sides that are no multiple of the box
        small = downscale(split_pixels(image, "image"), (30, 20))
        torch.testing.assert_close(small, torch.full((3, 30, 20), 200 / 255), atol=1e-6, rtol=0)

    def test_resize_rows_equals_interpolate(self):
        maps = torch.rand(5, 13, 17, generator=torch.Generator().manual_seed(0))
        for size in ((40, 60), (7, 9), (13, 17)):
            expected = torch.nn.functional.interpolate(maps[None], size=size, mode="bilinear", align_corners=False)[0]
            rows = torch.cat([resize_rows(maps, start, min(start + 3, size[0]), *size) for start in range(0, size[0], 3)],
                             dim=1)
            torch.testing.assert_close(rows, expected, atol=1e-6, rtol=0)


class TestSplitPixelsErrors:
    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    @pytest.mark.parametrize("channel", [0, 3])
    def test_non_finite(self, bad, channel):
        image = random_pixels(np.float32, 4)
        image[5, 6, channel] = bad
        with pytest.raises(InputImageError, match="content image contains NaN or infinite"):
            split_pixels(image, "content image")

    @pytest.mark.parametrize("shape", [(0, 70, 3), (64, 0, 3), (0, 0)])
    def test_zero_size(self, shape):
        with pytest.raises(InputImageError, match="empty"):
            split_pixels(np.zeros(shape, np.uint8), "style image")

    @pytest.mark.parametrize("shape", [(63, 100, 3), (100, 63), (10, 10, 4), (1, 64, 3)])
    def test_too_small(self, shape):
        with pytest.raises(InputImageError, match=f"at least {MIN_SIDE} px"):
            split_pixels(np.zeros(shape, np.uint8), "content image")

    def test_exactly_min_side_accepted(self):
        assert split_pixels(np.zeros((MIN_SIDE, MIN_SIDE, 3), np.uint8), "image").height == MIN_SIDE

    @pytest.mark.parametrize("shape", [(64,), (1, 64, 64, 3), (64, 64, 5), (64, 64, 0)])
    def test_wrong_layout(self, shape):
        with pytest.raises(InputImageError, match="1 to 4 channels"):
            split_pixels(np.zeros(shape, np.uint8), "content image")

    @pytest.mark.parametrize("dtype", [np.int32, np.int16, np.bool_, np.float16, np.complex64])
    def test_unsupported_sample_type(self, dtype):
        with pytest.raises(InputImageError, match="samples"):
            split_pixels(np.zeros((64, 64, 3), dtype), "content image")

    def test_message_names_the_image(self):
        with pytest.raises(InputImageError, match="^The style image is 10×20"):
            split_pixels(np.zeros((20, 10, 3), np.uint8), "style image")


class TestWorkingShape:
    @pytest.mark.parametrize(
        "height, width, long_side, expected",
        [
            (437, 700, 512, (320, 512)),
            (700, 437, 512, (512, 320)),
            (100, 80, 512, (100, 80)),  # never upscaled
            (2000, 100, 512, (640, 32)),  # short side kept at 32
            (64, 64, 64, (64, 64)),
        ],
    )
    def test_values(self, height, width, long_side, expected):
        assert working_shape(height, width, long_side) == expected

    @pytest.mark.parametrize("height, width", [(100, 4000), (4000, 100), (64, 64), (437, 700), (2000, 100)])
    @pytest.mark.parametrize("limit", [48, 512, 2048])
    def test_a_limit_holds_for_every_shape(self, height, width, limit):
        """Within `limit`, or refused: never the short side's 32 px bought by exceeding it."""
        try:
            shape = working_shape(height, width, limit, limit=limit, what="The photo")
        except OptionsError as error:
            assert f"{width}×{height}" in str(error) and f"{limit} px" in str(error)
            assert max(working_shape(height, width, limit)) > limit
        else:
            assert max(shape) <= limit and min(shape) >= min(32, height, width)

    def test_resize_image(self):
        image = torch.rand(3, 20, 30)
        assert resize_image(image, (20, 30)) is image
        assert resize_image(image, (10, 15)).shape == (3, 10, 15)
        flat = torch.full((3, 20, 30), 0.25)
        torch.testing.assert_close(resize_image(flat, (7, 11)), torch.full((3, 7, 11), 0.25))


class TestFileRoundTrip:
    @pytest.mark.parametrize("channels", [1, 2, 3, 4])
    def test_png_8bit(self, tmp_path, channels):
        image = random_pixels(np.uint8, channels, seed=6)
        path = tmp_path / "image.png"
        save_image(path, image)
        loaded = load_image(path)
        assert loaded.dtype == np.uint8
        assert loaded.shape[:2] == (H, W) and loaded.size == image.size
        np.testing.assert_array_equal(loaded.reshape(image.shape), image)

    @pytest.mark.parametrize("channels", [1, 2, 3, 4])
    def test_png_16bit_keeps_16_bits(self, tmp_path, channels):
        image = random_pixels(np.uint16, channels, seed=7)
        image[0, 0] = 1  # a value that 8 bits cannot hold
        image[0, 1] = 65534
        path = tmp_path / "image16.png"
        save_image(path, image)
        assert png.Reader(filename=str(path)).read()[3]["bitdepth"] == 16
        loaded = load_image(path)
        assert loaded.dtype == np.uint16 and loaded.shape == (H, W, channels)
        np.testing.assert_array_equal(loaded, image)

    def test_png_16bit_written_by_pillow(self, tmp_path):
        # A 16-bit greyscale PNG from another tool (Pillow's I;16) also keeps its 16 bits.
        image = random_pixels(np.uint16, 1, seed=8)[:, :, 0]
        path = tmp_path / "pillow16.png"
        Image.fromarray(image).save(path)
        loaded = load_image(path)
        assert loaded.dtype == np.uint16
        np.testing.assert_array_equal(loaded[:, :, 0], image)

    def test_jpeg(self, tmp_path):
        # A smooth image survives JPEG closely; the alpha of an RGBA array is dropped.
        ys, xs = np.mgrid[0:H, 0:W]
        image = np.stack([ys * 3, xs * 3, (ys + xs) * 2, np.full_like(ys, 77)], axis=2).astype(np.uint8)
        path = tmp_path / "image.jpg"
        save_image(path, image)
        loaded = load_image(path)
        assert loaded.dtype == np.uint8 and loaded.shape == (H, W, 3)
        assert np.abs(loaded.astype(int) - image[:, :, :3]).mean() < 2.0

    def test_16bit_to_jpeg_is_scaled_to_8_bits(self, tmp_path):
        image = np.full((H, W, 3), 65535 // 2, np.uint16)
        path = tmp_path / "half.jpg"
        save_image(path, image)
        assert abs(int(load_image(path).astype(int).mean()) - 128) <= 1

    def test_float_saved_as_8bit(self, tmp_path):
        image = np.full((H, W, 3), 0.5, np.float32)
        path = tmp_path / "float.png"
        save_image(path, image)
        loaded = load_image(path)
        assert loaded.dtype == np.uint8 and (loaded == 128).all()

    def test_palette_png_converted(self, tmp_path):
        pil = Image.fromarray(random_pixels(np.uint8, 3, seed=9)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        path = tmp_path / "palette.png"
        pil.save(path)
        loaded = load_image(path)
        assert loaded.shape == (H, W, 3) and loaded.dtype == np.uint8
        np.testing.assert_array_equal(loaded, np.array(pil.convert("RGB")))

    @pytest.mark.parametrize("channels", [1, 2, 3, 4])
    @pytest.mark.parametrize("dtype", [np.uint16, np.float32])
    def test_tiff_keeps_16_bits_and_floats(self, tmp_path, channels, dtype):
        image = random_pixels(dtype, channels, seed=12)
        image[0, 0] = 1 if dtype == np.uint16 else 1e-4  # a value that 8 bits cannot hold
        path = tmp_path / "deep.tif"
        save_image(path, image)
        loaded = load_image(path)
        assert loaded.dtype == dtype and loaded.shape == (H, W, channels)
        np.testing.assert_array_equal(loaded, image)

    @pytest.mark.parametrize("compression", ["lzw", "zlib", "packbits", None])
    def test_16bit_tiff_from_other_tools(self, tmp_path, compression):
        # Photoshop and Lightroom write LZW or ZIP, with the horizontal predictor; some tools write planar.
        image = random_pixels(np.uint16, 3, seed=13)
        path = tmp_path / f"{compression}.tif"
        tifffile.imwrite(path, image, photometric="rgb", compression=compression,
                         predictor=compression in ("lzw", "zlib"))
        np.testing.assert_array_equal(load_image(path), image)
        planar = tmp_path / f"{compression}-planar.tif"
        tifffile.imwrite(planar, np.moveaxis(image, -1, 0), photometric="rgb", planarconfig="separate",
                         compression=compression)
        np.testing.assert_array_equal(load_image(planar), image)

    def test_8bit_and_cmyk_tiffs_go_through_pillow(self, tmp_path):
        image = random_pixels(np.uint8, 3, seed=14)
        save_image(tmp_path / "rgb8.tif", image)
        np.testing.assert_array_equal(load_image(tmp_path / "rgb8.tif"), image)
        Image.fromarray(image).convert("CMYK").save(tmp_path / "cmyk.tif")
        loaded = load_image(tmp_path / "cmyk.tif")
        assert loaded.dtype == np.uint8 and loaded.shape == (H, W, 3)

    def test_example_photo(self, dpst_dir):
        image = load_image(dpst_dir / "input" / "in1.png")
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


class TestFileErrors:
    def test_missing_file(self, tmp_path):
        path = tmp_path / "missing.png"
        with pytest.raises(InputImageError, match="not found") as info:
            load_image(path)
        assert str(path) in str(info.value)

    def test_directory(self, tmp_path):
        with pytest.raises(InputImageError, match="not found"):
            load_image(tmp_path)

    @pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bin"])
    def test_random_bytes(self, tmp_path, suffix):
        path = tmp_path / f"corrupt{suffix}"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    def test_empty_file(self, tmp_path):
        path = tmp_path / "empty.png"
        path.write_bytes(b"")
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    def test_truncated_png(self, tmp_path, dtype):
        good = tmp_path / "good.png"
        save_image(good, random_pixels(dtype, 3, seed=10))
        data = good.read_bytes()
        path = tmp_path / "truncated.png"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    def test_png_header_then_garbage(self, tmp_path, dtype):
        good = tmp_path / "good.png"
        save_image(good, random_pixels(dtype, 3, seed=11))
        data = bytearray(good.read_bytes())
        data[40:] = np.random.default_rng(1).integers(0, 256, len(data) - 40, dtype=np.uint8).tobytes()
        path = tmp_path / "garbage.png"
        path.write_bytes(bytes(data))
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    def test_truncated_16bit_tiff(self, tmp_path):
        good = tmp_path / "good.tif"
        save_image(good, random_pixels(np.uint16, 3, seed=15))
        path = tmp_path / "truncated.tif"
        path.write_bytes(good.read_bytes()[:3000])
        with pytest.raises(InputImageError, match="corrupt|Cannot decode"):
            load_image(path)

    def test_save_into_missing_folder(self, tmp_path):
        with pytest.raises(InputImageError, match="Cannot write"):
            save_image(tmp_path / "no" / "such" / "out.png", np.zeros((H, W, 3), np.uint8))

    def test_save_unknown_extension(self, tmp_path):
        with pytest.raises(InputImageError, match="Cannot write"):
            save_image(tmp_path / "out.unknownext", np.zeros((H, W, 3), np.uint8))


class TestDeclaredSizeLimit:
    """Every reader checks the header's dimensions against `max_pixels` before decoding (the
    bombs themselves: tests/test_shared_checks.py)."""

    @pytest.mark.parametrize("suffix, dtype", [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint8),
                                               (".tif", np.uint16), (".tif", np.float32), (".jpg", np.uint8),
                                               (".bmp", np.uint8), (".webp", np.uint8)])
    def test_refused_above_the_limit_and_read_at_it(self, tmp_path, suffix, dtype):
        path = tmp_path / f"image{suffix}"
        save_image(path, random_pixels(dtype, 3))
        with pytest.raises(ImageTooLargeError) as info:
            load_image(path, max_pixels=H * W - 1)
        assert f"is {W}×{H} px" in str(info.value) and "at most" in str(info.value) and str(path) in str(info.value)
        assert load_image(path, max_pixels=H * W).shape[:2] == (H, W)

    def test_name_used_in_messages(self, tmp_path):
        save_image(tmp_path / "a.png", random_pixels(np.uint8, 3))
        with pytest.raises(ImageTooLargeError, match="^The style image is 70×64 px"):
            load_image((tmp_path / "a.png").open("rb"), max_pixels=100, name="The style image")

    def test_jpeg_size_found_past_other_segments(self, tmp_path):
        """EXIF, ICC and comment segments, and fill bytes, before the frame header: the size is
        still read from it (and the file still reads)."""
        path = tmp_path / "exif.jpg"
        exif = Image.Exif()
        exif[0x010E] = "a description"
        Image.fromarray(random_pixels(np.uint8, 3)).save(path, exif=exif, icc_profile=b"\0" * 3000,
                                                         comment=b"hello", progressive=True)
        data = path.read_bytes()
        frame = data.index(b"\xff\xc2")  # progressive frame header
        path.write_bytes(data[:frame] + b"\xff" * 3 + data[frame:])  # fill bytes before a marker are allowed
        with pytest.raises(ImageTooLargeError, match=f"is {W}×{H} px"):
            load_image(path, max_pixels=H * W - 1)
        assert load_image(path).shape == (H, W, 3)

    @pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0\x00", b"\xff\xd8\xff\xda\x00\x02", b"\xff\xd8\x00\x00"],
                             ids=["cut short", "scan before frame", "not a marker"])
    def test_jpeg_without_frame_header_is_corrupt(self, tmp_path, data):
        path = tmp_path / "bad.jpg"
        path.write_bytes(data)
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    def test_tiff_with_a_damaged_size_tag_is_corrupt(self, tmp_path):
        """Its ImageWidth tag (256) turned into a second ImageLength (257): tifffile reads a width
        of 0 or a tuple, depending on the tags' order."""
        path = tmp_path / "damaged.tif"
        save_image(path, random_pixels(np.uint16, 3))
        data = bytearray(path.read_bytes())
        assert data[10:12] == (256).to_bytes(2, "little")  # the first tag: ImageWidth
        data[10] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    def test_png_without_ihdr_is_corrupt(self, tmp_path):
        path = tmp_path / "bad.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IEND" + bytes(30))
        with pytest.raises(InputImageError, match="corrupt"):
            load_image(path)

    def test_pillows_own_bomb_error_becomes_too_large(self, tmp_path, monkeypatch):
        """Formats we do not parse ourselves rely on Pillow's hard limit, reported the same way."""
        path = tmp_path / "image.bmp"
        save_image(path, random_pixels(np.uint8, 3))
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
        with pytest.raises(ImageTooLargeError, match="more than 0.0 MP.*at most 0.0 MP"):
            load_image(path)

    def test_default_limit_is_pillows_bomb_threshold(self):
        assert images.MAX_PIXELS == 2 * Image.MAX_IMAGE_PIXELS


def _files_in(folder):
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB RAM disk (root only); skipped where it cannot be mounted."""
    import subprocess

    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


class TestAtomicSave:
    def test_full_disk_leaves_the_previous_file_and_no_temporary(self, small_tmpfs):
        out = small_tmpfs / "result.png"
        save_image(out, random_pixels(np.uint8, 3))
        before = out.read_bytes()
        noise = random_pixels(np.uint16, 4, seed=3, height=200, width=200)  # 320 KB of incompressible samples
        with pytest.raises(InputImageError, match="No space left on device") as info:
            save_image(out, noise)
        assert str(out) in str(info.value) and "nothing was changed" in str(info.value)
        assert out.read_bytes() == before
        assert _files_in(small_tmpfs) == ["result.png"]

    @pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                             ids=["write error", "ctrl-c"])
    def test_failure_midway_leaves_the_previous_file_and_no_temporary(self, tmp_path, monkeypatch, error):
        out = tmp_path / "result.png"
        save_image(out, random_pixels(np.uint16, 3))
        before = out.read_bytes()

        def write_half_then_fail(self, handle, rows):
            handle.write(b"\x89PNG partial")
            raise error

        monkeypatch.setattr(png.Writer, "write", write_half_then_fail)
        with pytest.raises(InputImageError if isinstance(error, OSError) else KeyboardInterrupt):
            save_image(out, random_pixels(np.uint16, 3, seed=5))
        assert out.read_bytes() == before
        assert _files_in(tmp_path) == ["result.png"]

    def test_replaces_an_existing_file_keeping_its_permissions(self, tmp_path):
        out = tmp_path / "result.tif"
        save_image(out, random_pixels(np.uint8, 3))
        out.chmod(0o600)
        image = random_pixels(np.float32, 3, seed=6)
        assert save_image(out, image) == []
        np.testing.assert_array_equal(load_image(out), image)
        assert out.stat().st_mode & 0o777 == 0o600 and _files_in(tmp_path) == ["result.tif"]

    def test_new_file_gets_ordinary_permissions(self, tmp_path):
        import os

        umask = os.umask(0o022)
        try:
            save_image(tmp_path / "new.png", random_pixels(np.uint8, 3))
        finally:
            os.umask(umask)
        assert (tmp_path / "new.png").stat().st_mode & 0o777 == 0o644

    def test_writes_through_a_symbolic_link(self, tmp_path):
        target = tmp_path / "real.png"
        save_image(target, random_pixels(np.uint8, 3))
        (tmp_path / "link.png").symlink_to(target)
        image = random_pixels(np.uint8, 3, seed=7)
        save_image(tmp_path / "link.png", image)
        assert (tmp_path / "link.png").is_symlink()
        np.testing.assert_array_equal(load_image(target), image)

    @pytest.mark.parametrize("suffix", [".webp", ".bmp"])
    def test_other_lossless_formats_round_trip(self, tmp_path, suffix):
        image = random_pixels(np.uint8, 3, seed=8)
        save_image(tmp_path / f"out{suffix}", image)
        np.testing.assert_array_equal(load_image(tmp_path / f"out{suffix}"), image)


class TestWhatAFormatDrops:
    def test_rgba_to_jpeg_notes_the_dropped_alpha(self, tmp_path):
        notes = save_image(tmp_path / "out.jpg", random_pixels(np.uint8, 4))
        assert notes == ["out.jpg: JPEG has no alpha; the transparency was dropped (write .png or .tif to keep it)."]
        assert load_image(tmp_path / "out.jpg").shape == (H, W, 3)

    def test_grey_alpha_to_bmp_keeps_the_grey(self, tmp_path):
        notes = save_image(tmp_path / "out.bmp", random_pixels(np.uint8, 2))
        assert len(notes) == 1 and "BMP has no alpha" in notes[0]
        assert load_image(tmp_path / "out.bmp").shape == (H, W, 1)

    @pytest.mark.parametrize("dtype, keep", [(np.uint16, "write .png or .tif to keep 16 bits"),
                                             (np.float32, "write .tif to keep floats")])
    def test_deep_samples_to_jpeg_note_the_8_bits(self, tmp_path, dtype, keep):
        notes = save_image(tmp_path / "out.jpg", random_pixels(dtype, 3))
        assert len(notes) == 1 and "JPEG holds 8 bits per sample" in notes[0] and keep in notes[0]

    @pytest.mark.parametrize("suffix, dtype", [(".png", np.uint16), (".tif", np.float32), (".png", np.uint8),
                                               (".webp", np.uint8)])
    def test_formats_that_keep_everything_say_nothing(self, tmp_path, suffix, dtype):
        assert save_image(tmp_path / f"out{suffix}", random_pixels(dtype, 4)) == []


class TestCheckOutputPath:
    def test_a_good_path_passes_and_leaves_nothing_behind(self, tmp_path):
        check_output_path(tmp_path / "out.png")
        assert _files_in(tmp_path) == []

    def test_a_folder(self, tmp_path):
        with pytest.raises(InputImageError, match="is a folder"):
            check_output_path(tmp_path)

    @pytest.mark.parametrize("name", ["out.xyz", "out"])
    def test_unknown_extension_names_the_known_ones(self, tmp_path, name):
        with pytest.raises(InputImageError, match="unknown image extension") as info:
            check_output_path(tmp_path / name)
        for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            assert suffix in str(info.value)

    def test_missing_folder(self, tmp_path):
        with pytest.raises(InputImageError, match="does not exist"):
            check_output_path(tmp_path / "no" / "out.png")

    def test_read_only_folder(self, small_tmpfs):
        import subprocess

        subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
        with pytest.raises(InputImageError, match="cannot write into") as info:
            check_output_path(small_tmpfs / "out.png")
        assert "Read-only file system" in str(info.value)
        with pytest.raises(InputImageError, match="cannot write into"):
            check_output_folder(small_tmpfs / "regions" / "auto")

    def test_regions_folder_that_does_not_exist_yet_is_not_created(self, tmp_path):
        check_output_folder(tmp_path / "regions" / "auto")
        assert _files_in(tmp_path) == []

    def test_regions_folder_under_a_file(self, tmp_path):
        (tmp_path / "file.png").write_bytes(b"x")
        with pytest.raises(InputImageError, match="is a file, not a folder"):
            check_output_folder(tmp_path / "file.png" / "regions")


def test_tiff_with_thousands_of_samples_a_pixel_is_refused_before_decoding(tmp_path):
    """A 4000×4000 float TIFF declaring 60000 samples a pixel passes the pixel-count check but would
    take 3.8 TB to decode: refused from its header."""
    path = tmp_path / "wide.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.float32), photometric="minisblack")
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tiff:
        tags = tiff.pages[0].tags
        for name, value in (("ImageWidth", 4000), ("ImageLength", 4000), ("SamplesPerPixel", 60000)):
            tag = tags[name]
            data[tag.valueoffset:tag.valueoffset + (2 if tag.dtype == 3 else 4)] = value.to_bytes(
                2 if tag.dtype == 3 else 4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(InputImageError, match="Cannot read"):
        load_image(path)
