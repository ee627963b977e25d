"""The method seam: methods' options, iteration overrides, the run from start to last stage, and
the presets built on them."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from io import BytesIO

import pytest
import torch

from core_test_helpers import smooth_rgb
from photostyle.core import TransferOptions, load_image, transfer
from photostyle.core.errors import OptionsError
from photostyle.core.finish import ProjectedAffine, SmoothAffine, Upscale
from photostyle.core import methods as methods_module
from photostyle.core.methods import (METHODS, ColourTransfer, NeuralStyle, Reporter, Stage, WorkingImages,
                                     colour_transfer_start, noise_start, projected_carry, resize_carry)
from photostyle.core.losses import masked_style_loss
from photostyle.core.matting import photo_laplacian, photorealism_loss
from photostyle.core.objective import STYLE_LAYERS, LossWeights, Objective
from photostyle.core.presets import COARSE_STYLE_LAYERS, COMMON_OPTIONS, FINER_STYLE_LAYERS, PRESETS
from photostyle.core.progress import Progress
from photostyle.core.vgg import VGG19Features, from_caffe, load_vgg19, to_caffe

PYRAMID = NeuralStyle(colour_transfer_start, (Stage("coarse", 0.25, 60, True), Stage("medium", 0.5, 30, True),
                                              Stage("fine", 1.0, 10, True)))
PAPER = NeuralStyle(noise_start, (Stage("style", 1.0, 1000, False), Stage("photorealism", 1.0, 1000, True)))


def counts(method: NeuralStyle) -> list[int]:
    return [stage.iterations for stage in method.stages]


class TestIterationOverrides:
    def test_unset_keeps_the_schedule(self):
        assert PYRAMID.configured({}) == PYRAMID and PYRAMID.iterations == 100 and PAPER.iterations == 2000

    @pytest.mark.parametrize("total, expected", [(100, [60, 30, 10]), (10, [6, 3, 1]), (5, [3, 2, 0]),
                                                 (1, [1, 0, 0]), (0, [0, 0, 0]), (201, [121, 60, 20])])
    def test_a_total_is_split_in_the_presets_proportions(self, total, expected):
        method = PYRAMID.configured({"iterations": total})
        assert counts(method) == expected and sum(counts(method)) == total
        assert [s.name for s in method.stages] == ["coarse", "medium", "fine"]

    def test_the_papers_two_stages_share_a_total(self):
        # The golden reference test's 3 iterations: two without the photorealism term, one with.
        assert counts(PAPER.configured({"iterations": 3})) == [2, 1]
        assert counts(PAPER.configured({"iterations": 2000})) == [1000, 1000]

    def test_stages_set_to_zero_share_a_new_total_evenly(self):
        assert counts(PYRAMID.configured({"iterations": 0}).configured({"iterations": 9})) == [3, 3, 3]


class TestWhatMethodsRead:
    def test_registry_names_every_kind(self):
        assert METHODS == {"neural-style": NeuralStyle, "colour-transfer": ColourTransfer}
        assert PAPER.kind == "neural-style" and ColourTransfer().kind == "colour-transfer"

    def test_smooth_only_where_the_finish_is_smooth(self):
        assert PYRAMID.reads == {"iterations", "smooth"} and ColourTransfer().reads == {"smooth"}
        painterly = NeuralStyle(colour_transfer_start, PYRAMID.stages, carry=resize_carry, finish=Upscale())
        assert painterly.reads == {"iterations"}

    def test_smooth_off_swaps_the_finish(self):
        assert PYRAMID.finish == SmoothAffine() and PYRAMID.configured({"smooth": False}).finish == Upscale()
        assert ColourTransfer().configured({"smooth": False}).finish == Upscale()
        assert PYRAMID.configured({"smooth": True}).finish == SmoothAffine()
        projected = replace(PYRAMID, finish=ProjectedAffine())
        assert projected.reads == {"iterations", "smooth"} and projected.configured({"smooth": False}).finish == Upscale()

    def test_only_optimising_methods_need_the_network(self):
        assert PYRAMID.needs_network and not ColourTransfer().needs_network

    def test_presets_refuse_options_their_method_does_not_read(self):
        assert PRESETS["preview"].reads == COMMON_OPTIONS | {"smooth"}
        with pytest.raises(OptionsError, match="'preview' preset does not use iterations"):
            PRESETS["preview"].configured({"iterations": 5})
        with pytest.raises(OptionsError, match="'painterly' preset does not use smooth"):
            PRESETS["painterly"].configured({"smooth": False})
        assert PRESETS["default"].configured({"size": 64, "iterations": 10}).size == 64
        assert (PRESETS["reference"].iterations, PRESETS["preview"].iterations) == (2000, 0)


class TestScheduleByArithmetic:
    """Where VGG19 runs in float32 on a CPU the default runs its shorter schedule, and says so."""

    CPU = torch.device("cpu")

    def test_a_float32_cpu_runs_the_shorter_schedule_and_the_note_says_how_to_get_the_full_one(self, monkeypatch):
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: False)
        fitted, note = PRESETS["default"].for_device(self.CPU)
        assert counts(fitted.method) == [10, 5, 2] and fitted.iterations == 17
        assert [stage.style_layers for stage in fitted.method.stages] == [
            stage.style_layers for stage in PRESETS["default"].method.stages]  # only the counts change
        assert "10 + 5 + 2 iterations instead of 15 + 8 + 3" in note and "iterations to 26" in note
        assert fitted.for_device(self.CPU) == (fitted, None)  # fitted once

    def test_bfloat16_hardware_and_gpus_run_the_schedule_as_listed(self, monkeypatch):
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: True)
        assert PRESETS["default"].for_device(self.CPU) == (PRESETS["default"], None)
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: False)
        assert PRESETS["default"].for_device(torch.device("cuda")) == (PRESETS["default"], None)

    def test_an_iterations_option_is_the_users_count_on_every_device(self, monkeypatch):
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: False)
        asked = PRESETS["default"].configured({"iterations": 52})
        assert asked.for_device(self.CPU) == (asked, None) and counts(asked.method) == [30, 16, 6]

    def test_the_other_presets_run_as_listed_on_a_float32_cpu(self, monkeypatch):
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: False)
        for name in ("painterly", "reference", "classic", "preview"):
            assert PRESETS[name].for_device(self.CPU) == (PRESETS[name], None), name

    @pytest.mark.parametrize("bfloat16", [True, False])
    def test_a_transfer_reports_and_runs_the_schedule_of_its_arithmetic(self, bfloat16, monkeypatch):
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: bfloat16)
        events: list[Progress] = []
        photo, reference = smooth_rgb(96, 128, seed=1), smooth_rgb(80, 112, seed=2)
        result = transfer(photo, reference, None, TransferOptions(preset="default", size=64, device="cpu"),
                          progress=events.append)
        ran = {event.stage: event.iterations for event in events if event.stage != "finishing"}
        expected = [15, 8, 3] if bfloat16 else [10, 5, 2]
        assert ran == dict(zip(("coarse", "medium", "fine"), expected))
        assert max(event.iteration for event in events if event.stage == "fine") == expected[-1]
        assert any("instead of 15 + 8 + 3" in note for note in result.notes) == (not bfloat16)


class TestRun:
    def images(self, height: int = 64, width: int = 96, device: str = "cpu") -> WorkingImages:
        content = torch.from_numpy(smooth_rgb(height, width, seed=1)).permute(2, 0, 1).contiguous()
        style = torch.from_numpy(smooth_rgb(80, 64, seed=2)).permute(2, 0, 1).contiguous()
        return WorkingImages(content.to(device), style.to(device), torch.ones(1, height, width, device=device),
                             torch.ones(1, 80, 64, device=device))

    @pytest.mark.parametrize("shape", [(64, 96), (77, 101)])
    def test_bfloat16_evaluations_reach_the_float32_loss(self, device, shape, monkeypatch):
        # Forced on whatever the hardware (elsewhere bfloat16 is only slower): a short pyramid in
        # bfloat16 must optimise as well as in float32, including a stage too short for bfloat16's
        # gradient noise to be averaged out (its first step is what FLOAT32_EVALUATIONS protects).
        # With the optimiser settings of the presets that run bfloat16: torch's L-BFGS, unguarded,
        # ended the float32 run's 4-step stage on an overshoot where MKL's products round as on AVX2
        # CPUs (loss 1.56e7 from 1.66e7, against 6.8e6 with AVX-512's rounding).
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: True)
        images = self.images(*shape, device=device)
        losses = {}
        for bfloat16 in (False, True):
            method = NeuralStyle(colour_transfer_start, (Stage("coarse", 0.5, 4, True), Stage("fine", 1.0, 4, True)),
                                 bfloat16=bfloat16, keep_best=True, warm_start=True)
            notes: list[str] = []
            outcome = method.run(images, load_vgg19(device=device), 0, Reporter(method, None, None), notes)
            assert notes == [] and torch.isfinite(outcome.image).all()
            first = sum(outcome.stage_losses["coarse"]["first"].values())
            losses[bfloat16] = outcome.loss
            assert outcome.loss < 0.5 * first
        assert losses[True] < 1.1 * losses[False]

    @pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="this torch has no NNPACK")
    @pytest.mark.parametrize("bfloat16_hardware", [False, True])
    def test_winograd_convolutions_where_float32_runs_on_an_avx2_cpu(self, bfloat16_hardware, nnpack_inputs,
                                                                     monkeypatch):
        # Forced on whatever the CPU: NNPACK computes the wide convolutions of a float32 run and
        # reaches the same loss; where bfloat16 runs, the float32 evaluations keep torch's convolutions.
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: bfloat16_hardware)
        monkeypatch.setattr(methods_module, "winograd_faster", lambda _device: True)
        losses = {}
        for winograd in (False, True):
            method = NeuralStyle(colour_transfer_start, (Stage("coarse", 0.5, 4, True), Stage("fine", 1.0, 4, True)),
                                 bfloat16=True, winograd=winograd, keep_best=True, warm_start=True)
            outcome = method.run(self.images(), load_vgg19(), 0, Reporter(method, None, None), [])
            losses[winograd] = outcome.loss
            assert bool(nnpack_inputs) == (winograd and not bfloat16_hardware)
        assert losses[True] == pytest.approx(losses[False], rel=0 if bfloat16_hardware else 1e-3)

    def test_recoloured_steps_go_further_and_stay_recolourings_of_the_photo(self, device):
        # Without the photorealism term, so only the steps' space keeps the result photo-like: the
        # same 4 + 4 iterations reach a lower loss with half the matting-Laplacian energy or less.
        images = self.images(48, 64, device=device)
        laplacian = photo_laplacian(images.content)
        energy, loss = {}, {}
        for recoloured in (False, True):
            method = NeuralStyle(colour_transfer_start, (Stage("coarse", 0.5, 4, False), Stage("fine", 1.0, 4, False)),
                                 keep_best=True, warm_start=True, recoloured_steps=recoloured)
            outcome = method.run(images, load_vgg19(device=device), 0, Reporter(method, None, None), [])
            energy[recoloured] = float(photorealism_loss(outcome.image, laplacian, 1.0))
            loss[recoloured] = outcome.loss
        assert energy[True] < 0.6 * energy[False]
        assert loss[True] < 0.9 * loss[False]

    @pytest.mark.parametrize("warm_start", [True, False])
    def test_a_warm_started_stage_takes_a_full_first_step_in_bfloat16(self, device, warm_start, monkeypatch):
        # Started from the coarser stage's inverse-Hessian scale, the fine stage's first step is a real
        # one (the loss moves at once; on so short a coarse stage it may overshoot, and L-BFGS learns
        # from that) and needs no float32 evaluations; torch's cold first step is 1/|g|₁ long and
        # barely moves the loss, so its first evaluations must stay float32.
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: True)
        evaluations: list[tuple[int, bool]] = []  # (width, in bfloat16) of each optimiser evaluation
        terms = Objective.terms

        def spied(objective, x, photoreal, bfloat16=False, *rest):
            if torch.is_grad_enabled():
                evaluations.append((x.shape[-1], bfloat16))
            return terms(objective, x, photoreal, bfloat16, *rest)
        monkeypatch.setattr(Objective, "terms", spied)
        reports: list[Progress] = []
        method = NeuralStyle(colour_transfer_start, (Stage("coarse", 0.5, 5, True), Stage("fine", 1.0, 4, True)),
                             bfloat16=True, keep_best=True, warm_start=warm_start)
        outcome = method.run(self.images(device=device), load_vgg19(device=device), 0,
                             Reporter(method, reports.append, None), [])
        coarse = [bfloat16 for width, bfloat16 in evaluations if width == 48]
        fine = [bfloat16 for width, bfloat16 in evaluations if width == 96]
        assert coarse == [False, False, True, True, True]  # the first stage starts cold either way
        fine_losses = [report.loss for report in reports if report.stage == "fine"]
        if warm_start:
            assert fine == [True] * 4
            assert abs(fine_losses[1] - fine_losses[0]) > 0.1 * fine_losses[0]
        else:
            assert fine == [False, False, True, True]
            assert fine_losses[1] == pytest.approx(fine_losses[0], rel=0.02)
        assert outcome.loss < 0.5 * sum(outcome.stage_losses["coarse"]["first"].values())

    @pytest.mark.parametrize("bfloat16", [True, False])
    def test_the_defaults_schedule_cut_short_at_a_tiny_size_does_not_explode(self, device, bfloat16, monkeypatch):
        # The demo pair with the default cut to 10 iterations at 64 px: its fine stage of 2 iterations
        # ended on L-BFGS's unevaluated, overshooting step (loss 5e13 against 3e7: a grey image).
        monkeypatch.setattr(methods_module, "runs_bfloat16_fast", lambda _device: bfloat16)
        examples = resources.files("photostyle.server.cli.examples")
        photo, reference = (load_image(BytesIO((examples / name).read_bytes())) for name in ("coffee.png", "rocket.jpg"))
        result = transfer(photo, reference, None, TransferOptions(preset="default", size=64, iterations=10, device=device))
        for stage, losses in result.stage_losses.items():
            first, last = (sum(losses[when].values()) for when in ("first", "last"))
            assert last < 4 * first, f"{stage}: {first:.3g} -> {last:.3g}"  # unguarded: 5e13 against 3e7

    def test_the_papers_presets_stay_float32(self):
        assert not PRESETS["reference"].method.bfloat16 and not PRESETS["classic"].method.bfloat16
        assert PRESETS["default"].method.bfloat16 and PRESETS["default"].method.keep_best
        assert not PRESETS["reference"].method.keep_best and not PRESETS["classic"].method.keep_best
        assert PRESETS["default"].method.warm_start and PRESETS["painterly"].method.warm_start
        assert not PRESETS["reference"].method.warm_start and not PRESETS["classic"].method.warm_start

    def test_a_stage_can_match_fewer_style_layers_and_runs_vgg19_only_as_deep_as_they_need(self):
        images = self.images()
        net = load_vgg19()
        objective = Objective(net, images.content, images.style, images.content_masks, images.style_masks,
                              LossWeights())
        x = to_caffe(images.content)
        deepest = []
        forward = VGG19Features.forward

        def spied(module, x, wanted):
            deepest.append(max(wanted, key=list(module.layers).index))
            return forward(module, x, wanted)
        with torch.no_grad(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(VGG19Features, "forward", spied)
            every = objective.terms(x, False)
            fewer = objective.terms(x, False, style_layers=FINER_STYLE_LAYERS)
            left_out = sum(masked_style_loss(net(x, [layer])[layer], objective.content_regions[layer],
                                             objective.style_targets[layer], LossWeights().style)
                           for layer in ("relu1_1", "relu5_1"))
        assert deepest[:2] == ["relu5_1", "relu4_2"]  # the content layer is the deepest the fine stage needs
        assert float(fewer["style"]) == pytest.approx(float(every["style"] - left_out), rel=1e-5)
        assert float(fewer["content"]) == float(every["content"])

    def test_each_sizes_objective_holds_only_the_targets_its_stages_match(self):
        # The default's ½- and full-size stages match relu2_1…relu4_1: their objectives' pass over the
        # reference stops at relu4_1, and the targets they keep are the full objective's, exactly.
        images = self.images()
        net = load_vgg19()
        built: list[Objective] = []
        target_passes: list[list[str]] = []  # the deepest layer of each pass while an objective is built
        evaluation_passes: list[str] = []  # the deepest layer of every other pass
        forward = VGG19Features.forward

        class Spied(Objective):
            def __init__(self, *args, **kwargs):
                target_passes.append([])
                super().__init__(*args, **kwargs)
                built.append(self)

        def spied(module, x, wanted):
            deepest = max(wanted, key=list(module.layers).index)
            (target_passes[-1] if len(target_passes) > len(built) else evaluation_passes).append(deepest)
            return forward(module, x, wanted)
        method = replace(PRESETS["default"].method, bfloat16=False, winograd=False).configured({"iterations": 3})
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(methods_module, "Objective", Spied)
            patch.setattr(VGG19Features, "forward", spied)
            method.run(images, net, 0, Reporter(method, None, None), [])
        assert [sorted(objective.style_targets) for objective in built] == [
            sorted(COARSE_STYLE_LAYERS), sorted(FINER_STYLE_LAYERS), sorted(FINER_STYLE_LAYERS)]
        # The photo's content pass, then the reference's; the finer sizes have no content term (recoloured
        # steps keep the photo's structure), so no content pass, and their evaluations stop at relu4_1.
        assert target_passes == [["relu4_2", "relu4_1"], ["relu4_1"], ["relu4_1"]]
        assert built[1].content_target is None and built[2].content_target is None
        # 2 + 1 + 0 iterations; the closing evaluation of the stage that starts cold, and of the one
        # that took no step (a warm-started stage with steps is not evaluated at its result).
        assert evaluation_passes == ["relu4_2"] * 3 + ["relu4_1"] * 2
        with pytest.raises(AssertionError, match="no content term"):
            built[1].terms(to_caffe(images.at_scale(0.5).content), False, style_layers=FINER_STYLE_LAYERS)
        medium = images.at_scale(0.5)
        every = Objective(net, medium.content, medium.style, medium.content_masks, medium.style_masks, LossWeights())
        for layer in FINER_STYLE_LAYERS:
            assert torch.equal(built[1].style_targets[layer], every.style_targets[layer])
        with pytest.raises(KeyError):
            built[1].terms(to_caffe(medium.content), False, content=False)  # asks for relu1_1, which it was not built for

    def test_the_fast_schedule_leaves_relu1_1_and_relu5_1_to_its_coarsest_stage(self):
        for name in ("default", "painterly"):
            coarse, medium, fine = PRESETS[name].method.stages
            # The default's recoloured steps match relu5_1 nowhere.
            assert coarse.style_layers == (COARSE_STYLE_LAYERS if name == "default" else STYLE_LAYERS)
            assert medium.style_layers == fine.style_layers == FINER_STYLE_LAYERS == STYLE_LAYERS[1:4]
        assert COARSE_STYLE_LAYERS == STYLE_LAYERS[:4]
        assert all(stage.style_layers == STYLE_LAYERS for stage in PRESETS["reference"].method.stages)

    def test_the_result_is_at_the_last_stages_size_with_its_photo(self):
        images = self.images()
        method = PYRAMID.configured({"iterations": 6})
        outcome = method.run(images, load_vgg19(), 0, Reporter(method, None, None), [])
        assert outcome.image.shape == (3, 64, 96) and outcome.photo is images.content
        assert outcome.image.min() >= 0 and outcome.image.max() <= 1
        assert list(outcome.stage_losses) == ["coarse", "medium", "fine"]
        # Each coarser stage worked on a smaller image: the objective's content target shrinks with it.
        assert outcome.stage_losses["coarse"]["last"]["style"] < outcome.stage_losses["coarse"]["first"]["style"]
        # The loss it reports is what the last stage minimised: every term, photorealism included.
        assert outcome.loss == pytest.approx(sum(outcome.stage_losses["fine"]["last"].values()))

    def test_a_stage_without_photorealism_reports_the_loss_without_it(self):
        images = self.images()
        method = NeuralStyle(noise_start, (Stage("style", 1.0, 2, False),))
        outcome = method.run(images, load_vgg19(), 0, Reporter(method, None, None), [])
        last = outcome.stage_losses["style"]["last"]
        assert "photorealism" not in last and outcome.loss == pytest.approx(sum(last.values()))

    def test_the_colour_transfer_matches_the_references_colour(self):
        images = self.images()
        method = ColourTransfer()
        outcome = method.run(images, None, 0, Reporter(method, None, None), [])
        assert outcome.stage_losses == {} and outcome.image.shape == (3, 64, 96) and outcome.loss == 0
        # The colour transfer of a photo to a reference: its mean colour is the reference's.
        torch.testing.assert_close(outcome.image.mean(dim=(1, 2)), images.style.mean(dim=(1, 2)), atol=1e-3, rtol=0)

    def test_the_projected_carry_keeps_the_coarser_colours_as_a_recolouring_of_the_photo(self):
        images = self.images()
        small = images.at_scale(0.5)
        tint = torch.tensor([[0.6, 0.3, 0.0], [0.1, 0.7, 0.1], [0.0, 0.2, 0.5]])
        offset = torch.tensor([0.25, 0.05, 0.2])[:, None, None]

        def tinted(photo: torch.Tensor) -> torch.Tensor:
            return torch.einsum("ij,jhw->ihw", tint, photo) + offset
        noise = torch.randn(3, *small.content.shape[-2:], generator=torch.Generator().manual_seed(3)) * 0.05
        x = to_caffe((tinted(small.content) + noise).clamp(0, 1))
        carried = from_caffe(projected_carry(x, small.content, None, images))
        assert carried.shape == images.content.shape
        # The tint reaches the full-size photo, the noise (no affine map of the photo) does not.
        error = (carried - tinted(images.content).clamp(0, 1)).abs().mean()
        resized_error = (from_caffe(resize_carry(x, small.content, None, images)) - tinted(images.content)).abs().mean()
        assert error < 0.02 and error < 0.5 * resized_error

    def test_the_resize_carry_keeps_the_image_not_the_photo(self):
        images = self.images()
        small = images.at_scale(0.5)
        x = to_caffe(torch.rand(3, *small.content.shape[-2:]))
        carried = resize_carry(x, small.content, None, images)
        assert carried.shape == (1, 3, *images.content.shape[-2:])
        # A plain resize: its mean colour is the small image's, whatever the photo looks like.
        torch.testing.assert_close(carried.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=1.0, rtol=0)
