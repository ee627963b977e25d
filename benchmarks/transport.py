"""Transport overhead of the daemon: what sending a layer and getting the result back costs,
beside what the engine itself takes for a default transfer.

    .venv/bin/python benchmarks/transport.py              # 1, 12, 24, 50 MP; 8- and 16-bit RGBA
    .venv/bin/python benchmarks/transport.py --sizes 1 24 --skip-engine

The round trip runs the real client library against a real daemon in another process (as the
plug-ins do) on 127.0.0.1, whose engine is replaced by one that returns the content untouched:
everything but the engine is timed (chunking, gRPC, the daemon's checks and its line, the result
stream, reassembly). The engine's time for a default transfer is measured on this machine with
photostyle.core, one run per layer size.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from photostyle.core import TransferOptions, TransferResult, transfer
from photostyle.server.client import Client, Options, Result
from photostyle.server.daemon import Daemon, DaemonConfig
from photostyle.server.heap import return_large_buffers_to_os
from photostyle.server.wire.arrays import image_from_array
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
        result = client.transfer(image, style, options=Options(iterations=0)).result()
        times.append(time.perf_counter() - started)
        assert isinstance(result, Result) and result.image.data == image.data, "the round trip changed the pixels"
        del result
    return statistics.median(times)


def engine_seconds(sizes: list[int]) -> dict[int, float]:
    """Engine seconds of one default transfer per layer size (16-bit RGBA), model loaded beforehand."""
    reference = layer(1, np.uint8)[::-1].copy()
    transfer(layer(1, np.uint8), reference, None, TransferOptions(iterations=0))  # loads VGG19
    estimates = {}
    for megapixels in sizes:
        pixels = layer(megapixels, np.uint16)
        started = time.perf_counter()
        transfer(pixels, reference, None, TransferOptions())
        estimates[megapixels] = time.perf_counter() - started
        print(f"engine, {megapixels} MP: {estimates[megapixels]:.0f} s", file=sys.stderr)
        del pixels
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
