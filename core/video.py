"""Style a sequence of frames (a video, an animation) so the look is a single-photo transfer's and
stays put over time.

Per-frame transfer flickers: each frame's optimisation lands somewhere slightly different. Here a
transfer runs only on keyframes (the first frame of every shot, one every `every_s` seconds in a
long shot, and where the light changed a lot: KEY_DRIFT); each keyframe's result is kept as a look
(the engine's `look_size`, a 3D LUT), and every frame is recoloured by a look. A LUT is a fixed
colour map: the same colour comes out the same in every frame, so motion, grain and noise cannot
turn into flicker. Between two keyframes of a shot the two LUTs are blended by time (a blend of
LUTs is the LUT of the blended colours: a smooth transition, never a jump); across a cut nothing
is blended: each shot keeps its own keyframes' looks. When the light changes within a shot, each
look reads the frame at its keyframe's light (`Light`), so that a steep look does not multiply the
change into flicker. A look recolours each frame's base, and the frame's finest detail is added back
at its own contrast (`core.detail`): motion changes fine detail from frame to frame (a zoom
resamples every frame anew), and a steep look would multiply that shimmer too.

Three steps, each streaming frames so that a clip is never held in memory (a caller reads its
frames twice; a daemon can feed them one by one):

    plan = plan_sequence(frames(), fps)                  # pass 1: cuts, keyframes (only they are kept)
    looks = fit_keyframes(plan, style, options)          # a transfer and a look per keyframe
    for frame in style_frames(frames(), plan, looks):    # pass 2: every frame through its look
        ...
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from .detail import DETAIL_SIGMA, add_detail, split_detail, split_levels
from .errors import InputImageError, OptionsError
from .images import MIN_SIDE, downscale, read_only_tensor, rebuild, resize_image, split_pixels
from .looks import DEFAULT_SIZE, Interpolation, Look, Lut, apply_look, lookup_function
from .options import TransferOptions
from .progress import CancelToken, ProgressCallback, one_of
from .transfer import Recipe, check_options, transfer

#: A long shot gets a keyframe this often (seconds), so a slow change of light or scene is followed.
DEFAULT_EVERY_S = 10.0
#: Frames smaller than this on a side carry too few colours to fit a look from.
MIN_FRAME_SIDE = 8

#: Cut detection: each frame is reduced to about THUMB_PIXELS, each channel's gain normalised (a
#: change of light scales the colours and is not a cut), and its colours counted in a joint RGB
#: histogram of HISTOGRAM_BINS³ bins. A cut is a histogram distance (total variation, 0 … 1) above CUT_FLOOR and
#: above CUT_FACTOR times the median distance of the shot's last RECENT frames: a pan or a noisy
#: shot changes its histogram a little every frame, a cut at once.
THUMB_PIXELS = 96 * 54
HISTOGRAM_BINS = 8
CUT_FLOOR = 0.3
CUT_FACTOR = 4.0
RECENT = 12

#: Light. A look is fitted at its keyframe's light, and a steep look passes a change of light on
#: multiplied by its slope, pixel by pixel (measured: 6× and more with a `default` look). So each
#: keyframe's look reads a frame at the keyframe's light: the frame's colours times per-channel gains
#: (a von Kries adaptation), those that best turn the frame's thumbnail into the keyframe's, pixel
#: by pixel (`Light.gains_to`). That is right only when the frame is the keyframe's picture under
#: another light: the gains apply in full when they explain SAME_PICTURE[1] of the difference
#: between the two thumbnails, not at all below SAME_PICTURE[0] (measured on benchmarks/video.py's
#: clips: a lighting ramp 0.91 at its first frame, 0.99 after; pans, zooms and cuts 0.1 at most;
#: steady grain 0): a pan onto darker things is not a dimmer light, and a moved picture keeps the
#: look as it is (the same colours give the same result). Gains within GAIN_TOLERANCE of 1 move no
#: 8-bit level (255 × 1/510 = half a level): the frame is read as it is, through the 8-bit tables of
#: steady light (DENSE_MIN_PIXELS); a matched 1080p frame takes several times longer.
SAME_PICTURE = (0.3, 0.6)
#: The fraction explained is measured on the thumbnails averaged over blocks of this many pixels a
#: side, where a codec's errors (blocks of a few thumbnail pixels, anew each frame) average out: on
#: the H.264 ramp the first frame of a change read 0.62 on the thumbnails, 0.70 so (pans ≤ 0.04).
SAME_PICTURE_BLOCK = 4
GAIN_TOLERANCE = 1 / 510
#: Gains are kept within this range: a channel that turns black or appears is no change of light.
GAIN_RANGE = (0.25, 4.0)
#: Pass 1: a frame whose `light_level` drifted KEY_DRIFT (in any channel) from its shot's last
#: keyframe's beyond what the gains carry is a keyframe too, and so is one that drifted LIGHT_RANGE
#: even if they carry it (about 35 %: highlights clip, and the keyframe's colours no longer cover
#: the frame's); at most one every DRIFT_GAP_S seconds (a fast, long change costs 4 transfers a
#: second at most).
KEY_DRIFT = 0.1
LIGHT_RANGE = 0.3
DRIFT_GAP_S = 0.25
#: Added to a channel's mean before its log, so that a near-black frame's noise is not a drift.
LEVEL_FLOOR = 1 / 64
#: 8-bit frames while their light changes are filtered over time before the look reads them: each
#: is rounded to 8 bits anew, and a codec adds errors of several levels that change from frame to
#: frame where the light changes (3.4 levels rms on benchmarks/video.py's H.264 ramp); a steep look
#: multiplies both. A pixel whose level in the frame before (as filtered), scaled by the change of
#: light, predicts it within FILTER_REACH levels is a still part of the picture: it keeps that
#: prediction, weighted by how close it came (1 at 0, none at FILTER_REACH), and takes FILTER_WEIGHT
#: of its own level (a recursive average over ~1/FILTER_WEIGHT frames, so the prediction follows the
#: picture). A moving pixel keeps its own level. Measured on that ramp (warping error ÷ the
#: input's, `preview` / `default` look): 32 / 0.1 gave 0.69 / 1.79, 24 / 0.1 0.74 / 1.90, 32 / 0.05
#: 0.6 / 1.60 (a longer memory: more smear of faint moving details); the former ±0.5-level
#: refinement 9.3 with `preview`.
FILTER_REACH = 32.0
FILTER_WEIGHT = 0.1

#: Between two keyframes the look moves in this many equal steps (at most one a frame): smooth to the
#: eye, and each blend of two 8-bit tables is made once, not once per frame.
BLEND_STEPS = 32
#: 8-bit RGB frames of at least this many pixels are recoloured through a table of all 2²⁴ colours
#: (made once per keyframe look, in about a second): a 1080p frame takes ~0.05 s instead of ~0.6 s.
DENSE_MIN_PIXELS = 1 << 18


@dataclass(frozen=True)
class SequencePlan:
    """Where the shots and keyframes of a sequence are, from a first pass over its frames.

    `cuts`: the first frame of every shot (0 first); `keyframes`: the frames whose transfers give
    the looks, sorted, at least one in every shot; `images`: those frames, as read."""

    frame_count: int
    fps: float
    cuts: tuple[int, ...]
    keyframes: tuple[int, ...]
    images: Mapping[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def shot(self, index: int) -> tuple[int, int]:
        """The frames [start, stop) of the shot holding frame `index`."""
        position = np.searchsorted(self.cuts, index, side="right")
        stop = self.cuts[position] if position < len(self.cuts) else self.frame_count
        return self.cuts[position - 1], stop

    def blend(self, index: int, steps: int | None = BLEND_STEPS) -> tuple[tuple[int, float], ...]:
        """The keyframes whose looks make frame `index`'s look, with their weights (summing to 1):
        its shot's keyframe before and after it, by time (in `steps` steps, or exactly with None);
        only one before the shot's first keyframe, after its last, or on a keyframe."""
        start, stop = self.shot(index)
        own = [key for key in self.keyframes if start <= key < stop]
        before = [key for key in own if key <= index]
        after = [key for key in own if key > index]
        if not before or not after:
            return ((before[-1] if before else after[0], 1.0),)
        first, second = before[-1], after[0]
        weight = (index - first) / (second - first)
        if steps:
            weight = round(weight * steps) / steps
        if weight in (0.0, 1.0):
            return ((second if weight else first, 1.0),)
        return (first, 1.0 - weight), (second, weight)


