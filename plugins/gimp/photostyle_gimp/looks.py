"""Looks in GIMP: the transfer's "Save the look to" argument, and the Apply Photo Style Look procedure.

The policy (which files are looks, the look size, the new layer's name, the daemon's answer
checked) is the client library's `looks`; here are the procedure arguments and GIMP's side. GIMP's
Python may have no numpy, so the daemon applies the look (`Client.apply_look`); the image is
untouched until its answer is checked, and the new layer comes in one undo step.
"""

from __future__ import annotations

from gi.repository import Gimp, GimpUi

from photostyle.server.client import InputError, apply_look_file, look_kind, look_layer_name

from . import connect_daemon, layers, pixels

TITLE = "Apply Photo Style Look"


def file_path(config: Gimp.ProcedureConfig, argument: str) -> str | None:
    """The local path of a file argument; None when unset."""
    file = config.get_property(argument)
    if file is None:
        return None
    path = file.get_path()
    if path is None:
        raise InputError(f"{file.get_uri()} is not a local file; choose a file on this computer.")
    return path


def run_look_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    """GIMP's own dialog for the procedure's arguments; True when the user pressed OK."""
    GimpUi.init(procedure.get_name())
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title=TITLE)
    dialog.fill(None)
    try:
        return dialog.run()
    finally:
        dialog.destroy()


def apply_look(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig) -> str:
    """The look file in `config` applied on the daemon to all of `layer` (the selection plays no
    part), added as a new layer above it; returns its name. Raises instead of touching the image."""
    path = file_path(config, "look-file")
    if path is None:
        raise InputError("Choose a look file: a .cube 3D LUT or a Hald CLUT .png.")
    look_kind(path)  # refused before any pixel is read
    Gimp.progress_init(f"{TITLE}: reading pixels")
    content = pixels.read(layer, pixels.extent(layer), "R'G'B'A", 4)
    Gimp.progress_set_text(f"{TITLE}: applying it on the PhotoStyle engine")
    with connect_daemon(on_wait=lambda seconds: Gimp.progress_pulse()) as client:
        applied = apply_look_file(client, content, path, config.get_property("interpolation"))
    name = look_layer_name(layer.get_name(), path)
    layers.add_look_layer(image, layer, name, applied)
    return name
