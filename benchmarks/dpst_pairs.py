"""The DPST example pairs in ../shared/eval/dpst/ (not part of this repository), for benchmarks:
which pairs there are, loading one with its hand-drawn regions and the paper's own result, and
the three quality measures of `photostyle.core.metrics` taken at one evaluation size."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from photostyle.core import RegionPair, load_image, regions_from_segmentations
from photostyle.core.metrics import edge_similarity, photorealism_energy, style_distance

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dpst"
MEASURES = ("style", "photo", "edges")


def require_pairs() -> None:
    if not EVAL.is_dir():
        sys.exit(f"The evaluation pairs are not at {EVAL}; this benchmark needs ../shared/eval/dpst beside the repo.")


def pair_ids(count: int, ids: list[str] | None = None) -> list[str]:
    """`ids` (checked), or the first `count` pairs by number."""
    available = sorted((p.stem[2:] for p in (EVAL / "input").glob("in*.png")), key=int)
    chosen = ids or available[:count]
    missing = [i for i in chosen if i not in available]
    if missing:
        sys.exit(f"No such pair(s) in {EVAL}: {', '.join(missing)}")
    return chosen


def load_pair(pair: str) -> tuple[np.ndarray, np.ndarray, list[RegionPair]]:
    """Photo, reference and the hand-drawn regions of one pair."""
    content = load_image(EVAL / "input" / f"in{pair}.png")
    style = load_image(EVAL / "style" / f"tar{pair}.png")
    regions = regions_from_segmentations(load_image(EVAL / "segmentation" / f"in{pair}.png"),
                                         load_image(EVAL / "segmentation" / f"tar{pair}.png"))
    return content, style, regions


def paper_result(pair: str, shape: tuple[int, ...]) -> np.ndarray:
    """The paper's final result for the pair, at the photo's size."""
    paper = load_image(EVAL / "final" / f"out{pair}.png")[:, :, :3]
    if paper.shape[:2] != shape[:2]:
        paper = np.asarray(Image.fromarray(paper).resize((shape[1], shape[0]), Image.LANCZOS))
    return paper


def measure(image: np.ndarray, content: np.ndarray, style: np.ndarray, regions: list[RegionPair],
            size: int) -> dict[str, float]:
    """Style distance (lower = closer look), photorealism energy (lower = more photo-like) and edge
    similarity (higher = structure kept), all at a long side of `size` px."""
    return {"style": style_distance(image, style, regions, size),
            "photo": photorealism_energy(image, content, size),
            "edges": edge_similarity(image, content, size)}
