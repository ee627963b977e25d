"""glibc's heap policy while a job runs, and the daemon's between jobs. Elsewhere (macOS, Windows,
musl) nothing changes.

While a job runs, allocations of 8 MB and more (a 512 px stage's activations) are mapped on their
own and returned when freed: by default glibc raises that threshold to 32 MB once such blocks have
been freed, and bfloat16's activations of a 512 px stage (about 22 MB) then fragment the heap
(`default` on a 700 px pair peaked at 1.74-1.86 GB instead of 1.58 GB). Smaller blocks (a 256 px
stage's, 5 MB in bfloat16) stay in the heap, and up to 512 MB of freed heap is kept for reuse:
setting the threshold also stops glibc's own tuning, which would leave the trim threshold at
128 KB, and every evaluation's freed memory would go back to the system and return as fresh pages,
slow to first touch on virtual machines (pair 45, 2-core "Intel(R) Xeon(R) Processor" VM: 4.5
million page faults and 19.0 s; keeping 512 MB: 1.8 million, 16.1 s). Mapping from 4 MB cost
pair 1 1.1 s more; from 16 MB, the daemon's memory below grew 7 MB more.

The daemon outlives its jobs and holds its clients' uploads and results (tens of MB, allocated by
whichever server thread handles the call) between them, so between jobs it maps from 1 MiB, trims
at 128 KB and keeps one arena for all threads: otherwise glibc keeps those buffers in per-thread
arenas and the footprint grows with the clients served (+370 MB after 8 clients with 24 MB layers,
against +56 MB). During a job it uses the job's policy (pair 1 in one process under the
between-jobs policy: 12.1-15.1 s and 5-6 million page faults; under the job's, 8.0-8.8 s), and
gives the kept memory back when the job ends; over 8 clients with 24 MB layers its peak grew 54-84
MB beyond one job's (53 MB without the job's policy; 72-91 MB with per-thread arenas and a 16 MB
threshold).
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from typing import Iterator

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
JOB_MAP_FROM_BYTES = 8 << 20
JOB_KEEP_FREED_BYTES = 512 << 20
IDLE_MAP_FROM_BYTES = 1 << 20
IDLE_KEEP_FREED_BYTES = 128 << 10  # glibc's default trim threshold


def _load_glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_GLIBC = _load_glibc()  # looked up once: the daemon sets its policy twice a job


def _set_policy(map_from_bytes: int, keep_freed_bytes: int) -> bool:
    if _GLIBC is None:
        return False
    return (_GLIBC.mallopt(_M_MMAP_THRESHOLD, map_from_bytes) == 1
            and _GLIBC.mallopt(_M_TRIM_THRESHOLD, keep_freed_bytes) == 1)


def map_large_allocations() -> bool:
    """The job's policy, for a process that runs one job and ends (the command line). True where applied."""
    return _set_policy(JOB_MAP_FROM_BYTES, JOB_KEEP_FREED_BYTES)


def return_large_buffers_to_os() -> bool:
    """The daemon's policy between jobs. True where applied."""
    if _GLIBC is not None:
        _GLIBC.mallopt(_M_ARENA_MAX, 1)
    return _set_policy(IDLE_MAP_FROM_BYTES, IDLE_KEEP_FREED_BYTES)


@contextmanager
def heap_kept_for_the_job() -> Iterator[None]:
    """The daemon running one job: the job's policy, then the daemon's, with the kept memory given back."""
    map_large_allocations()
    try:
        yield
    finally:
        return_large_buffers_to_os()
        if _GLIBC is not None:
            _GLIBC.malloc_trim(0)
