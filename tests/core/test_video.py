"""Sequences: cut detection, keyframes, looks carried and blended over time (photostyle.core.video)."""

from __future__ import annotations

import numpy as np
import pytest

from core_test_helpers import smooth_rgb
from photostyle.core import InputImageError, Look, Lut, OptionsError, TransferOptions, apply_look
from photostyle.core import detail, video
from photostyle.core.looks import lattice_colours
from photostyle.core.video import blended_look, fit_keyframes, plan_sequence, style_frames

PREVIEW = TransferOptions(preset="preview", device="cpu")


def photo(seed: int, height: int = 96, width: int = 160) -> np.ndarray:
    return np.round(smooth_rgb(height, width, seed=seed, detail=16) * 255).astype(np.uint8)


def lattice(transform) -> Look:
    return Look(Lut(transform(lattice_colours(9).reshape(9, 9, 9, 3)).astype(np.float32)))


WARM = lattice(lambda rgb: rgb * np.float32([1.0, 0.85, 0.6]))
COOL = lattice(lambda rgb: rgb[..., [2, 1, 0]] ** 1.2)


def through(look: Look, frame: np.ndarray) -> np.ndarray:
    """`frame` as a sequence's frame through `look`: its base recoloured, its fine detail added back."""
    base, fine = detail.split_detail(frame)
    return detail.add_detail(apply_look(look, base), fine)


def styled(frames: list[np.ndarray], style: np.ndarray, **plan_options) -> tuple[list[np.ndarray], video.SequencePlan,
                                                                                  dict[int, Look]]:
    plan = plan_sequence(iter(frames), fps=24, **plan_options)
    looks, _ = fit_keyframes(plan, style, PREVIEW)
    return list(style_frames(iter(frames), plan, looks)), plan, looks


class TestCuts:
    def test_a_pan_a_lighting_ramp_and_noise_are_one_shot_and_a_cut_is_found(self):
        scene = photo(1, 120, 400)
        pan = [scene[:, 4 * t:4 * t + 160] for t in range(20)]
        light = [np.clip(pan[-1] * np.float32([1 + 0.03 * t, 1 + 0.02 * t, 1 + 0.01 * t]), 0, 255).astype(np.uint8)
                 for t in range(1, 21)]  # warmer and brighter, 3 % a frame
        noise = np.random.default_rng(0)
        noisy = [np.clip(light[-1] + noise.integers(-6, 7, light[-1].shape), 0, 255).astype(np.uint8)
                 for _ in range(10)]
        clip = pan + light + noisy + [photo(7, 120, 160)] * 5
        detector = video.CutDetector()
        assert [index for index, frame in enumerate(clip) if detector.push(frame)] == [0, 50]


class TestPlan:
    def test_keyframes_are_the_first_frame_of_each_shot_and_one_every_n_seconds(self):
        frames = [photo(1)] * 30 + [photo(2)] * 10
        plan = plan_sequence(iter(frames), fps=10, every_s=1.2)
        assert plan.frame_count == 40 and plan.cuts == (0, 30) and plan.keyframes == (0, 12, 24, 30)
        assert set(plan.images) == set(plan.keyframes) and np.array_equal(plan.images[12], frames[12])

    def test_given_keyframes_replace_the_automatic_ones_but_every_shot_keeps_one(self):
        frames = [photo(1)] * 20 + [photo(2)] * 10 + [photo(3)] * 10
        plan = plan_sequence(iter(frames), fps=24, keyframes=[5, 25])
        assert plan.cuts == (0, 20, 30) and plan.keyframes == (5, 25, 30)

    def test_blend_within_a_shot_never_across_a_cut(self):
        plan = video.SequencePlan(40, 24.0, (0, 30), (0, 16, 30))
        assert plan.blend(0) == ((0, 1.0),) and plan.blend(16) == ((16, 1.0),)
        assert plan.blend(8) == ((0, 0.5), (16, 0.5))
        assert plan.blend(29) == ((16, 1.0),) and plan.blend(30) == ((30, 1.0),) and plan.blend(39) == ((30, 1.0),)

    @pytest.mark.parametrize("frames, options, words", [
        ([], {}, "has no frames"),
        ([photo(1), photo(1)[:64]], {}, "every frame of a sequence must have one size"),
        ([np.zeros((1, 1, 3), np.uint8)], {}, "both sides must be at least 8 px"),
        ([photo(1)] * 3, {"keyframes": [0, 9]}, "Keyframe 9 is past the last frame (2)"),
        ([photo(1)], {"every_s": 0}, "give a positive number of seconds"),
    ])
    def test_refusals(self, frames, options, words):
        with pytest.raises((InputImageError, OptionsError), match=".*") as error:
            plan_sequence(iter(frames), fps=24, **options)
        assert words in str(error.value)


