"""The projected-affine finish: what it keeps, what it removes, and the Laplacian it reuses."""

from __future__ import annotations

import pytest
import torch

from core_test_helpers import smooth_rgb
from photostyle.core import matting
from photostyle.core.finish import Outcome, ProjectedAffine, SmoothAffine
from photostyle.core.images import resize_image
from photostyle.core.matting import photo_laplacian, photorealism_loss
from photostyle.core.progress import no_checkpoint

#: One global colour map: output_c = Σ_k A[c, k]·photo_k + A[c, 3].
GLOBAL_A = torch.tensor([[0.6, 0.2, -0.05, 0.1],
                         [0.05, 0.5, 0.1, 0.2],
                         [-0.1, 0.2, 0.7, 0.05]])


def recoloured(photo: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ck,khw->chw", GLOBAL_A[:, :3], photo) + GLOBAL_A[:, 3, None, None]


def photo_pair(height: int = 36, width: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A full-size photo and the same photo at half size (the working size)."""
    full = torch.from_numpy(smooth_rgb(height, width, seed=4)).permute(2, 0, 1).contiguous()
    return full, resize_image(full, (height // 2, width // 2))


def finished(finish_kind, image: torch.Tensor, photo: torch.Tensor, full: torch.Tensor,
             laplacian: torch.Tensor | None = None) -> torch.Tensor:
    render = finish_kind.renderer(Outcome(image, photo, {}, laplacian=laplacian), *full.shape[-2:], no_checkpoint)
    return render(full, 0, full.shape[1])


def test_a_recolouring_of_the_photo_reaches_full_size_as_it_is():
    full, photo = photo_pair()
    result = finished(ProjectedAffine(), recoloured(photo), photo, full)
    # As with the smooth finish, the fit's 1e-3 ridge shrinks the colour terms in nearly flat windows.
    assert (result - recoloured(full)).abs().max() < 2e-2
    assert (result - recoloured(full)).abs().mean() < 3e-3


def test_it_removes_what_no_recolouring_of_the_photo_makes_and_keeps_colour_a_blur_loses():
    full, photo = photo_pair()
    target = recoloured(photo)
    # Texture the optimiser drew (fine noise), on top of a colour change confined to one half:
    # the projection takes the noise out, and keeps the half's colour nearer than the bilateral finish.
    stripe = torch.zeros_like(target)
    stripe[0, :, : photo.shape[2] // 2] = 0.15
    noise = 0.08 * torch.randn(target.shape, generator=torch.Generator().manual_seed(1))
    drawn = (target + stripe + noise).clamp(0, 1)
    laplacian = photo_laplacian(photo)
    projected = finished(ProjectedAffine(), drawn, photo, photo, laplacian)
    blurred = finished(SmoothAffine(), drawn, photo, photo)
    energy = lambda image: float(photorealism_loss(image, laplacian, 1.0))
    assert energy(projected) < 0.2 * energy(drawn)
    wanted = (target + stripe).clamp(0, 1)
    assert (projected - wanted).abs().mean() < 0.5 * (drawn - wanted).abs().mean()
    assert (projected - wanted).abs().mean() < (blurred - wanted).abs().mean()


def test_it_reuses_the_methods_laplacian(monkeypatch):
    full, photo = photo_pair()
    laplacian = photo_laplacian(photo)

    def no_second_build(*args, **kwargs):
        pytest.fail("the finish rebuilt the Laplacian its outcome carries")

    monkeypatch.setattr(matting, "matting_laplacian", no_second_build)
    with_it = finished(ProjectedAffine(), recoloured(photo), photo, full, laplacian)
    monkeypatch.undo()
    assert torch.equal(with_it, finished(ProjectedAffine(), recoloured(photo), photo, full))