class CutDetector:
    """Says, frame by frame, whether a frame starts a new shot (see CUT_FLOOR); it looks only back,
    so frames can be streamed through it. `light` is the last frame's `Light`."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=RECENT)
        self.light: Light | None = None

    def push(self, frame: np.ndarray) -> bool:
        self.light = Light.of(frame)
        histogram = colour_histogram(self.light.thumb)
        if self._previous is None:
            distance, cut = 0.0, True
        else:
            distance = 0.5 * float(np.abs(histogram - self._previous).sum())
            recent = float(np.median(self._recent)) if self._recent else 0.0
            cut = distance > CUT_FLOOR and distance > CUT_FACTOR * recent
        self._previous = histogram
        if cut:
            self._recent.clear()
        else:
            self._recent.append(distance)
        return cut


def _thumbnail(frame: np.ndarray) -> torch.Tensor:
    """The frame reduced to about THUMB_PIXELS, as 3×h×w float RGB in [0, 1]."""
    pixels = split_pixels(frame, "frame", min_side=1)
    scale = min(1.0, math.sqrt(THUMB_PIXELS / (pixels.height * pixels.width)))
    shape = max(1, round(pixels.height * scale)), max(1, round(pixels.width * scale))
    return downscale(pixels, shape)


def colour_histogram(thumb: torch.Tensor) -> np.ndarray:
    """A thumbnail's colours, each channel divided by its mean (a brighter or warmer light is not a
    cut), as a normalised HISTOGRAM_BINS³ histogram."""
    thumb = (thumb * (0.5 / thumb.mean(dim=0).clamp_min(1e-3))).clamp_(0, 1 - 1e-6)
    index = (thumb * HISTOGRAM_BINS).long() @ torch.tensor([HISTOGRAM_BINS ** 2, HISTOGRAM_BINS, 1])
    counts = torch.bincount(index, minlength=HISTOGRAM_BINS ** 3).numpy().astype(np.float64)
    return counts / counts.sum()


def light_level(thumb: torch.Tensor) -> np.ndarray:
    """A thumbnail's log mean level per channel: a change of light (or of what the frame shows)
    moves it; the drift between two frames is the largest channel's difference (0.1 ≈ 10 %)."""
    return np.log(thumb.mean(dim=0).double().numpy() + LEVEL_FLOOR)


