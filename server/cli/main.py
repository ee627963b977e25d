"""`photostyle`: the command line, a thin shell over `photostyle.core.transfer`.

It parses arguments, reads and writes files, shows progress, and turns engine errors into one
readable line (no traceback) with exit status 2. Everything the arguments alone decide (options,
output paths) is checked before any image is read or the model loaded. Ctrl-C cancels cleanly
(entry.py covers the seconds of start-up before this module is imported). `serve` runs the
daemon (serve.py), `transfer --server` runs the job on one, `apply` and `shoot` work on a set of
photos with looks (looks.py, batch.py), `video` on a video or a folder of frames (video.py), and
`plugins` installs the GIMP and Krita plug-ins (photostyle.server.install).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from importlib import resources
from pathlib import Path
from typing import Sequence

from photostyle.core import (
    PRESETS,
    Cancelled,
    PhotoStyleError,
    RegionPair,
    TransferOptions,
    check_not_an_input,
    check_options,
    check_output_folder,
    check_output_path,
    load_image,
    regions_from_segmentations,
    save_image,
    transfer,
)
from photostyle.core.auto_regions import REGION_NAMES
from photostyle.core.options import OPTIONS
from photostyle.server.wire.options import format_value

from ..install import gimp as install_gimp
from ..install import krita as install_krita
from . import looks as look_commands
from . import video as video_commands
from .serve import STOP_SIGNALS, RemoteTransfer, add_serve_command, add_server_options, serve
from .entry import INTERRUPTED, cancelled
from .progress_bar import ProgressBar

#: The bundled demo pair: scikit-image sample photos (coffee: CC0, Rachel Michetti;
#: rocket: public domain, SpaceX). See server/cli/examples/CREDITS.txt.
DEMO_CONTENT = "coffee.png"
DEMO_STYLE = "rocket.jpg"
DEMO_OUTPUT = "photostyle-demo.png"

EXIT_USER_ERROR = 2


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option of the engine's schema (--size, --keep-brightness/--no-keep-brightness, ...);
    a flag left out is unset: the preset's value."""
    for spec in OPTIONS:
        flag = "--" + spec.name.replace("_", "-")
        help_text = spec.help if spec.default is None else f"{spec.help} (default: {format_value(spec.default)})"
        if spec.name == "preset":
            help_text = "; ".join(f"'{name}': {preset.description}" for name, preset in PRESETS.items())
            parser.add_argument(flag, choices=list(PRESETS), help=help_text)
        elif spec.kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, type=spec.kind, choices=spec.choices or None, help=help_text,
                                metavar=spec.unit.upper() or spec.kind.__name__.upper() if spec.kind is int else None)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photostyle", description="Photorealistic style transfer (Deep Photo Style Transfer).")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("transfer", help="restyle a photo with the look of a reference photo")
    run.add_argument("content", help="the photo to restyle")
    run.add_argument("style", help="the reference photo whose colours and tone to take")
    run.add_argument("-o", "--output", required=True, help="where to write the result (.png and .tif keep 16 bits)")
    run.add_argument("--content-mask", help="colour-coded region mask of the photo (the reference code's colours)")
    run.add_argument("--style-mask", help="colour-coded region mask of the reference, same colours = same region")
    run.add_argument("--region", nargs=3, action="append", default=[], metavar=("NAME", "CONTENT_MASK", "STYLE_MASK"),
                     help="a named pair of grey masks (white = in the region); repeat for several regions")
    run.add_argument("--save-regions", metavar="DIR",
                     help="with --regions auto, write the regions found as grey masks DIR/content-auto-1.png, "
                          "DIR/style-auto-1.png, ... (DIR is created)")
    look_commands.add_save_look_argument(run, "the result's look")
    _add_engine_options(run)
    add_server_options(run)

    demo = commands.add_parser("demo", help="run the transfer on the bundled example pair and write the result")
    demo.add_argument("-o", "--output", default=DEMO_OUTPUT, help=f"where to write the result (default: {DEMO_OUTPUT})")
    _add_engine_options(demo)

    look_commands.add_commands(commands, _add_engine_options)
    video_commands.add_command(commands, _add_engine_options)
    add_serve_command(commands)

    plugins = commands.add_parser("plugins", help="install or remove the GIMP 3 and Krita 5 plug-ins")
    actions = plugins.add_subparsers(dest="action", required=True)
    for action in ("install", "uninstall"):
        hosts = actions.add_parser(action, help=f"{action} a plug-in").add_subparsers(dest="host", required=True)
        install_gimp.add_arguments(hosts.add_parser("gimp", help=f"{action} the GIMP 3 plug-in"))
        install_krita.add_arguments(hosts.add_parser("krita", help=f"{action} the Krita 5 docker"))
    return parser


def _regions(args: argparse.Namespace) -> list[RegionPair]:
    if bool(args.content_mask) != bool(args.style_mask):
        raise PhotoStyleError("Give both --content-mask and --style-mask (regions are matched between the two), or neither.")
    regions = []
    if args.content_mask:
        regions += regions_from_segmentations(load_image(args.content_mask), load_image(args.style_mask))
    for name, content_mask, style_mask in args.region:
        regions.append(RegionPair(name, _grey(load_image(content_mask)), _grey(load_image(style_mask))))
    return regions


