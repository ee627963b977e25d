"""Many photos into one folder, for `apply` and `shoot`: output names, the never-overwrite rule,
resuming, one progress bar over the set, and failures that stop only their own photo.

Everything the arguments decide (names that collide, an output that is an input, outputs that
exist already, a folder that cannot be written) is refused before any photo is read. Each output
is written atomically (`save_image`), so Ctrl-C never leaves a half-written file: the photos
written before it stay, and `--skip-existing` carries on from there.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from photostyle.core import (Cancelled, PhotoStyleError, WeightsError, check_not_an_input, check_output_folder,
                             check_output_path)
from photostyle.core.images import OUTPUT_EXTENSIONS

#: What `--format` offers (any extension `save_image` writes is kept as it is without it).
FORMATS = ("png", "tif", "jpg")
EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class Job:
    """One photo of the set and where its result goes."""

    photo: Path
    output: Path


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """-o DIR, --format and what to do with outputs that exist already."""
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="the photos (each result keeps its photo's name)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="the folder for the results (created if missing); each is named after its photo")
    parser.add_argument("--format", choices=FORMATS,
                        help="write every result in this format (default: each photo's own; .png and .tif keep 16 bits)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace results that exist already")
    existing.add_argument("--skip-existing", action="store_true",
                          help="leave results that exist already as they are and do the other photos (resumes a run)")


def plan(args: argparse.Namespace, inputs: Mapping[str, str | Path]) -> tuple[list[Job], list[Job]]:
    """The jobs to do and the ones skipped (their result exists, with --skip-existing); the output
    folder is created once every output has passed the checks."""
    folder = Path(args.output)
    check_output_folder(folder)
    jobs: dict[Path, Job] = {}
    for photo in map(Path, args.photos):
        suffix = f".{args.format}" if args.format else photo.suffix.lower()
        if suffix not in OUTPUT_EXTENSIONS:
            raise PhotoStyleError(f"{photo}: PhotoStyle cannot write '{photo.suffix}' files; pass --format "
                                  f"{'|'.join(FORMATS)} to choose the results' format.")
        job = Job(photo, folder / (photo.stem + suffix))
        if job.output in jobs:
            raise PhotoStyleError(f"{jobs[job.output].photo} and {photo} would both be written to {job.output}; "
                                  "rename one of them, or give them in separate runs with separate -o folders.")
        check_not_an_input(job.output, inputs, elsewhere="give -o another folder")
        jobs[job.output] = job
    existing = [job for job in jobs.values() if job.output.exists()]
    if existing and not (args.overwrite or args.skip_existing):
        raise PhotoStyleError(f"{existing[0].output} exists already{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}; "
                              "pass --skip-existing to keep what is there and do the rest, or --overwrite to replace it.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PhotoStyleError(f"Cannot create the folder {folder} ({exc.strerror}); choose another -o.") from None
    for job in jobs.values():
        check_output_path(job.output, inputs, elsewhere="give -o another folder")
    skipped = existing if args.skip_existing else []
    return [job for job in jobs.values() if job not in skipped], skipped


def run(jobs: Sequence[Job], work: Callable[[int, Job], list[str]]) -> list[tuple[Job, str]]:
    """`work(index, job)` for each job (it writes the job's output and returns notes); a photo
    that fails with a problem of its own (unreadable, too large, a name the file system refuses)
    is listed and the others go on. Problems every photo would have, and Ctrl-C, stop the set."""
    failures: list[tuple[Job, str]] = []
    for index, job in enumerate(jobs):
        try:
            notes = work(index, job)
        except (Cancelled, WeightsError):
            raise
        except KeyboardInterrupt:
            raise Cancelled(f"interrupted at {job.photo} ({index} of {len(jobs)} done); no result was half-written. "
                            "Run the same command with --skip-existing to do the rest.") from None
        except PhotoStyleError as exc:
            failures.append((job, str(exc)))
            continue
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return failures


def report(jobs: Sequence[Job], skipped: Sequence[Job], failures: Sequence[tuple[Job, str]], folder: str) -> int:
    """Say what was written, skipped and failed (with the reasons); the exit status."""
    written = len(jobs) - len(failures)
    line = f"Wrote {written} of {len(jobs)} photo(s) to {folder}"
    print(line + (f"; {len(skipped)} skipped (their results exist)." if skipped else "."))
    if not failures:
        return 0
    print(f"{len(failures)} photo(s) failed:", file=sys.stderr)
    for job, reason in failures:
        print(f"  {job.photo}: {reason}", file=sys.stderr)
    return EXIT_SOME_FAILED
