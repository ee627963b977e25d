"""Looks as files other tools read: a 3D LUT in a .cube file, or a Hald CLUT in a PNG.

`.cube` (Adobe's Cube LUT format, which Resolve, Premiere, Photoshop, ffmpeg's `lut3d` and most
graders read) goes through colour-science: red changes fastest in its lines, and DOMAIN_MIN/MAX
(or Resolve's LUT_3D_INPUT_RANGE) scale the input. A Hald CLUT is an image of the lattice itself:
level L holds L² nodes a side in an L³×L³ square, red fastest, then green, then blue (ffmpeg's
`haldclut`, darktable, RawTherapee, G'MIC read it); we write level 8 (64³ nodes, 512×512) at 16 bits,
sampling the look at those nodes (between them it can differ from the look by an 8-bit level or
two where the look bends sharply; a .cube holds the lattice itself).

One file holds one LUT. A look with regions is saved only as its global LUT, and only when the
caller asks for that (`Look.without_regions()`); each region's LUT can be saved as a look of its own.
"""

from __future__ import annotations

import os
import re
import tempfile
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from .errors import InputImageError, LookFileError
from .images import check_output_file, load_image, save_image, write_atomically
from .looks import Look, Lut, import_colour, trilinear

CUBE, HALD = ".cube", ".png"
#: The lattice sizes read from a .cube file (ffmpeg's limit too): 256³ nodes is 16.7 M lines.
MIN_CUBE_SIZE, MAX_CUBE_SIZE = 2, 256
HALD_LEVEL = 8
MIN_HALD_LEVEL, MAX_HALD_LEVEL = 2, 16
#: How much of a .cube file is read to find its header (keywords come before the numbers).
_HEADER_BYTES = 1 << 16
_NUMBER_LINE = re.compile(r"^[-+.0-9]")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (CUBE, HALD):
        raise LookFileError(f"{path}: '{path.suffix}' is not a look file PhotoStyle knows; use .cube (a 3D LUT) or "
                            ".png (a Hald CLUT).")
    return suffix


def check_look_path(path: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str]] = {},
                    elsewhere: str = "choose another name") -> None:
    """InputImageError or LookFileError unless a look can be written at `path` without replacing
    one of `inputs`: checked before a long job, not after it."""
    check_output_file(path, inputs, elsewhere, _kind, example="look.cube")


def save_look(path: str | os.PathLike[str], look: Look) -> None:
    """Write `look` as a .cube or a Hald .png (by `path`'s extension), atomically. A look with
    regions is refused: pass `look.without_regions()` to save its global LUT."""
    path = Path(path)
    kind = _kind(path)
    if look.regions:
        names = ", ".join(region.name for region in look.regions)
        raise LookFileError(f"Cannot save this look as {path}: it has regions ({names}), each with its own LUT, and "
                            "a file holds one LUT. Save look.without_regions() for its global LUT, or each region's "
                            "LUT as a look of its own.")
    if kind == CUBE:
        write_atomically(path, lambda handle: _write_cube(handle, look))
    else:
        save_image(path, _hald_image(look.lut, HALD_LEVEL))


def load_look(path: str | os.PathLike[str]) -> Look:
    """The look in a .cube or Hald .png file; LookFileError, naming the file and the fix, for a
    file that is missing or is not a 3D LUT of a size read here."""
    path = Path(path)
    kind = _kind(path)
    try:
        if not path.is_file():
            raise LookFileError(f"Look file not found: {path}. Check the path.")
        return _read_cube(path, str(path)) if kind == CUBE else _read_hald(path, str(path))
    except OSError as exc:
        raise LookFileError(f"Cannot open {path} ({exc.strerror or exc}); check the path and its permissions.") from None


def look_from_bytes(data: bytes | bytearray | memoryview, kind: str, name: str) -> Look:
    """The look in a look file's bytes (`kind`: CUBE or HALD), as `load_look` reads the file;
    its messages call the file `name`. For looks that arrive over the wire."""
    if kind not in (CUBE, HALD):
        raise LookFileError(f"{name}: '{kind}' is not a kind of look file PhotoStyle knows; use {CUBE} or {HALD}.")
    if kind == HALD:
        return _read_hald(BytesIO(data), name)
    with tempfile.TemporaryDirectory(prefix="photostyle-look-") as folder:  # colour-science reads a path
        path = Path(folder) / "look.cube"
        path.write_bytes(data)
        return _read_cube(path, name)


def look_to_cube_bytes(look: Look) -> bytes:
    """`look` (its global LUT) as a .cube file's bytes, as `save_look` writes it: for the wire."""
    with tempfile.TemporaryDirectory(prefix="photostyle-look-") as folder:  # colour-science writes to a path
        path = Path(folder) / "look.cube"
        save_look(path, look.without_regions())
        return path.read_bytes()


# --- .cube ---------------------------------------------------------------------------------------

def _write_cube(handle: BinaryIO, look: Look) -> None:
    """colour-science writes by name: it fills the temporary file `write_atomically` opened."""
    colour = import_colour()
    comments = ["Made with PhotoStyle (photostyle transfer --save-look)."]
    if look.fidelity is not None:
        comments.append(look.fidelity.note)
    title = " ".join(look.title.replace('"', "'").split()) or "PhotoStyle look"
    lut = colour.LUT3D(look.lut.table.astype(np.float64), title, np.array(look.lut.domain, np.float64),
                       comments=comments)
    colour.io.write_LUT_IridasCube(lut, handle.name)


