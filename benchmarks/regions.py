"""Regions benchmark: automatic regions against the hand-drawn masks of ../shared/eval/dpst/.

Part 1 (every pair asked for, cheap): the engine's automatic regions on the photo and reference
at the preset's working size, compared with the hand masks:
  IoU      mean intersection-over-union of the hand regions with the automatic ones after the best
           one-to-one matching (Hungarian), counted over the pixels of both images together, so a
           region paired with the wrong partner scores low. Hand regions under 2 % of both images
           (the reference code's anti-aliasing "grey" slivers) are left out; a hand region left
           without a partner counts 0.
  regions  how many were found, and how many hand regions count
  time     seconds `find_regions` takes with VGG19 loaded (median of --repeats), the time
           automatic regions add to a run

Part 2 (the first --transfers pairs, slow): `transfer()` with the preset three times: with the
hand masks, with automatic regions, and with no masks; for each, the three quality measures
(style distance always measured with the hand masks, photorealism energy, edge similarity) and
the wall time; medians, per pair, and on how many pairs automatic regions beat no masks on the
masked style distance. The added time is reported as a share of the median run with no masks.

    python benchmarks/regions.py --pairs 39 --transfers 12
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from dpst_pairs import load_pair, measure, pair_ids, require_pairs
from photostyle.core import RegionPair, TransferOptions, get_preset, transfer
from photostyle.core.auto_regions import find_regions
from photostyle.core.images import resize_image, split_pixels, working_shape
from photostyle.core.vgg import load_vgg19

MIN_HAND_SHARE = 0.02
VARIANTS = ("hand masks", "automatic", "no masks")


def working_rgb(image: np.ndarray, size: int) -> torch.Tensor:
    rgb = torch.from_numpy(np.ascontiguousarray(split_pixels(image, "image").rgb)).permute(2, 0, 1)
    return resize_image(rgb, working_shape(*rgb.shape[-2:], size)).clamp(0, 1)


def hand_labels(regions: list[RegionPair], side: str, shape: tuple[int, int]) -> torch.Tensor:
    masks = torch.from_numpy(np.stack([getattr(r, f"{side}_mask") for r in regions]))
    return F.interpolate(masks[None], size=shape, mode="area")[0].argmax(dim=0)


def matched_iou(auto: torch.Tensor, hand: torch.Tensor, hand_count: int) -> tuple[float, int]:
    """Mean IoU of the sizeable hand regions with their best one-to-one automatic partners."""
    kept = [j for j in range(hand_count) if float((hand == j).float().mean()) >= MIN_HAND_SHARE]
    found = int(auto.max()) + 1
    iou = np.zeros((len(kept), found))
    for row, j in enumerate(kept):
        for k in range(found):
            union = int(((hand == j) | (auto == k)).sum())
            iou[row, k] = int(((hand == j) & (auto == k)).sum()) / union if union else 0.0
    rows, columns = linear_sum_assignment(-iou)
    return float(iou[rows, columns].sum() / len(kept)), len(kept)


def agreement_part(ids: list[str], size: int, repeats: int) -> list[float]:
    net = load_vgg19()
    print(f"Automatic regions vs hand masks, working size {size} px")
    print(f"{'pair':>5} {'found':>6} {'hand':>5} {'IoU':>6} {'seconds':>8}")
    scores, seconds = [], []
    for pair in ids:
        content, style, regions = load_pair(pair)
        content_rgb, style_rgb = working_rgb(content, size), working_rgb(style, size)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            found = find_regions(content_rgb, style_rgb, net)
            times.append(time.perf_counter() - started)
        auto = torch.cat([found.content_masks.argmax(0).flatten(), found.style_masks.argmax(0).flatten()])
        hand = torch.cat([hand_labels(regions, "content", tuple(content_rgb.shape[-2:])).flatten(),
                          hand_labels(regions, "style", tuple(style_rgb.shape[-2:])).flatten()])
        score, hand_count = matched_iou(auto, hand, len(regions))
        scores.append(score)
        seconds.append(statistics.median(times))
        print(f"{pair:>5} {found.count:>6} {hand_count:>5} {score:>6.2f} {seconds[-1]:>8.2f}", flush=True)
    print(f"median IoU {statistics.median(scores):.3f} (mean {statistics.mean(scores):.3f}) over {len(ids)} pairs; "
          f"IoU >= 0.6 on {sum(s >= 0.6 for s in scores)}/{len(ids)}; "
          f"median time {statistics.median(seconds):.2f} s")
    return seconds


def transfers_part(ids: list[str], preset: str, size: int, region_seconds: list[float]) -> None:
    print(f"\nTransfers with preset {preset}: style measured with the hand masks (lower = closer), "
          f"photo (lower = more photo-like), edges (higher = kept), at {size} px")
    print(f"{'pair':>5} " + " ".join(f"{variant + ' style':>22} {'s':>6}" for variant in VARIANTS))
    table: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    for pair in ids:
        content, style, regions = load_pair(pair)
        line = [f"{pair:>5}"]
        for variant in VARIANTS:
            options = TransferOptions(preset=preset, regions="auto" if variant == "automatic" else "given")
            given = regions if variant == "hand masks" else None
            started = time.perf_counter()
            result = transfer(content, style, given, options)
            seconds = time.perf_counter() - started
            row = measure(result.image, content, style, regions, size) | {"seconds": seconds}
            table[variant].append(row)
            line.append(f"{row['style']:>22.4g} {seconds:>6.1f}")
        print(" ".join(line), flush=True)
    print(f"\n{'variant':>12} {'style':>10} {'photo':>10} {'edges':>8} {'seconds':>8}")
    for variant in VARIANTS:
        rows = table[variant]
        print(f"{variant:>12} " + " ".join(f"{statistics.median(r[m] for r in rows):>10.4g}"
                                           for m in ("style", "photo", "edges"))
              + f" {statistics.median(r['seconds'] for r in rows):>8.1f}")
    wins = sum(a["style"] < n["style"] for a, n in zip(table["automatic"], table["no masks"]))
    ratio = statistics.median(a["style"] / n["style"] for a, n in zip(table["automatic"], table["no masks"]))
    hand_ratio = statistics.median(h["style"] / n["style"] for h, n in zip(table["hand masks"], table["no masks"]))
    run = statistics.median(r["seconds"] for r in table["no masks"])
    added = statistics.median(region_seconds)
    print(f"automatic beats no masks on style on {wins}/{len(ids)} pairs; style ÷ no masks: automatic "
          f"{ratio:.2f}, hand masks {hand_ratio:.2f} (medians)")
    print(f"added time: {added:.2f} s = {added / run:.1%} of a {preset} run with no masks ({run:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=39, help="how many pairs for the region agreement")
    parser.add_argument("--ids", nargs="*", help="these pairs instead")
    parser.add_argument("--transfers", type=int, default=0, help="how many of those pairs to run transfers on")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--eval-size", type=int, default=384)
    args = parser.parse_args()
    require_pairs()
    ids = pair_ids(args.pairs, args.ids)
    region_seconds = agreement_part(ids, get_preset(args.preset).size, args.repeats)
    if args.transfers:
        transfers_part(ids[:args.transfers], args.preset, args.eval_size, region_seconds)


if __name__ == "__main__":
    main()
