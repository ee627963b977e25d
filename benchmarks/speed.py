"""Speed benchmark: presets side by side on the DPST example pairs, and at large layer sizes.

Part 1, on the pairs of ../shared/eval/dpst/ (each at its own size, 700 px wide): for every preset
asked for, and for a plain region-wise linear colour transfer (each hand-drawn region's mean and
covariance matched to its partner's: the baseline a neural method has to beat), it measures
  time     wall seconds of one `transfer()` call in a fresh process (median of --repeats), VGG19
           loading included: what a CLI run costs, not counting Python's start-up
  memory   the peak resident memory of that process (GPU: peak allocated)
  style    masked-Gram style distance to the reference (lower = closer look)
  photo    matting-Laplacian energy w.r.t. the photo (lower = more photo-like)
  edges    edge correlation with the photo (higher = structure kept)
and prints one table with each preset's medians over the pairs, their ratios to the paper's own
results (final/) and to the baseline preset (the former default, `classic`), measured in this
same run, plus how many pairs each preset styles more than the colour transfer does.

Part 2 (--layer-sizes): each preset on the first pair's photo enlarged to the given megapixels,
time and peak memory, as a ratio to the smallest size.

--revision REV also runs each preset with the engine as it was at git revision REV (checked out
under benchmarks/out/), job for job beside today's, as rows "PRESET@REV": before and after a
change, on the same pairs, in one run. Every preset's job on a pair runs the same way (a fresh
interpreter, `_PRESET_JOB`), today's and the earlier revision's alike.

Saves a contact sheet (photo | reference | paper | each preset) to benchmarks/out/speed.png.

    python benchmarks/speed.py --pairs 39 --presets default preview classic --layer-sizes 1 24
    python benchmarks/speed.py --pairs 5 --presets default painterly --revision 90b37be --baseline default@90b37be
    python benchmarks/speed.py --pairs 8 --presets default --as-avx2   # as on an AVX2-only CPU
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import machine
from dpst_pairs import EVAL, MEASURES, load_pair, measure, paper_result, pair_ids, require_pairs
from photostyle.core import TransferOptions, transfer
from photostyle.core.colour_transfer import colour_transfer
from photostyle.core.images import split_pixels
from photostyle.core.masks import pair_regions

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
COLOUR_TRANSFER = "colour transfer"  # the baseline row: no engine preset, see plain_colour_transfer()
THUMB_WIDTH = 200


def plain_colour_transfer(content: np.ndarray, style: np.ndarray, regions: list) -> np.ndarray:
    """The baseline: each region's mean and covariance matched to its partner's, at full size."""
    content_px, style_px = split_pixels(content, "photo"), split_pixels(style, "reference")
    pairs, _ = pair_regions(regions, content.shape[:2], style.shape[:2])

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array))

    result = colour_transfer(tensor(content_px.rgb).permute(2, 0, 1), tensor(style_px.rgb).permute(2, 0, 1),
                             tensor(np.stack([p.content_mask for p in pairs])),
                             tensor(np.stack([p.style_mask for p in pairs])))
    return np.round(result.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@dataclass
class Run:
    """One timed job in a fresh process."""

    preset: str  # "default", or "default@REV": the default preset of the engine at git revision REV
    pair: str
    megapixels: float | None = None  # None: the pair at its own size
    device: str = "auto"


def _run_job(run: Run, results: "multiprocessing.Queue") -> None:
    content, style, regions = load_pair(run.pair)
    if run.megapixels:
        content = enlarge(content, run.megapixels)
        regions = []
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    if run.preset == COLOUR_TRANSFER:
        image, device = plain_colour_transfer(content, style, regions), "cpu"
    else:
        result = transfer(content, style, regions, TransferOptions(preset=run.preset, device=run.device))
        image, device = result.image, result.device
    seconds = time.perf_counter() - started
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    results.put((seconds, peak, device, None if run.megapixels else image))


#: One preset's job on a pair, in a fresh interpreter (argv: the folder holding an earlier
#: revision's `photostyle`, or "" for today's; this folder; the job as JSON; where to save the image).
_PRESET_JOB = """
import importlib, json, resource, sys, time
import numpy as np
sys.path[:0] = [folder for folder in sys.argv[1:3] if folder]
from photostyle.core import TransferOptions, transfer
from dpst_pairs import load_pair
job = json.loads(sys.argv[3])
for module, name in (("photostyle.server.heap", "keep_memory_for_the_job"),  # the CLI's allocation policy at
                     ("photostyle.server.heap", "map_large_allocations"),  # that revision, when it had one
                     ("photostyle.server.cli.entry", "map_large_allocations")):
    try:
        getattr(importlib.import_module(module), name)()
        break
    except (ImportError, AttributeError):
        pass