def _grey(image):
    """First channel of a mask image (a grey PNG, or any colour one where white marks the region)."""
    return image[:, :, 0] if image.ndim == 3 else image


def _options(args: argparse.Namespace) -> TransferOptions:
    return TransferOptions(**{spec.name: getattr(args, spec.name) for spec in OPTIONS})


def _run(content_path: str | Path, style_path: str | Path, args: argparse.Namespace) -> None:
    """Check what the arguments decide, then read the images, run the transfer and write the result."""
    options = look_commands.with_look(args, _options(args))
    remote = bool(getattr(args, "server", None))
    recipe = None if remote else check_options(options)  # a daemon checks its jobs itself, with its limits
    output_path = Path(args.output)
    inputs = _inputs(content_path, style_path, args)
    check_output_path(output_path, inputs, elsewhere=f"give -o another name, such as "
                                                     f"{output_path.with_stem(output_path.stem + '-styled')}")
    regions_dir = getattr(args, "save_regions", None)
    if regions_dir:
        if args.regions != "auto" or args.content_mask or args.region:
            raise PhotoStyleError("--save-regions writes the regions the engine finds, which it does with --regions "
                                  "auto and no masks given.")
        check_output_folder(regions_dir)
        for name in REGION_NAMES:
            for mask_path in _region_paths(Path(regions_dir), name):
                check_not_an_input(mask_path, inputs, elsewhere="give --save-regions another folder")
    save_look = getattr(args, "save_look", None)
    if save_look:
        look_commands.check_save_look(args, inputs, {"the result (-o)": output_path})
    regions = _regions(args) if args.command == "transfer" else []
    content = load_image(content_path)
    style = load_image(style_path)
    if remote:
        result = RemoteTransfer(args)(content, style, regions, options, progress=ProgressBar())
    else:
        result = transfer(content, style, regions, recipe, progress=ProgressBar())
    for note in result.notes + save_image(output_path, result.image):
        print(f"note: {note}", file=sys.stderr)
    print(f"Wrote {output_path} ({result.image.shape[1]}×{result.image.shape[0]}, optimised at "
          f"{result.working_size[0]}×{result.working_size[1]}, {result.seconds:.0f} s on {result.device}).")
    if regions_dir:
        _save_regions(Path(regions_dir), result.regions)
    if save_look:
        look_commands.keep_look(args, result)


def _inputs(content_path: str | Path, style_path: str | Path, args: argparse.Namespace) -> dict[str, str | Path]:
    """Every file the command reads, by what it is: none of them may be written over."""
    inputs = {"the photo": content_path, "the reference": style_path}
    if getattr(args, "content_mask", None):
        inputs.update({"the --content-mask": args.content_mask, "the --style-mask": args.style_mask})
    for name, content_mask, style_mask in getattr(args, "region", []):
        inputs.update({f"the content mask of region '{name}'": content_mask,
                       f"the style mask of region '{name}'": style_mask})
    return inputs


def _region_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """Where `_save_regions` writes a region's two masks: "auto: 1" → content-auto-1.png, style-auto-1.png."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return folder / f"content-{slug}.png", folder / f"style-{slug}.png"


def _save_regions(folder: Path, regions: list[RegionPair]) -> None:
    """Write automatic regions as 8-bit grey PNGs, content-auto-1.png, style-auto-1.png, ..."""
    if not regions:
        print(f"The engine returned no automatic regions, so none were written to {folder}.")
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PhotoStyleError(f"Cannot create the regions folder {folder} ({exc.strerror}); choose another.") from None
    for region in regions:
        content_path, style_path = _region_paths(folder, region.name)
        save_image(content_path, region.content_mask)
        save_image(style_path, region.style_mask)
    print(f"Wrote {len(regions)} automatic region(s) to {folder} (content-*.png and style-*.png, white = inside).")


def _one_line(message: str) -> str:
    """`message` with what cannot be shown as it is (a line break or a stray byte in a file name)
    escaped, so that an error stays one readable line."""
    return "".join(character if character.isprintable() else repr(character)[1:-1] for character in message)


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    # A parent (a CI runner, a host application) may have left these blocked: then Ctrl-C would not
    # cancel a transfer, nor SIGTERM stop the daemon. Threads started from here on inherit the mask.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    # tifffile logs its repairs of odd files ("incorrect StripByteCounts count") as errors, which
    # would reach the terminal beside our own one-line answer about the same file.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    if args.command == "serve":
        return serve(args)
    if args.command == "plugins":
        return {"gimp": install_gimp, "krita": install_krita}[args.host].run(args)
    try:
        if args.command == "apply":
            return look_commands.apply_command(args)
        if args.command == "shoot":
            return look_commands.shoot_command(args, check_options(look_commands.with_look(args, _options(args))))
        if args.command == "video":
            return video_commands.video_command(args, check_options(_options(args)))
        if args.command == "demo":
            examples = resources.files("photostyle.server.cli.examples")
            with resources.as_file(examples / DEMO_CONTENT) as content, resources.as_file(examples / DEMO_STYLE) as style:
                _run(content, style, args)
        else:
            _run(args.content, args.style, args)
    except Cancelled as exc:
        return cancelled(str(exc))
    except KeyboardInterrupt:
        return cancelled(INTERRUPTED)
    except PhotoStyleError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
