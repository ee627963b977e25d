#!/usr/bin/env python3
"""PhotoStyle for GIMP 3: Filters ▸ Artistic ▸ Photo Style Transfer…

A thin adapter between GIMP and the PhotoStyle daemon: it reads the layer (within the
selection's bounds), the reference image and any region channels as raw pixels, sends them to
the daemon, and adds the answer as a new layer above, masked by the selection, in one undo step.
The source layer is only ever read. Everything the dialog shows is also a procedure argument,
so scripts and batch mode can call `plug-in-photostyle-transfer` non-interactively.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, GLib, GObject, Gimp, GimpUi  # noqa: E402

PLUGIN_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PLUGIN_DIR))  # the vendored client library lives beside this file

try:
    import photostyle_client as ps
    from photostyle_client.launch import DaemonConfig, connect
except ImportError as error:  # GIMP's Python lacks grpc/protobuf: register anyway, explain when run
    ps = None
    IMPORT_ERROR = error

PROCEDURE = "plug-in-photostyle-transfer"
PRESETS = {"default": "Default (a few minutes on a CPU)", "reference": "Reference (the paper's settings, slow)"}
PAIRINGS = {"channels": "Pair channels with the same name (sky ↔ sky)",
            "whole": "Whole reference styles the selection"}
_RW = GObject.ParamFlags.READWRITE
_CLAMP = Gegl.AbyssPolicy.CLAMP


class ArgumentError(Exception):
    """The call itself is wrong (no reference, selection outside the layer): a CALLING_ERROR."""


class PhotoStyle(Gimp.PlugIn):
    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        return [PROCEDURE]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Photo Style _Transfer...")
        procedure.add_menu_path("<Image>/Filters/Artistic")
        procedure.set_documentation(
            "Give the selection the colours and tone of a reference photo",
            "Deep Photo Style Transfer by the PhotoStyle daemon. The result is a new layer above the active "
            "one, masked by the selection. Channels with the same name in the photo and the reference "
            "(e.g. 'sky') are matched region to region.", name)
        procedure.set_attribution("PhotoStyle", "PhotoStyle", "2026")
        procedure.add_layer_argument("reference-layer", "Refere_nce layer",
                                     "A layer of an open image whose look to take (takes precedence over the file)",
                                     True, _RW)
        procedure.add_file_argument("reference-file", "Reference _file", "A reference photo that is not open",
                                    Gimp.FileChooserAction.OPEN, True, None, _RW)
        procedure.add_choice_argument("preset", "_Preset", "Engine parameter set", _choice(PRESETS), "default", _RW)
        procedure.add_choice_argument("regions", "Re_gions", "How regions of the photo and the reference are paired",
                                      _choice(PAIRINGS), "channels", _RW)
        procedure.add_int_argument("size", "_Working size", "Long side the engine optimises at, px (0 = the preset's)",
                                   0, 4096, 0, _RW)
        procedure.add_int_argument("style-iterations", "Style iterations", "Stage 1 iterations (0 = the preset's)",
                                   0, 100000, 0, _RW)
        procedure.add_int_argument("photoreal-iterations", "Photorealism iterations",
                                   "Stage 2 iterations (0 = the preset's)", 0, 100000, 0, _RW)
        return procedure


def _choice(items: dict[str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for index, (nick, label) in enumerate(items.items()):
        choice.add(nick, index, label, "")
    return choice


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, "Photo Style Transfer works on one layer: "
                        "select a single layer (not a channel or a layer mask) and try again.")
    if ps is None:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, (
            f"GIMP's Python cannot load the PhotoStyle client ({IMPORT_ERROR}); it needs grpcio and protobuf. "
            "On Debian/Ubuntu run `sudo apt install python3-grpcio python3-protobuf`; elsewhere run "
            "`photostyle plugins install gimp` again, which says what to do for your GIMP."))
    if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(procedure, config):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    try:
        _transfer(image, drawables[0], config)
    except ArgumentError as error:
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, str(error))
    except ps.PhotoStyleClientError as error:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"Photo Style Transfer: {error}")
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)


def _failure(procedure: Gimp.Procedure, status: Gimp.PDBStatusType, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


def _dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    GimpUi.init(PROCEDURE)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title="Photo Style Transfer")
    dialog.fill(["reference-layer", "reference-file", "preset", "regions", "size"])
    accepted = dialog.run()
    dialog.destroy()
    return accepted


def _transfer(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig) -> None:
    """Everything between the arguments and the new layer; raises instead of touching the image."""
    Gimp.progress_init("Photo Style Transfer: reading pixels")
    found, x, y, width, height = layer.mask_intersect()
    if not found:
        raise ArgumentError(f"The selection does not overlap the layer '{layer.get_name()}'; select part of it "
                            "(or Select ▸ None for the whole layer).")
    crop = Gegl.Rectangle.new(x, y, width, height)
    content = _pixels(layer, crop, "R'G'B'A", 4)
    reference, reference_name, loaded = _reference(config)
    try:
        style = _pixels(reference, _extent(reference), "R'G'B'", 3)
        regions = _regions(image, _in_image(layer, crop), reference, config.get_property("regions"))
    finally:
        if loaded is not None:
            loaded.delete()
    Gimp.progress_set_text("Photo Style Transfer: connecting to the PhotoStyle engine")
    with connect(DaemonConfig.load(PLUGIN_DIR), on_wait=lambda elapsed: Gimp.progress_pulse()) as client:
        result = client.transfer(content, style, regions, _options(config)).result(on_event=_show_progress)
    if (result.image.width, result.image.height, result.image.channels) != (width, height, 4):
        raise ps.DaemonError("The daemon answered with an image of another size or layout (a daemon bug); "
                             "nothing was changed.")
    _add_layer(image, layer, crop, f"{layer.get_name()} (style: {reference_name})",
               f"R'G'B'A {_sample_type(image)[1]}", bytes(result.image.data))
    for note in result.notes:
        Gimp.message(f"Photo Style Transfer: {note}")


def _reference(config: Gimp.ProcedureConfig) -> tuple[Gimp.Layer, str, Gimp.Image | None]:
    """The reference layer, a name for it, and the image we loaded for it (to delete afterwards)."""
    layer = config.get_property("reference-layer")
    if layer is not None:
        return layer, layer.get_image().get_name(), None
    file = config.get_property("reference-file")
    if file is None:
        raise ArgumentError("Choose a reference photo: a layer of an open image, or a file.")
    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, file)
    except GLib.Error as error:
        raise ArgumentError(f"Cannot open the reference {file.get_parse_name()}: {error.message}") from None
    return loaded.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE), file.get_basename(), loaded


def _sample_type(image: Gimp.Image) -> tuple[str, str]:
    """Client sample type and babl suffix for the image's precision (u32/half/double travel as float)."""
    nick = image.get_precision().value_nick
    if nick.startswith("u8"):
        return "uint8", "u8"
    if nick.startswith("u16"):
        return "uint16", "u16"
    return "float32", "float"


