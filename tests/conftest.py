"""Fixtures for the whole suite: the devices the engine runs on.

The engine picks CUDA when it is present ("auto"), so a suite that assumed a CPU could not pass on
the machines the engine is for. Tests that exercise the engine (in this process, in a daemon, or
through the CLI) take a `device` argument instead (`pytest_generate_tests` below): they run once
per device present, the CPU always and CUDA when torch sees a GPU, with ids `[cpu]` / `[cuda]`. On
a machine without a GPU there is only `[cpu]`, so nothing gets slower there. A test may still pass
device="cpu" to the engine when it is about the CPU path; no test may assume "auto" means the CPU.

PHOTOSTYLE_TEST_DEVICES (comma-separated torch device names, e.g. `cpu` or `cuda:1`) replaces the
list, to restrict a GPU machine's run to one device or to pick another GPU. A device this machine
does not have is an error at startup, not a silent skip.
"""

from __future__ import annotations

import os

import pytest

DEVICES_VARIABLE = "PHOTOSTYLE_TEST_DEVICES"


def _devices() -> list[str]:
    import torch

    asked = os.environ.get(DEVICES_VARIABLE, "")
    if asked.strip():
        return [name.strip() for name in asked.split(",") if name.strip()]
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


DEVICES = _devices()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(DEVICES_VARIABLE, "").strip():
        from photostyle.core import PhotoStyleError, resolve_device

        for name in DEVICES:
            try:
                resolve_device(name)
            except PhotoStyleError as exc:
                raise pytest.UsageError(f"{DEVICES_VARIABLE}={os.environ[DEVICES_VARIABLE]}: {exc}") from None


def pytest_report_header(config: pytest.Config) -> str:
    return f"photostyle test devices: {', '.join(DEVICES)}"


#: Fixtures wider than one test that take `device`: a test that uses one (through any chain of
#: fixtures) gets its `device` at module scope, so that each module starts one per device.
MODULE_SCOPED_DEVICE_FIXTURES = frozenset({"daemon"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`device`: each device this machine has, the CPU always and CUDA when present, as torch
    names them; compare what the engine reports with `str(torch.device(device))`.

    Per test, as kornia does; per module for the tests of a started daemon (a session-scoped
    parameter would regroup the whole suite by device, across modules).
    """
    if "device" in metafunc.fixturenames:
        scope = "module" if MODULE_SCOPED_DEVICE_FIXTURES & set(metafunc.fixturenames) else "function"
        metafunc.parametrize("device", DEVICES, ids=DEVICES, scope=scope)
