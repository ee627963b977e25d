"""Which machine a benchmark measured, and a calibration unit that lets machines compare.

The same engine takes about 2× longer on a 2-core AMD EPYC than on a 2-core Xeon (issue 21), so a
time means little without its machine: every benchmark prints `describe()` (CPU model, vector
extensions, torch build, threads) and can give times in **calibration units**: one unit is the
time this machine takes for one VGG19 forward and backward pass up to relu5_1 at 512×384, the
engine's own dominant operation, so "the default takes N units" carries from one CPU to another.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from photostyle.core import resolve_device  # first: it sets OpenMP's wait policy, read when torch loads
from photostyle.core.vgg import load_vgg19

import torch

#: The calibration's input: the default's working size at the paper's 4:3.
CALIBRATION_SHAPE = (384, 512)
#: Vector extensions worth naming (the fastest first): they decide oneDNN's and MKL's kernels.
EXTENSIONS = ("avx512f", "avx512_bf16", "avx512_vnni", "avx2", "fma", "avx")
#: The settings, read when torch loads, that hold torch's, oneDNN's and MKL's kernels below what
#: the CPU has; with all three at AVX2 an AVX-512 machine runs as an AVX2-only one (`speed.py
#: --as-avx2`). MKL's matter for the Gram products: held to AVX2 they take 1.7× the time, and the
#: default on pair 1 1.04× (2-core "Intel(R) Xeon(R) Processor", issue 21). MKL also chooses its
#: kernels by CPU vendor: it ran SSE ones for float32 products on AMD CPUs in 2020 (pytorch/builder
#: #504); held to SSE4.2 here, the Gram products took 2.3-2.7× and the default 1.14× AVX2's time.
ISA_LIMITS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), which every time measured here depends on."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def describe(device: str = "cpu") -> str:
    """One line naming what the times depend on: CPU, its extensions, cores, torch and its threads, GPU."""
    flags = set((_cpuinfo("flags") or "").split())
    extensions = [name for name in EXTENSIONS if name in flags]
    gpu = (f"GPU {torch.cuda.get_device_name()}" if device != "cpu" and torch.cuda.is_available() else "no GPU used")
    held = [f"{name}={os.environ[name]}" for name in ISA_LIMITS if name in os.environ]
    mkl, onednn = library_kernels()
    return (f"CPU {cpu_model()} ({', '.join(extensions) or 'no AVX'}; torch's kernels: "
            f"{torch.backends.cpu.get_cpu_capability()}{' with ' + ', '.join(held) if held else ''}), "
            f"{os.cpu_count()} cores; torch {torch.__version__} (MKL's kernels: {mkl}; oneDNN's: {onednn}), "
            f"{torch.get_num_threads()} threads; {gpu}")


#: One matrix product (MKL's) and one convolution (oneDNN's), run with both libraries' verbose modes.
_KERNEL_PROBE = ("import torch; a = torch.randn(64, 64); a @ a; "
                 "torch.nn.functional.conv2d(torch.randn(1, 64, 24, 24), torch.randn(64, 64, 3, 3), padding=1)")


def library_kernels() -> tuple[str, str]:
    """The instruction sets MKL's and oneDNN's kernels run here, as the libraries report them ("not
    reported" where this torch lacks one). MKL chooses by CPU vendor too: on AMD CPUs it has run SSE
    kernels for float32 products (see ISA_LIMITS), which the CPU's extensions alone would not reveal."""
    probe = subprocess.run([sys.executable, "-c", _KERNEL_PROBE], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "MKL_VERBOSE": "1", "ONEDNN_VERBOSE": "1"})
    report = probe.stdout + probe.stderr
    # "MKL_VERBOSE oneMKL 2024.0 ... architecture Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled ..."
    mkl = re.search(r"MKL_VERBOSE .*? architecture .*?\(Intel\(R\) ([^)]+)\)", report)
    onednn = re.search(r"onednn_verbose,.*?,info,cpu,isa:(.+)", report)  # "...,info,cpu,isa:Intel AVX2"
    return (mkl.group(1) if mkl else "not reported", onednn.group(1).strip() if onednn else "not reported")


def calibration_seconds(device: str = "cpu", repeats: int = 5) -> float:
    """Median seconds of one VGG19 forward+backward to relu5_1 at CALIBRATION_SHAPE (after one warm-up)."""
    where = resolve_device(device)
    net = load_vgg19(None, where)
    x = torch.rand(1, 3, *CALIBRATION_SHAPE, device=where, requires_grad=True)
    times = []
    for _ in range(repeats + 1):
        if where.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        net(x, ["relu5_1"])["relu5_1"].sum().backward()
        if where.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        x.grad = None
    return statistics.median(times[1:])


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
