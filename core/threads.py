"""How many CPU threads torch uses during a job: as many as the rest of the machine leaves cores idle.

torch's threads meet after every operation, thousands of times an evaluation. Waiting there by
spinning for a moment (GOMP_SPINCOUNT, set in `photostyle.core` before torch loads) keeps an idle
machine fast: the `default` preset on pair 1 took 8.3-8.7 s, against 12.0 s when every wait slept
and woke (2-core Xeon VM, one run each). But while another program keeps a core busy, a thread that spins for a
colleague with no core wastes its time slices: 24 s (sleeping waits: 14 s); one thread on the free
core took 13.7 s. So a job starts, and each stage of its optimisation starts again, with one thread
per core the others left idle since the last look (Linux's /proc/stat, less this process's own CPU
time), never more than the caller's torch thread count. Elsewhere torch's own count stands.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator, NamedTuple

import torch

#: Shorter looks than this say too little (the kernel counts CPU time in 10 ms ticks).
SHORTEST_LOOK_S = 0.2
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuSample(NamedTuple):
    """When, the machine's busy CPU seconds so far (all cores), and this process's own."""

    wall: float
    machine_busy: float
    own: float


def sample() -> CpuSample | None:
    """The counters now; None where /proc/stat is not there to read (not Linux)."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait is busy (steal
    # too: a virtual machine's host gave that time to someone else).
    ticks = [int(value) for value in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    own = os.times()
    return CpuSample(time.monotonic(), busy / _TICKS_PER_SECOND, own.user + own.system)


def others_busy_cores(before: CpuSample, after: CpuSample) -> float | None:
    """Cores' worth of CPU the rest of the machine used between two samples (None: too short a look)."""
    elapsed = after.wall - before.wall
    if elapsed < SHORTEST_LOOK_S:
        return None
    others = (after.machine_busy - before.machine_busy) - (after.own - before.own)
    return max(0.0, others / elapsed)


def threads_for(busy_cores: float, cores: int, ceiling: int) -> int:
    """One thread per core left idle (rounded), at least one, at most `ceiling`."""
    return max(1, min(ceiling, round(cores - busy_cores)))


class _Fitting:
    """The running job's thread ceiling and the last look at the machine."""

    ceiling: int | None = None
    last: CpuSample | None = sample()


def refit() -> None:
    """Inside `fitted_to_idle_cores`: set torch's thread count from the load since the last look."""
    now = sample()
    if _Fitting.ceiling is None or now is None or _Fitting.last is None:
        _Fitting.last = now
        return
    busy = others_busy_cores(_Fitting.last, now)
    if busy is None:
        return  # keep counting from the earlier look
    _Fitting.last = now
    wanted = threads_for(busy, os.cpu_count() or 1, _Fitting.ceiling)
    if wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)


def callers_thread_count() -> int:
    """The most threads the running job may use (the caller's count); torch's count outside a job."""
    return _Fitting.ceiling if _Fitting.ceiling is not None else torch.get_num_threads()


@contextmanager
def fitted_to_idle_cores() -> Iterator[None]:
    """One job: threads fitted now and at each `refit`; the caller's thread count restored after."""
    outer = _Fitting.ceiling
    _Fitting.ceiling = torch.get_num_threads() if outer is None else outer
    try:
        refit()
        yield
    finally:
        torch.set_num_threads(_Fitting.ceiling)
        _Fitting.ceiling = outer
