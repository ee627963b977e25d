"""The `photostyle` console script: the command line, with Ctrl-C handled from the very start.

Importing the command line takes seconds (torch), and a Ctrl-C in that time would otherwise end
in a traceback, before `cli.main` could catch it. Only the standard library is imported here.
"""

from __future__ import annotations

import sys

EXIT_CANCELLED = 130
INTERRUPTED = "interrupted; nothing was written."


def cancelled(message: str) -> int:
    """Say on stderr that the command was cancelled, and why; its exit status."""
    print(f"\ncancelled: {message}", file=sys.stderr)
    return EXIT_CANCELLED


def main() -> int:
    try:
        from photostyle.server.cli.main import main as run_command_line
    except KeyboardInterrupt:
        return cancelled(INTERRUPTED)
    try:
        return run_command_line()
    except KeyboardInterrupt:  # outside a transfer (e.g. installing a plug-in): what was done stays done
        return cancelled("interrupted.")


if __name__ == "__main__":
    sys.exit(main())
