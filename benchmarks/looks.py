"""What looks cost: fitting a run's look (the `look_size` option), and applying a look file to a
layer over the daemon (ApplyLook) beside the engine's own apply in this process.

    .venv/bin/python benchmarks/looks.py                 # 1 and 24 MP, 8- and 16-bit RGBA
    .venv/bin/python benchmarks/looks.py --sizes 24 --repeats 3

The daemon runs in another process on 127.0.0.1 (`photostyle serve`), as the plug-ins reach it;
the round trip includes chunking the layer and the look file, the daemon's checks, reading the
.cube, the apply, and the result's stream back.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from photostyle.core import apply_look, fit_look, save_look
from photostyle.server.client import Client
from photostyle.server.wire.arrays import image_from_array

SIZES_MP = {1: (816, 1224), 12: (2828, 4243), 24: (4000, 6000)}  # 3:2, height × width


def photo(height: int, width: int, dtype: type) -> np.ndarray:
    """A smooth gradient with texture and an opaque alpha, at `dtype`'s full range."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width, y / height, 0.5 + 0.4 * np.sin(x / 37.0) * np.cos(y / 23.0)], axis=2)
    scale = 65535 if dtype == np.uint16 else 255
    pixels = np.concatenate([rgb, np.ones((height, width, 1), np.float32)], axis=2)
    return np.round(pixels * scale).astype(dtype)


def graded(image: np.ndarray) -> np.ndarray:
    """A warm, contrasty grade of `image` that a LUT carries."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    rgb = image[..., :3].astype(np.float32) / scale
    out = np.clip(np.stack([rgb[..., 0] ** 0.8, rgb[..., 1] ** 1.1, rgb[..., 2] * 0.8], axis=2), 0, 1)
    return np.concatenate([np.round(out * scale).astype(image.dtype), image[..., 3:]], axis=2)


def seconds(task, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        task()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 24], choices=sorted(SIZES_MP))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    daemon = subprocess.Popen([sys.executable, "-m", "photostyle.server.cli", "serve", "--port", "0"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        address = next(match.group(1) for line in daemon.stderr if (match := re.search(r"ready on (\S+)", line)))
        with tempfile.TemporaryDirectory() as folder, Client(address) as client:
            for megapixels in args.sizes:
                height, width = SIZES_MP[megapixels]
                for dtype in (np.uint8, np.uint16):
                    image = photo(height, width, dtype)
                    result = graded(image)
                    fit = seconds(lambda: fit_look(image, result, size=33), 1)
                    look = fit_look(image, result, size=33)
                    cube = Path(folder) / "look.cube"
                    save_look(cube, look)
                    data = cube.read_bytes()
                    local = seconds(lambda: apply_look(look, image), args.repeats)
                    layer = image_from_array(image)
                    remote = seconds(lambda: client.apply_look(layer, data, ".cube"), args.repeats)
                    print(f"{megapixels:>3} MP {np.dtype(dtype).name:>6} RGBA: fit 33³ {fit:5.2f} s "
                          f"({look.fidelity.note.split(':')[0]}); apply in-process {local:5.2f} s, over the "
                          f"daemon {remote:5.2f} s (a {len(data) / 1e6:.1f} MB .cube)", flush=True)
    finally:
        daemon.terminate()
        daemon.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
