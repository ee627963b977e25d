"""The `photostyle` console script: the command line, with Ctrl-C handled from the very start.

Importing the command line takes seconds (torch), and a Ctrl-C in that time would otherwise end
in a traceback, before `cli.main` could catch it (or abort the process, inside torch's C++ start-up).
Only the standard library is imported here.
"""

from __future__ import annotations

import ctypes
import signal
import sys

EXIT_CANCELLED = 130
INTERRUPTED = "interrupted; nothing was written."


def cancelled(message: str) -> int:
    """Say on stderr that the command was cancelled, and why; its exit status."""
    print(f"\ncancelled: {message}", file=sys.stderr)
    return EXIT_CANCELLED


#: glibc's mallopt parameters; the size from which our process maps each allocation on its own, and
#: how much freed memory at the top of the heap it keeps for reuse.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MAP_FROM_BYTES = 16 << 20
KEEP_FREED_BYTES = 512 << 20


def map_large_allocations() -> bool:
    """Have glibc map allocations of 16 MB and more (a layer's activations) on their own, returned
    to the system when freed. By default glibc raises that threshold to 32 MB once such blocks have
    been freed, and the bfloat16 activations of a 512 px stage (about 22 MB) then fragment its heap:
    the `default` transfer of a 700 px pair peaked at 1.74-1.86 GB instead of 1.58 GB (1.70-1.74
    before bfloat16). Setting the threshold also stops glibc's own tuning, which would leave the
    heap's trim threshold at 128 KB: every evaluation's freed activations went back to the system
    and came back as fresh pages, and first touches are slow on virtual machines (the `default` on
    pair 45, 2-core "Intel(R) Xeon(R) Processor" VM: 4.5 million page faults, 19.0 s; keeping up to
    512 MB: 1.8 million, 16.1 s, peak 1.19 instead of 1.13 GB; the process ends with its job; the
    daemon sets its own policy, `daemon.return_large_buffers_to_os`). Elsewhere (macOS, Windows,
    musl) nothing changes. True where applied."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mapped = libc.mallopt(_M_MMAP_THRESHOLD, MAP_FROM_BYTES) == 1
        return mapped and libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES) == 1
    except (OSError, AttributeError):
        return False


def main() -> int:
    # While torch loads, a KeyboardInterrupt raised inside one of its C++ callbacks aborts the
    # process ("terminate called after throwing an instance of 'pybind11::error_already_set'"), so
    # Ctrl-C is only noted then, and acted on once the import is over.
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    map_large_allocations()
    try:
        from photostyle.server.cli.main import main as run_command_line
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        return cancelled(INTERRUPTED)
    try:
        return run_command_line()
    except KeyboardInterrupt:  # outside a transfer (e.g. installing a plug-in): what was done stays done
        return cancelled("interrupted.")


if __name__ == "__main__":
    sys.exit(main())
