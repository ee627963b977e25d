"""End-to-end video benchmark: `photostyle video` on a 10 s 1080p clip with one cut, timed as a user
runs it (a fresh interpreter: model loading, decoding twice, the keyframe fits, styling, H.264
encoding and the audio copy all count). Target (issue 20): under 3 minutes on 2 CPU cores.

The clip is made here from two DPST example photos (../shared/eval): a slow pan and zoom across one
for the first half, a cut, then across the other, with a sine tone as audio; encoded with PyAV.

    python benchmarks/video_clip.py                 # default preset, 10 s at 24 frames/s
    python benchmarks/video_clip.py --seconds 4 --preset preview
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

import machine
from dpst_pairs import EVAL, require_pairs

OUT = Path(__file__).resolve().parent / "out" / "video-clip"
WIDTH, HEIGHT = 1920, 1080


def make_clip(path: Path, seconds: float, fps: int) -> int:
    """Write the clip; its frame count."""
    photos = [Image.open(EVAL / "input" / f"in{number}.png").convert("RGB") for number in ("1", "4")]
    count = round(seconds * fps)
    cut = count // 2
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        for index in range(count):
            photo = photos[0] if index < cut else photos[1]
            shot_t = (index if index < cut else index - cut) / max(cut, 1)
            scale = 1.0 - 0.15 * shot_t  # a slow zoom in
            box_w, box_h = photo.width * scale, photo.width * scale * HEIGHT / WIDTH
            box_h = min(box_h, photo.height)
            left = (photo.width - box_w) * shot_t  # and a pan to the right
            top = (photo.height - box_h) / 2
            frame = photo.resize((WIDTH, HEIGHT), Image.BICUBIC, box=(left, top, left + box_w, top + box_h))
            for packet in video.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        samples = int(seconds * 48000)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = tone[start:start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    require_pairs()
    OUT.mkdir(parents=True, exist_ok=True)
    clip, styled = OUT / "clip.mp4", OUT / "styled.mp4"
    count = make_clip(clip, args.seconds, args.fps)
    command = [str(Path(sys.executable).parent / "photostyle"), "video", str(clip),
               str(EVAL / "style" / "tar10.png"), "-o", str(styled), "--overwrite", "--preset", args.preset]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode:
        sys.exit(f"photostyle video failed ({run.returncode}):\n{run.stderr}")
    with av.open(str(styled)) as result:
        frames = sum(1 for _ in result.decode(video=0))
    cpu = machine.cpu_model()
    print(run.stdout.strip())
    print(f"\nCPU: {cpu}")
    print("| clip | preset | frames | end to end | per frame | target |\n| --- | --- | --- | --- | --- | --- |")
    print(f"| {args.seconds:g} s {WIDTH}×{HEIGHT} at {args.fps} frames/s, one cut | {args.preset} | {frames} of {count} | "
          f"{seconds:.0f} s | {seconds / count:.2f} s | under 180 s for 10 s |")


if __name__ == "__main__":
    main()
