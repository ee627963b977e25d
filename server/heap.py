"""glibc's heap policy while a job runs, and the daemon's between jobs. Elsewhere (macOS, Windows,
musl) nothing changes.

While a job runs, every allocation comes from the heap, and up to 512 MB of freed heap is kept for
reuse. glibc's default maps a block of 128 KB and more (raised to 32 MB once such blocks have been
freed) on its own and unmaps it when freed, and a mapped block returns as fresh pages, slow to
first touch on virtual machines: each evaluation of a 512 px stage allocates and frees activations
of 21 MB (bfloat16) or 42 MB (float32). Pair 1 on a 2-core "Intel(R) Xeon(R) Processor" VM, one
process each: mapping from 8 MB (the former policy), 8.9-11.0 s and 0.88-0.92 million page
faults; from 32 MB, 7.7-7.8 s and 0.18 million; never, 7.7-8.2 s and 0.18 million, peak memory
1.06-1.07 GB against 1.02. In float32, as on CPUs without bfloat16 units: 22.6 s and 3.7 million
faults, 20.7 s and 0.64 million, 20.3 s and 0.19 million. Keeping freed memory (setting the trim
threshold) also stops glibc's own tuning, which would leave it at 128 KB, and every evaluation's
freed memory would go back to the system (pair 45, same VM: 4.5 million page faults and 19.0 s;
keeping 512 MB: 1.8 million, 16.1 s).

The daemon outlives its jobs and holds its clients' uploads and results (tens of MB, allocated by
whichever server thread handles the call) between them, so between jobs it maps from 1 MiB, trims
at 128 KB and keeps one arena for all threads: otherwise glibc keeps those buffers in per-thread
arenas and the footprint grows with the clients served (+370 MB after 8 clients with 24 MB layers,
against +56 MB). During a job it uses the job's policy (pair 1 in one process under the
between-jobs policy: 12.1-15.1 s and 5-6 million page faults; under the job's, 8.0-8.8 s), and
gives the kept memory back when the job ends; over 8 clients with 24 MB layers its peak grew 54-84
MB beyond one job's when jobs mapped from 8 MB (53 MB without the job's policy; 72-91 MB with
per-thread arenas and a 16 MB threshold), within tests/test_daemon_faults.py's bound since.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from typing import Iterator

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
GLIBC_MAPPED_BLOCKS_MAX = 65536  # M_MMAP_MAX's default
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


def _set_policy(map_from_bytes: int | None, keep_freed_bytes: int) -> bool:
    """Map blocks from `map_from_bytes` on their own (None: never); keep `keep_freed_bytes` of freed heap."""
    if _GLIBC is None:
        return False
    mapping = ((_GLIBC.mallopt(_M_MMAP_MAX, 0) == 1) if map_from_bytes is None else
               (_GLIBC.mallopt(_M_MMAP_MAX, GLIBC_MAPPED_BLOCKS_MAX) == 1
                and _GLIBC.mallopt(_M_MMAP_THRESHOLD, map_from_bytes) == 1))
    return mapping and _GLIBC.mallopt(_M_TRIM_THRESHOLD, keep_freed_bytes) == 1


def keep_memory_for_the_job() -> bool:
    """The job's policy, for a process that runs one job and ends (the command line). True where applied."""
    return _set_policy(None, JOB_KEEP_FREED_BYTES)


def return_large_buffers_to_os() -> bool:
    """The daemon's policy between jobs. True where applied."""
    if _GLIBC is not None:
        _GLIBC.mallopt(_M_ARENA_MAX, 1)
    return _set_policy(IDLE_MAP_FROM_BYTES, IDLE_KEEP_FREED_BYTES)


@contextmanager
def heap_kept_for_the_job() -> Iterator[None]:
    """The daemon running one job: the job's policy, then the daemon's, with the kept memory given back."""
    keep_memory_for_the_job()
    try:
        yield
    finally:
        return_large_buffers_to_os()
        if _GLIBC is not None:
            _GLIBC.malloc_trim(0)
