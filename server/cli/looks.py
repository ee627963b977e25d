"""The look commands: keep a transfer's look (`transfer --save-look`), apply a look to photos
(`apply`), and style a whole shoot after one reference (`shoot`).

`apply` needs no model: a look is a 3D LUT, applied in a moment per photo. `shoot --one-look`
transfers one key photo, fits its look once and applies that to every photo, so the same colour
comes out the same in all of them; without it, each photo gets its own transfer.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping

from photostyle.core import (Look, PhotoStyleError, Recipe, TransferOptions, TransferResult, apply_look,
                             check_look_path, load_image, load_look, save_image, save_look, transfer)
from photostyle.core.looks import DEFAULT_SIZE, INTERPOLATIONS
from photostyle.core.options import MAX_LOOK_SIZE, MIN_LOOK_SIZE

from . import batch
from .progress_bar import ProgressBar


def add_save_look_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--save-look", metavar="FILE",
                        help=f"also keep {what} as a 3D LUT: FILE.cube (any grading tool) or FILE.png (a Hald CLUT); "
                             f"its lattice is --look-size (default: {DEFAULT_SIZE})")


def with_look(args: argparse.Namespace, options: TransferOptions) -> TransferOptions:
    """`options` asking the engine for the result's look where the command keeps it (--save-look,
    --one-look): at --look-size, or DEFAULT_SIZE when that is unset."""
    if not (getattr(args, "save_look", None) or getattr(args, "one_look", False)):
        return options
    if options.look_size == 0:
        raise PhotoStyleError(f"--look-size 0 asks for no look, but {'--save-look' if args.save_look else '--one-look'} "
                              f"needs one; give --look-size {MIN_LOOK_SIZE} to {MAX_LOOK_SIZE} or leave it out "
                              f"({DEFAULT_SIZE}).")
    return options if options.look_size else replace(options, look_size=DEFAULT_SIZE)


def add_interpolation_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interpolation", choices=INTERPOLATIONS, default="trilinear",
                        help="how colours between the look's lattice points are found (default: trilinear)")


def add_commands(commands: argparse._SubParsersAction, add_engine_options: Callable[[argparse.ArgumentParser], None]) -> None:
    apply = commands.add_parser("apply", help="apply a look (a .cube 3D LUT or a Hald CLUT .png) to photos; no model "
                                              "is loaded")
    apply.add_argument("look", help="the look: a .cube file or a Hald CLUT .png")
    batch.add_batch_arguments(apply)
    add_interpolation_argument(apply)

    shoot = commands.add_parser("shoot", help="style a whole shoot after one reference photo, into a folder")
    shoot.add_argument("reference", help="the reference photo whose colours and tone every photo takes")
    batch.add_batch_arguments(shoot)
    shoot.add_argument("--one-look", action="store_true",
                       help="transfer one key photo, fit its look once and apply it to every photo: the same colour "
                            "comes out the same in all of them (and the set takes seconds)")
    shoot.add_argument("--key", metavar="PHOTO", help="with --one-look, the photo whose transfer gives the look "
                                                      "(default: the first photo)")
    add_save_look_argument(shoot, "the shoot's one look (with --one-look)")
    add_interpolation_argument(shoot)
    add_engine_options(shoot)


def check_save_look(args: argparse.Namespace, inputs: Mapping[str, str | Path], outputs: Mapping[str, Path]) -> None:
    """Refuse, before any work, a --save-look that cannot be written or would replace a file the
    command reads or writes."""
    if not args.save_look:
        return
    check_look_path(args.save_look, inputs, elsewhere="give --save-look another name")
    for what, output in outputs.items():
        if Path(args.save_look).resolve() == output.resolve():
            raise PhotoStyleError(f"--save-look {args.save_look} is also {what}; give the look another name, such as "
                                  f"{Path(args.save_look).with_suffix('.cube')}.")


def keep_look(args: argparse.Namespace, result: TransferResult) -> Look:
    """The look the engine fitted to `result` (see `with_look`), saved when --save-look asks."""
    if result.look is None:
        raise PhotoStyleError("The daemon returned no look with the result: it predates looks. Update PhotoStyle "
                              "where the daemon runs, or transfer without --server.")
    if args.save_look:
        save_look(args.save_look, replace(result.look, title=Path(args.save_look).stem))
        print(f"Wrote the look to {args.save_look} ({result.look.lut.size}³ LUT).")
    return result.look


def apply_command(args: argparse.Namespace) -> int:
    inputs = {"the look": args.look} | {f"photo {photo}": photo for photo in args.photos}
    look = load_look(args.look)
    jobs, skipped = batch.plan(args, inputs)
    bar = ProgressBar()

    def work(index: int, job: batch.Job) -> list[str]:
        notes = save_image(job.output, apply_look(look, load_image(job.photo), args.interpolation))
        bar.step_done(index, len(jobs), job.photo.name, "look applied")
        return notes

    return batch.report(jobs, skipped, batch.run(jobs, work), args.output)


def shoot_command(args: argparse.Namespace, recipe: Recipe) -> int:
    """Every photo styled after the reference: by its own transfer, or (--one-look) by the look of
    the key photo's transfer."""
    if not args.one_look and (args.key or args.save_look):
        raise PhotoStyleError(f"{'--key' if args.key else '--save-look'} is for the shoot's one look; add --one-look.")
    key = Path(args.key or args.photos[0])
    inputs = {"the reference": args.reference, "the key photo": key} | {f"photo {p}": p for p in args.photos}
    jobs, skipped = batch.plan(args, inputs)
    check_save_look(args, inputs, {f"the result of {job.photo}": job.output for job in jobs + skipped})
    if not jobs:
        return batch.report(jobs, skipped, [], args.output)
    reference = load_image(args.reference)
    bar = ProgressBar()
    if args.one_look:
        steps = len(jobs) + 1  # the key photo's transfer, then one step per photo
        key_photo = load_image(key)
        result = transfer(key_photo, reference, None, recipe, progress=bar.one_of(0, steps, f"key photo {key.name}"))
        _print_notes(key, result.notes)
        look = keep_look(args, result)

        def work(index: int, job: batch.Job) -> list[str]:
            notes = save_image(job.output, apply_look(look, load_image(job.photo), args.interpolation))
            bar.step_done(index + 1, steps, job.photo.name, "look applied")
            return notes
    else:
        def work(index: int, job: batch.Job) -> list[str]:
            result = transfer(load_image(job.photo), reference, None, recipe,
                              progress=bar.one_of(index, len(jobs), job.photo.name))
            return [f"{job.photo.name}: {note}" for note in result.notes] + save_image(job.output, result.image)

    return batch.report(jobs, skipped, batch.run(jobs, work), args.output)


def _print_notes(photo: Path, notes: list[str]) -> None:
    for note in notes:
        print(f"note: {photo.name}: {note}", file=sys.stderr)
