"""Helpers shared by the engine tests (a plain module, so it never clashes with a conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

#: The paper's example pairs (academic use only): read in place from ../shared beside the
#: repository root (this file is tests/core/…: parents[2] is the repository), never copied into it.
REPO_ROOT = Path(__file__).resolve().parents[2]
DPST_DIR = REPO_ROOT.parent / "shared" / "eval" / "dpst"


def smooth_rgb(height: int, width: int, seed: int = 0, detail: int = 6) -> np.ndarray:
    """A deterministic H×W×3 float32 image in [0, 1]: random colours on a coarse grid, bilinearly
    upsampled (photo-like smooth regions), plus a little fine noise so no window is perfectly flat."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // detail), max(2, width // detail), generator=generator, dtype=torch.float64)
    image = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0]
    image = image + 0.02 * torch.rand(3, height, width, generator=generator, dtype=torch.float64)
    return image.clamp(0, 1).permute(1, 2, 0).numpy().astype(np.float32)
