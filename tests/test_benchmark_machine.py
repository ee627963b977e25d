"""The speed benchmark names the kernels MKL and oneDNN run (benchmarks/machine.py): MKL chooses them
by CPU vendor as well as instruction set, so the CPU's flags alone do not say which run (issue 21)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import machine  # noqa: E402  (benchmarks/ is not a package)


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="this torch has no MKL")
def test_mkls_kernels_are_named_as_mkl_chose_them(monkeypatch):
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")  # what MKL has chosen on AMD CPUs
    mkl, _ = machine.library_kernels()
    assert mkl == "SSE4.2"
    assert "MKL's kernels: SSE4.2" in machine.describe()


@pytest.mark.skipif(not torch.backends.mkldnn.is_available() or "avx2" not in (machine._cpuinfo("flags") or ""),
                    reason="needs oneDNN and an AVX2 CPU")
def test_onednns_kernels_are_named(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    _, onednn = machine.library_kernels()
    assert onednn == "Intel AVX2"
