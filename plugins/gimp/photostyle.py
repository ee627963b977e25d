#!/usr/bin/env python3
"""PhotoStyle for GIMP 3: Filters ▸ Artistic ▸ Photo Style Transfer… (and … (all layers as frames))
and Filters ▸ Colors ▸ Apply Photo Style Look…

The entry GIMP runs (it requires plug-ins/photostyle/photostyle.py): registration of
`plug-in-photostyle-transfer`, `plug-in-photostyle-transfer-frames` and
`plug-in-photostyle-apply-look`, and their runs, which map what goes wrong to the PDB's statuses. The
plug-in itself is the package photostyle_gimp beside this file (see its docstring). Everything
the dialog sets is also a procedure argument, so scripts and batch mode can call the procedure
non-interactively. It registers even when GIMP's Python lacks grpc, and then says how to get it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GLib, GObject, Gimp  # noqa: E402

PLUGIN_DIR = Path(__file__).resolve().parent
# The vendored client library and this plug-in's package live beside this file; grpcio/protobuf in
# vendor/ when the installer had to provide them (GIMP's Python lacked them).
sys.path[:0] = [str(PLUGIN_DIR / "vendor"), str(PLUGIN_DIR)]

from photostyle_gimp.options import add_option_arguments, add_preset_argument  # noqa: E402  (needs no grpc)

try:
    from photostyle.server.client import (DEFAULT_REGION_CHOICE, INTERPOLATION_CHOICES, REGION_CHOICES, InputError,
                                          InvalidRequestError, PhotoStyleClientError)
    from photostyle_gimp.dialog import run_dialog
    from photostyle_gimp.looks import apply_look, run_look_dialog
    from photostyle_gimp.transfer import transfer, transfer_frames
except ImportError as error:  # GIMP's Python lacks grpc/protobuf: register anyway, explain when run
    IMPORT_ERROR = error
    # The choices live in the client library.
    REGION_CHOICES, DEFAULT_REGION_CHOICE = {"auto": "Automatic"}, "auto"
    INTERPOLATION_CHOICES = {"trilinear": "Trilinear"}
else:
    IMPORT_ERROR = None

PROCEDURE = "plug-in-photostyle-transfer"
FRAMES = "plug-in-photostyle-transfer-frames"
APPLY_LOOK = "plug-in-photostyle-apply-look"
_RW = GObject.ParamFlags.READWRITE


class PhotoStyle(Gimp.PlugIn):
    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        return [PROCEDURE, FRAMES, APPLY_LOOK]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        if name == APPLY_LOOK:
            return _apply_look_procedure(self, name)
        if name == FRAMES:
            return _frames_procedure(self, name)
        procedure = _procedure(
            self, name, run, "Photo Style _Transfer...", "<Image>/Filters/Artistic",
            "Give the selection the colours and tone of a reference photo",
            "Deep Photo Style Transfer by the PhotoStyle daemon. The result is a new layer above the active "
            "one, masked by the selection. Channels with the same name in the photo and the reference "
            "(e.g. 'sky') are matched region to region; without them the engine finds corresponding regions "
            "itself and adds them as channels 'auto: 1', 'auto: 2'...")
        _add_reference_arguments(procedure)
        add_preset_argument(procedure, _RW)
        procedure.add_choice_argument("regions", "Re_gions", "How regions of the photo and the reference are paired",
                                      _choice(REGION_CHOICES), DEFAULT_REGION_CHOICE, _RW)
        add_option_arguments(procedure, _RW)
        procedure.add_file_argument("look-file", "Save the _look to",
                                    "Also keep the result's look as a .cube 3D LUT (Apply Photo Style Look, graders "
                                    "and `photostyle apply` put it on other photos); empty: none",
                                    Gimp.FileChooserAction.SAVE, True, None, _RW)
        return procedure


def _add_reference_arguments(procedure: Gimp.Procedure) -> None:
    """The reference photo: a layer of an open image, or a file (the transfer procedures' first arguments)."""
    procedure.add_layer_argument("reference-layer", "Refere_nce layer",
                                 "A layer of an open image whose look to take (takes precedence over the file)",
                                 True, _RW)
    procedure.add_file_argument("reference-file", "Reference _file", "A reference photo that is not open",
                                Gimp.FileChooserAction.OPEN, True, None, _RW)


def _frames_procedure(plugin: Gimp.PlugIn, name: str) -> Gimp.Procedure:
    procedure = _procedure(
        plugin, name, run_frames, "Photo Style Transfer... (all layers as _frames)", "<Image>/Filters/Artistic",
        "Give every layer, as the frames of an animation, the colours and tone of a reference photo",
        "GIMP's animations are one layer per frame, the bottom layer first: every top-level layer is sent as "
        "one frame of a sequence to the PhotoStyle daemon, which fits the reference's look on keyframes and "
        "carries it to every frame, so the frames keep one look without flicker. Each styled frame is a new "
        "layer of the image's size directly above its layer, all in one undo step, or with \"new-image\" "
        "a layer of a new image of the same size, in the same order; the layers themselves are not "
        "changed, and the selection plays no part.",
        Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES
        | Gimp.ProcedureSensitivityMask.NO_DRAWABLES)
    _add_reference_arguments(procedure)
    add_preset_argument(procedure, _RW)
    add_option_arguments(procedure, _RW)
    procedure.add_double_argument("fps", "Frames per _second", "The animation's frame rate, which spaces the "
                                  "keyframes in time; 0: from the layers' \"(NNms)\" delays, else 24",
                                  0.0, 1000.0, 0.0, _RW)
    procedure.add_boolean_argument("new-image", "Into a _new image", "The styled frames as the layers of a new "
                                   "image (the same size and order) instead of new layers above their own",
                                   False, _RW)
    procedure.add_image_return_value("new-image", "New image", "The new image of styled frames (with "
                                     "\"new-image\"), else none", True, _RW)
    return procedure


def _apply_look_procedure(plugin: Gimp.PlugIn, name: str) -> Gimp.Procedure:
    procedure = _procedure(
        plugin, name, run_apply_look, "Apply Photo Style _Look...", "<Image>/Filters/Colors",
        "Recolour the layer with a look file (a 3D LUT) as a new layer above it",
        "A .cube 3D LUT or a Hald CLUT .png (a look kept by Photo Style Transfer, or any grader's), applied by "
        "the PhotoStyle daemon to the whole layer in a moment; the result is a new layer above it, in one undo "
        "step, and the layer itself is not changed.")
    procedure.add_file_argument("look-file", "_Look file", "A .cube 3D LUT or a Hald CLUT .png",
                                Gimp.FileChooserAction.OPEN, False, None, _RW)
    procedure.add_choice_argument("interpolation", "_Interpolation", "How colours between the look's lattice "
                                  "points are found", _choice(INTERPOLATION_CHOICES), "trilinear", _RW)
    return procedure


def _procedure(plugin: Gimp.PlugIn, name: str, run_function, label: str, menu: str, blurb: str, help_text: str,
               sensitivity: Gimp.ProcedureSensitivityMask = Gimp.ProcedureSensitivityMask.DRAWABLE) -> Gimp.Procedure:
    """A procedure on an RGB or grey image, in `menu` as `label`; by default on one layer of it."""
    procedure = Gimp.ImageProcedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run_function, None)
    procedure.set_image_types("RGB*, GRAY*")
    procedure.set_sensitivity_mask(sensitivity)
    procedure.set_menu_label(label)
    procedure.add_menu_path(menu)
    procedure.set_documentation(blurb, help_text, name)
    procedure.set_attribution("PhotoStyle", "PhotoStyle", "2026")
    return procedure


