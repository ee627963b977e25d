"""The smooth-local-affine finish: fitting, bilateral smoothing, and full-resolution delivery."""

from __future__ import annotations

import pytest
import torch

from core_test_helpers import smooth_rgb
from photostyle.core.images import resize_image
from photostyle.core.local_affine import (apply_affine, apply_affine_rows, bilateral_smooth, fit_local_affine,
                                          local_affine_view, smooth_coefficients)

#: One global colour map: output_c = Σ_k A[c, k]·photo_k + A[c, 3].
GLOBAL_A = torch.tensor([[0.8, 0.1, -0.05, 0.05],
                         [0.05, 0.7, 0.1, 0.1],
                         [-0.1, 0.2, 0.9, -0.02]])


def affine(photo: torch.Tensor, a: torch.Tensor = GLOBAL_A) -> torch.Tensor:
    return torch.einsum("ck,khw->chw", a[:, :3], photo) + a[:, 3, None, None]


def as_tensor(image) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


def constant_coefficients(a: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """12×h×w maps holding `a` everywhere, in the engine's layout (channel k·3 + c = A[c, k])."""
    return a.t().reshape(12, 1, 1).expand(12, height, width).contiguous()


def textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(3, height, width, generator=torch.Generator().manual_seed(seed))


class TestFitLocalAffine:
    def test_shape_and_layout_on_exact_affine_data(self):
        photo = textured(20, 24)
        coefficients = fit_local_affine(affine(photo), photo)
        assert coefficients.shape == (12, 20, 24) and coefficients.dtype == torch.float32
        # On a high-variance photo the 1e-3 ridge barely shrinks the fit: A is recovered inside the
        # image (border windows are clipped to 4-6 pixels, so they shrink more).
        error = (coefficients - constant_coefficients(GLOBAL_A, 20, 24)).abs()
        assert error[:, 1:-1, 1:-1].median() < 2e-3
        assert error[:, 1:-1, 1:-1].max() < 5e-2

    def test_fit_then_apply_reproduces_output(self):
        photo = textured(20, 24, seed=1)
        output = affine(photo)
        rebuilt = apply_affine(fit_local_affine(output, photo), photo)
        assert (rebuilt - output).abs().max() < 1e-2
        assert (rebuilt - output).abs().mean() < 1e-3

    def test_flat_window_gives_mean_colour_intercept(self):
        # Where the photo is flat, the ridge pins the colour terms to 0 and the intercept carries the colour.
        photo = torch.full((3, 9, 9), 0.5)
        output = torch.full((3, 9, 9), 0.25)
        coefficients = fit_local_affine(output, photo)
        assert coefficients[:9].abs().max() < 1e-3
        torch.testing.assert_close(apply_affine(coefficients, photo), output, atol=1e-5, rtol=0)


class TestLocalAffineView:
    def test_each_pixel_is_its_fit_applied(self):
        photo, image = textured(20, 24, seed=2), textured(20, 24, seed=3)
        expected = apply_affine(fit_local_affine(image, photo), photo)
        torch.testing.assert_close(local_affine_view(photo)(image), expected, atol=1e-5, rtol=0)

    def test_a_recolouring_of_the_photo_passes_and_a_pattern_the_photo_lacks_mostly_does_not(self):
        photo = as_tensor(smooth_rgb(24, 32, seed=4))  # a photo's pixels vary smoothly, unlike noise's
        recoloured = affine(photo)
        view = local_affine_view(photo)
        assert (view(recoloured) - recoloured).abs().max() < 2e-2
        pattern = 0.05 * torch.sign(torch.randn(3, 24, 32, generator=torch.Generator().manual_seed(0)))
        assert (view(recoloured + pattern) - recoloured).abs().mean() < 0.5 * pattern.abs().mean()

    def test_its_gradient_is_the_adjoint(self):
        # An optimiser steps along view's transpose times the loss gradient: <view(a), b> = <a, viewᵀ(b)>.
        photo, a, b = textured(12, 16, seed=5), textured(12, 16, seed=6), textured(12, 16, seed=7)
        view = local_affine_view(photo)
        a.requires_grad_(True)
        (view(a) * b).sum().backward()
        assert float((a.grad * a).sum()) == pytest.approx(float((view(a) * b).sum()), rel=1e-5)


class TestBilateralSmooth:
    def test_constant_maps_unchanged(self):
        guide = textured(16, 18)
        maps = constant_coefficients(GLOBAL_A, 16, 18)
        torch.testing.assert_close(bilateral_smooth(maps, guide, radius=4), maps, atol=1e-6, rtol=0)

    def test_preserves_guide_edges(self):
        # A step in the guide and the same step in the map: the filter must not blur across it.
        guide = torch.zeros(3, 12, 16)
        guide[:, :, 8:] = 0.8
        maps = torch.zeros(2, 12, 16)
        maps[:, :, 8:] = 1.0
        smoothed = bilateral_smooth(maps, guide, radius=5, edge=0.01)
        torch.testing.assert_close(smoothed, maps, atol=1e-6, rtol=0)

    @pytest.mark.parametrize("height, width, radius", [(9, 11, 3), (4, 13, 5), (7, 2, 3)])
    def test_is_the_joint_bilateral_filter_pixel_by_pixel(self, height, width, radius):
        # Each pixel's weighted mean over its window clipped at the border, computed directly.
        generator = torch.Generator().manual_seed(height * width)
        guide = torch.rand(3, height, width, generator=generator, dtype=torch.float64)
        maps = torch.rand(4, height, width, generator=generator, dtype=torch.float64)
        edge, sigma = 0.3, radius / 3.0
        expected = torch.empty_like(maps)
        for y in range(height):
            for x in range(width):
                ys = torch.arange(max(0, y - radius), min(height, y + radius + 1))
                xs = torch.arange(max(0, x - radius), min(width, x + radius + 1))
                window = guide[:, ys][:, :, xs]
                spatial = ((ys[:, None] - y) ** 2 + (xs[None, :] - x) ** 2).double() / (2 * sigma ** 2)
                colour = ((window - guide[:, y:y + 1, x:x + 1]) ** 2).mean(dim=0) / (2 * edge ** 2)
                weight = torch.exp(-spatial - colour)
                expected[:, y, x] = (maps[:, ys][:, :, xs] * weight).sum(dim=(1, 2)) / weight.sum()
        torch.testing.assert_close(bilateral_smooth(maps, guide, radius=radius, edge=edge), expected,
                                   atol=1e-12, rtol=1e-12)

    def test_smooths_within_a_flat_guide(self):
        guide = torch.full((3, 12, 12), 0.3)
        maps = torch.rand(1, 12, 12, generator=torch.Generator().manual_seed(2))
        smoothed = bilateral_smooth(maps, guide, radius=3)
        assert smoothed.std() < 0.5 * maps.std()
        # Normalised weights: a weighted mean cannot leave the input's range.
        assert smoothed.min() >= maps.min() and smoothed.max() <= maps.max()


class TestApplyAffine:
    @pytest.mark.parametrize("small, big", [((5, 7), (5, 7)), ((5, 7), (40, 61)), ((3, 3), (64, 96)), ((8, 8), (8, 33))])
    def test_constant_coefficients_give_affine_map_exactly(self, small, big):
        photo = textured(*big, seed=3)
        result = apply_affine(constant_coefficients(GLOBAL_A, *small), photo)
        assert result.shape == photo.shape
        torch.testing.assert_close(result, affine(photo), atol=1e-6, rtol=1e-6)

    def test_same_size_is_per_pixel_affine(self):
        photo = textured(6, 8, seed=4)
        coefficients = torch.randn(12, 6, 8, generator=torch.Generator().manual_seed(5))
        expected = torch.empty_like(photo)
        for y in range(6):
            for x in range(8):
                a = coefficients[:, y, x].reshape(4, 3).t()  # 3×4
                expected[:, y, x] = a[:, :3] @ photo[:, y, x] + a[:, 3]
        torch.testing.assert_close(apply_affine(coefficients, photo), expected, atol=1e-5, rtol=1e-5)

    def test_upsampled_maps_are_bilinear(self):
        # Coefficients that are themselves linear in x stay linear after half-pixel-centre upsampling.
        photo = torch.zeros(3, 4, 16)  # only the intercept row matters
        coefficients = torch.zeros(12, 4, 8)
        coefficients[9:] = torch.arange(8, dtype=torch.float32)  # intercept = column index
        result = apply_affine(coefficients, photo)
        source_x = ((torch.arange(16) + 0.5) * 0.5 - 0.5).clamp(0, 7)
        torch.testing.assert_close(result[0, 0], source_x)
        torch.testing.assert_close(result[2, 3], source_x)

    @pytest.mark.parametrize("rows", [1, 5, 7, 37])
    def test_strips_of_rows_do_not_change_result(self, rows):
        # How images.rebuild applies the maps to a full-resolution layer, a strip at a time.
        photo = textured(37, 50, seed=6)
        coefficients = torch.randn(12, 9, 11, generator=torch.Generator().manual_seed(7))
        whole = apply_affine(coefficients, photo)
        strips = [apply_affine_rows(coefficients, photo[:, start:start + rows], start, 37) for start in range(0, 37, rows)]
        torch.testing.assert_close(torch.cat(strips, dim=1), whole, atol=1e-6, rtol=0)


class TestSmoothCoefficients:
    def test_reproduces_global_affine_of_textured_photo(self):
        photo = textured(30, 40, seed=8)
        output = affine(photo)
        result = apply_affine(smooth_coefficients(output, photo), photo)
        assert result.shape == output.shape
        assert (result - output).abs().max() < 1e-2
        assert (result - output).abs().mean() < 1e-3

    def test_reproduces_global_affine_of_smooth_photo(self):
        # Smooth photos have nearly flat 3×3 windows where the 1e-3 ridge shrinks the colour terms;
        # the error stays at the 1e-2 level over the whole image.
        photo = as_tensor(smooth_rgb(30, 36, seed=1))
        output = affine(photo)
        result = apply_affine(smooth_coefficients(output, photo), photo)
        assert (result - output).abs().max() < 2e-2
        assert (result - output).abs().mean() < 3e-3

    def test_delivers_full_resolution(self):
        full = as_tensor(smooth_rgb(72, 90, seed=2))
        small = resize_image(full, (24, 30))
        result = apply_affine(smooth_coefficients(affine(small), small), full)
        assert result.shape == full.shape
        assert (result - affine(full)).abs().max() < 2e-2
        assert (result - affine(full)).abs().mean() < 3e-3

    def test_identity_output_returns_photo(self):
        photo = textured(24, 30, seed=9)
        result = apply_affine(smooth_coefficients(photo.clone(), photo), photo)
        assert (result - photo).abs().max() < 1e-2

    def test_checkpoint_runs_between_steps_and_can_abandon_the_work(self):
        full = as_tensor(smooth_rgb(72, 90, seed=2))
        small = resize_image(full, (24, 30))
        calls = []
        smooth_coefficients(affine(small), small, radius=2, checkpoint=lambda: calls.append(1))
        # One per bilateral row offset below the pixel (r+1 = 3: the filter adds each pair of
        # offsets both ways); the full-size apply checks between strips (images.rebuild, tested with it).
        assert len(calls) == 3

        class Stop(Exception):
            pass

        def stop_in_the_filter() -> None:
            calls.append(1)
            if len(calls) > 3 + 2:
                raise Stop

        with pytest.raises(Stop):
            smooth_coefficients(affine(small), small, radius=2, checkpoint=stop_in_the_filter)
