"""Region-wise linear colour transfer: each region takes its partner's mean and covariance."""

from __future__ import annotations

import pytest
import torch

from photostyle.core.colour_transfer import colour_transfer, linear_colour_maps, region_statistics


def textured(height: int, width: int, mean: tuple[float, float, float], spread: float, seed: int) -> torch.Tensor:
    """A 3×H×W image with correlated colour noise around `mean` (kept well inside [0, 1])."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.rand(3, 3, generator=generator, dtype=torch.float64) + 0.2 * torch.eye(3, dtype=torch.float64)
    noise = torch.randn(3, height * width, generator=generator, dtype=torch.float64)
    colours = mixing @ noise
    colours = colours / colours.std(dim=1, keepdim=True) * spread
    return (colours + torch.tensor(mean, dtype=torch.float64)[:, None]).reshape(3, height, width)


def halves(height: int, width: int, vertical: bool) -> torch.Tensor:
    masks = torch.zeros(2, height, width, dtype=torch.float64)
    if vertical:
        masks[0, :, : width // 2] = 1
    else:
        masks[0, : height // 2] = 1
    masks[1] = 1 - masks[0]
    return masks


class TestRegionStatistics:
    def test_matches_numpy_mean_and_covariance(self):
        image = textured(20, 30, (0.4, 0.5, 0.6), 0.05, seed=1)
        masks = halves(20, 30, vertical=True)
        means, covariances = region_statistics(image, masks)
        left = image[:, :, :15].reshape(3, -1)
        torch.testing.assert_close(means[0], left.mean(dim=1))
        torch.testing.assert_close(covariances[0], torch.cov(left, correction=0))

    def test_soft_masks_weight_pixels(self):
        image = torch.zeros(3, 4, 4, dtype=torch.float64)
        image[:, :, 2:] = 1.0
        mask = torch.full((1, 4, 4), 0.25, dtype=torch.float64)
        mask[:, :, 2:] = 0.75
        means, _ = region_statistics(image, mask)
        torch.testing.assert_close(means[0], torch.full((3,), 0.75, dtype=torch.float64))


class TestColourTransfer:
    def test_each_region_takes_its_partners_statistics(self):
        # Photo: left reddish, right bluish. Reference: top greenish, bottom yellowish. Left ↔ top, right ↔ bottom.
        content = torch.cat([textured(40, 30, (0.6, 0.4, 0.4), 0.08, seed=2),
                             textured(40, 30, (0.4, 0.4, 0.6), 0.1, seed=3)], dim=2)
        style = torch.cat([textured(25, 50, (0.35, 0.6, 0.4), 0.09, seed=4),
                           textured(25, 50, (0.6, 0.55, 0.35), 0.07, seed=5)], dim=1)
        content_masks, style_masks = halves(40, 60, vertical=True), halves(50, 50, vertical=False)
        result = colour_transfer(content, style, content_masks, style_masks)
        got_means, got_cov = region_statistics(result, content_masks)
        want_means, want_cov = region_statistics(style, style_masks)
        torch.testing.assert_close(got_means, want_means, atol=1e-6, rtol=0)
        assert result.min() > 0 and result.max() < 1  # nothing clamped: the statistics must match
        # Covariances of ~1e-2 match to within the covariance floor (1e-4) added to both sides.
        torch.testing.assert_close(got_cov, want_cov, atol=1.5e-4, rtol=0)

    def test_identity_when_the_reference_is_the_photo(self):
        image = textured(30, 30, (0.5, 0.4, 0.3), 0.05, seed=6)
        masks = torch.ones(1, 30, 30, dtype=torch.float64)
        maps = linear_colour_maps(image, image, masks, masks)
        torch.testing.assert_close(maps[0], torch.cat([torch.eye(3), torch.zeros(3, 1)], dim=1).double(), atol=1e-9, rtol=0)
        torch.testing.assert_close(colour_transfer(image, image, masks, masks), image)

    def test_pixels_outside_every_region_are_kept(self):
        content = textured(20, 20, (0.5, 0.5, 0.5), 0.05, seed=7)
        style = textured(20, 20, (0.2, 0.7, 0.2), 0.05, seed=8)
        mask = torch.zeros(1, 20, 20, dtype=torch.float64)
        mask[:, :10] = 1
        result = colour_transfer(content, style, mask, torch.ones(1, 20, 20, dtype=torch.float64))
        torch.testing.assert_close(result[:, 10:], content[:, 10:].clamp(0, 1))
        assert (result[1, :10].mean() - 0.7).abs() < 0.01

    @pytest.mark.parametrize("grey", [True, False], ids=["grey-photo", "flat-photo"])
    def test_degenerate_photo_stays_finite_and_in_range(self, grey):
        content = textured(16, 16, (0.5, 0.5, 0.5), 0.05, seed=9)
        content = content.mean(dim=0, keepdim=True).expand(3, -1, -1) if grey else torch.full_like(content, 0.3)
        style = textured(16, 16, (0.3, 0.5, 0.7), 0.1, seed=10)
        masks = torch.ones(1, 16, 16, dtype=torch.float64)
        result = colour_transfer(content, style, masks, masks)
        assert torch.isfinite(result).all() and result.min() >= 0 and result.max() <= 1
        torch.testing.assert_close(result.mean(dim=(1, 2)), style.mean(dim=(1, 2)), atol=0.02, rtol=0)