def _pixels(drawable: Gimp.Drawable, rect: Gegl.Rectangle, layout: str, channels: int) -> "ps.Image":
    """Pixels of `rect` as perceptual (R'G'B') samples at the image's depth, whatever its TRC and profile."""
    sample_type, suffix = _sample_type(drawable.get_image())
    return ps.Image(rect.width, rect.height, channels, sample_type,
                    drawable.get_buffer().get(rect, 1.0, f"{layout} {suffix}", _CLAMP))


def _extent(drawable: Gimp.Drawable) -> Gegl.Rectangle:
    return Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())


def _in_image(layer: Gimp.Layer, rect: Gegl.Rectangle) -> Gegl.Rectangle:
    _, offset_x, offset_y = layer.get_offsets()
    return Gegl.Rectangle.new(rect.x + offset_x, rect.y + offset_y, rect.width, rect.height)


def _mask(drawable: Gimp.Drawable, rect: Gegl.Rectangle) -> "ps.Image":
    """8-bit coverage of a channel or the selection (linear, as GIMP's channel-to-selection reads it)."""
    return ps.Image(rect.width, rect.height, 1, "uint8", drawable.get_buffer().get(rect, 1.0, "Y u8", _CLAMP))


def _regions(image: Gimp.Image, crop: Gegl.Rectangle, reference: Gimp.Layer, pairing: str) -> list["ps.Region"]:
    """Region pairs for the engine: same-named channels, else the selection against the whole reference.

    `crop` is the photo's part in image coordinates. With at least one channel name in both
    images, every channel of the photo is sent; the engine styles one that the reference lacks
    with the whole reference and says so in a note.
    """
    whole = _in_image(reference, _extent(reference))
    theirs = {channel.get_name(): channel for channel in reference.get_image().get_channels()}
    ours = image.get_channels()
    if pairing == "channels" and any(channel.get_name() in theirs for channel in ours):
        absent = ps.Image(whole.width, whole.height, 1, "uint8", bytes(whole.width * whole.height))
        return [ps.Region(channel.get_name(), _mask(channel, crop),
                          _mask(theirs[channel.get_name()], whole) if channel.get_name() in theirs else absent)
                for channel in ours]
    if Gimp.Selection.is_empty(image):
        return []
    everywhere = ps.Image(whole.width, whole.height, 1, "uint8", b"\xff" * (whole.width * whole.height))
    return [ps.Region("selection", _mask(image.get_selection(), crop), everywhere)]