@dataclass(frozen=True)
class Light:
    """A frame's light, from its thumbnail (n×3 float RGB, `_thumbnail`): its `level` (`light_level`)."""

    level: np.ndarray
    thumb: torch.Tensor = field(repr=False)
    coarse: torch.Tensor = field(repr=False)  # the thumbnail averaged over SAME_PICTURE_BLOCK² blocks, n×3

    @classmethod
    def of(cls, frame: np.ndarray) -> Light:
        image = _thumbnail(frame)
        coarse = torch.nn.functional.avg_pool2d(image[None], SAME_PICTURE_BLOCK, ceil_mode=True)[0]
        thumb = image.reshape(3, -1).T
        return cls(light_level(thumb), thumb, coarse.reshape(3, -1).T)

    def gains_to(self, other: Light, same_picture: bool = False) -> np.ndarray:
        """Per-channel gains that bring this frame's colours to `other`'s light: those that best
        turn this thumbnail into the other's, pixel by pixel (least squares), in full when they
        explain most of the difference between the two (SAME_PICTURE), fading to none (all 1);
        in full if the caller knows it is the `same_picture`."""
        if self.thumb.shape != other.thumb.shape:
            return np.ones(3)
        mine, theirs = self.thumb.double(), other.thumb.double()
        gains = ((mine * theirs).sum(dim=0) / (mine * mine).sum(dim=0).clamp_min(1e-12)).clamp(*GAIN_RANGE)
        if same_picture:
            return gains.numpy()
        mine, theirs = self.coarse.double(), other.coarse.double()
        before = float(((theirs - mine) ** 2).sum())
        explained = 1 - float(((theirs - mine * gains) ** 2).sum()) / before if before > 0 else 0.0
        weight = min(max((explained - SAME_PICTURE[0]) / (SAME_PICTURE[1] - SAME_PICTURE[0]), 0.0), 1.0)
        return gains.numpy() ** weight


