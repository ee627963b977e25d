"""Looks in the hosts: keep a run's look as a file, and apply a look file to a layer.

What both plug-ins do with looks, written once: the look size a run asks for, which files are
looks, reading one and writing a run's, the new layer's name, and applying a look file to a layer
on the daemon (the hosts have no numpy, so the daemon applies it: `Client.apply_look`) with the
answer checked before the document is touched. Krita's docker drives these through the
`Controller`; GIMP's procedures call them directly.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from photostyle.server.wire.images import Image

from .client import Options
from .errors import InputError
from .events import LookFidelity, Result
from .host_pixels import check_image
from .protocol import ClientProtocol

#: The lattice a host asks a run's look at: core.looks.DEFAULT_SIZE (a host has no core; a test
#: holds the two equal). Fitting it costs about a second per run.
LOOK_SIZE = 33
#: The look files a host applies, by suffix (core.look_files' kinds).
LOOK_FILES = {".cube": "a .cube 3D LUT", ".png": "a Hald CLUT .png"}
#: The look file a host saves: the daemon sends a run's look as .cube text.
SAVED_SUFFIX = ".cube"
#: How colours between a look's nodes are found (the wire's Interpolation), with a label each.
INTERPOLATION_CHOICES = {"trilinear": "Trilinear (as graders and ffmpeg)", "tetrahedral": "Tetrahedral"}


@dataclass(frozen=True)
class KeptLook:
    """A run's look, ready to be saved: the .cube file's bytes, its fidelity, and a file name to offer."""

    cube: bytes
    fidelity: LookFidelity | None
    file_name: str

    @property
    def summary(self) -> str:
        """'ΔE 0.8 median, 2.1 at the 95th percentile' for a status line."""
        if self.fidelity is None:
            return "fidelity not measured"
        return f"ΔE {self.fidelity.median:.1f} median, {self.fidelity.p95:.1f} at the 95th percentile"


def with_look(options: Options) -> Options:
    """`options` asking for the result's look: at the look size they set, else `LOOK_SIZE`."""
    return options if options.values.get("look_size") else options.with_values(look_size=LOOK_SIZE)


def kept_look(result: Result, reference_name: str) -> KeptLook | None:
    """A run's look, when its result carries one; offered as "<reference> look.cube"."""
    if not result.look_cube:
        return None
    return KeptLook(result.look_cube, result.look_fidelity, f"{Path(reference_name).stem} look{SAVED_SUFFIX}")


def look_kind(path: str) -> str:
    """The kind of look file `path` names (its suffix: ".cube" or ".png"); InputError otherwise."""
    kind = Path(path).suffix.lower()
    if kind not in LOOK_FILES:
        raise InputError(f"{Path(path).name} is not a look file; choose {' or '.join(LOOK_FILES.values())}.")
    return kind


def read_look(path: str) -> tuple[bytes, str]:
    """A look file's bytes and kind; InputError naming the file and the fix when it cannot be read."""
    kind = look_kind(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"Cannot read the look file {path} ({error.strerror or error}); check the file and its "
                         "permissions.") from None
    if not data:
        raise InputError(f"The look file {path} is empty; export the look again.")
    return data, kind


def saved_look_path(path: str) -> str:
    """Where a run's look goes: `path`, with SAVED_SUFFIX when it has no suffix; InputError for
    another suffix (checked before a run, not after it)."""
    if not Path(path).suffix:
        path += SAVED_SUFFIX
    if Path(path).suffix.lower() != SAVED_SUFFIX:
        raise InputError(f"Save the look as a {SAVED_SUFFIX} file (not {Path(path).name}): the daemon sends it as "
                         f"a 3D LUT, which graders, ffmpeg and `photostyle apply` read. For a Hald CLUT, run "
                         f"`photostyle transfer … --save-look look.png`.")
    return path


def write_look(look: KeptLook, path: str) -> str:
    """Write a run's look to `saved_look_path(path)` in one step: a failed write leaves no partial
    file and an existing file intact. Returns the path written; InputError naming the file and the fix."""
    path = saved_look_path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=".photostyle-", suffix=SAVED_SUFFIX, dir=Path(path).parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(look.cube)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as error:
        raise InputError(f"Cannot write the look to {path} ({error.strerror or error}); choose another folder "
                         "or name.") from None
    return path


def look_layer_name(layer_name: str, look_path: str) -> str:
    """The new layer's name: "<layer> (look: <file stem>)"."""
    return f"{layer_name} (look: {Path(look_path).stem})"


def apply_look_file(client: ClientProtocol, layer: Image, look_path: str, interpolation: str = "trilinear") -> Image:
    """`layer` recoloured by the look file at `look_path` on the daemon, checked to fit the layer
    (its size and sample type) before the caller writes it. Blocks: call it off a UI thread."""
    data, kind = read_look(look_path)
    applied = client.apply_look(layer, data, kind, interpolation)
    check_image(applied, layer, "the look")
    return applied
