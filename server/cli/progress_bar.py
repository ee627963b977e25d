"""A one-line terminal progress bar for engine progress (no dependency, TTY-aware)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from photostyle.core import Progress


class ProgressBar:
    """Redraws one line on a terminal; on a pipe or log file prints a line every 10 %."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()
        self.started = time.monotonic()
        self._last_decile = -1

    def __call__(self, progress: Progress) -> None:
        filled = int(round(progress.fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.started
        line = (f"[{bar}] {progress.fraction:4.0%}  {progress.stage} "
                f"{progress.iteration}/{progress.iterations}  loss {progress.loss:.3g}  {elapsed:.0f}s")
        if self.interactive:
            self.stream.write("\r" + line)
            if progress.fraction >= 1.0:
                self.stream.write("\n")
        else:
            decile = int(progress.fraction * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()