def plan_sequence(frames: Iterable[np.ndarray], fps: float, every_s: float = DEFAULT_EVERY_S,
                  keyframes: Sequence[int] | None = None, cancel: CancelToken | None = None) -> SequencePlan:
    """Pass 1: find the cuts and choose the keyframes, keeping only those frames.

    Without `keyframes`, each shot gets its first frame, one `every_s` seconds after its last, and
    one where the light drifted from its last (`_drifted`). Given `keyframes` (frame numbers, from
    0) are used instead, plus the first frame of any shot that holds none of them, so that a cut
    still switches to a look of the new shot's own."""
    if not (math.isfinite(fps) and fps > 0):
        raise OptionsError(f"A frame rate of {fps} frames/s is not usable; give a positive rate (e.g. 24).")
    if not (math.isfinite(every_s) and every_s > 0):
        raise OptionsError(f"A keyframe every {every_s} s is not possible; give a positive number of seconds.")
    given = set(keyframes) if keyframes is not None else None
    if given is not None and (not given or min(given) < 0):
        raise OptionsError("Keyframes are frame numbers from 0 (e.g. 0,120); give at least one.")
    every = max(1, round(every_s * fps))
    gap = max(1, round(DRIFT_GAP_S * fps))
    detector = CutDetector()
    cuts: list[int] = []
    chosen: list[int] = []
    images: dict[int, np.ndarray] = {}
    keyed: Light | None = None  # the light of the shot's last keyframe
    count = 0
    shape: tuple[int, ...] | None = None
    for index, frame in enumerate(frames):
        if cancel:
            cancel.raise_if_cancelled()
        shape = _check_frame(frame, index, shape)
        if detector.push(frame):
            if given is not None and cuts:
                _settle_shot(cuts[-1], index, given, chosen, images)
            cuts.append(index)
        since_cut, since_key = index - cuts[-1], index - chosen[-1] if chosen else 0
        if given is not None:
            key = since_cut == 0 or index in given
        else:
            key = since_cut == 0 or since_key >= every or (since_key >= gap and _drifted(detector.light, keyed))
        if key:
            _key(index, frame, chosen, images)
            keyed = detector.light
        count = index + 1
    if count == 0:
        raise InputImageError("The sequence has no frames; give a video or a folder with at least one frame.")
    if given is not None:
        if max(given) >= count:
            raise OptionsError(f"Keyframe {max(given)} is past the last frame ({count - 1}); give frame numbers from "
                               f"0 to {count - 1}.")
        _settle_shot(cuts[-1], count, given, chosen, images)
    return SequencePlan(count, fps, tuple(cuts), tuple(chosen), images)


def _drifted(light: Light, keyed: Light) -> bool:
    """Whether the light drifted from the keyframe's more than its look should carry (KEY_DRIFT,
    LIGHT_RANGE)."""
    drift = keyed.level - light.level
    carried = np.log(light.gains_to(keyed))
    return float(np.abs(drift - carried).max()) >= KEY_DRIFT or float(np.abs(drift).max()) >= LIGHT_RANGE


def _key(index: int, frame: np.ndarray, chosen: list[int], images: dict[int, np.ndarray]) -> None:
    chosen.append(index)
    images[index] = np.array(frame)  # a copy: a caller may reuse its frame buffers


def _settle_shot(start: int, stop: int, given: set[int], chosen: list[int], images: dict[int, np.ndarray]) -> None:
    """With given keyframes, a shot's first frame is kept in case the shot holds none of them;
    once the shot is over, it is dropped if it does (unless it was given itself)."""
    if start not in given and any(start < key < stop for key in given):
        chosen.remove(start)
        del images[start]


def _check_frame(frame: np.ndarray, index: int, first: tuple[int, ...] | None) -> tuple[int, ...]:
    """The frame's shape (H, W, C); InputImageError for a frame that is not an image, too small to fit
    a look from, or not of the first frame's size and layout (`first`)."""
    pixels = split_pixels(frame, f"frame {index}", min_side=MIN_FRAME_SIDE)
    shape = pixels.samples.shape
    if first is not None and shape != first:
        raise InputImageError(f"Frame {index} is {pixels.width}×{pixels.height} with {pixels.channels} channel(s), "
                              f"but frame 0 is {first[1]}×{first[0]} with {first[2]}; every frame of a sequence "
                              "must have one size and layout.")
    return shape


