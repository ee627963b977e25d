"""transfer(), end to end: layouts, options, progress, cancel, regions, and that both stages work."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core_test_helpers import smooth_rgb
from photostyle.core import (
    CancelToken,
    Cancelled,
    InputImageError,
    MaskError,
    OptionsError,
    RegionPair,
    TransferOptions,
    load_image,
    regions_from_segmentations,
    resolve_device,
    transfer,
)
from photostyle.core.images import working_shape
from photostyle.core.vgg import CAFFE_MEAN_BGR

#: Small and quick: the photo is downscaled to a 48 px long side for the optimisation.
FAST = TransferOptions(size=48, style_iterations=2, photoreal_iterations=2)
CONTENT_SHAPE = (72, 88)


def content_image(dtype=np.uint8, channels: int = 3, shape: tuple[int, int] = CONTENT_SHAPE, seed: int = 1) -> np.ndarray:
    rgb = smooth_rgb(*shape, seed=seed)
    if channels == 1:
        rgb = rgb.mean(axis=2, keepdims=True)
    if channels in (2, 4):
        alpha = np.random.default_rng(seed).random(shape + (1,)).astype(np.float32)
        rgb = np.concatenate([rgb if channels == 4 else rgb.mean(axis=2, keepdims=True), alpha], axis=2)
    if dtype == np.uint8:
        return np.round(rgb * 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.round(rgb * 65535).astype(np.uint16)
    return rgb.astype(dtype)


@pytest.fixture(scope="module")
def style() -> np.ndarray:
    # A warm, high-contrast reference of a different size than the photo.
    rgb = smooth_rgb(80, 64, seed=2, detail=4)
    rgb[..., 0] = 0.3 + 0.7 * rgb[..., 0]
    return np.round(rgb * 255).astype(np.uint8)


class Recorder:
    """A progress callback that keeps every report."""

    def __init__(self) -> None:
        self.reports = []

    def __call__(self, report) -> None:
        self.reports.append(report)

    def stage(self, name: str):
        return [r for r in self.reports if r.stage == name]


class TestOutputLayout:
    @pytest.mark.parametrize(
        "dtype, channels",
        [(np.uint8, 3), (np.uint16, 4), (np.float32, 3), (np.uint8, 1), (np.uint8, 2)],
        ids=["uint8-rgb", "uint16-rgba", "float32-rgb", "uint8-grey", "uint8-grey-alpha"],
    )
    def test_same_size_depth_and_alpha(self, style, dtype, channels):
        content = content_image(dtype, channels)
        result = transfer(content, style, options=FAST)
        expected_channels = {1: 3, 2: 4, 3: 3, 4: 4}[channels]  # grey comes back as RGB, alpha kept
        assert result.image.shape == CONTENT_SHAPE + (expected_channels,)
        assert result.image.dtype == content.dtype
        if channels in (2, 4):
            np.testing.assert_array_equal(result.image[..., -1], content[..., -1])
        if dtype == np.float32:
            assert result.image.min() >= 0.0 and result.image.max() <= 1.0
            assert np.isfinite(result.image).all()
        assert result.working_size == (48, 39)  # width, height
        assert result.device == "cpu"
        assert result.seconds > 0
        # The result is restyled, not the photo handed back.
        assert np.abs(result.image[..., :3].astype(np.float64) - content_image(dtype, 3)[..., :3]).mean() > 0

    def test_float_result_within_unit_range(self, style):
        content = content_image(np.float32)
        content[:8, :8] = 1.0  # saturated corner: the affine finish may overshoot, the result must not
        result = transfer(content, style, options=FAST)
        assert result.image.min() >= 0.0 and result.image.max() <= 1.0

    def test_size_not_multiple_of_16_at_full_resolution(self, style):
        # 101×77 is below the preset's working size: optimised at full size, no downscaling.
        content = content_image(shape=(77, 101), seed=3)
        result = transfer(content, style, options=TransferOptions(style_iterations=2, photoreal_iterations=2))
        assert result.image.shape == (77, 101, 3) and result.image.dtype == np.uint8
        assert result.working_size == (101, 77)

    def test_odd_working_size(self, style):
        content = content_image(shape=(77, 101), seed=3)
        result = transfer(content, style, options=TransferOptions(size=61, style_iterations=2, photoreal_iterations=1))
        assert result.working_size == (61, 47) and working_shape(77, 101, 61) == (47, 61)
        assert result.image.shape == (77, 101, 3)

    def test_no_smoothing_upscales(self, style):
        content = content_image()
        result = transfer(content, style, options=TransferOptions(size=48, style_iterations=2, photoreal_iterations=2, smooth=False))
        assert result.image.shape == content.shape and result.image.dtype == np.uint8
        assert result.working_size == (48, 39)

    def test_zero_iterations_give_the_start_image(self, style):
        # Stage 1 starts from near-zero noise in Caffe space, i.e. the Caffe mean colour; with no
        # optimisation the affine finish rebuilds that flat colour at full size.
        content = content_image(np.float32)
        result = transfer(content, style, options=TransferOptions(size=48, style_iterations=0, photoreal_iterations=0))
        mean_rgb = np.array(CAFFE_MEAN_BGR[::-1], np.float32) / 255
        np.testing.assert_allclose(result.image, np.broadcast_to(mean_rgb, result.image.shape), rtol=0, atol=2e-3)
        for stage in ("style", "photorealism"):
            assert result.stage_losses[stage]["first"] == result.stage_losses[stage]["last"]
        assert result.stage_losses["style"]["last"]["tv"] < 1e-3  # flat start


class TestDeterminism:
    def test_same_seed_same_result(self, style):
        content = content_image(np.float32)
        options = TransferOptions(size=48, style_iterations=3, photoreal_iterations=2, seed=7)
        first = transfer(content, style, options=options)
        second = transfer(content, style, options=options)
        np.testing.assert_array_equal(first.image, second.image)
        assert first.stage_losses == second.stage_losses
        # The seed does drive the noise start.
        other = transfer(content, style, options=TransferOptions(size=48, style_iterations=3, photoreal_iterations=2, seed=8))
        assert np.abs(other.image - first.image).max() > 1e-3


class TestProgress:
    def test_reports(self, style):
        recorder = Recorder()
        options = TransferOptions(size=48, style_iterations=3, photoreal_iterations=2)
        result = transfer(content_image(), style, options=options, progress=recorder)
        stages = [r.stage for r in recorder.reports]
        assert stages == ["style"] * 3 + ["photorealism"] * 2 + ["finishing"] * 2
        assert [r.iteration for r in recorder.stage("style")] == [1, 2, 3]
        assert [r.iteration for r in recorder.stage("photorealism")] == [1, 2]
        assert [r.iteration for r in recorder.stage("finishing")] == [0, 1]  # as it starts, when it is done
        assert [(r.stage_index, r.stage_count) for r in recorder.reports] == [(1, 3)] * 3 + [(2, 3)] * 2 + [(3, 3)] * 2
        assert all(r.iterations == 3 for r in recorder.stage("style"))
        fractions = [r.fraction for r in recorder.reports]
        assert all(b > a for a, b in zip(fractions[:-3], fractions[1:-2])), fractions
        assert fractions[-3:] == [0.95, 0.95, 1.0]  # the finish starts where the iterations ended
        assert 0 < fractions[0] and fractions[-1] == 1.0
        assert all(r.preview is None for r in recorder.reports)
        assert set(recorder.stage("style")[0].losses) >= {"content", "style", "tv"}
        assert "photorealism" in recorder.stage("photorealism")[0].losses
        assert recorder.reports[-1].losses == result.stage_losses["photorealism"]["last"]

    def test_previews(self, style):
        recorder = Recorder()
        # At 72×88, below the default preset's 512 px, the photo is optimised at full size.
        options = TransferOptions(style_iterations=3, photoreal_iterations=2,
                                  preview_every=2, preview_size=44)
        transfer(content_image(), style, options=options, progress=recorder)
        with_preview = [(r.stage, r.iteration) for r in recorder.reports if r.preview is not None]
        # Every 2nd iteration of each stage, and its last one.
        assert with_preview == [("style", 2), ("style", 3), ("photorealism", 2)]
        for report in recorder.reports:
            if report.preview is not None:
                assert report.preview.dtype == np.uint8
                assert report.preview.shape == (36, 44, 3)  # 72×88 working image, long side 44

    def test_preview_long_side_never_exceeds_preview_size(self, style):
        recorder = Recorder()
        options = TransferOptions(size=48, style_iterations=1, photoreal_iterations=0, preview_every=1, preview_size=32)
        transfer(content_image(), style, options=options, progress=recorder)
        previews = [r.preview for r in recorder.reports if r.preview is not None]
        assert previews and all(max(p.shape[:2]) <= 32 for p in previews)


class TestCancel:
    def test_cancel_from_progress_callback_is_prompt(self, style):
        token = CancelToken()
        recorder = Recorder()

        def progress(report) -> None:
            recorder(report)
            if report.iteration == 2:
                token.cancel()

        started = time.perf_counter()
        with pytest.raises(Cancelled):
            transfer(content_image(), style, options=TransferOptions(size=48, style_iterations=500, photoreal_iterations=500),
                     progress=progress, cancel=token)
        # The next iteration's check stops it: no third report, no minutes of work.
        assert [r.iteration for r in recorder.reports] == [1, 2]
        assert time.perf_counter() - started < 60

    def test_cancel_during_the_finish_wins_over_the_result(self, style):
        token = CancelToken()
        recorder = Recorder()

        def progress(report) -> None:
            recorder(report)
            if report.stage == "finishing":
                token.cancel()

        with pytest.raises(Cancelled):
            transfer(content_image(), style, options=FAST, progress=progress, cancel=token)
        assert [(r.stage, r.iteration) for r in recorder.reports][-1] == ("finishing", 0)

    def test_cancelled_before_start(self, style):
        token = CancelToken()
        token.cancel()
        recorder = Recorder()
        with pytest.raises(Cancelled):
            transfer(content_image(), style, options=FAST, progress=recorder, cancel=token)
        assert recorder.reports == []

    def test_token(self):
        token = CancelToken()
        assert not token.cancelled
        token.raise_if_cancelled()
        token.cancel()
        assert token.cancelled
        with pytest.raises(Cancelled, match="cancelled"):
            token.raise_if_cancelled()


class TestOptionErrors:
    @pytest.mark.parametrize(
        "options, message",
        [
            (TransferOptions(preset="fastest"), "Unknown preset 'fastest'.*reference, default"),
            (TransferOptions(device="tpu"), "tpu"),
            (TransferOptions(device="not a device"), "Unknown device 'not a device'"),
            (TransferOptions(size=16), "at least 32"),
            (TransferOptions(style_iterations=-1), "zero or more"),
            (TransferOptions(photoreal_iterations=-5), "zero or more"),
        ],
    )
    def test_bad_options(self, style, options, message):
        with pytest.raises(OptionsError, match=message):
            transfer(content_image(), style, options=options)

    def test_cuda_without_gpu(self):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        with pytest.raises(OptionsError, match="no usable CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"

    def test_bad_images(self, style):
        with pytest.raises(InputImageError, match="content image"):
            transfer(np.zeros((10, 10, 3), np.uint8), style, options=FAST)
        with pytest.raises(InputImageError, match="style image"):
            transfer(content_image(), np.full((64, 64, 3), np.nan, np.float32), options=FAST)

    def test_mask_of_wrong_size(self, style):
        region = RegionPair("sky", np.ones((10, 10), np.float32), np.ones(style.shape[:2], np.float32))
        with pytest.raises(MaskError, match="10×10"):
            transfer(content_image(), style, [region], options=FAST)


def segmentation(shape: tuple[int, int], split: float, left=(0, 0, 255), right=(0, 255, 0)) -> np.ndarray:
    seg = np.empty(shape + (3,), np.uint8)
    column = int(shape[1] * split)
    seg[:, :column] = left
    seg[:, column:] = right
    return seg


class TestRegions:
    def test_segmentations(self, style):
        content = content_image()
        content_seg = segmentation(CONTENT_SHAPE, 0.4)
        style_seg = segmentation(style.shape[:2], 0.6)
        style_seg[:5, :5] = (255, 0, 0)  # a region only in the reference
        regions = regions_from_segmentations(content_seg, style_seg)
        assert [r.name for r in regions] == ["blue", "green", "red"]
        recorder = Recorder()
        result = transfer(content, style, regions, options=FAST, progress=recorder)
        assert result.image.shape == content.shape
        assert "Region 'red' is only in the style image; it was ignored." in result.notes
        assert np.isfinite(result.stage_losses["style"]["last"]["style"])

    def test_region_missing_in_style_is_noted(self, style):
        content = content_image()
        content_seg = segmentation(CONTENT_SHAPE, 0.5, right=(255, 255, 0))  # yellow: not in the reference
        style_seg = segmentation(style.shape[:2], 0.5)
        result = transfer(content, style, regions_from_segmentations(content_seg, style_seg), options=FAST)
        assert any("'yellow'" in note and "whole reference" in note for note in result.notes)
        assert any("'green' is only in the style image" in note for note in result.notes)


class TestTwoStagesOnAnExamplePair:
    """The paper's method at a small size: stage 1 matches the reference's style statistics, stage 2
    pulls the result back towards a locally affine recolouring of the photo."""

    def test_losses_fall(self, dpst_dir):
        pair = 1
        content = load_image(dpst_dir / "input" / f"in{pair}.png")
        style = load_image(dpst_dir / "style" / f"tar{pair}.png")
        regions = regions_from_segmentations(load_image(dpst_dir / "segmentation" / f"in{pair}.png"),
                                             load_image(dpst_dir / "segmentation" / f"tar{pair}.png"))
        options = TransferOptions(preset="default", size=128, style_iterations=60, photoreal_iterations=40)
        started = time.perf_counter()
        result = transfer(content, style, regions, options=options)
        seconds = time.perf_counter() - started
        print(f"two-stage transfer of pair {pair} at {result.working_size}: {seconds:.1f} s")
        style_stage, photoreal_stage = result.stage_losses["style"], result.stage_losses["photorealism"]
        # Stage 1 (from near-zero noise) cuts the style loss several times over.
        assert style_stage["last"]["style"] < style_stage["first"]["style"] / 4
        # Stage 2 continues from stage 1's image...
        assert photoreal_stage["first"]["style"] == pytest.approx(style_stage["last"]["style"], rel=1e-4)
        # ...and more than halves the photorealism term it was left with, keeping the style gained.
        assert photoreal_stage["last"]["photorealism"] < style_stage["last"]["photorealism"] / 2
        assert photoreal_stage["last"]["style"] < style_stage["first"]["style"] / 4
        assert result.image.shape == content.shape and result.image.dtype == np.uint8
        assert result.working_size == (128, 80)
        assert seconds < 60
