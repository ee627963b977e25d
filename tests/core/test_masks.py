"""Region masks: segmentation parsing, pairing content with style regions, and the VGG mask pyramid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from photostyle.core.errors import MaskError
from photostyle.core.masks import (
    MIN_REGION_FRACTION,
    SEGMENTATION_COLOURS,
    RegionPair,
    check_region_names,
    check_regions,
    pair_regions,
    propagate_masks,
    regions_from_segmentations,
    resize_mask,
)
from photostyle.core.vgg import VGG19Features, layer_sequence

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
NAMES = list(SEGMENTATION_COLOURS)


class TestPropagateMasks:
    @pytest.mark.parametrize("height, width", [(37, 53), (64, 64), (33, 17), (100, 75), (16, 16)])
    def test_shapes_follow_ceil_pooling(self, height, width):
        masks = torch.rand(3, height, width)
        out = propagate_masks(masks, layer_sequence(), set(STYLE_LAYERS) | {"relu4_2"})
        assert set(out) == set(STYLE_LAYERS) | {"relu4_2"}
        for level, layer in enumerate(STYLE_LAYERS):
            expected = (3, math.ceil(height / 2**level), math.ceil(width / 2**level))
            assert tuple(out[layer].shape) == expected, layer
        assert out["relu4_2"].shape == out["relu4_1"].shape

    @pytest.mark.parametrize("height, width", [(37, 53), (33, 17)])
    def test_shapes_match_vgg_activations(self, height, width):
        net = VGG19Features()  # random weights: only the shapes matter
        wanted = set(STYLE_LAYERS) | {"relu4_2"}
        with torch.no_grad():
            activations = net(torch.zeros(1, 3, height, width), wanted)
        masks = propagate_masks(torch.ones(2, height, width), layer_sequence(), wanted)
        for layer in wanted:
            assert masks[layer].shape[-2:] == activations[layer].shape[-2:], layer

    def test_only_wanted_layers_returned(self):
        out = propagate_masks(torch.rand(1, 20, 20), layer_sequence(), {"relu2_1"})
        assert list(out) == ["relu2_1"]

    def test_values_stay_in_unit_interval_and_partition_is_kept_inside(self):
        # Two complementary masks still sum to 1 after each blur/resize (away from the zero-padded border).
        left = torch.zeros(40, 48)
        left[:, :20] = 1
        masks = torch.stack([left, 1 - left])
        out = propagate_masks(masks, layer_sequence(), set(STYLE_LAYERS))
        for layer in STYLE_LAYERS:
            assert out[layer].min() >= 0 and out[layer].max() <= 1
        total = out["relu2_1"].sum(dim=0)
        torch.testing.assert_close(total[2:-2, 2:-2], torch.ones_like(total[2:-2, 2:-2]))

    def test_first_layer_is_a_3x3_average(self):
        masks = torch.zeros(1, 9, 9)
        masks[0, 4, 4] = 9.0
        out = propagate_masks(masks, layer_sequence(), {"relu1_1"})["relu1_1"]
        expected = torch.zeros(1, 9, 9)
        expected[0, 3:6, 3:6] = 1.0
        torch.testing.assert_close(out, expected)


class TestResizeMask:
    def test_same_size_is_identity(self):
        masks = torch.rand(2, 10, 12)
        assert resize_mask(masks, (10, 12)) is masks

    def test_resized_values_clamped(self):
        masks = (torch.rand(2, 10, 12) > 0.5).float()
        out = resize_mask(masks, (23, 7))
        assert out.shape == (2, 23, 7)
        assert out.min() >= 0 and out.max() <= 1


def colour_image(labels: np.ndarray) -> np.ndarray:
    palette = np.array(list(SEGMENTATION_COLOURS.values()), dtype=np.uint8)
    return palette[labels]


class TestRegionsFromSegmentations:
    def test_one_region_per_colour_in_palette_order(self):
        content = np.zeros((4, 6), int)
        content[:, 3:] = NAMES.index("red")
        style = np.full((5, 5), NAMES.index("red"))
        style[0, 0] = NAMES.index("yellow")
        pairs = regions_from_segmentations(colour_image(content), colour_image(style))
        assert [p.name for p in pairs] == ["blue", "red", "yellow"]
        blue, red, yellow = pairs
        np.testing.assert_array_equal(blue.content_mask, (content == 0).astype(np.float32))
        assert blue.style_mask.shape == (5, 5) and not blue.style_mask.any()
        np.testing.assert_array_equal(red.style_mask, (style == NAMES.index("red")).astype(np.float32))
        assert not yellow.content_mask.any() and yellow.style_mask.sum() == 1
        for pair in pairs:
            assert pair.content_mask.dtype == np.float32 and pair.style_mask.dtype == np.float32

    @pytest.mark.parametrize(
        "pixel, name",
        [
            ((10, 12, 240), "blue"),
            ((30, 200, 20), "green"),
            ((20, 20, 20), "black"),
            ((240, 250, 235), "white"),
            ((200, 40, 30), "red"),
            ((230, 220, 40), "yellow"),
            ((140, 120, 135), "grey"),
            ((20, 230, 240), "lightblue"),
            ((220, 30, 230), "purple"),
            # Anti-aliased edge pixels: an 80/20 blend of two region colours goes to the major one.
            ((0, 51, 204), "blue"),  # blue + green
            ((255, 204, 0), "yellow"),  # yellow + red
            ((215, 215, 215), "white"),  # white + black
            ((51, 51, 51), "black"),  # black + white
            ((40, 215, 40), "green"),  # green + black
            ((204, 0, 204), "purple"),  # purple + black
            ((0, 204, 204), "lightblue"),  # lightblue + black
            ((160, 150, 140), "grey"),  # an off-grey
        ],
    )
    def test_nearest_colour(self, pixel, name):
        seg = np.zeros((2, 2, 3), np.uint8)
        seg[1, 1] = pixel
        pairs = {p.name: p for p in regions_from_segmentations(seg, seg)}
        assert pairs[name].content_mask[1, 1] == 1.0
        assert sum(p.content_mask[1, 1] for p in pairs.values()) == 1.0

    def test_antialiased_edge_splits_at_the_midpoint(self):
        # A red→yellow ramp over 9 columns (G = 0, 32, ..., 255): red up to G = 96, yellow from G = 128.
        green = np.round(np.linspace(0, 255, 9)).astype(np.uint8)
        seg = np.zeros((3, 9, 3), np.uint8)
        seg[..., 0] = 255
        seg[..., 1] = green
        pairs = {p.name: p for p in regions_from_segmentations(seg, seg)}
        assert set(pairs) == {"red", "yellow"}
        expected_red = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], np.float32)
        np.testing.assert_array_equal(pairs["red"].content_mask, np.tile(expected_red, (3, 1)))
        np.testing.assert_array_equal(pairs["yellow"].content_mask, np.tile(1 - expected_red, (3, 1)))

    @pytest.mark.parametrize("kind", ["uint8", "uint16", "float32", "rgba"])
    def test_sample_types(self, kind):
        labels = np.array([[0, 4], [3, 5]])
        seg = colour_image(labels)
        if kind == "uint16":
            seg = seg.astype(np.uint16) * 257
        elif kind == "float32":
            seg = seg.astype(np.float32) / 255
        elif kind == "rgba":
            seg = np.concatenate([seg, np.full((2, 2, 1), 255, np.uint8)], axis=2)
        pairs = {p.name: p for p in regions_from_segmentations(seg, seg)}
        assert set(pairs) == {"blue", "white", "red", "yellow"}
        assert pairs["red"].content_mask[0, 1] == 1 and pairs["white"].content_mask[1, 0] == 1

    def test_grey_2d_segmentation(self):
        seg = np.array([[0, 255], [128, 0]], np.uint8)
        names = [p.name for p in regions_from_segmentations(seg, seg)]
        assert names == ["black", "white", "grey"]

    @pytest.mark.parametrize("shape", [(4, 4, 0), (4,), (2, 4, 4, 3)])
    def test_bad_shape_raises(self, shape):
        with pytest.raises(MaskError, match="segmentation"):
            regions_from_segmentations(np.zeros(shape, np.uint8), np.zeros((4, 4, 3), np.uint8))

    def test_example_segmentation_partitions_the_image(self, dpst_dir):
        from photostyle.core.images import load_image

        content = load_image(dpst_dir / "segmentation" / "in1.png")
        style = load_image(dpst_dir / "segmentation" / "tar1.png")
        pairs = regions_from_segmentations(content, style)
        assert len(pairs) >= 2
        np.testing.assert_array_equal(sum(p.content_mask for p in pairs), np.ones(content.shape[:2], np.float32))
        np.testing.assert_array_equal(sum(p.style_mask for p in pairs), np.ones(style.shape[:2], np.float32))
        used, _ = pair_regions(pairs, content.shape[:2], style.shape[:2])
        assert used


def region(name: str, content: np.ndarray, style: np.ndarray) -> RegionPair:
    return RegionPair(name, content, style)


class TestPairRegions:
    content_shape = (40, 60)
    style_shape = (30, 50)

    def half(self, shape, left=True) -> np.ndarray:
        mask = np.zeros(shape, np.float32)
        if left:
            mask[:, : shape[1] // 2] = 1
        else:
            mask[:, shape[1] // 2:] = 1
        return mask

    def test_no_regions_means_whole_images(self):
        used, notes = pair_regions([], self.content_shape, self.style_shape)
        assert notes == [] and len(used) == 1
        assert used[0].name == "all"
        np.testing.assert_array_equal(used[0].content_mask, np.ones(self.content_shape, np.float32))
        np.testing.assert_array_equal(used[0].style_mask, np.ones(self.style_shape, np.float32))

    def test_matching_regions_kept_without_notes(self):
        regions = [region("sky", self.half(self.content_shape), self.half(self.style_shape)),
                   region("ground", self.half(self.content_shape, False), self.half(self.style_shape, False))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        assert notes == []
        assert [r.name for r in used] == ["sky", "ground"]
        np.testing.assert_array_equal(used[1].style_mask, self.half(self.style_shape, False))

    @pytest.mark.parametrize("side", ["content", "style"])
    def test_mask_size_mismatch_names_sizes(self, side):
        good_content, good_style = self.half(self.content_shape), self.half(self.style_shape)
        if side == "content":
            regions = [region("sky", np.ones((40, 61), np.float32), good_style)]
            message = r"content mask of region 'sky' is 61×40 but the content image is 60×40"
        else:
            regions = [region("sky", good_content, np.ones((31, 50), np.float32))]
            message = r"style mask of region 'sky' is 50×31 but the style image is 50×30"
        with pytest.raises(MaskError, match=message):
            pair_regions(regions, self.content_shape, self.style_shape)

    def test_no_region_in_common_raises(self):
        # One region only in the photo, one only in the reference: nothing pairs up.
        regions = [region("sky", self.half(self.content_shape), np.zeros(self.style_shape, np.float32)),
                   region("sea", np.zeros(self.content_shape, np.float32), self.half(self.style_shape))]
        with pytest.raises(MaskError, match="no region in common"):
            pair_regions(regions, self.content_shape, self.style_shape)

    def test_only_empty_regions_raise(self):
        regions = [region("ghost", np.zeros(self.content_shape, np.float32), np.zeros(self.style_shape, np.float32))]
        with pytest.raises(MaskError, match="no region in common"):
            pair_regions(regions, self.content_shape, self.style_shape)

    def test_region_missing_in_style_uses_whole_reference(self):
        regions = [region("sky", self.half(self.content_shape), self.half(self.style_shape)),
                   region("boat", self.half(self.content_shape, False), np.zeros(self.style_shape, np.float32))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        assert [r.name for r in used] == ["sky", "boat"]
        np.testing.assert_array_equal(used[1].style_mask, np.ones(self.style_shape, np.float32))
        np.testing.assert_array_equal(used[1].content_mask, self.half(self.content_shape, False))
        assert len(notes) == 1
        assert "'boat'" in notes[0] and "50.0%" in notes[0] and "whole reference" in notes[0]

    def test_nearly_empty_style_region_counts_as_missing(self):
        tiny = np.zeros(self.style_shape, np.float32)
        tiny[0, 0] = 1  # 1/1500 < MIN_REGION_FRACTION
        assert tiny.mean() < MIN_REGION_FRACTION
        regions = [region("sky", self.half(self.content_shape), tiny),
                   region("ground", self.half(self.content_shape, False), self.half(self.style_shape, False))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        np.testing.assert_array_equal(used[0].style_mask, np.ones(self.style_shape, np.float32))
        assert len(notes) == 1 and "'sky'" in notes[0]

    def test_style_only_region_dropped_with_note(self):
        regions = [region("sky", self.half(self.content_shape), self.half(self.style_shape)),
                   region("moon", np.zeros(self.content_shape, np.float32), self.half(self.style_shape, False))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        assert [r.name for r in used] == ["sky", "the rest"]
        assert notes[0] == "Region 'moon' is only in the style image; it was ignored."
        # The moon's pixels are a region of the reference, so the photo's rest takes the whole reference.
        np.testing.assert_array_equal(used[1].style_mask, np.ones(self.style_shape, np.float32))
        assert "50.0% of the photo is in no region" in notes[1] and "whole reference" in notes[1]

    def test_uncovered_photo_pixels_take_the_uncovered_reference(self):
        # Only the sky is painted: the photo's other half pairs with the reference's other half,
        # so sky colours do not spill onto the ground.
        regions = [region("sky", self.half(self.content_shape), self.half(self.style_shape))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        assert [r.name for r in used] == ["sky", "the rest"]
        np.testing.assert_array_equal(used[1].content_mask, self.half(self.content_shape, False))
        np.testing.assert_array_equal(used[1].style_mask, self.half(self.style_shape, False))
        assert notes == ["50.0% of the photo is in no region; it was styled by the part of the reference in no region."]

    def test_soft_masks_leave_their_complement_to_the_rest(self):
        soft = np.full(self.content_shape, 0.75, np.float32)
        regions = [region("haze", soft, self.half(self.style_shape))]
        used, _ = pair_regions(regions, self.content_shape, self.style_shape)
        np.testing.assert_allclose(used[1].content_mask, 0.25)

    def test_region_empty_on_both_sides_dropped_silently(self):
        regions = [region("sky", self.half(self.content_shape), self.half(self.style_shape)),
                   region("ground", self.half(self.content_shape, False), self.half(self.style_shape, False)),
                   region("ghost", np.zeros(self.content_shape, np.float32), np.zeros(self.style_shape, np.float32))]
        used, notes = pair_regions(regions, self.content_shape, self.style_shape)
        assert [r.name for r in used] == ["sky", "ground"] and notes == []

    @pytest.mark.parametrize("bad", [np.nan, np.inf])
    @pytest.mark.parametrize("side", ["content", "style"])
    def test_non_finite_mask_raises(self, bad, side):
        content, style = self.half(self.content_shape), self.half(self.style_shape)
        (content if side == "content" else style)[3, 4] = bad
        with pytest.raises(MaskError, match=f"{side} mask of region 'sky' contains NaN"):
            pair_regions([region("sky", content, style)], self.content_shape, self.style_shape)

    @pytest.mark.parametrize(
        "mask, expected",
        [
            (np.array([[0, 255]], np.uint8), [0.0, 1.0]),
            (np.array([[0, 65535]], np.uint16), [0.0, 1.0]),
            (np.array([[False, True]]), [0.0, 1.0]),
            (np.array([[-0.5, 1.5]], np.float64), [0.0, 1.0]),
            (np.array([[[0.25], [0.75]]], np.float32), [0.25, 0.75]),
        ],
        ids=["uint8", "uint16", "bool", "float-clipped", "HxWx1"],
    )
    def test_mask_sample_types(self, mask, expected):
        used, _ = pair_regions([region("r", mask, mask)], (1, 2), (1, 2))
        assert used[0].content_mask.dtype == np.float32
        np.testing.assert_allclose(used[0].content_mask, [expected])
        np.testing.assert_allclose(used[0].style_mask, [expected])

    def test_multichannel_mask_raises(self):
        with pytest.raises(MaskError, match="single-channel"):
            pair_regions([region("r", np.ones((4, 4, 3)), np.ones((4, 4)))], (4, 4), (4, 4))

    def test_soft_masks_kept(self):
        soft = np.linspace(0, 1, 40 * 60, dtype=np.float32).reshape(self.content_shape)
        used, _ = pair_regions([region("r", soft, self.half(self.style_shape))], self.content_shape, self.style_shape)
        np.testing.assert_array_equal(used[0].content_mask, soft)


class TestRegionChecks:
    """`check_regions` is `pair_regions`' own checking, for callers that send masks on (transfer --server)."""

    content_shape = (40, 60)
    style_shape = (30, 50)

    def masks(self, top: bool = True) -> tuple[np.ndarray, np.ndarray]:
        content, style = np.zeros(self.content_shape, np.float32), np.zeros(self.style_shape, np.float32)
        rows = slice(None, 15) if top else slice(15, None)
        content[rows], style[rows] = 1, 1
        return content, style

    def check_both(self, regions, match: str) -> None:
        """The same refusal from both entry points."""
        with pytest.raises(MaskError, match=match) as checked:
            check_regions(regions, self.content_shape, self.style_shape)
        with pytest.raises(MaskError) as paired:
            pair_regions(regions, self.content_shape, self.style_shape)
        assert str(checked.value) == str(paired.value)

    def test_duplicate_names(self):
        self.check_both([region("sky", *self.masks()), region("sky", *self.masks(False))],
                        "Two regions are named 'sky'; region names must be unique")

    def test_empty_name(self):
        self.check_both([region("sky", *self.masks()), region("", *self.masks(False))],
                        "Region 2 has no name; give every region a unique, non-empty name")

    @pytest.mark.parametrize("bad", [np.nan, -np.inf])
    def test_nan_names_the_region(self, bad):
        content, style = self.masks()
        style[2, 2] = bad
        self.check_both([region("sky", *self.masks(False)), region("water", content, style)],
                        "The style mask of region 'water' contains NaN")

    def test_wrong_size(self):
        content, _ = self.masks()
        self.check_both([region("sky", content, content)], "style mask of region 'sky' is 60×40")

    def test_valid_regions_pass_untouched(self):
        content, style = self.masks()
        content_u8 = (content * 255).astype(np.uint8)
        check_regions([region("sky", content_u8, style), region("ground", *self.masks(False))],
                      self.content_shape, self.style_shape)
        assert content_u8.dtype == np.uint8 and content_u8.max() == 255

    def test_region_names_alone(self):
        check_region_names(["sky", "ground"])
        with pytest.raises(MaskError, match="'a'.*unique"):
            check_region_names(["a", "b", "a"])


