"""A frame's base and detail (photostyle.core.detail): the split that keeps fine detail at its own
contrast through a sequence's look."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from core_test_helpers import smooth_rgb
from photostyle.core.detail import DETAIL_SIGMA, add_detail, gaussian_blur, split_detail, split_levels


def frame_of(dtype: type, channels: int, seed: int = 0) -> np.ndarray:
    image = smooth_rgb(40, 56, seed=seed, detail=3)
    image = np.dstack([image, image[..., :1]])[..., :channels] if channels != 3 else image
    if dtype is np.float32:
        return image
    return np.round(image * np.iinfo(dtype).max).astype(dtype)


class TestBlur:
    @pytest.mark.parametrize("sigma", [1.0, DETAIL_SIGMA, 3.5])
    def test_is_a_gaussian_with_replicated_edges(self, sigma):
        image = smooth_rgb(150, 70, seed=1, detail=2)  # more rows than one band, to cross bands
        ours = gaussian_blur(torch.from_numpy(image), sigma).numpy()
        theirs = scipy.ndimage.gaussian_filter(image.astype(np.float64), (sigma, sigma, 0), mode="nearest",
                                               truncate=3.0)
        assert np.abs(ours - theirs).max() < 1e-5


class TestSplit:
    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    @pytest.mark.parametrize("channels", [1, 2, 3, 4])
    def test_base_and_detail_make_the_frame_again_and_alpha_stays(self, dtype, channels):
        frame = frame_of(dtype, channels)
        given = frame.copy()
        base, detail = split_detail(frame)
        assert np.array_equal(frame, given)  # the caller's pixels are read, never written
        colours = 1 if channels <= 2 else 3
        assert base.dtype == frame.dtype and base.shape == frame.shape
        assert np.array_equal(base[..., colours:], frame[..., colours:])
        rebuilt = base[..., :colours].astype(np.float64) + detail.numpy()
        assert np.abs(rebuilt - frame[..., :colours]).max() < 1e-6
        # The base is smooth: fine detail went into the detail.
        assert np.abs(np.diff(base[..., :colours].astype(np.float64), axis=1)).mean() < \
            0.6 * np.abs(np.diff(frame[..., :colours].astype(np.float64), axis=1)).mean()

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_the_detail_added_to_the_base_through_no_change_gives_the_frame(self, dtype):
        frame = frame_of(dtype, 4)
        base, detail = split_detail(frame)
        assert np.array_equal(add_detail(base.copy(), detail), frame) if dtype is not np.float32 else \
            np.allclose(add_detail(base.copy(), detail), frame, atol=1e-6)

    def test_grey_detail_goes_to_all_three_colours_and_the_sum_is_clipped(self):
        grey = frame_of(np.uint8, 1)[..., 0]
        base, detail = split_detail(grey)
        styled = np.repeat(base, 3, axis=2)
        styled[..., 0] = 255  # a look that saturates red: the detail cannot push it past the top
        out = add_detail(styled, detail)
        assert np.array_equal(out[..., 1], grey) and np.array_equal(out[..., 2], grey)
        assert out[..., 0].min() >= 255 - int(detail.abs().max())

    def test_levels_split_alike(self):
        levels = torch.from_numpy(frame_of(np.float32, 3) * 255)
        base, detail = split_levels(levels)
        assert torch.allclose(base + detail, levels, atol=1e-4)
        assert torch.allclose(base, gaussian_blur(levels, DETAIL_SIGMA))