def fit_keyframes(plan: SequencePlan, style: np.ndarray, options: TransferOptions | Recipe | None = None,
                  progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> tuple[dict[int, Look], list[str]]:
    """A transfer of every keyframe after `style` and its result's look (the engine's, global: a
    region's mask belongs to one frame, the look to the whole shot; at the options' look size, or
    DEFAULT_SIZE when unset), by keyframe; and the transfers' other notes. A frame too small for
    the network is enlarged for its transfer (a look maps colours to colours)."""
    recipe = options if isinstance(options, Recipe) else check_options(options or TransferOptions())
    if not recipe.values["look_size"]:
        recipe = replace(recipe, values={**recipe.values, "look_size": DEFAULT_SIZE})
    looks: dict[int, Look] = {}
    notes: list[str] = []
    seen: set[str] = set()
    for number, key in enumerate(plan.keyframes):
        frame = _transferable(plan.images[key])
        report = one_of(progress, number, len(plan.keyframes), f"keyframe {key}") if progress else None
        result = transfer(frame, style, None, recipe, report, cancel)
        looks[key] = replace(result.look, title=f"keyframe {key}")
        others = [note for note in result.notes if note != result.look.fidelity.note]  # the look's: said by key
        notes += [f"keyframe {key}: {note}" for note in others if note not in seen]
        seen.update(others)  # the same note for every keyframe is said once
    return looks, notes


def _transferable(frame: np.ndarray) -> np.ndarray:
    """The frame as it is, or as float RGB enlarged to MIN_SIDE on its short side when it is smaller."""
    pixels = split_pixels(frame, "frame", min_side=1)
    short = min(pixels.height, pixels.width)
    if short >= MIN_SIDE:
        return frame
    shape = math.ceil(pixels.height * MIN_SIDE / short), math.ceil(pixels.width * MIN_SIDE / short)
    enlarged = resize_image(pixels.rgb_rows().contiguous(), shape).clamp_(0, 1)
    return enlarged.permute(1, 2, 0).contiguous().numpy()


def style_frames(frames: Iterable[np.ndarray], plan: SequencePlan, looks: Mapping[int, Look],
                 interpolation: Interpolation = "trilinear", cancel: CancelToken | None = None,
                 detail_sigma: float = DETAIL_SIGMA) -> Iterator[np.ndarray]:
    """Pass 2: every frame of the sequence planned, recoloured by its look (`SequencePlan.blend`), in
    the frame's layout (`apply_look`'s: RGB, same sample type, alpha untouched). In steady light each
    keyframe's look as it is; where the light changed since the keyframes (known when the plan kept
    their images), each look reads the frame at its keyframe's light (`_LightMatch`). The look
    recolours each frame's base and its finer detail is added back as it is (`core.detail`; a
    `detail_sigma` of 0: the look recolours the whole frame)."""
    lookup = lookup_function(interpolation)
    tables = _DenseTables(looks, lookup)
    light_match = _LightMatch(plan, looks)
    index = -1
    for index, frame in enumerate(frames):
        if cancel:
            cancel.raise_if_cancelled()
        if index >= plan.frame_count:
            raise InputImageError(f"The sequence has more frames than the {plan.frame_count} of its first pass; it "
                                  "changed while it was read. Run again on a sequence that stays as it is.")
        exact = plan.blend(index, steps=None)
        match = light_match(index, frame, exact)
        if match is not None and match.levels is not None:  # 8-bit levels filtered over time
            levels, detail = split_levels(match.levels, detail_sigma) if detail_sigma else (match.levels, None)
            styled = _apply_at_gains(looks, exact, frame, replace(match, levels=levels), lookup)
        else:
            base, detail = split_detail(frame, detail_sigma) if detail_sigma else (frame, None)
            if match is not None:
                styled = _apply_at_gains(looks, exact, base, match, lookup)
            else:
                blend = plan.blend(index)
                styled = (tables.apply(blend, base) if tables.fits(base)
                          else apply_look(blended_look(looks, blend), base, interpolation))
        yield styled if detail is None else add_detail(styled, detail)
    if index + 1 != plan.frame_count:
        raise InputImageError(f"The sequence ended after {index + 1} of the {plan.frame_count} frames of its first "
                              "pass; it changed while it was read. Run again on a sequence that stays as it is.")


@dataclass(frozen=True)
class _Match:
    """How a frame is read by its keyframes' looks: `gains` by keyframe (`Light.gains_to`; absent:
    1) and, for 8-bit RGB(A), its `levels` filtered over time (FILTER_REACH: H×W×3 float, 0 … 255)."""

    gains: Mapping[int, np.ndarray]
    levels: torch.Tensor | None


class _LightMatch:
    """Frame by frame (in order), the `_Match` of a frame to the light of the keyframes it blends, or
    None when it needs none (steady light, or keyframes whose images the plan did not keep)."""

    def __init__(self, plan: SequencePlan, looks: Mapping[int, Look]) -> None:
        self._cuts = set(plan.cuts)
        self._lights = {key: Light.of(image) for key, image in plan.images.items() if key in looks}
        self._previous: tuple[Light, torch.Tensor] | None = None  # the 8-bit frame before: its light, its levels

    def __call__(self, index: int, frame: np.ndarray, blend: Sequence[tuple[int, float]]) -> _Match | None:
        known = [key for key, _ in blend if key in self._lights]
        light = Light.of(frame) if known else None
        gains = {key: light.gains_to(self._lights[key]) for key in known} if light else {}
        matched = any(np.abs(gain - 1).max() >= GAIN_TOLERANCE for gain in gains.values())
        filterable = light is not None and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] in (3, 4)
        if index in self._cuts or not filterable:
            self._previous = None  # a new shot: nothing to filter from
        elif self._previous is not None and not matched:  # a keyframe in the middle of a change is filtered too
            matched = bool(np.abs(self._previous[0].gains_to(light) - 1).max() >= GAIN_TOLERANCE)
        if not matched:
            if filterable:  # the start of a change of light filters from here
                self._previous = light, torch.from_numpy(frame[..., :3].copy())
            return None
        return _Match(gains, self._filtered(frame, light) if filterable else None)

    def _filtered(self, frame: np.ndarray, light: Light) -> torch.Tensor:
        levels = read_only_tensor(frame)[..., :3].float()
        if self._previous is not None and self._previous[1].shape == levels.shape and FILTER_REACH > 0:
            before, previous = self._previous
            # The frame matched its keyframes' light: the same picture as the frame before (a gated
            # gain would fall short on each small step, and the prediction lag behind the light).
            gain = torch.from_numpy(before.gains_to(light, same_picture=True).astype(np.float32))
            offset = previous.float().mul_(gain).sub_(levels)  # the prediction's offset
            hold = offset.abs().div_(-FILTER_REACH).add_(1).clamp_(min=0).mul_(1 - FILTER_WEIGHT)
            levels.add_(offset.mul_(hold))
        self._previous = light, levels
        return levels