class TestUnknownSegmentationColours:
    def test_lists_the_colours_found_and_the_palette(self):
        seg = np.zeros((10, 10, 3), np.uint8)
        seg[:] = (0x12, 0xAB, 0x34)
        seg[:3] = (0x80, 0x40, 0xC0)
        with pytest.raises(MaskError) as info:
            regions_from_segmentations(seg, colour_image(np.zeros((4, 4), int)))
        message = str(info.value)
        assert "The content segmentation uses none of the region colours" in message
        assert "#12ab34 (70.0%), #8040c0 (30.0%)" in message
        assert "blue #0000ff" in message and "lightblue #00ffff" in message

    def test_most_frequent_five_only(self):
        seg = np.stack([*np.meshgrid(np.arange(40, 50), np.arange(60, 70), indexing="ij"), np.full((10, 10), 90)],
                       axis=2).astype(np.uint8)  # 100 colours, none near the palette
        with pytest.raises(MaskError, match="style segmentation") as info:
            regions_from_segmentations(colour_image(np.zeros((4, 4), int)), seg)
        assert str(info.value).count("(1.0%)") == 5

    def test_noisy_region_colours_are_known(self):
        """JPEG-like noise around the palette colours is not "unknown"."""
        labels = np.zeros((8, 8), int)
        labels[4:] = NAMES.index("red")
        noise = np.random.default_rng(0).integers(-20, 21, (8, 8, 3))
        seg = np.clip(colour_image(labels).astype(int) + noise, 0, 255).astype(np.uint8)
        assert [p.name for p in regions_from_segmentations(seg, seg)] == ["blue", "red"]

    def test_a_few_known_pixels_are_enough(self):
        seg = np.full((10, 10, 3), (0x12, 0xAB, 0x34), np.uint8)
        seg[0, 0] = (0, 0, 255)
        assert "blue" in [p.name for p in regions_from_segmentations(seg, seg)]
