"""Automatic regions (photostyle.core.auto_regions) and `transfer(..., regions="auto")`.

The synthetic pair has two textures in each image, placed differently (left/right in the photo,
top/bottom in the reference). Their colours are crossed: the photo's stripes are red and its
blocks blue, the reference's stripes blue and its blocks orange, so a global colour transfer
(or a pairing by colour) sends red to orange; only finding *and* pairing the textures sends each
half to its partner's colour.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photostyle.core import MaskError, OptionsError, RegionPair, TransferOptions, transfer
from photostyle.core.auto_regions import find_regions, guided_filter
from photostyle.core.vgg import load_vgg19

STRIPES_PHOTO, BLOCKS_PHOTO = (0.8, 0.3, 0.3), (0.3, 0.3, 0.8)
STRIPES_REFERENCE, BLOCKS_REFERENCE = (0.2, 0.3, 0.9), (0.9, 0.5, 0.2)


def _texture(height: int, width: int, colour: tuple[float, float, float], kind: str, seed: int) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width]
    if kind == "stripes":
        pattern = (np.sin(columns * 2 * np.pi / 6 + rows * 2 * np.pi / 9) > 0).astype(np.float32)
    else:  # flat blocks of random brightness
        blocks = np.random.default_rng(seed).random((height // 8 + 1, width // 8 + 1))
        pattern = blocks.repeat(8, 0).repeat(8, 1)[:height, :width]
    return (np.array(colour, np.float32) * (0.6 + 0.4 * pattern[..., None])).astype(np.float32)


def photo_and_reference() -> tuple[np.ndarray, np.ndarray]:
    photo = np.concatenate([_texture(96, 64, STRIPES_PHOTO, "stripes", 1),
                            _texture(96, 64, BLOCKS_PHOTO, "blocks", 2)], axis=1)
    reference = np.concatenate([_texture(70, 100, BLOCKS_REFERENCE, "blocks", 3),
                                _texture(50, 100, STRIPES_REFERENCE, "stripes", 4)], axis=0)
    return photo, reference


def _chw(image: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).to(device)


def _mean_colour(image: np.ndarray) -> np.ndarray:
    return image[..., :3].reshape(-1, 3).mean(axis=0)


class TestFindRegions:
    # The net comes from load_vgg19 on the device: `vgg.to(device)` would move the shared CPU net
    # (the engine's cached one) onto the GPU in place, under every later CPU test.
    def test_recovers_and_pairs_the_textures(self, device):
        photo, reference = photo_and_reference()
        found = find_regions(_chw(photo, device), _chw(reference, device), load_vgg19(device=device))
        assert found.count == 2
        assert found.content_masks.shape == (2, 96, 128) and found.style_masks.shape == (2, 120, 100)
        torch.testing.assert_close(found.content_masks.sum(0), torch.ones(96, 128, device=device))
        stripes = int(found.content_masks[:, :, :64].mean(dim=(1, 2)).argmax())
        # The stripes region holds the photo's left half and the reference's bottom part, and only those.
        assert found.content_masks[stripes, :, 4:60].mean() > 0.95
        assert found.content_masks[stripes, :, 68:124].mean() < 0.05
        assert found.style_masks[stripes, 74:].mean() > 0.95
        assert found.style_masks[stripes, :66].mean() < 0.05
        assert "2 regions" in found.notes[0]

    def test_nothing_in_common_falls_back_to_one_region(self, device):
        stripes = _texture(96, 128, STRIPES_PHOTO, "stripes", 1)
        blocks = _texture(100, 120, BLOCKS_REFERENCE, "blocks", 2)
        found = find_regions(_chw(stripes, device), _chw(blocks, device), load_vgg19(device=device))
        assert found.count == 1
        torch.testing.assert_close(found.content_masks, torch.ones(1, 96, 128, device=device))
        assert "no parts clearly in common" in found.notes[0] and "one region" in found.notes[0]


class TestTransferWithAutomaticRegions:
    def test_each_half_moves_to_its_partners_colour(self, device):
        photo, reference = photo_and_reference()
        options = TransferOptions(preset="preview", device=device, regions="auto")
        result = transfer(photo, reference, None, options)
        stripes, blocks = _mean_colour(result.image[:, 8:56]), _mean_colour(result.image[:, 72:120])
        stripes_ref, blocks_ref = _mean_colour(reference[78:]), _mean_colour(reference[:62])
        assert np.linalg.norm(stripes - stripes_ref) < 0.25 * np.linalg.norm(stripes - blocks_ref)
        assert np.linalg.norm(blocks - blocks_ref) < 0.25 * np.linalg.norm(blocks - stripes_ref)
        # The regions come back at full size, 8-bit, one per found region, both images.
        assert [r.name for r in result.regions] == ["auto: 1", "auto: 2"]
        for region in result.regions:
            assert region.content_mask.shape == (96, 128) and region.content_mask.dtype == np.uint8
            assert region.style_mask.shape == (120, 100) and region.style_mask.dtype == np.uint8
        total = sum(r.content_mask.astype(int) for r in result.regions)
        assert np.abs(total - 255).max() <= 2

    def test_without_regions_the_halves_share_one_look(self, device):
        """The check above fails when regions are ignored: each half gets a mix of both colours."""
        photo, reference = photo_and_reference()
        result = transfer(photo, reference, None, TransferOptions(preset="preview", device=device))
        stripes, blocks_ref = _mean_colour(result.image[:, 8:56]), _mean_colour(reference[:62])
        stripes_ref = _mean_colour(reference[78:])
        assert not np.linalg.norm(stripes - stripes_ref) < 0.25 * np.linalg.norm(stripes - blocks_ref)
        assert result.regions == []

    def test_given_regions_win_over_automatic_ones(self):
        photo, reference = photo_and_reference()
        left = np.zeros(photo.shape[:2], np.float32)
        left[:, :64] = 1
        top = np.zeros(reference.shape[:2], np.float32)
        top[:60] = 1
        given = [RegionPair("left", left, top), RegionPair("right", 1 - left, 1 - top)]
        result = transfer(photo, reference, given, TransferOptions(preset="preview", regions="auto"))
        assert result.regions == []
        assert any("Your own regions were used" in note for note in result.notes)
        # The given pairing (stripes to blocks) is what was applied, not the automatic one.
        stripes, blocks_ref = _mean_colour(result.image[:, 8:56]), _mean_colour(reference[:62])
        assert np.linalg.norm(stripes - blocks_ref) < np.linalg.norm(stripes - _mean_colour(reference[78:]))

    def test_unknown_region_mode_is_refused(self):
        photo, reference = photo_and_reference()
        with pytest.raises(OptionsError, match="Unknown region mode 'magic'; use one of: given, auto"):
            transfer(photo, reference, None, TransferOptions(preset="preview", regions="magic"))

    def test_unpaired_given_regions_still_need_one_partner(self):
        photo, reference = photo_and_reference()
        only_photo = [RegionPair("boat", np.ones(photo.shape[:2], np.float32), np.zeros(reference.shape[:2]))]
        with pytest.raises(MaskError, match="no region in common"):
            transfer(photo, reference, only_photo, TransferOptions(preset="preview", regions="auto"))


def test_guided_filter_moves_a_blurred_border_onto_the_guides_edge():
    guide = torch.zeros(3, 32, 64)
    guide[:, :, 20:] = 1.0  # a sharp edge at column 20
    soft = torch.clamp((torch.arange(64, dtype=torch.float32) - 24) / 12 + 0.5, 0, 1).expand(1, 32, 64).clone()
    filtered = guided_filter(guide, soft, radius=8, epsilon=1e-4)[0, 16]
    assert filtered[14] < 0.15 and filtered[26] > 0.6  # a step at the guide's edge, not a ramp
    assert abs(float(filtered[19] - filtered[20])) > 0.3