content, style, regions = load_pair(job["pair"])
started = time.perf_counter()
result = transfer(content, style, regions, TransferOptions(preset=job["preset"], device=job["device"]))
seconds = time.perf_counter() - started
np.save(sys.argv[4], result.image)
if result.device.startswith("cuda"):
    import torch
    peak = torch.cuda.max_memory_allocated() / 2**30
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
print(json.dumps([seconds, peak, result.device]))
"""


#: The jobs' environment: ours without OpenMP's wait settings (today's engine set them here on
#: import), so each revision's engine sets its own: read when torch loads, they decide much of the time.
_JOB_ENVIRONMENT = {name: value for name, value in os.environ.items()
                    if name not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}


def revision_package(revision: str) -> Path:
    """A folder holding `photostyle` as it was at git `revision` (a worktree under benchmarks/out/)."""
    tree = OUT / f"rev-{revision}"
    if not tree.is_dir():
        subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(tree), revision], check=True,
                       capture_output=True)
    package = OUT / f"rev-{revision}-package" / "photostyle"
    package.mkdir(parents=True, exist_ok=True)
    for part in ("core", "server"):
        if not (package / part).is_symlink():
            (package / part).symlink_to(tree / part)
    return package.parent


def timed_preset(run: Run) -> tuple[float, float, str, np.ndarray | None]:
    preset, _, revision = run.preset.partition("@")
    job = json.dumps({"pair": run.pair, "preset": preset, "device": run.device})
    package = str(revision_package(revision)) if revision else ""
    with tempfile.TemporaryDirectory() as folder:
        image_path = Path(folder) / "result.npy"
        done = subprocess.run([sys.executable, "-c", _PRESET_JOB, package, str(HERE), job, str(image_path)],
                              capture_output=True, text=True, check=True, env=_JOB_ENVIRONMENT)
        seconds, peak, device = json.loads(done.stdout.splitlines()[-1])
        return seconds, peak, device, np.load(image_path)


def timed(run: Run) -> tuple[float, float, str, np.ndarray | None]:
    """Run one job in a fresh process (so its peak memory and model loading are its own)."""
    if run.preset != COLOUR_TRANSFER and run.megapixels is None:
        return timed_preset(run)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_run_job, args=(run, results))
    process.start()
    outcome = results.get()
    process.join()
    return outcome


def enlarge(image: np.ndarray, megapixels: float) -> np.ndarray:
    """The photo resized to about `megapixels`, keeping its aspect ratio."""
    height, width = image.shape[:2]
    scale = (megapixels * 1e6 / (height * width)) ** 0.5
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image[:, :, :3]).resize(size, Image.BICUBIC))


@dataclass
class Row:
    preset: str
    times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    measures: dict[str, dict[str, float]] = field(default_factory=dict)  # pair -> measure -> value


def median_ratio(row: Row, reference: dict[str, dict[str, float]], name: str) -> float:
    pairs = [p for p in row.measures if p in reference]
    return statistics.median(row.measures[p][name] / reference[p][name] for p in pairs) if pairs else float("nan")


def print_pairs_table(rows: list[Row], paper: dict[str, dict[str, float]], baseline: str, device: str,
                      unit: float) -> None:
    base = next((r for r in rows if r.preset == baseline), None)
    colour = next((r for r in rows if r.preset == COLOUR_TRANSFER), None)
    header = (f"{'preset':>16} | {'time s':>7} {'units':>6} {'peak GB':>7} | {'style':>9} {'photo':>9} {'edges':>6} | "
              f"{'÷ paper: style':>14} {'photo':>6} {'edges':>6} | {'÷ ' + baseline + ': time':>15} {'style':>6} "
              f"{'photo':>6} {'edges':>6} | {'> colour':>8}")
    print(f"\nPairs of {EVAL} at their own size; medians over {len(paper)} pairs; device {device}")
    print(header)
    print("-" * len(header))
    for row in rows:
        medians = {m: statistics.median(v[m] for v in row.measures.values()) for m in MEASURES}
        to_paper = {m: median_ratio(row, paper, m) for m in MEASURES}
        to_base = {m: median_ratio(row, base.measures, m) if base else float("nan") for m in MEASURES}
        time_ratio = statistics.median(row.times) / statistics.median(base.times) if base else float("nan")
        beats = "-" if colour is None or row is colour else (
            f"{sum(row.measures[p]['style'] < colour.measures[p]['style'] for p in row.measures)}/{len(row.measures)}")
        print(f"{row.preset:>16} | {statistics.median(row.times):7.2f} {statistics.median(row.times) / unit:6.1f} "
              f"{max(row.peaks):7.2f} | {medians['style']:9.4g} "
              f"{medians['photo']:9.3g} {medians['edges']:6.3f} | {to_paper['style']:14.2f} {to_paper['photo']:6.2f} "
              f"{to_paper['edges']:6.3f} | {time_ratio:15.3f} {to_base['style']:6.2f} {to_base['photo']:6.2f} "
              f"{to_base['edges']:6.3f} | {beats:>8}")
    print("(time: median over pairs of each pair's median over repeats; units: that time in calibration units; "
          "peak: the largest over pairs; "
          "'> colour': pairs where the style distance is below the colour transfer's)")


def contact_sheet(images: dict[str, list[np.ndarray]]) -> Image.Image:
    rows = []
    for pair_images in images.values():
        thumbs = []
        for image in pair_images:
            picture = Image.fromarray(image[:, :, :3])
            thumbs.append(picture.resize((THUMB_WIDTH, round(picture.height * THUMB_WIDTH / picture.width)),
                                         Image.LANCZOS))
        rows.append(thumbs)
    sheet = Image.new("RGB", (THUMB_WIDTH * max(len(r) for r in rows), sum(max(t.height for t in r) for r in rows)),
                      "white")
    top = 0
    for thumbs in rows:
        for column, thumb in enumerate(thumbs):
            sheet.paste(thumb, (column * THUMB_WIDTH, top))
        top += max(t.height for t in thumbs)
    return sheet


def pairs_part(args: argparse.Namespace, presets: list[str]) -> None:
    rows = [Row(p) for p in presets]
    paper: dict[str, dict[str, float]] = {}
    sheet: dict[str, list[np.ndarray]] = {}
    device = "cpu"
    for index, pair in enumerate(pair_ids(args.pairs, args.ids)):
        content, style, regions = load_pair(pair)
        paper_image = paper_result(pair, content.shape)
        paper[pair] = measure(paper_image, content, style, regions, args.eval_size)
        sheet[pair] = [content[:, :, :3], style[:, :, :3], paper_image]
        # Every other pair in reverse order: a job that follows a big one starts on memory that one
        # just freed, which a virtual machine hands back fast (fresh memory: ~30 µs a page here).
        images: dict[str, np.ndarray] = {}
        for row in (rows if index % 2 == 0 else rows[::-1]):
            times, image = [], None
            for _ in range(args.repeats):
                seconds, peak, used, image = timed(Run(row.preset, pair, device=args.device))
                times.append(seconds)
                row.peaks.append(peak)
                device = used if row.preset != COLOUR_TRANSFER else device
            row.times.append(statistics.median(times))
            row.measures[pair] = measure(image, content, style, regions, args.eval_size)
            images[row.preset] = image[:, :, :3]
            ratios = " ".join(f"{m} {row.measures[pair][m] / paper[pair][m]:.2f}" for m in MEASURES)
            print(f"pair {pair:>3} {row.preset:>16}: {row.times[-1]:6.2f} s, ÷ paper: {ratios}", flush=True)
        sheet[pair].extend(images[row.preset] for row in rows)
    print_pairs_table(rows, paper, args.baseline, device, args.unit)
    OUT.mkdir(exist_ok=True)
    contact_sheet(sheet).save(OUT / "speed.png")
    (OUT / "speed.json").write_text(json.dumps({"paper": paper, "rows": [row.__dict__ for row in rows]}, indent=1))
    print(f"contact sheet (photo | reference | paper | {' | '.join(presets)}): {OUT / 'speed.png'}")


def layer_sizes_part(args: argparse.Namespace, presets: list[str]) -> None:
    pair = pair_ids(1, args.ids)[0]
    header = (f"{'preset':>16} | {'layer MP':>8} | {'time s':>7} {'units':>6} {'peak GB':>7} | {'time ÷ smallest':>15} "
              f"{'peak ÷ smallest':>15}")
    print(f"\nLayer sizes: pair {pair}'s photo enlarged, no regions; median of {args.repeats} runs")
    print(header)
    print("-" * len(header))
    for preset in presets:
        if preset == COLOUR_TRANSFER or "@" in preset:
            continue
        first: tuple[float, float] | None = None
        for megapixels in sorted(args.layer_sizes):
            runs = [timed(Run(preset, pair, megapixels, args.device)) for _ in range(args.repeats)]
            seconds, peak = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
            first = first or (seconds, peak)
            print(f"{preset:>16} | {megapixels:8.1f} | {seconds:7.2f} {seconds / args.unit:6.1f} {peak:7.2f} | "
                  f"{seconds / first[0]:15.2f} "
                  f"{peak / first[1]:15.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3, help="how many pairs (the first N by id)")
    parser.add_argument("--ids", nargs="*", help="explicit pair ids, e.g. 1 4 9")
    parser.add_argument("--presets", nargs="+", default=["default", "preview", "classic"])
    parser.add_argument("--baseline", default="classic", help="the preset the others are compared with")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each job (the median is kept)")
    parser.add_argument("--layer-sizes", type=float, nargs="*", default=[], metavar="MP",
                        help="also time each preset on the first pair's photo enlarged to these megapixels")
    parser.add_argument("--no-pairs", action="store_true", help="only the layer-size part")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-size", type=int, default=384, help="long side at which all measures are taken")
    parser.add_argument("--revision", metavar="REV", help="also run presets with the engine at this git "
                        "revision, as rows PRESET@REV (pairs part only)")
    parser.add_argument("--as-avx2", action="store_true",
                        help="measure as on a CPU without AVX-512 and bfloat16 units (e.g. issue 21's AMD EPYC): "
                             "torch's, oneDNN's and MKL's kernels held to AVX2 (machine.ISA_LIMITS), the calibration too; "
                             "engines older than this option still take bfloat16 then: compare no --revision "
                             "before it")
    parser.add_argument("--revision-presets", nargs="+", metavar="PRESET",
                        help="the presets to run at --revision (default: all of --presets; name only those it has)")
    args = parser.parse_args()
    if args.as_avx2 and any(os.environ.get(name) != value for name, value in machine.ISA_LIMITS.items()):
        # Read when torch loads: this process starts again with them (its jobs inherit them).
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **machine.ISA_LIMITS})
    require_pairs()
    earlier = set(args.revision_presets or args.presets) if args.revision else set()
    presets = [name for preset in args.presets
               for name in ([preset, f"{preset}@{args.revision}"] if preset in earlier else [preset])]
    presets = list(dict.fromkeys(presets + [COLOUR_TRANSFER]))
    print(machine.describe(args.device))
    args.unit = machine.calibration_seconds(args.device)
    print(f"Calibration unit (one VGG19 forward+backward to relu5_1 at 512×384 on this machine): {args.unit:.2f} s; "
          "times below are also given in these units, which compare across machines")
    if not args.no_pairs:
        pairs_part(args, presets)
    if args.layer_sizes:
        layer_sizes_part(args, presets)


if __name__ == "__main__":
    main()
