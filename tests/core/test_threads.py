"""The job's thread count follows the cores other programs leave idle, measured on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from photostyle.core import threads
from photostyle.core.threads import CpuSample, fitted_to_idle_cores, others_busy_cores, sample, threads_for

linux_only = pytest.mark.skipif(sample() is None, reason="reads /proc/stat")
CORES = os.cpu_count() or 1


class BusyPrograms:
    """One busy-looping process per core: a machine whose every core another program is using."""

    def __enter__(self) -> "BusyPrograms":
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(CORES)]
        time.sleep(0.3)  # started and spinning
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


class TestArithmetic:
    def test_others_busy_cores_leaves_out_this_process(self):
        before = CpuSample(wall=10.0, machine_busy=100.0, own=5.0)
        after = CpuSample(wall=12.0, machine_busy=103.0, own=6.0)  # 3 s busy in 2 s, 1 s of it ours
        assert others_busy_cores(before, after) == pytest.approx(1.0)

    def test_too_short_a_look_says_nothing(self):
        before = CpuSample(wall=10.0, machine_busy=100.0, own=5.0)
        assert others_busy_cores(before, CpuSample(10.05, 100.1, 5.0)) is None

    @pytest.mark.parametrize("busy, cores, ceiling, expected", [
        (0.0, 2, 2, 2), (0.3, 2, 2, 2), (1.0, 2, 2, 1), (2.0, 2, 2, 1), (5.0, 2, 2, 1),  # never below one
        (0.0, 16, 8, 8), (10.0, 16, 8, 6),  # never above the caller's count
    ])
    def test_one_thread_per_idle_core(self, busy, cores, ceiling, expected):
        assert threads_for(busy, cores, ceiling) == expected


@linux_only
class TestOnThisMachine:
    def test_programs_busy_on_every_core_are_seen(self):
        with BusyPrograms():
            before = sample()
            time.sleep(0.5)
            busy = others_busy_cores(before, sample())
        assert busy is not None and busy >= CORES - 0.6

    def test_this_process_own_work_is_not_counted(self):
        # Compared with what the other programs used just before: a busy machine must not fail it.
        before_idle = sample()
        time.sleep(0.5)
        before = sample()
        baseline = others_busy_cores(before_idle, before)
        torch.randn(512, 512) @ torch.randn(512, 512)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # this process keeps one core busy
            pass
        busy = others_busy_cores(before, sample())
        assert baseline is not None and busy is not None and busy < baseline + 0.7

    @pytest.mark.skipif(CORES < 2, reason="one core: one thread either way")
    def test_a_job_on_a_busy_machine_runs_one_thread_and_gives_back_the_callers_count(self):
        caller = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            with BusyPrograms():
                threads._Fitting.last = sample()
                time.sleep(0.5)
                with fitted_to_idle_cores():
                    inside = torch.get_num_threads()
            after = torch.get_num_threads()
        finally:
            torch.set_num_threads(caller)
        assert inside == 1
        assert after == 2


@pytest.mark.parametrize("environment, expected", [({}, "10000"), ({"OMP_WAIT_POLICY": "PASSIVE"}, None),
                                                   ({"GOMP_SPINCOUNT": "5"}, "5")])
def test_threads_spin_briefly_unless_the_caller_chose(environment, expected):
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os, photostyle.core; print(os.environ.get('GOMP_SPINCOUNT'))"
    done = subprocess.run([sys.executable, "-c", code], env={**env, **environment}, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == str(expected)
