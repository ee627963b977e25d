"""The quality measures behind the README's ratios (core/metrics.py), on cases whose answers are
known without running them: identical images, affine recolourings, shifts, flat images."""

from __future__ import annotations

import numpy as np
import pytest

from core_test_helpers import smooth_rgb
from photostyle.core import RegionPair
from photostyle.core.matting import DEFAULT_EPSILON
from photostyle.core.metrics import edge_similarity, evaluation_shape, photorealism_energy, style_distance


def noise(height: int = 64, width: int = 72, seed: int = 0) -> np.ndarray:
    """Independent uniform colours in [0.2, 0.8]: every 3×3 window has a well-conditioned colour
    covariance (so float32 rounding cannot reach the matting Laplacian's ε), and room for recolourings."""
    return (0.2 + 0.6 * np.random.default_rng(seed).random((height, width, 3))).astype(np.float32)


#: An affine recolouring c ↦ M c + b that mixes the channels and keeps noise() inside [0, 1].
MIXING = np.array([[0.5, 0.3, -0.1], [-0.2, 0.6, 0.1], [0.1, 0.1, 0.4]])
OFFSET = np.array([0.05, 0.2, 0.15])


def recolour(image: np.ndarray, mixing: np.ndarray = MIXING, offset: np.ndarray = OFFSET) -> np.ndarray:
    out = image.astype(np.float64) @ mixing.T + offset
    assert 0 <= out.min() and out.max() <= 1  # the measures clamp to [0, 1]: stay inside
    return out.astype(np.float32)


def test_evaluation_shape_is_the_working_shape_never_upscaled():
    assert evaluation_shape(np.zeros((400, 600, 3), np.uint8), 512) == (341, 512)
    assert evaluation_shape(np.zeros((64, 72, 3), np.uint8), 512) == (64, 72)


class TestPhotorealismEnergy:
    """Σ_c V_cᵀ L V_c / pixels, L the photo's matting Laplacian: L annihilates constants, and
    V_cᵀ L V_c = min over per-window affine maps (a, b) of Σ_windows (Σ_i (V_ci − aᵀI_i − b)² + ε|a|²)."""

    def test_flat_result_scores_zero(self):
        photo = noise()
        flat = np.full_like(photo, 0.37)
        assert photorealism_energy(flat, photo) == pytest.approx(0.0, abs=1e-12)

    @pytest.mark.parametrize("mixing", [np.eye(3), MIXING], ids=["identical", "affine-recolouring"])
    def test_a_global_affine_recolouring_costs_only_epsilon_per_window(self, mixing):
        # The map itself fits every 3×3 window exactly, leaving ε|a_c|² per window and channel:
        # ε‖M‖²_F per window (fully inside the image), over the pixels. (The best fit shrinks a by
        # a fraction of order ε / the window's colour variance: nothing at this tolerance.)
        photo = noise()
        height, width = photo.shape[:2]
        expected = DEFAULT_EPSILON * float((mixing ** 2).sum()) * (height - 2) * (width - 2) / (height * width)
        assert photorealism_energy(recolour(photo, mixing), photo) == pytest.approx(expected, rel=1e-3)

    def test_scales_with_the_square_of_the_contrast_and_ignores_offsets(self):
        photo, result = noise(seed=0), noise(seed=1)  # unrelated colours: far from affine
        base = photorealism_energy(result, photo)
        assert base > 1e-3
        squeezed = photorealism_energy(0.5 * result + 0.25, photo)
        assert squeezed == pytest.approx(0.25 * base, rel=1e-5)

    def test_a_shifted_photo_is_far_from_affine(self):
        photo = noise()
        shifted = np.roll(photo, 2, axis=1)  # the same colours, two pixels off: no window's map fits
        assert photorealism_energy(shifted, photo) > 1e4 * photorealism_energy(recolour(photo), photo)