def _options(config: Gimp.ProcedureConfig) -> "ps.Options":
    def preset_if_zero(name: str) -> int | None:
        return config.get_property(name) or None

    return ps.Options(preset=config.get_property("preset"), size=preset_if_zero("size"),
                      style_iterations=preset_if_zero("style-iterations"),
                      photoreal_iterations=preset_if_zero("photoreal-iterations"))


def _show_progress(event: "ps.Event") -> None:
    if isinstance(event, ps.Queued) and event.position:
        Gimp.progress_set_text(f"Photo Style Transfer: waiting for {event.position} job(s) ahead")
    elif isinstance(event, ps.Progress):
        Gimp.progress_set_text(f"Photo Style Transfer: {event.stage} (stage {event.stage_index}/{event.stage_count}), "
                               f"iteration {event.iteration}/{event.iterations}")
        Gimp.progress_update(min(event.fraction, 0.99))  # 100 % only once the layer is there


def _add_layer(image: Gimp.Image, source: Gimp.Layer, crop: Gegl.Rectangle, name: str, babl_format: str,
               pixels: bytes) -> None:
    """The result as a new layer above `source` (same size, offsets, precision), masked by the selection.

    One undo group, so one Undo removes it.
    """
    kind = Gimp.ImageType.RGBA_IMAGE if image.get_base_type() == Gimp.ImageBaseType.RGB else Gimp.ImageType.GRAYA_IMAGE
    image.undo_group_start()
    try:
        layer = Gimp.Layer.new(image, name, source.get_width(), source.get_height(), kind, 100.0,
                               Gimp.LayerMode.NORMAL)
        _, offset_x, offset_y = source.get_offsets()
        layer.set_offsets(offset_x, offset_y)
        layer.fill(Gimp.FillType.TRANSPARENT)
        image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
        buffer = layer.get_buffer()
        buffer.set(crop, babl_format, pixels)
        buffer.flush()
        layer.update(crop.x, crop.y, crop.width, crop.height)
        if not Gimp.Selection.is_empty(image):
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


Gimp.main(PhotoStyle.__gtype__, sys.argv)
