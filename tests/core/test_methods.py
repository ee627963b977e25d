"""Methods and their schedules: iteration overrides, and the run from start to last stage."""

from __future__ import annotations

import pytest
import torch

from core_test_helpers import smooth_rgb
from photostyle.core.errors import OptionsError
from photostyle.core.methods import Method, Reporter, Stage, WorkingImages, run_method
from photostyle.core.objective import LossWeights
from photostyle.core.vgg import load_vgg19

PYRAMID = Method("colour transfer", (Stage("coarse", 0.25, 60, True), Stage("medium", 0.5, 30, True),
                                     Stage("fine", 1.0, 10, True)))
PAPER = Method("noise", (Stage("style", 1.0, 1000, False), Stage("photorealism", 1.0, 1000, True)))


def counts(method: Method) -> list[int]:
    return [stage.iterations for stage in method.stages]


class TestIterationOverrides:
    def test_totals_of_each_kind(self):
        assert (PAPER.iterations(photorealism=False), PAPER.iterations(photorealism=True)) == (1000, 1000)
        assert (PYRAMID.iterations(photorealism=False), PYRAMID.iterations(photorealism=True)) == (0, 100)

    def test_none_keeps_the_schedule(self):
        assert PYRAMID.with_iterations(None, None) == PYRAMID

    @pytest.mark.parametrize("total, expected", [(100, [60, 30, 10]), (10, [6, 3, 1]), (5, [3, 2, 0]),
                                                 (1, [1, 0, 0]), (0, [0, 0, 0]), (201, [121, 60, 20])])
    def test_a_total_is_split_in_the_presets_proportions(self, total, expected):
        method = PYRAMID.with_iterations(None, total)
        assert counts(method) == expected and sum(counts(method)) == total
        assert [s.name for s in method.stages] == ["coarse", "medium", "fine"]

    def test_each_kind_goes_to_its_own_stages(self):
        assert counts(PAPER.with_iterations(7, 3)) == [7, 3]
        assert counts(PAPER.with_iterations(None, 0)) == [1000, 0]

    def test_stages_set_to_zero_share_a_new_total_evenly(self):
        assert counts(PYRAMID.with_iterations(None, 0).with_iterations(None, 9)) == [3, 3, 3]

    def test_a_kind_the_method_lacks(self):
        assert PYRAMID.with_iterations(0, None) == PYRAMID  # zero of nothing is fine
        with pytest.raises(OptionsError, match="no stage without the photorealism term"):
            PYRAMID.with_iterations(5, None)
        with pytest.raises(OptionsError, match="no stage with the photorealism term"):
            Method("colour transfer").with_iterations(None, 5)

    def test_negative(self):
        with pytest.raises(OptionsError, match="zero or more"):
            PAPER.with_iterations(-1, None)


class TestRunMethod:
    def images(self) -> WorkingImages:
        content = torch.from_numpy(smooth_rgb(64, 96, seed=1)).permute(2, 0, 1).contiguous()
        style = torch.from_numpy(smooth_rgb(80, 64, seed=2)).permute(2, 0, 1).contiguous()
        return WorkingImages(content, style, torch.ones(1, 64, 96), torch.ones(1, 80, 64))

    def test_the_result_is_at_the_last_stages_size_with_its_photo(self):
        images = self.images()
        method = PYRAMID.with_iterations(None, 6)
        outcome = run_method(method, images, load_vgg19(), LossWeights(), 0, Reporter(method, None, None), [])
        assert outcome.image.shape == (3, 64, 96) and outcome.photo is images.content
        assert outcome.image.min() >= 0 and outcome.image.max() <= 1
        assert list(outcome.stage_losses) == ["coarse", "medium", "fine"]
        # Each coarser stage worked on a smaller image: the objective's content target shrinks with it.
        assert outcome.stage_losses["coarse"]["last"]["style"] < outcome.stage_losses["coarse"]["first"]["style"]

    def test_without_stages_the_start_is_the_result(self):
        images = self.images()
        method = Method("colour transfer")
        outcome = run_method(method, images, None, LossWeights(), 0, Reporter(method, None, None), [])
        assert outcome.stage_losses == {} and outcome.image.shape == (3, 64, 96)
        # The colour transfer of a photo to a reference: its mean colour is the reference's.
        torch.testing.assert_close(outcome.image.mean(dim=(1, 2)), images.style.mean(dim=(1, 2)), atol=1e-3, rtol=0)
