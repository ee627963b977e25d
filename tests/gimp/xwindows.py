"""Finding GIMP's windows under Xvfb with xdotool, for the GUI scenarios (plain Python: it runs in
GIMP's batch code and in the dialog grabber alike, both inside the chroot)."""

import subprocess
import time


def find_window(title_pattern: str, timeout: float = 60.0) -> str:
    """The first visible window whose title matches, polling. `xdotool search --sync` is not enough:
    xdotool exits 1 on an X error, such as a window closing while it searches (GIMP's progress popups
    do), and that is a reason to look again, not a failure."""
    deadline = time.monotonic() + timeout
    while True:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title_pattern],
                               capture_output=True, text=True, timeout=30)
        if found.returncode == 0 and found.stdout.split():
            return found.stdout.split()[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"no window titled like {title_pattern!r} in {timeout:.0f} s "
                               f"(xdotool: {found.stderr.strip()!r}); visible windows: {_visible_titles()}")
        time.sleep(0.5)


def _visible_titles() -> list:
    windows = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."], capture_output=True,
                             text=True, timeout=30).stdout.split()
    return [subprocess.run(["xdotool", "getwindowname", window], capture_output=True, text=True,
                           timeout=30).stdout.strip() for window in windows]