def _apply_at_gains(looks: Mapping[int, Look], blend: Sequence[tuple[int, float]], frame: np.ndarray, match: _Match,
                    lookup) -> np.ndarray:
    """`frame` through the blend of its keyframes' looks, each reading the frame's colours (filtered
    when `match` has them) times its gains. A gain is folded into the LUT's domain (a colour c
    times g is c on the domain [0, 1/g]; filtered levels are on [0, 255/g]): exact, where a LUT
    resampled at the gained colours flickered 14× more with a steep look (it has features between
    its nodes)."""
    pixels = split_pixels(frame, "frame", min_side=1)
    scale = 255.0 if match.levels is not None else 1.0
    luts = [(_at_gains(looks[key].lut, match.gains.get(key), scale), np.float32(weight)) for key, weight in blend]

    def render(rows: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        colours = match.levels[start:stop] if match.levels is not None else rows.permute(1, 2, 0)
        colours = colours.reshape(-1, 3).numpy()
        out = lookup(luts[0][0], colours) if len(luts) == 1 else sum(lookup(lut, colours) * weight
                                                                    for lut, weight in luts)
        return torch.from_numpy(out.reshape(stop - start, pixels.width, 3)).permute(2, 0, 1)

    return rebuild(pixels, render)


def _at_gains(lut: Lut, gains: np.ndarray | None, scale: float) -> Lut:
    """`lut` (on the unit cube) reading colours in [0, `scale`] times per-channel `gains` (or 1)."""
    gains = np.ones(3) if gains is None else gains
    return replace(lut, domain=((0.0, 0.0, 0.0), tuple(float(scale / gain) for gain in gains)))


def blended_look(looks: Mapping[int, Look], blend: Sequence[tuple[int, float]]) -> Look:
    """The look whose table is the weighted sum of the keyframes' tables (all fitted on the unit cube)."""
    if len(blend) == 1:
        return looks[blend[0][0]]
    table = sum(looks[key].lut.table * np.float32(weight) for key, weight in blend)
    return Look(Lut(table.astype(np.float32)), title="blend")


class _DenseTables:
    """8-bit RGB(A) frames through tables of all 2²⁴ colours, each entry packed as one uint32 (R, G,
    B, 255): one table per keyframe look in use, and the blend of two in use. A frame costs one
    index computation and one `np.take`; a single look's table gives exactly `apply_look`'s result."""

    def __init__(self, looks: Mapping[int, Look], lookup) -> None:
        self._looks, self._lookup = looks, lookup
        self._tables: dict[int, np.ndarray] = {}
        self._blended: tuple[tuple[tuple[int, float], ...], np.ndarray] | None = None

    @staticmethod
    def fits(frame: np.ndarray) -> bool:
        return (frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] in (3, 4)
                and frame.shape[0] * frame.shape[1] >= DENSE_MIN_PIXELS)

    def apply(self, blend: tuple[tuple[int, float], ...], frame: np.ndarray) -> np.ndarray:
        index = ((frame[..., 0].astype(np.uint32) << 16) | (frame[..., 1].astype(np.uint32) << 8)) | frame[..., 2]
        out = np.take(self._table(blend), index).view(np.uint8).reshape(*frame.shape[:2], 4)
        if frame.shape[2] == 4:
            out[..., 3] = frame[..., 3]
            return out
        return np.ascontiguousarray(out[..., :3])

    def _table(self, blend: tuple[tuple[int, float], ...]) -> np.ndarray:
        keys = [key for key, _ in blend]
        self._tables = {key: table for key, table in self._tables.items() if key in keys}  # frames come in order
        for key in keys:
            if key not in self._tables:
                self._tables[key] = _dense_table(self._looks[key], self._lookup)
        if len(blend) == 1:
            return self._tables[keys[0]]
        if self._blended is None or self._blended[0] != blend:
            self._blended = blend, _lerp(self._tables[keys[0]], self._tables[keys[1]], blend[1][1])
        return self._blended[1]