class TestEdgeSimilarity:
    """The Pearson correlation of Sobel gradient magnitudes of the luma."""

    @pytest.mark.parametrize("change", [lambda x: x, lambda x: 0.5 * x + 0.2, lambda x: 1 - x],
                             ids=["identical", "contrast-and-offset", "inverted"])
    def test_uniform_tone_changes_keep_every_edge(self, change):
        # The same gain and offset on R, G and B scale the luma's gradients by |gain|: correlation 1.
        photo = noise()
        assert edge_similarity(change(photo).astype(np.float32), photo) == pytest.approx(1.0, abs=1e-6)

    def test_shifted_edges_are_uncorrelated(self):
        # Independent pixels: gradients 4 px apart come from disjoint 3×3 neighbourhoods.
        photo = noise(64, 96)
        assert abs(edge_similarity(np.roll(photo, 4, axis=1), photo)) < 0.1

    def test_flat_result_has_no_edges(self):
        photo = noise()
        assert edge_similarity(np.full_like(photo, 0.5), photo) == 0.0

    def test_a_result_at_another_resolution_is_measured_at_the_photos(self):
        photo = smooth_rgb(64, 72, seed=3)
        doubled = np.repeat(np.repeat(photo, 2, axis=0), 2, axis=1)  # brought down to 64×72 to compare
        assert edge_similarity(doubled, photo) > 0.95


class TestStyleDistance:
    """Σ over VGG19's relu1_1..relu5_1 and the regions of mean(mask)·mean((G_result − G_style)²)."""

    @staticmethod
    def two_halves() -> tuple[np.ndarray, np.ndarray]:
        """A reference with a smooth reddish top and a noisy bluish bottom, and a mask of its top."""
        style = smooth_rgb(64, 64, seed=6, detail=3)
        style[:32] = 0.2 + 0.6 * style[:32] * np.array([1, 0.3, 0.3])
        style[32:] = 0.2 + 0.6 * np.random.default_rng(0).random((32, 64, 3)) * np.array([0.3, 0.3, 1])
        top = np.zeros((64, 64), np.float32)
        top[:32] = 1
        return style.astype(np.float32), top

    def test_the_reference_itself_is_at_distance_zero(self):
        style, top = self.two_halves()
        everywhere = np.ones_like(top)
        assert style_distance(style, style, None) == 0.0
        assert style_distance(style, style, [RegionPair("all", everywhere, everywhere)]) == 0.0
        assert style_distance(style, style, [RegionPair("a", top, top), RegionPair("b", 1 - top, 1 - top)]) == 0.0

    def test_each_region_is_compared_with_its_partner(self):
        style, top = self.two_halves()
        crossed = [RegionPair("a", top, 1 - top), RegionPair("b", 1 - top, top)]
        straight = [RegionPair("a", top, top), RegionPair("b", 1 - top, 1 - top)]
        # The reference itself, each half compared with the other half: far.
        assert style_distance(style, style, crossed) > 0.2 * style_distance(np.full_like(style, 0.5), style, None)
        # The reference upside down: each region now holds its crossed partner's pixels (up to
        # the features that straddle the seam), so the crossed pairing is the nearer one.
        flipped = np.roll(style, 32, axis=0)
        right, wrong = style_distance(flipped, style, crossed), style_distance(flipped, style, straight)
        assert right < wrong / 2, (right, wrong)

    def test_a_result_at_another_resolution_is_measured_at_the_same_size(self):
        style = smooth_rgb(64, 80, seed=5, detail=3)
        doubled = np.repeat(np.repeat(style, 2, axis=0), 2, axis=1)
        # At the reference's size it is nearly the reference; compared at twice the size (never
        # upscaled, the reference stays 64×80) its features are those of a zoomed-in picture.
        same_size = style_distance(doubled, style, None, size=80)
        assert same_size < style_distance(doubled, style, None, size=160) / 20
        assert same_size < style_distance(smooth_rgb(64, 80, seed=7, detail=3), style, None, size=80) / 2
