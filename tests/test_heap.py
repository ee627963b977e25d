"""The heap policies, by their effect on this process's memory (glibc only)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc's mallopt only")

# Allocates and frees 400 MB in blocks of argv[2] MB (the daemon maps them from 1 MB, the job never),
# touching them, and prints this process's resident MB: before, after the frees, and at the end.
_SCENARIO = """
import ctypes, sys
from photostyle.server import heap
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

def churn():
    size = int(sys.argv[2]) << 20
    blocks = [libc.malloc(size) for _ in range((400 << 20) // size)]
    for block in blocks:
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)

before = resident_mb()
if sys.argv[1] == "job":
    with heap.heap_kept_for_the_job():
        churn()
        during = resident_mb()
else:
    assert heap.return_large_buffers_to_os()
    churn()
    during = resident_mb()
print(before, during, resident_mb())
"""


def run_scenario(policy: str, block_mb: int) -> tuple[float, float, float]:
    done = subprocess.run([sys.executable, "-c", _SCENARIO, policy, str(block_mb)], capture_output=True, text=True,
                          check=True)
    before, during, after = map(float, done.stdout.split())
    return before, during, after


@pytest.mark.parametrize("block_mb", [4, 50])  # a 256 px stage's activations in bfloat16; a 512 px one's in float32
def test_a_job_keeps_its_freed_memory_for_reuse_and_gives_it_back_when_it_ends(block_mb):
    before, during, after = run_scenario("job", block_mb)
    assert during - before > 300  # 400 MB freed but kept: the next evaluation reuses it, no fresh pages
    assert after - before < 40  # the job over, the daemon's footprint is back


def test_between_jobs_the_daemon_returns_large_buffers_at_once():
    before, during, after = run_scenario("idle", 4)
    assert during - before < 40
