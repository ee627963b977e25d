"""Installs that are whole or absent: new folders and files are made beside their targets under
temporary names, and put in place together only once all of them are complete.

A full disk, a permission or Ctrl-C part-way through an install then leaves every target as it
was (an earlier install included) and nothing half-written beside it; putting things in place is
renaming, which needs no space.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def beside(target: Path, kind: str) -> Path:
    """A new hidden name in `target`'s folder, e.g. `.photostyle-new-1a2b3c4d` for `photostyle`."""
    return target.with_name(f".{target.name}-{kind}-{secrets.token_hex(4)}")


def swap_in(new: Path, target: Path) -> None:
    """Put the folder `new` (beside `target`) in place of `target`, which may not exist; an old
    `target` is removed afterwards. If the rename fails, `target` is as it was."""
    old = beside(target, "old")
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def remove(path: Path) -> None:
    """Delete a file or folder, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Staging:
    """The new folders and files of one install, put in place together by `commit`; used as a
    `with` block, anything not committed when it ends (on an error) is removed."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (made beside, target)
        self._committed = False

    def folder(self, target: Path, keep: tuple[str, ...] = ()) -> Path:
        """An empty folder beside `target` to build its replacement in, holding a copy (hard links
        where the file system has them) of each of `target`'s entries named in `keep`."""
        target.parent.mkdir(parents=True, exist_ok=True)
        new = beside(target, "new")
        new.mkdir()  # not tempfile.mkdtemp: its 0700 would follow the folder into place
        self._pending.append((new, target))
        for name in keep:
            if (target / name).is_dir():
                shutil.copytree(target / name, new / name, copy_function=_link_or_copy)
        return new

    def file(self, target: Path, text: str) -> None:
        """`text` (UTF-8) to replace the file `target` with."""
        target.parent.mkdir(parents=True, exist_ok=True)
        new = beside(target, "new")
        self._pending.append((new, target))
        new.write_text(text, encoding="utf-8")

    def shown(self, line: str) -> str:
        """`line` naming the targets instead of their stand-ins (a report is read after the commit)."""
        for new, target in self._pending:
            line = line.replace(str(new), str(target))
        return line

    def commit(self) -> None:
        """Put every folder and file in place (folders first: the files enable what they hold)."""
        for new, target in sorted(self._pending, key=lambda pair: not pair[0].is_dir()):
            if new.is_dir():
                swap_in(new, target)
            else:
                os.replace(new, target)
        self._committed = True

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            for new, _ in self._pending:
                remove(new)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