def _read_cube(path: Path, name: str) -> Look:
    size, resolve = _cube_header(path, name)
    colour = import_colour()
    reader = colour.io.read_LUT_ResolveCube if resolve else colour.io.read_LUT_IridasCube
    try:
        lut = reader(path)
    except (ValueError, TypeError, IndexError, AssertionError) as exc:  # a bad number, a wrong count, a ragged line
        raise LookFileError(f"Cannot read {name} as a {size}³ LUT ({_short(exc)}): its data must be {size ** 3} lines "
                            "of three numbers. The file is truncated or damaged; export it again.") from None
    if not isinstance(lut, colour.LUT3D) or lut.table.shape != (size, size, size, 3):
        raise LookFileError(f"{name} holds no plain {size}³ 3D LUT (it reads as {type(lut).__name__}); export a 3D "
                            ".cube LUT without a shaper.")
    domain = np.asarray(lut.domain, np.float64)
    if not (np.isfinite(lut.table).all() and np.isfinite(domain).all()):
        raise LookFileError(f"{name} holds NaN or infinite values; export the LUT again.")
    if not (domain[1] > domain[0]).all():
        raise LookFileError(f"{name}: its DOMAIN_MIN {domain[0].tolist()} is not below its DOMAIN_MAX "
                            f"{domain[1].tolist()} in every channel; fix the domain lines or export the LUT again.")
    return Look(Lut(lut.table.astype(np.float32), (tuple(domain[0]), tuple(domain[1]))), title=lut.name)


def _cube_header(path: Path, name: str) -> tuple[int, bool]:
    """The LUT_3D_SIZE the file declares before its numbers, and whether it uses Resolve's
    LUT_3D_INPUT_RANGE; refuses 1D LUTs and what is no .cube at all before it is parsed whole."""
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_BYTES)
    if not head:
        raise LookFileError(f"{name} is empty; export the LUT again.")
    if b"\0" in head:
        raise LookFileError(f"{name} is not a .cube LUT (it is not text); export the look as a .cube file.")
    keywords: dict[str, list[str]] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if _NUMBER_LINE.match(line):
            break
        if line and not line.startswith("#"):
            keyword, *values = line.split()
            keywords[keyword.upper()] = values
    if "LUT_3D_SIZE" not in keywords:
        if "LUT_1D_SIZE" in keywords:
            raise LookFileError(f"{name} is a 1D LUT (LUT_1D_SIZE); a look is a 3D LUT: export a 3D .cube "
                                "(LUT_3D_SIZE) from the grading tool.")
        raise LookFileError(f"{name} is not a .cube 3D LUT: no LUT_3D_SIZE line comes before its data. Export the "
                            "look as a 3D .cube file.")
    if "LUT_1D_SIZE" in keywords:
        raise LookFileError(f"{name} holds a 1D shaper LUT before its 3D LUT; export the 3D LUT alone.")
    declared = " ".join(keywords["LUT_3D_SIZE"])
    if not declared.isdigit() or not MIN_CUBE_SIZE <= int(declared) <= MAX_CUBE_SIZE:
        raise LookFileError(f"{name} declares LUT_3D_SIZE {declared or '(nothing)'}; sizes from {MIN_CUBE_SIZE} to "
                            f"{MAX_CUBE_SIZE} are read (17, 33 and 65 are usual). Export the LUT at such a size.")
    return int(declared), "LUT_3D_INPUT_RANGE" in keywords


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# --- Hald CLUT -----------------------------------------------------------------------------------

def _hald_image(lut: Lut, level: int) -> np.ndarray:
    """The Hald CLUT of `level` (level² nodes a side) sampling `lut`, as 16-bit RGB."""
    nodes = level * level
    axis = np.linspace(0.0, 1.0, nodes, dtype=np.float32)
    blue, green, red = np.meshgrid(axis, axis, axis, indexing="ij")  # red changes fastest
    colours = np.stack([red, green, blue], axis=-1).reshape(-1, 3)
    out = np.clip(trilinear(lut, colours), 0.0, 1.0)
    return np.round(out * 65535).astype(np.uint16).reshape(level ** 3, level ** 3, 3)


def _read_hald(source: Path | BinaryIO, name: str) -> Look:
    try:
        image = load_image(source, name=name)
    except InputImageError as exc:
        raise LookFileError(str(exc)) from None
    height, width, channels = image.shape
    level = round(width ** (1 / 3))
    if height != width or level ** 3 != width or not MIN_HALD_LEVEL <= level <= MAX_HALD_LEVEL or channels < 3:
        raise LookFileError(f"{name} is a {width}×{height} image with {channels} channel(s), not a Hald CLUT: that is "
                            f"an RGB square of level³ px, level {MIN_HALD_LEVEL} to {MAX_HALD_LEVEL} (512×512 for "
                            "level 8). Export the look as a Hald CLUT, or as a .cube file.")
    nodes = level * level
    scale = 1 / 65535 if image.dtype == np.uint16 else 1 / 255 if image.dtype == np.uint8 else 1.0
    table = image[:, :, :3].reshape(nodes, nodes, nodes, 3).transpose(2, 1, 0, 3) * np.float32(scale)
    if not np.isfinite(table).all():
        raise LookFileError(f"{name} holds NaN or infinite values; export the Hald CLUT again.")
    return Look(Lut(np.ascontiguousarray(table, np.float32)), title=Path(name).stem)