_CHUNK = 1 << 20


def _dense_table(look: Look, lookup) -> np.ndarray:
    """`look` at every 8-bit colour, packed (R, G, B, 255) into 2²⁴ uint32: the same float inputs,
    lookup and rounding as `apply_look` of an 8-bit image."""
    levels = np.arange(256, dtype=np.float32) * np.float32(1 / 255.0)
    table = np.empty((1 << 24, 4), np.uint8)
    table[:, 3] = 255
    for start in range(0, 1 << 24, _CHUNK):
        index = np.arange(start, start + _CHUNK)
        colours = np.stack([levels[index >> 16], levels[(index >> 8) & 255], levels[index & 255]], axis=1)
        table[start:start + _CHUNK, :3] = np.round(np.clip(lookup(look.lut, colours), 0, 1)
                                                   * np.float32(255))
    return table.view(np.uint32).reshape(-1)


def _lerp(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """Two packed tables blended, `weight` (a multiple of 1/256) of the second, rounded, chunk by chunk."""
    step = round(weight * 256)
    out = np.empty_like(first)
    for start in range(0, len(first), _CHUNK):
        low, high = (table[start:start + _CHUNK].view(np.uint8).astype(np.uint16) for table in (first, second))
        mixed = (low * (256 - step) + high * step + 128) >> 8
        out[start:start + _CHUNK] = mixed.astype(np.uint8).view(np.uint32)
    return out