class TestStyle:
    def test_a_shifted_photo_gives_the_same_result_shifted(self):
        scene = photo(3, 96, 200)
        frames = [np.ascontiguousarray(scene[:, 5 * t:5 * t + 160]) for t in range(6)]
        out, plan, _ = styled(frames, photo(9))
        assert plan.keyframes == (0,)
        assert np.abs(out[0].astype(int) - frames[0]).mean() > 5  # styled, not passed through
        for t in range(1, 6):
            # Frame t is frame 0 moved 5t px left: so is its result (the same colours, the same look), away
            # from the borders, where the smoothing of the base sees different pixels.
            margin = detail.reach()
            assert np.abs(out[t][:, margin:160 - 5 * t - margin].astype(int) - out[0][:, 5 * t + margin:-margin]).max() <= 1

    def test_each_side_of_a_cut_gets_the_look_of_its_own_keyframe(self):
        first, second = photo(1), photo(2)
        out, plan, looks = styled([first] * 3 + [second] * 3, photo(9))
        assert plan.cuts == (0, 3) and plan.keyframes == (0, 3)
        assert all(np.array_equal(frame, through(looks[0], first)) for frame in out[:3])
        assert all(np.array_equal(frame, through(looks[3], second)) for frame in out[3:])
        assert np.abs(through(looks[0], second).astype(int) - out[3]).mean() > 2  # the other look would differ

    def test_noise_does_not_become_flicker(self):
        base = photo(4).astype(int)
        noise = np.random.default_rng(1)
        frames = [np.clip(base + noise.integers(-4, 5, base.shape), 0, 255).astype(np.uint8) for _ in range(6)]
        out, _, _ = styled(frames, photo(9))

        def flicker(sequence):  # the frame's mean colour moving from frame to frame
            means = np.array([frame.reshape(-1, 3).mean(axis=0) for frame in sequence])
            return np.abs(np.diff(means, axis=0)).max()

        def changes(sequence):
            return np.mean([np.abs(b.astype(int) - a).mean() for a, b in zip(sequence, sequence[1:])])

        assert flicker(out) <= flicker(frames) + 0.05
        assert changes(out) <= changes(frames) * 1.05

    def test_between_keyframes_the_look_moves_in_small_steps(self):
        frame = photo(5)
        plan = video.SequencePlan(17, 24.0, (0,), (0, 16))
        out = list(style_frames(iter([frame] * 17), plan, {0: WARM, 16: COOL}))
        assert np.array_equal(out[0], through(WARM, frame)) and np.array_equal(out[16], through(COOL, frame))
        assert np.array_equal(out[8], through(blended_look({0: WARM, 16: COOL}, ((0, 0.5), (16, 0.5))), frame))
        total = np.abs(out[16].astype(int) - out[0]).max()
        steps = [np.abs(b.astype(int) - a).max() for a, b in zip(out, out[1:])]
        assert total > 40 and max(steps) <= total / 16 + 2

    def test_large_8_bit_frames_go_through_a_table_of_all_colours_with_the_same_result(self, monkeypatch):
        monkeypatch.setattr(video, "DENSE_MIN_PIXELS", 1)
        frame = photo(6)
        rgba = np.dstack([frame, np.arange(frame.size // 3).reshape(frame.shape[:2]) % 256]).astype(np.uint8)
        plan = video.SequencePlan(3, 24.0, (0,), (0, 2))
        out = list(style_frames(iter([frame, frame, rgba]), plan, {0: WARM, 2: COOL}))
        assert np.array_equal(out[0], through(WARM, frame))
        assert np.abs(out[1].astype(int) - through(blended_look({0: WARM, 2: COOL}, plan.blend(1)), frame)).max() <= 1
        assert np.array_equal(out[2], through(COOL, rgba))  # alpha untouched

    def test_a_sequence_that_changed_between_the_passes_is_refused(self):
        plan = video.SequencePlan(2, 24.0, (0,), (0,))
        with pytest.raises(InputImageError, match="ended after 1 of the 2 frames"):
            list(style_frames(iter([photo(1)]), plan, {0: WARM}))

    def test_frames_smaller_than_the_network_takes_are_enlarged_for_their_keyframe(self):
        small = photo(1, 24, 32)
        out, _, looks = styled([small, small], photo(9))
        assert out[0].shape == small.shape and np.abs(out[0].astype(int) - small).mean() > 2


def lighting_ramp(frames: int, scene: np.ndarray) -> list[np.ndarray]:
    """A still photo brightening and warming, 2 % a frame in red (1.3 % green, 0.5 % blue)."""
    return [np.clip(scene * np.float32([1 + 0.02 * t, 1 + 0.013 * t, 1 + 0.005 * t]), 0, 255).astype(np.uint8)
            for t in range(frames)]


#: A narrow range of colours: its transfer after a vivid photo is a steep look.
DULL = np.round(110 + (photo(8).astype(np.float32) - 128) * 0.3).astype(np.uint8)


#: A steep look: contrast 4× around mid-grey (a transfer from a dull photo to a vivid one is like it).
STEEP = lattice(lambda rgb: np.clip((rgb - 0.45) * 4 + 0.5, 0, 1))


def steps(sequence: list[np.ndarray]) -> float:
    """How much a sequence changes from frame to frame: the mean absolute change, averaged over frames."""
    return float(np.mean([np.abs(b.astype(int) - a).mean() for a, b in zip(sequence, sequence[1:])]))


class TestDetail:
    def test_a_steep_look_sets_the_tone_but_does_not_steepen_detail_that_changes_from_frame_to_frame(self):
        # A zoom resamples its frames anew: texture a pixel wide changes from frame to frame (here, freshly drawn).
        texture = np.random.default_rng(3)
        frames = [np.clip(DULL + texture.normal(0, 3, DULL.shape), 0, 255).round().astype(np.uint8) for _ in range(6)]
        plan = video.SequencePlan(6, 24.0, (0,), (0,))
        out = list(style_frames(iter(frames), plan, {0: STEEP}))
        whole = list(style_frames(iter(frames), plan, {0: STEEP}, detail_sigma=0))  # the look on every pixel
        assert steps(whole) > 2.5 * steps(frames)  # the 4× look multiplies the texture's change ...
        assert steps(out) <= 1.5 * steps(frames)  # ... kept at its own contrast, it changes as the input does
        # The tone is the look's: its contrast and its mean colour.
        assert out[0].std() > 2.5 * frames[0].std()
        assert np.abs(out[0].reshape(-1, 3).mean(0) - whole[0].reshape(-1, 3).mean(0)).max() < 2


class TestLight:
    def test_a_change_of_light_that_the_look_carries_gets_no_keyframe_a_large_one_does(self):
        plan = plan_sequence(iter(lighting_ramp(12, photo(4))), fps=24)  # +22 % in red: carried
        assert plan.keyframes == (0,)
        plan = plan_sequence(iter(lighting_ramp(36, photo(4))), fps=24)  # +70 %: highlights clip
        gap = round(video.DRIFT_GAP_S * 24)
        assert plan.cuts == (0,) and len(plan.keyframes) >= 2  # the light is followed ...
        assert all(b - a >= gap for a, b in zip(plan.keyframes, plan.keyframes[1:]))  # ... at a bounded rate
        assert set(plan.images) == set(plan.keyframes)

    def test_steady_light_grain_and_given_keyframes_add_none(self):
        base = photo(4).astype(int)
        noise = np.random.default_rng(2)
        grainy = [np.clip(base + noise.integers(-6, 7, base.shape), 0, 255).astype(np.uint8) for _ in range(30)]
        assert plan_sequence(iter(grainy), fps=24).keyframes == (0,)
        assert plan_sequence(iter(lighting_ramp(36, photo(4))), fps=24, keyframes=[0]).keyframes == (0,)

    def test_the_gains_to_a_keyframe_undo_a_change_of_light_but_not_a_change_of_picture(self):
        scene = photo(4)
        brighter = video.Light.of(np.clip(np.round(scene * np.float32([1.2, 1.1, 1.0])), 0, 255).astype(np.uint8))
        assert np.allclose(brighter.gains_to(video.Light.of(scene)), [1 / 1.2, 1 / 1.1, 1.0], atol=0.02)
        wide = photo(3, 96, 200)
        moved = video.Light.of(np.ascontiguousarray(wide[:, 30:190]))
        assert np.array_equal(moved.gains_to(video.Light.of(np.ascontiguousarray(wide[:, :160]))), np.ones(3))
        assert np.array_equal(video.Light.of(photo(1)).gains_to(video.Light.of(photo(2))), np.ones(3))

    def test_a_steep_look_does_not_amplify_a_lighting_change_nor_its_8_bit_rounding(self, monkeypatch):
        frames = lighting_ramp(16, DULL)
        plan = plan_sequence(iter(frames), fps=24)
        assert plan.keyframes == (0,)
        as_is = [apply_look(STEEP, frame) for frame in frames]  # the look alone, at each frame's light
        out = list(style_frames(iter(frames), plan, {0: STEEP}))
        assert steps(as_is) > 3 * steps(frames)  # the look multiplies the change ...
        assert steps(out) <= 0.5 * steps(frames)  # ... read at the keyframe's light, the frames keep its result
        assert np.abs(out[-1].astype(int) - out[0]).mean() <= 2
        monkeypatch.setattr(video, "FILTER_REACH", 0.0)  # each frame's 8-bit levels as they are
        unfiltered = list(style_frames(iter(frames), plan, {0: STEEP}))
        assert steps(unfiltered) > 1.5 * steps(out)

    def test_a_steep_look_does_not_amplify_codec_noise_while_the_light_changes(self, monkeypatch):
        # As a codec leaves a ramp: each frame's own errors, in 8×8 blocks, 1.5 levels rms (H.264 at its default
        # quality changed benchmarks/video.py's ramp by 1.3 levels rms a frame beyond the change of light).
        clean = lighting_ramp(16, DULL)
        generator = np.random.default_rng(0)
        noisy = []
        for frame in clean:
            blocks = generator.normal(0, 1.5, (frame.shape[0] // 8, frame.shape[1] // 8, 3)).repeat(8, 0).repeat(8, 1)
            noisy.append(np.clip(np.round(frame + blocks), 0, 255).astype(np.uint8))
        plan = plan_sequence(iter(noisy), fps=24)
        assert plan.keyframes == (0,)
        out = list(style_frames(iter(noisy), plan, {0: STEEP}))
        assert steps(out) <= steps(noisy)  # the look is 4× steep: the noise is held back before it
        truth = list(style_frames(iter(clean), plan_sequence(iter(clean), fps=24), {0: STEEP}))
        monkeypatch.setattr(video, "FILTER_REACH", 0.0)  # each frame's levels as they are
        unfiltered = list(style_frames(iter(noisy), plan, {0: STEEP}))
        assert steps(unfiltered) > 2 * steps(out)

        def error(frames: list[np.ndarray]) -> float:  # from the clean ramp's result, once the filter settled
            return float(np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames[8:], truth[8:])]))
        assert error(out) < 0.7 * error(unfiltered)  # held back, not smeared: closer to the clean frames' result

    def test_a_steep_transfer_does_not_amplify_a_lighting_change(self):
        frames = lighting_ramp(13, DULL)
        out, plan, looks = styled(frames, photo(9))
        as_is = [apply_look(looks[0], frame) for frame in frames]
        assert steps(as_is) > steps(frames) * 1.5  # the first keyframe's look amplifies the change ...
        assert steps(out) <= steps(frames)  # ... read at the keyframe's light, it does not

    def test_large_frames_are_matched_to_the_keyframe_light_alike(self, monkeypatch):
        frames = lighting_ramp(6, photo(4))
        plan = plan_sequence(iter(frames), fps=24)
        small = list(style_frames(iter(frames), plan, {0: STEEP}))
        monkeypatch.setattr(video, "DENSE_MIN_PIXELS", 1)
        assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(small, style_frames(iter(frames), plan,
                                                                                               {0: STEEP})))
