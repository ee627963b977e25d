"""The matting Laplacian against Levin et al.'s formula, and the photorealism loss built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photostyle.core.matting import (DEFAULT_EPSILON, PROJECTION_TOLERANCE, matting_laplacian, photorealism_loss,
                                     photorealistic_projection)


def dense(image: np.ndarray, **kwargs) -> np.ndarray:
    """`matting_laplacian` of `image` as a dense array."""
    return matting_laplacian(image, **kwargs).to_dense().numpy()


def dense_levin_laplacian(image: np.ndarray, epsilon: float, radius: int = 1) -> np.ndarray:
    """L_ij = Σ_k (δ_ij − (1 + (I_i−μ_k)ᵀ(Σ_k + ε/|w| I₃)⁻¹(I_j−μ_k)) / |w|), straight from the paper,
    summing over every (2r+1)² window fully inside the image that holds both i and j."""
    image = np.asarray(image, dtype=np.float64)
    height, width, _ = image.shape
    size = 2 * radius + 1
    count = size * size
    laplacian = np.zeros((height * width, height * width))
    for cy in range(radius, height - radius):
        for cx in range(radius, width - radius):
            pixels = [(cy + dy, cx + dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
            colours = np.array([image[y, x] for y, x in pixels])
            mu = colours.mean(axis=0)
            sigma = (colours - mu).T @ (colours - mu) / count
            inverse = np.linalg.inv(sigma + epsilon / count * np.eye(3))
            for a, (ya, xa) in enumerate(pixels):
                for b, (yb, xb) in enumerate(pixels):
                    i, j = ya * width + xa, yb * width + xb
                    laplacian[i, j] += float(i == j) - (1.0 + (colours[a] - mu) @ inverse @ (colours[b] - mu)) / count
    return laplacian


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3))


def flat_regions_image() -> np.ndarray:
    """6×7: a flat left block, a flat right block of another colour, a flat grey strip and noise."""
    image = np.empty((6, 7, 3))
    image[:, :4] = (0.2, 0.5, 0.7)
    image[:, 4:] = (0.9, 0.1, 0.3)
    image[4:, :] = 0.5
    image[5, 5:] = np.random.default_rng(7).random((2, 3))
    return image


def affine_recolouring(image: np.ndarray, seed: int = 3) -> np.ndarray:
    """V = A·[I; 1] per pixel with one global 3×4 A, as C×H×W."""
    a = np.random.default_rng(seed).normal(size=(3, 4))
    basis = np.concatenate([image, np.ones(image.shape[:2] + (1,))], axis=2)
    return np.einsum("ck,hwk->chw", a, basis)


def quadratic_form(laplacian: torch.Tensor, values: np.ndarray) -> float:
    flat = torch.from_numpy(values.reshape(values.shape[0], -1).T.copy())
    return float((flat * (laplacian @ flat)).sum())


class TestMattingLaplacianAgainstLevin:
    @pytest.mark.parametrize(
        "image, epsilon, radius",
        [
            (random_image(5, 6), DEFAULT_EPSILON, 1),
            (random_image(5, 6, seed=1), 1e-3, 1),
            (random_image(7, 6, seed=2), 1e-5, 2),
            (flat_regions_image(), DEFAULT_EPSILON, 1),
            (flat_regions_image(), 1e-4, 1),
        ],
        ids=["random-5x6", "random-eps1e-3", "random-radius2", "flat-regions", "flat-regions-eps1e-4"],
    )
    def test_matches_dense_reference(self, image, epsilon, radius):
        expected = dense_levin_laplacian(image, epsilon, radius)
        actual = matting_laplacian(image, epsilon=epsilon, radius=radius)
        assert actual.layout == torch.sparse_csr and actual.dtype == torch.float64
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual.to_dense().numpy(), expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())

    def test_float32_input_is_computed_in_float64(self):
        image = random_image(5, 6).astype(np.float32)
        expected = dense_levin_laplacian(image.astype(np.float64), DEFAULT_EPSILON)
        np.testing.assert_allclose(dense(image), expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())

    def test_image_smaller_than_a_window_gives_zero_matrix(self):
        laplacian = dense(random_image(2, 5))
        assert laplacian.shape == (10, 10)
        assert not laplacian.any()

    def test_sparsity_pattern(self):
        # Pixels interact only if some 3×3 window holds both: |Δy| ≤ 2 and |Δx| ≤ 2.
        height, width = 6, 7
        rows, columns = np.nonzero(dense(random_image(height, width)))
        dy = np.abs(rows // width - columns // width)
        dx = np.abs(rows % width - columns % width)
        assert dy.max() == 2 and dx.max() == 2

    def test_entries_outside_the_image_are_zeros_within_range(self):
        # Every row stores all 25 offsets; those reaching past the border hold zero at a valid column.
        laplacian = matting_laplacian(random_image(6, 7))
        assert laplacian.crow_indices().dtype == torch.int32
        assert laplacian.values().numel() == 42 * 25
        assert int(laplacian.col_indices().min()) >= 0 and int(laplacian.col_indices().max()) < 42
        corner = laplacian.values()[:25].reshape(5, 5)  # pixel (0, 0): only Δy, Δx ≥ 0 are inside
        assert not corner[:2].any() and not corner[:, :2].any() and corner[2:, 2:].all()


class TestMattingLaplacianProperties:
    @pytest.fixture(params=["random", "flat"])
    def image(self, request):
        return random_image(8, 9, seed=5) if request.param == "random" else flat_regions_image()

    def test_constant_vector_in_null_space(self, image):
        laplacian = dense(image)
        ones = np.ones(laplacian.shape[0])
        scale = np.abs(laplacian).sum(axis=1).max()
        np.testing.assert_allclose(laplacian @ ones, 0.0, atol=1e-9 * scale)

    def test_symmetric(self, image):
        laplacian = dense(image)
        np.testing.assert_allclose(laplacian, laplacian.T, rtol=0, atol=1e-10 * np.abs(laplacian).max())

    def test_positive_semi_definite(self, image):
        laplacian = dense(image)
        eigenvalues = np.linalg.eigvalsh((laplacian + laplacian.T) / 2)
        assert eigenvalues.min() >= -1e-9 * eigenvalues.max()
        # ...and not trivially zero: the constant vector is the only exact null direction of a random image.
        assert eigenvalues.max() > 1.0

    def test_diagonal_counts_windows(self):
        # Each window holding i adds 1 − h, h = (1 + (I_i−μ)ᵀΣ⁻¹(I_i−μ))/|w| being pixel i's leverage in
        # the window's colour regression: h < 1 for a random image, so the diagonal is positive.
        laplacian = dense(random_image(5, 6))
        assert (np.diag(laplacian) > 0).all()


class TestSparseProduct:
    def test_product_matches_the_dense_matrix(self):
        laplacian = matting_laplacian(random_image(6, 7))
        vector = np.random.default_rng(0).normal(size=(42, 3))
        np.testing.assert_allclose((laplacian @ torch.from_numpy(vector)).numpy(), laplacian.to_dense().numpy() @ vector,
                                   rtol=1e-12, atol=1e-12)


class TestPhotorealismLoss:
    @pytest.fixture
    def setup(self):
        image = random_image(6, 7, seed=11)
        laplacian = matting_laplacian(image)
        values = np.random.default_rng(12).random((3, 6, 7))
        return image, laplacian, values

    @pytest.mark.parametrize("weight", [1.0, 1e4])
    def test_value_is_weighted_quadratic_form(self, setup, weight):
        _, laplacian, values = setup
        loss = photorealism_loss(torch.from_numpy(values), laplacian, weight)
        assert loss.dtype == torch.float64 and loss.dim() == 0
        expected = weight * quadratic_form(laplacian, values)
        assert float(loss) == pytest.approx(expected, rel=1e-10)

    def test_batched_input_same_value(self, setup):
        _, laplacian, values = setup
        tensor = laplacian
        single = photorealism_loss(torch.from_numpy(values), tensor, 2.0)
        batched = photorealism_loss(torch.from_numpy(values)[None], tensor, 2.0)
        assert float(single) == pytest.approx(float(batched), rel=1e-12)

    @pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
    def test_gradient_is_two_lambda_l_v(self, setup, dtype):
        _, laplacian, values = setup
        weight = 3.5
        tensor = torch.tensor(values, dtype=dtype, requires_grad=True)
        photorealism_loss(tensor, laplacian, weight).backward()
        assert tensor.grad.dtype == dtype and tensor.grad.shape == tensor.shape
        matrix = laplacian.to_dense().numpy()
        expected = np.stack([2 * weight * (matrix @ v.ravel()).reshape(v.shape) for v in values])
        tolerance = 1e-10 if dtype == torch.float64 else 1e-5
        np.testing.assert_allclose(tensor.grad.double().numpy(), expected, rtol=tolerance, atol=tolerance * np.abs(expected).max())

    def test_gradcheck(self):
        image = random_image(4, 5, seed=21)
        laplacian = matting_laplacian(image, epsilon=1e-4)
        values = torch.rand(3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
        assert torch.autograd.gradcheck(lambda v: photorealism_loss(v, laplacian, 0.7), (values,), eps=1e-6, atol=1e-6)

    @pytest.mark.parametrize("image", [random_image(8, 9, seed=4), flat_regions_image()], ids=["random", "flat"])
    def test_global_affine_recolouring_costs_almost_nothing(self, image):
        laplacian = matting_laplacian(image)
        affine = affine_recolouring(image)
        unrelated = np.random.default_rng(9).random((3,) + image.shape[:2])
        # Scale the random image to the affine one's range so only the structure differs.
        unrelated = unrelated * (affine.max() - affine.min()) + affine.min()
        affine_cost = quadratic_form(laplacian, affine)
        random_cost = quadratic_form(laplacian, unrelated)
        assert random_cost > 0
        assert affine_cost >= -1e-12
        assert affine_cost < 1e-5 * random_cost

    def test_constant_image_costs_nothing(self):
        laplacian = matting_laplacian(random_image(6, 7))
        constant = torch.full((3, 6, 7), 0.4, dtype=torch.float64)
        assert abs(float(photorealism_loss(constant, laplacian, 1e4))) < 1e-8


class TestPhotorealisticProjection:
    """(I + s·L) Y = X by conjugate gradients: what it keeps, what it removes, and that it stops."""

    @pytest.mark.parametrize("strength", [0.3, 3.0, 30.0])
    def test_solves_the_system(self, strength):
        image = random_image(9, 11, seed=5)
        laplacian = matting_laplacian(image)
        target = torch.from_numpy(np.random.default_rng(6).random((3, 9, 11)))
        solution = photorealistic_projection(target, laplacian, strength)
        system = torch.eye(99, dtype=torch.float64) + strength * laplacian.to_dense()
        expected = torch.linalg.solve(system, target.reshape(3, -1).t()).t().reshape(3, 9, 11)
        assert torch.allclose(solution, expected, atol=20 * PROJECTION_TOLERANCE)

    def test_keeps_a_local_affine_recolouring_and_removes_what_is_not_one(self):
        image = random_image(12, 14, seed=8)
        laplacian = matting_laplacian(image)
        recoloured = torch.from_numpy(affine_recolouring(image))
        kept = photorealistic_projection(recoloured, laplacian, 3.0)
        assert torch.allclose(kept, recoloured, atol=1e-3)
        noise = torch.from_numpy(np.random.default_rng(2).normal(scale=0.1, size=recoloured.shape))
        projected = photorealistic_projection(recoloured + noise, laplacian, 3.0)
        # Nearer the recolouring than the noisy input is, and far less energy than it has.
        assert (projected - recoloured).norm() < 0.6 * noise.norm()
        assert quadratic_form(laplacian, projected.numpy()) < 0.05 * quadratic_form(laplacian, (recoloured + noise).numpy())

    def test_zero_strength_and_black_channels_are_left_as_they_are(self):
        image = random_image(6, 7, seed=1)
        laplacian = matting_laplacian(image)
        target = torch.from_numpy(np.random.default_rng(3).random((3, 6, 7))).float()
        assert torch.equal(photorealistic_projection(target, laplacian, 0.0), target)
        target[1] = 0  # a channel with nothing to solve must not turn into NaN beside the others
        projected = photorealistic_projection(target, laplacian, 3.0)
        assert projected.dtype == torch.float32 and torch.isfinite(projected).all() and not projected[1].any()

    def test_checkpoint_runs_every_step_and_can_stop_it(self):
        image = random_image(10, 10, seed=4)
        laplacian = matting_laplacian(image)
        target = torch.from_numpy(np.random.default_rng(5).random((3, 10, 10)))
        calls = []

        def stop_at_the_third_step():
            calls.append(1)
            if len(calls) == 3:
                raise InterruptedError

        with pytest.raises(InterruptedError):
            photorealistic_projection(target, laplacian, 30.0, stop_at_the_third_step)
        assert len(calls) == 3