def _choice(items: dict[str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for index, (nick, label) in enumerate(items.items()):
        choice.add(nick, index, label, "")
    return choice


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    # InputError: the call itself is wrong (no reference, selection outside the layer);
    # InvalidRequestError: the daemon refused the arguments (unknown preset, too many iterations...).
    return _run_on_one_layer(procedure, run_mode, drawables, "Photo Style Transfer",
                             lambda: run_dialog(procedure, config, image, drawables[0]),
                             lambda: transfer(image, drawables[0], config))


def run_frames(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list[Gimp.Drawable],
               config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    # InputError: no reference, or no layer to be a frame; InvalidRequestError: the daemon refused the arguments.
    return _run(procedure, run_mode, "Photo Style Transfer (all layers as frames)",
                lambda: run_dialog(procedure, config, image),
                lambda: transfer_frames(image, config, show=run_mode == Gimp.RunMode.INTERACTIVE))


def run_apply_look(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image,
                   drawables: list[Gimp.Drawable], config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    # InputError / InvalidRequestError: the file is no look, or one the daemon cannot read.
    return _run_on_one_layer(procedure, run_mode, drawables, "Apply Photo Style Look",
                             lambda: run_look_dialog(procedure, config),
                             lambda: apply_look(image, drawables[0], config))


def _run_on_one_layer(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, drawables: list[Gimp.Drawable],
                      title: str, dialog: Callable[[], bool], work: Callable[[], object]) -> Gimp.ValueArray:
    """What the procedures on one layer do around their work: that layer, then as `_run`."""
    if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, f"{title} works on one layer: select a single "
                        "layer (not a channel or a layer mask) and try again.")
    return _run(procedure, run_mode, title, dialog, work)


def _run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, title: str, dialog: Callable[[], bool],
         work: Callable[[], object]) -> Gimp.ValueArray:
    """What every procedure does around its work: the client library present, the dialog when
    interactive, and what goes wrong as the PDB's statuses (the caller's mistakes and what the
    daemon refused as calling errors, the rest as execution errors). An image the work made is
    the procedure's return value (the frames procedure's "new-image")."""
    if IMPORT_ERROR is not None:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, _missing_client())
    if run_mode == Gimp.RunMode.INTERACTIVE and not dialog():
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    try:
        made = work()
    except (InputError, InvalidRequestError) as error:
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, f"{title}: {error}")
    except PhotoStyleClientError as error:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"{title}: {error}")
    finally:
        Gimp.progress_end()
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    if isinstance(made, Gimp.Image):  # the procedure's "new-image" return value
        values.remove(1)
        values.insert(1, GObject.Value(Gimp.Image, made))
    return values


def _missing_client() -> str:
    return (f"GIMP's Python cannot load the PhotoStyle client ({IMPORT_ERROR}); it needs grpcio and protobuf. "
            "On Debian/Ubuntu run `sudo apt install python3-grpcio python3-protobuf`; elsewhere run "
            "`photostyle plugins install gimp` again, which says what to do for your GIMP.")


def _failure(procedure: Gimp.Procedure, status: Gimp.PDBStatusType, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


if __name__ == "__main__":  # GIMP runs the file
    Gimp.main(PhotoStyle.__gtype__, sys.argv)
