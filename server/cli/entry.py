"""The `photostyle` console script: the command line, with Ctrl-C handled from the very start.

Importing the command line takes seconds (torch), and a Ctrl-C in that time would otherwise end
in a traceback, before `cli.main` could catch it (or abort the process, inside torch's C++ start-up).
Only the standard library (and `heap`, which uses nothing else) is imported here.
"""

from __future__ import annotations

import signal
import sys

from ..heap import keep_memory_for_the_job

EXIT_CANCELLED = 130
INTERRUPTED = "interrupted; nothing was written."


def cancelled(message: str) -> int:
    """Say on stderr that the command was cancelled, and why; its exit status."""
    print(f"\ncancelled: {message}", file=sys.stderr)
    return EXIT_CANCELLED


def main() -> int:
    # While torch loads, a KeyboardInterrupt raised inside one of its C++ callbacks aborts the
    # process ("terminate called after throwing an instance of 'pybind11::error_already_set'"), so
    # Ctrl-C is only noted then, and acted on once the import is over.
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    keep_memory_for_the_job()
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
