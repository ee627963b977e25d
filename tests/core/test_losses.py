"""The neural-style loss terms: exact values on small tensors and float64 gradient checks."""

from __future__ import annotations

import pytest
import torch

from photostyle.core import losses
from photostyle.core.matting import matting_laplacian, photorealism_loss

gradcheck = torch.autograd.gradcheck


def tensor(*shape: int, seed: int = 0, requires_grad: bool = True, low: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=generator, dtype=torch.float64) + low).requires_grad_(requires_grad)


regions = losses.RegionPixels.of


def soft_mask(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A soft mask in (0.05, 0.95): strictly positive so masked_gram stays on its normalised branch."""
    return tensor(height, width, seed=seed, requires_grad=False) * 0.9 + 0.05


class TestContentLoss:
    def test_value(self):
        features = tensor(1, 4, 3, 5, seed=1, requires_grad=False)
        target = tensor(1, 4, 3, 5, seed=2, requires_grad=False)
        expected = 2.5 * ((features - target) ** 2).sum() / features.numel()
        assert float(losses.content_loss(features, target, 2.5)) == pytest.approx(float(expected), rel=1e-12)

    def test_zero_at_target(self):
        features = tensor(1, 4, 3, 5, requires_grad=False)
        assert float(losses.content_loss(features, features.clone(), 5.0)) == 0.0

    def test_gradcheck(self):
        assert gradcheck(lambda f, t: losses.content_loss(f, t, 3.0), (tensor(1, 3, 4, 5, seed=1), tensor(1, 3, 4, 5, seed=2)))


class TestMaskedGram:
    def test_full_mask_is_plain_normalised_gram(self):
        features = tensor(1, 4, 3, 5, requires_grad=False)
        flat = features.reshape(4, 15)
        gram = losses.masked_gram(features, torch.ones(3, 5, dtype=torch.float64))
        torch.testing.assert_close(gram, flat @ flat.T / (4 * 15), rtol=1e-12, atol=0)

    @pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
    def test_the_whole_image_is_not_masked_and_keeps_its_gradient(self, layout):
        # No regions: every weight is 1, so the layer goes to the product as it is (no masked copy),
        # with the same Gram and gradient as a mask of ones applied.
        whole = regions(torch.ones(1, 4, 5, dtype=torch.float64))
        assert whole.index is None and whole.values is None
        assert regions(torch.full((1, 4, 5), 0.5, dtype=torch.float64)).values is not None
        features = tensor(1, 3, 4, 5, seed=4, requires_grad=False).contiguous(memory_format=layout).requires_grad_()
        targets = tensor(1, 3, 3, seed=5, requires_grad=False)
        loss = losses.masked_style_loss(features, whole, targets, 3.0)
        (gradient,) = torch.autograd.grad(loss, features)
        flat = features.detach().reshape(3, 20)
        expected_gram = flat @ flat.T / 60
        torch.testing.assert_close(loss, 3.0 * ((expected_gram - targets[0]) ** 2).mean(), rtol=1e-12, atol=0)
        loss_by_gram = 3.0 * 2 * (expected_gram - targets[0]) / 9  # d(mean of squares)/dG, times the weight
        expected = (loss_by_gram + loss_by_gram.T) @ flat / 60
        torch.testing.assert_close(gradient.reshape(3, 20), expected, rtol=1e-10, atol=0)
        assert gradcheck(lambda f: losses.masked_style_loss(f, whole, targets, 3.0), (features,))

    def test_binary_mask_equals_gram_of_region(self):
        # Normalising by C·H·W·mean(mask) = C·|region|: the region's own Gram, whatever its size.
        features = tensor(1, 3, 6, 7, requires_grad=False)
        mask = torch.zeros(6, 7, dtype=torch.float64)
        mask[1:4, 2:6] = 1
        region = features[0][:, mask.bool()]  # C × |region|
        expected = region @ region.T / (3 * region.shape[1])
        torch.testing.assert_close(losses.masked_gram(features, mask), expected, rtol=1e-12, atol=0)

    def test_region_statistics_do_not_depend_on_region_size(self):
        # The same constant feature vector over a small and a large region gives the same Gram.
        vector = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        features = vector.view(1, 3, 1, 1).expand(1, 3, 8, 8).clone()
        small = torch.zeros(8, 8, dtype=torch.float64)
        small[:2, :2] = 1
        large = torch.zeros(8, 8, dtype=torch.float64)
        large[:, :6] = 1
        torch.testing.assert_close(losses.masked_gram(features, small), losses.masked_gram(features, large))
        torch.testing.assert_close(losses.masked_gram(features, large), torch.outer(vector, vector) / 3)

    def test_empty_mask_gives_zero_gram(self):
        gram = losses.masked_gram(tensor(1, 3, 4, 4, requires_grad=False), torch.zeros(4, 4, dtype=torch.float64))
        assert gram.shape == (3, 3)
        assert torch.count_nonzero(gram) == 0

    def test_symmetric(self):
        gram = losses.masked_gram(tensor(1, 5, 4, 6, requires_grad=False), soft_mask(4, 6))
        torch.testing.assert_close(gram, gram.T)

    @pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
    def test_each_region_of_a_stack_gets_its_own_gram_and_gradient(self, layout):
        # Regions with holes, overlapping, soft in places, one empty: gathering each one's pixels
        # gives the Gram matrices (and gradients) of masking every pixel of the layer, in either
        # memory layout (bfloat16 VGG19's features are channels-last).
        features = tensor(1, 4, 6, 7, seed=11, requires_grad=False).contiguous(memory_format=layout).requires_grad_()
        masks = torch.zeros(4, 6, 7, dtype=torch.float64)
        masks[0, :3] = 1
        masks[1, 2:5, :4] = 0.5
        masks[2, 4:, 3:] = soft_mask(2, 4)
        grams = losses.masked_grams(features, regions(masks))
        expected = []
        for mask in masks:
            flat = (features * mask).reshape(4, 42)
            expected.append(flat @ flat.T / (4 * 42 * mask.mean()) if mask.any() else flat @ flat.T)
        for gram, wanted in zip(grams, expected, strict=True):
            torch.testing.assert_close(gram, wanted, rtol=1e-12, atol=1e-15)
        (gathered,) = torch.autograd.grad(sum((gram * gram).sum() for gram in grams), features)
        (masked,) = torch.autograd.grad(sum((gram * gram).sum() for gram in expected), features)
        torch.testing.assert_close(gathered, masked, rtol=1e-12, atol=1e-15)
        assert gathered.is_contiguous(memory_format=layout)
        assert regions(masks[:1]).index is not None and regions(torch.ones(1, 6, 7)).index is None

    def test_bfloat16_features_keep_their_products_within_bfloat16s_rounding(self):
        # The bfloat16 network's features (bfloat16, channels-last; non-negative after a ReLU, so each
        # entry is a sum of positive terms): products in bfloat16, Gram matrices back in float32
        # within the rounding of soft mask weights and of each entry (8 bits).
        generator = torch.Generator().manual_seed(5)
        exact_features = torch.rand(1, 64, 20, 30, generator=generator).bfloat16().float()
        features = exact_features.bfloat16().contiguous(memory_format=torch.channels_last).requires_grad_()
        exact_features.requires_grad_()
        masks = torch.zeros(3, 20, 30)
        masks[0, :12] = 1
        masks[1, 8:, 10:] = 1
        masks[2] = soft_mask(20, 30).float()
        exact = losses.masked_grams(exact_features, regions(masks))
        rounded = losses.masked_grams(features, regions(masks))
        for low, high in zip(rounded, exact, strict=True):
            assert low.dtype == torch.float32
            error = float(((low - high).abs() / high.abs()).max().detach())
            assert 1e-4 < error < 0.008  # bfloat16 products (float32 ones agree to ~1e-7), and no worse
        targets = exact.detach() * 1.1
        loss = losses.masked_style_loss(features, regions(masks), targets, 1.0)
        assert loss.dtype == torch.float32
        (low_gradient,) = torch.autograd.grad(loss, features)
        (gradient,) = torch.autograd.grad(losses.masked_style_loss(exact_features, regions(masks), targets, 1.0),
                                          exact_features)
        assert float((low_gradient.float() - gradient).norm() / gradient.norm()) < 0.02
        assert low_gradient.is_contiguous(memory_format=torch.channels_last)

    @pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
    def test_gradcheck_several_regions_one_of_them_unused(self, layout):
        # Overlapping soft regions; the loss reads regions 0 and 2 only, so region 1 gets a zero gradient.
        features = tensor(1, 3, 4, 5, seed=6, requires_grad=False).contiguous(memory_format=layout).requires_grad_()
        masks = torch.stack([soft_mask(4, 5, seed=7), soft_mask(4, 5, seed=8), soft_mask(4, 5, seed=9)])
        masks[0, :2] = 0
        assert gradcheck(lambda f: [losses.masked_grams(f, regions(masks))[k] for k in (0, 2)], (features,))

    def test_gradcheck_features_and_soft_mask(self):
        features = tensor(1, 3, 4, 5, seed=3)
        mask = soft_mask(4, 5, seed=4).requires_grad_(True)
        assert gradcheck(losses.masked_gram, (features, mask))


class TestMaskedStyleLoss:
    def test_value_weights_regions_by_area(self):
        features = tensor(1, 3, 4, 5, requires_grad=False)
        masks = torch.stack([soft_mask(4, 5, seed=1), soft_mask(4, 5, seed=2)])
        targets = tensor(2, 3, 3, seed=5, requires_grad=False)
        expected = sum(
            m.mean() * ((losses.masked_gram(features, m) - t) ** 2).mean() for m, t in zip(masks, targets)
        ) * 7.0
        assert float(losses.masked_style_loss(features, regions(masks), targets, 7.0)) == pytest.approx(float(expected), rel=1e-12)

    def test_zero_when_targets_are_own_grams(self):
        features = tensor(1, 3, 4, 5, requires_grad=False)
        masks = torch.stack([soft_mask(4, 5, seed=1), soft_mask(4, 5, seed=2)])
        targets = torch.stack([losses.masked_gram(features, m) for m in masks])
        assert float(losses.masked_style_loss(features, regions(masks), targets, 100.0)) == pytest.approx(0.0, abs=1e-20)

    def test_empty_region_is_skipped(self):
        features = tensor(1, 3, 4, 5, requires_grad=False)
        mask = soft_mask(4, 5)
        targets = tensor(2, 3, 3, seed=5, requires_grad=False)
        with_empty = losses.masked_style_loss(features, regions(torch.stack([mask, torch.zeros_like(mask)])), targets, 2.0)
        alone = losses.masked_style_loss(features, regions(mask[None]), targets[:1], 2.0)
        assert float(with_empty) == float(alone)

    def test_all_regions_empty_gives_zero(self):
        loss = losses.masked_style_loss(tensor(1, 3, 4, 5, requires_grad=False), regions(torch.zeros(2, 4, 5, dtype=torch.float64)),
                                        tensor(2, 3, 3, requires_grad=False), 1.0)
        assert float(loss) == 0.0

    def test_gradcheck_features_soft_masks_and_targets(self):
        features = tensor(1, 3, 4, 5, seed=6)
        masks = torch.stack([soft_mask(4, 5, seed=7), soft_mask(4, 5, seed=8)]).requires_grad_(True)
        targets = tensor(2, 3, 3, seed=9)
        assert gradcheck(lambda f, m, t: losses.masked_style_loss(f, regions(m), t, 10.0), (features, masks, targets))


class TestTotalVariationLoss:
    def test_linear_ramp(self):
        # dx = −a and dy = −b on the (H−1)×(W−1) top-left block of every channel.
        a, b, channels, height, width = 0.3, -0.7, 3, 5, 6
        ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij")
        image = (a * xs + b * ys).expand(1, channels, height, width)
        expected = 2.0 * 0.5 * channels * (height - 1) * (width - 1) * (a * a + b * b)
        assert float(losses.total_variation_loss(image, 2.0)) == pytest.approx(expected, rel=1e-12)

    def test_constant_image_is_free(self):
        assert float(losses.total_variation_loss(torch.full((1, 3, 4, 4), 7.0), 1.0)) == 0.0

    def test_value_matches_explicit_sum(self):
        image = tensor(1, 3, 4, 5, requires_grad=False)
        expected = 0.0
        for c in range(3):
            for y in range(3):
                for x in range(4):
                    expected += (image[0, c, y, x] - image[0, c, y, x + 1]) ** 2 + (image[0, c, y, x] - image[0, c, y + 1, x]) ** 2
        assert float(losses.total_variation_loss(image, 1e-3)) == pytest.approx(1e-3 * 0.5 * float(expected), rel=1e-12)

    def test_gradcheck(self):
        assert gradcheck(lambda x: losses.total_variation_loss(x, 0.5), (tensor(1, 3, 5, 4, seed=10),))


class TestPhotorealismLossGradient:
    def test_gradcheck(self):
        image = tensor(5, 4, 3, seed=11, requires_grad=False).numpy()
        laplacian = matting_laplacian(image, epsilon=1e-5)
        values = tensor(1, 3, 5, 4, seed=12)
        assert gradcheck(lambda v: photorealism_loss(v, laplacian, 2.0), (values,))


class TestSumOfTermsGradient:
    def test_gradcheck_full_objective_on_a_tiny_image(self):
        # Every term at once, as the optimiser sees them (features stand in for a VGG layer).
        image = tensor(5, 4, 3, seed=13, requires_grad=False).numpy()
        laplacian = matting_laplacian(image, epsilon=1e-5)
        masks = torch.stack([soft_mask(5, 4, seed=14), soft_mask(5, 4, seed=15)])
        targets = tensor(2, 3, 3, seed=16, requires_grad=False)
        content = tensor(1, 3, 5, 4, seed=17, requires_grad=False)

        def objective(x: torch.Tensor) -> torch.Tensor:
            return (losses.content_loss(x, content, 5.0) + losses.masked_style_loss(x, regions(masks), targets, 100.0)
                    + losses.total_variation_loss(x, 1e-3) + photorealism_loss(x, laplacian, 10.0))

        assert gradcheck(objective, (tensor(1, 3, 5, 4, seed=18),))
