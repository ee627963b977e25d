"""Transport overhead of the daemon: what sending a layer and getting the result back costs,
beside what the engine itself takes for a default transfer.

    .venv/bin/python benchmarks/transport.py              # 1, 12, 24, 50 MP; 8- and 16-bit RGBA
    .venv/bin/python benchmarks/transport.py --sizes 1 24 --skip-engine

The round trip runs the real client library against a real daemon in another process (as the
plug-ins do) on 127.0.0.1, whose engine is replaced by one that returns the content untouched:
everything but the engine is timed (chunking, gRPC, the daemon's checks and its line, the result
stream, reassembly). The engine's time for a default transfer is measured on this machine with
photostyle.core: the full-resolution part (input conversion, smooth-local-affine finish) by a
1 + 1 iteration run at each layer size, plus the preset's remaining iterations at the per-
iteration costs measured at the preset's working size (they do not depend on the layer size).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from photostyle.core import TransferOptions, TransferResult, get_preset, transfer
from photostyle.server.client import Client, Options, Result
from photostyle.server.daemon import Daemon, DaemonConfig, return_large_buffers_to_os
from photostyle.server.daemon.pixels import image_from_array
from photostyle.server.daemon.scheduler import Job

SIZES_MP = {1: (816, 1224), 12: (2828, 4243), 24: (4000, 6000), 50: (5773, 8660)}  # 3:2, height × width


class EchoEngine:
    """Stands in for the engine: the result is the content, at once."""

    device_name = "echo (no engine work)"

    def warm(self) -> float:
        return 0.0

    def run(self, job: Job) -> TransferResult:
        return TransferResult(job.inputs.content, device="echo")


def serve_echo() -> None:
    """The echo daemon, in its own process like a real one; stops when stdin closes."""
    return_large_buffers_to_os()
    daemon = Daemon(DaemonConfig(port=0), engine=EchoEngine())
    daemon.start()
    print(f"ready on {daemon.address}", flush=True)
    sys.stdin.read()
    daemon.stop(grace=1.0)


def layer(megapixels: int, dtype: type) -> np.ndarray:
    """An RGBA layer with texture (so nothing downstream can shortcut on constant data)."""
    height, width = SIZES_MP[megapixels]
    rng = np.random.default_rng(megapixels)
    top = 255 if dtype == np.uint8 else 65535
    row = rng.integers(0, top, size=(1, width, 4), dtype=dtype)
    return np.ascontiguousarray(np.broadcast_to(row, (height, width, 4))) ^ np.arange(height, dtype=dtype)[:, None, None]


def round_trip_seconds(client: Client, pixels: np.ndarray, repeat: int) -> float:
    image = image_from_array(pixels)
    style = image_from_array(pixels[:256, :256])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = client.transfer(image, style, options=Options(style_iterations=0, photoreal_iterations=0)).result()
        times.append(time.perf_counter() - started)
        assert isinstance(result, Result) and result.image.data == image.data, "the round trip changed the pixels"
        del result
    return statistics.median(times)


def engine_seconds(sizes: list[int]) -> dict[int, float]:
    """Estimated engine seconds of a default transfer per layer size (see the module docstring)."""
    preset = get_preset("default")
    small, reference = layer(1, np.uint8), layer(1, np.uint8)[::-1].copy()

    def timed(pixels: np.ndarray, style_iterations: int, photoreal_iterations: int, smooth: bool = False) -> float:
        options = replace(TransferOptions(), style_iterations=style_iterations,
                          photoreal_iterations=photoreal_iterations, smooth=smooth)
        started = time.perf_counter()
        transfer(pixels, reference, None, options)
        return time.perf_counter() - started

    per_style = (timed(small, 6, 0) - timed(small, 2, 0)) / 4
    per_photoreal = (timed(small, 2, 6) - timed(small, 2, 2)) / 4
    print(f"engine at {preset.size} px: {per_style:.2f} s per style iteration, {per_photoreal:.2f} s per "
          f"photorealism iteration ({preset.style_iterations} + {preset.photoreal_iterations} in the default preset)",
          file=sys.stderr)
    rest = (preset.style_iterations - 1) * per_style + (preset.photoreal_iterations - 1) * per_photoreal
    estimates = {}
    for megapixels in sizes:
        estimates[megapixels] = timed(layer(megapixels, np.uint16), 1, 1, smooth=True) + rest
        print(f"engine, {megapixels} MP: {estimates[megapixels]:.0f} s", file=sys.stderr)
    return estimates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SIZES_MP), choices=sorted(SIZES_MP),
                        help="layer sizes in megapixels")
    parser.add_argument("--repeat", type=int, default=3, help="round trips per layer (the median is reported)")
    parser.add_argument("--skip-engine", action="store_true", help="only time the transport")
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo()
        return

    daemon = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-echo"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = re.search(r"ready on (\S+)", daemon.stdout.readline()).group(1)
        rows = []
        with Client(address) as client:
            for megapixels in args.sizes:
                for dtype, bits in ((np.uint8, 8), (np.uint16, 16)):
                    pixels = layer(megapixels, dtype)
                    seconds = round_trip_seconds(client, pixels, args.repeat)
                    rows.append((megapixels, bits, pixels.nbytes, seconds))
                    print(f"{megapixels} MP {bits}-bit: {seconds:.2f} s", file=sys.stderr)
                    del pixels
    finally:
        daemon.stdin.close()
        daemon.wait(30)
    engine = {} if args.skip_engine else engine_seconds(args.sizes)

    print("| layer (RGBA) | size | round trip | throughput (both ways) | engine, default transfer | overhead |")
    print("|---|---|---|---|---|---|")
    for megapixels, bits, nbytes, seconds in rows:
        overhead = f"{100 * seconds / engine[megapixels]:.1f} %" if megapixels in engine else "–"
        engine_text = f"{engine[megapixels]:.0f} s" if megapixels in engine else "–"
        print(f"| {megapixels} MP {bits}-bit | {nbytes / 1e6:.0f} MB | {seconds:.2f} s | "
              f"{2 * nbytes / seconds / 1e6:.0f} MB/s | {engine_text} | {overhead} |")


if __name__ == "__main__":
    main()
