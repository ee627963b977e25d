"""Quality benchmark: our engine against the paper's own results on the DPST example pairs.

For each pair in ../shared/eval/dpst/ it runs our transfer and measures, for our output and for
the paper's output in final/ (see core/metrics.py):
  style    masked-Gram style distance to the reference photo (lower = closer look)
  photo    matting-Laplacian energy w.r.t. the photo (lower = more locally affine, more photo-like)
  edges    correlation of edge strength with the photo (higher = structure kept)
and our wall time. Prints a table per pair, medians, our/paper ratios, and saves a contact sheet
(content | style | paper | ours) to benchmarks/out/quality.png.

    python benchmarks/quality.py --pairs 3 --size 384
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photostyle.core import TransferOptions, load_image, regions_from_segmentations, transfer
from photostyle.core.metrics import edge_similarity, photorealism_energy, style_distance

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dpst"
OUT = Path(__file__).resolve().parent / "out"
THUMB_WIDTH = 256


def pair_ids(count: int, ids: list[str] | None) -> list[str]:
    available = sorted((p.stem[2:] for p in (EVAL / "input").glob("in*.png")), key=int)
    chosen = ids or available[:count]
    missing = [i for i in chosen if i not in available]
    if missing:
        sys.exit(f"No such pair(s) in {EVAL}: {', '.join(missing)}")
    return chosen


def thumbnail(image: np.ndarray) -> Image.Image:
    picture = Image.fromarray(image[:, :, :3] if image.dtype == np.uint8 else (image[:, :, :3] // 257).astype(np.uint8))
    height = round(picture.height * THUMB_WIDTH / picture.width)
    return picture.resize((THUMB_WIDTH, height), Image.LANCZOS)


def contact_sheet(rows: list[list[np.ndarray]]) -> Image.Image:
    thumbs = [[thumbnail(image) for image in row] for row in rows]
    heights = [max(t.height for t in row) for row in thumbs]
    sheet = Image.new("RGB", (THUMB_WIDTH * 4, sum(heights)), "white")
    top = 0
    for row, height in zip(thumbs, heights):
        for column, thumb in enumerate(row):
            sheet.paste(thumb, (column * THUMB_WIDTH, top))
        top += height
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3, help="how many pairs (the first N by id)")
    parser.add_argument("--ids", nargs="*", help="explicit pair ids, e.g. 1 4 9")
    parser.add_argument("--size", type=int, help="working long side in px (default: the preset's)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--iterations", type=int, nargs=2, metavar=("STYLE", "PHOTOREAL"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-size", type=int, default=384, help="long side at which all metrics are measured")
    args = parser.parse_args()
    if not EVAL.is_dir():
        sys.exit(f"The evaluation pairs are not at {EVAL}; this benchmark needs ../shared/eval/dpst beside the repo.")

    style_iterations, photoreal_iterations = args.iterations or (None, None)
    options = TransferOptions(preset=args.preset, size=args.size, device=args.device,
                              style_iterations=style_iterations, photoreal_iterations=photoreal_iterations)
    header = f"{'pair':>5} | {'style ours':>10} {'paper':>10} | {'photo ours':>10} {'paper':>10} | {'edges ours':>10} {'paper':>6} | {'time s':>7}"
    print(f"preset={args.preset} size={args.size or 'preset'} iterations={args.iterations or 'preset'} eval-size={args.eval_size}")
    print(header)
    print("-" * len(header))
    rows, sheet_rows = [], []
    for pair in pair_ids(args.pairs, args.ids):
        content = load_image(EVAL / "input" / f"in{pair}.png")
        style = load_image(EVAL / "style" / f"tar{pair}.png")
        paper = load_image(EVAL / "final" / f"out{pair}.png")
        regions = regions_from_segmentations(load_image(EVAL / "segmentation" / f"in{pair}.png"),
                                             load_image(EVAL / "segmentation" / f"tar{pair}.png"))
        started = time.perf_counter()
        ours = transfer(content, style, regions, options).image
        seconds = time.perf_counter() - started
        if paper.shape[:2] != content.shape[:2]:
            paper = np.asarray(Image.fromarray(paper[:, :, :3]).resize((content.shape[1], content.shape[0]), Image.LANCZOS))
        row = {"pair": pair, "time": seconds}
        for name, image in (("ours", ours), ("paper", paper)):
            row[f"style_{name}"] = style_distance(image, style, regions, args.eval_size)
            row[f"photo_{name}"] = photorealism_energy(image, content, args.eval_size)
            row[f"edges_{name}"] = edge_similarity(image, content, args.eval_size)
        rows.append(row)
        sheet_rows.append([content, style, paper, ours])
        print(f"{pair:>5} | {row['style_ours']:10.4g} {row['style_paper']:10.4g} | {row['photo_ours']:10.4g} "
              f"{row['photo_paper']:10.4g} | {row['edges_ours']:10.3f} {row['edges_paper']:6.3f} | {seconds:7.1f}", flush=True)

    median = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "pair"}
    print("-" * len(header))
    print(f"{'median':>5} | {median['style_ours']:10.4g} {median['style_paper']:10.4g} | {median['photo_ours']:10.4g} "
          f"{median['photo_paper']:10.4g} | {median['edges_ours']:10.3f} {median['edges_paper']:6.3f} | {median['time']:7.1f}")
    ratios = {m: statistics.median(r[f"{m}_ours"] / r[f"{m}_paper"] for r in rows) for m in ("style", "photo", "edges")}
    print(f"median ratio ours/paper: style {ratios['style']:.2f}  photo {ratios['photo']:.2f}  edges {ratios['edges']:.2f}")
    OUT.mkdir(exist_ok=True)
    contact_sheet(sheet_rows).save(OUT / "quality.png")
    print(f"contact sheet (content | style | paper | ours): {OUT / 'quality.png'}")


if __name__ == "__main__":
    main()
