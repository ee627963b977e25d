"""A one-line terminal progress bar for engine progress (no dependency, TTY-aware)."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from photostyle.core import Progress
from photostyle.core.progress import one_of


class ProgressBar:
    """Redraws one line on a terminal; on a pipe or log file prints a line every 10 %."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr  # looked up now: a test's (or a caller's) replacement counts
        self.width = width
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self._last_decile = -1

    def __call__(self, progress: Progress) -> None:
        filled = int(round(progress.fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.started
        loss = f"  loss {progress.loss:.3g}" if progress.loss else ""
        line = (f"[{bar}] {progress.fraction:4.0%}  {progress.stage} "
                f"{progress.iteration}/{progress.iterations}{loss}  {elapsed:.0f}s")
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

    def one_of(self, index: int, count: int, name: str) -> Callable[[Progress], None]:
        """A progress callback for step `index` (0-based) of `count` (a photo of a set): its reports
        move this bar through that step's share of the whole, and name the step."""
        return one_of(self, index, count, name)

    def counting(self, what: str, count: int) -> Callable[[int], None]:
        """A callback for work counted in items (frames): called with how many are done, it redraws
        the bar with the items per second and the time left."""
        started = time.monotonic()

        def report(done: int) -> None:
            seconds = time.monotonic() - started
            rate = done / seconds if seconds > 0 else 0.0
            left = f", {(count - done) / rate:.0f} s left" if rate > 0 and done < count else ""
            self(Progress(f"{what} {rate:.1f}/s{left}", 1, 1, done, count, min(done / count, 1.0) if count else 0.0))
        return report

    def step_done(self, index: int, count: int, name: str, what: str) -> None:
        """Report step `index` (0-based) of `count` as done in one go (an instant one, e.g. a look applied)."""
        self.one_of(index, count, name)(Progress(what, 1, 1, 1, 1, 1.0))
