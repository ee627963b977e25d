#!/usr/bin/env python3
"""PhotoStyle for GIMP 3: Filters ▸ Artistic ▸ Photo Style Transfer…

A thin adapter between GIMP and the PhotoStyle daemon: it reads the layer (within the
selection's bounds), the reference image and any region channels as raw pixels, sends them to
the daemon, and adds the answer as a new layer above, masked by the selection, in one undo step,
with the regions the engine found (if it did) as channels "auto: 1"… of the photo's image (and
of the reference's, when that is another open image). Which regions to send is the client
library's `plan_regions`, shared with Krita. The source layer is only ever read. Everything the
dialog sets is also a procedure argument, so scripts and batch mode can call
`plug-in-photostyle-transfer` non-interactively.

The presets are the daemon's (its capabilities name and describe them), so `preset` is a plain
string argument and the dialog fills its combo box when the daemon answers. The dialog's live
preview runs the daemon's `preview` preset on the selection, reference and masks read at reduced
scale (the policy is the client library's `live_preview_scale`, shared with Krita). Reading
pixels and building requests (`preset_entries`, `preview_request`, `live_preview`,
`preview_pixbuf`) is kept apart from the Gtk code (`_Dialog`), so tests run it inside GIMP
without a display. Importing this file does not start the plug-in; GIMP runs it as a script.
"""

from __future__ import annotations

import math
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf, Gegl, GLib, GObject, Gimp, GimpUi, Gtk  # noqa: E402

PLUGIN_DIR = Path(__file__).resolve().parent
# The vendored client library lives beside this file; grpcio/protobuf in vendor/ when the installer
# had to provide them (GIMP's Python lacked them).
sys.path[:0] = [str(PLUGIN_DIR / "vendor"), str(PLUGIN_DIR)]

try:
    from photostyle.server import client as ps
    from photostyle.server.client.launch import DaemonConfig, connect
    REGION_CHOICES, DEFAULT_REGION_CHOICE = ps.REGION_CHOICES, ps.DEFAULT_REGION_CHOICE
except ImportError as error:  # GIMP's Python lacks grpc/protobuf: register anyway, explain when run
    ps = None
    IMPORT_ERROR = error
    REGION_CHOICES, DEFAULT_REGION_CHOICE = {"auto": "Automatic"}, "auto"  # the modes live in the client library

PROCEDURE = "plug-in-photostyle-transfer"
DEFAULT_PRESET = "default"
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
            "(e.g. 'sky') are matched region to region; without them the engine finds corresponding regions "
            "itself and adds them as channels 'auto: 1', 'auto: 2'...", name)
        procedure.set_attribution("PhotoStyle", "PhotoStyle", "2026")
        procedure.add_layer_argument("reference-layer", "Refere_nce layer",
                                     "A layer of an open image whose look to take (takes precedence over the file)",
                                     True, _RW)
        procedure.add_file_argument("reference-file", "Reference _file", "A reference photo that is not open",
                                    Gimp.FileChooserAction.OPEN, True, None, _RW)
        # A string, not a choice: GIMP fixes a choice's items when it registers the procedure, and the
        # presets are whatever the daemon offers (it refuses an unknown name and lists its presets).
        procedure.add_string_argument("preset", "_Preset", "Name of one of the PhotoStyle daemon's presets "
                                      "(its capabilities list them: default, preview, reference, ...)",
                                      DEFAULT_PRESET, _RW)
        procedure.add_choice_argument("regions", "Re_gions", "How regions of the photo and the reference are paired",
                                      _choice(REGION_CHOICES), DEFAULT_REGION_CHOICE, _RW)
        procedure.add_int_argument("size", "_Working size", "Long side the engine optimises at, px (0 = the preset's)",
                                   0, 4096, 0, _RW)
        procedure.add_int_argument("style-iterations", "Style iterations",
                                   "Iterations of the preset's stages without the photorealism term (0 = the "
                                   "preset's; the default preset has none, so it refuses more)", 0, 100000, 0, _RW)
        procedure.add_int_argument("photoreal-iterations", "Photorealism iterations",
                                   "Iterations of the preset's stages with the photorealism term (0 = the preset's)",
                                   0, 100000, 0, _RW)
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
    Gegl.init(None)  # as GIMP's own plug-ins do; without it GEGL reads nothing but zeros at scales below 1
    if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(procedure, config, image, drawables[0]):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    try:
        _transfer(image, drawables[0], config)
    except ArgumentError as error:
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, str(error))
    except ps.InvalidRequestError as error:  # the daemon refused the arguments (unknown preset, too many iterations...)
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, f"Photo Style Transfer: {error}")
    except ps.PhotoStyleClientError as error:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"Photo Style Transfer: {error}")
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)


def _failure(procedure: Gimp.Procedure, status: Gimp.PDBStatusType, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


def connect_daemon(on_wait=lambda elapsed: None) -> "ps.Client":
    """A client of the daemon this plug-in was installed with (started first if none answers).

    Raises `ps.DaemonUnavailableError`, whose text says what to run, when none can be had.
    """
    return connect(DaemonConfig.load(PLUGIN_DIR), on_wait=on_wait)


def _transfer(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig) -> None:
    """Everything between the arguments and the new layer; raises instead of touching the image."""
    Gimp.progress_init("Photo Style Transfer: reading pixels")
    crop = _selection_bounds(layer)
    in_image = _in_image(layer, crop)
    content = _pixels(layer, crop, "R'G'B'A", 4)
    reference, reference_name, loaded = _reference(config)
    try:
        reference_area = _in_image(reference, _extent(reference))
        style = _pixels(reference, _extent(reference), "R'G'B'", 3)
        regions, engine_mode = _regions(image, in_image, reference, config.get_property("regions"))
        # Found regions go to the reference's image too when it stays open and is not the photo's.
        reference_image = (reference.get_image() if loaded is None and reference.get_image().get_id() != image.get_id()
                           else None)
    finally:
        if loaded is not None:
            loaded.delete()
    Gimp.progress_set_text("Photo Style Transfer: connecting to the PhotoStyle engine")
    with connect_daemon(on_wait=lambda elapsed: Gimp.progress_pulse()) as client:
        result = client.transfer(content, style, regions, _options(config, engine_mode)).result(on_event=_show_progress)
    if (result.image.width, result.image.height, result.image.channels) != (crop.width, crop.height, 4):
        raise ps.DaemonError("The daemon answered with an image of another size or layout (a daemon bug); "
                             "nothing was changed.")
    ps.check_found_regions(result.regions, (crop.width, crop.height), (style.width, style.height))
    with _undo_step(image):
        _add_region_channels(image, [(region.name, region.content_mask) for region in result.regions], in_image)
        _add_layer(image, layer, crop, f"{layer.get_name()} (style: {reference_name})",
                   f"R'G'B'A {_sample_type(image)[1]}", bytes(result.image.data))
    if reference_image is not None and result.regions:
        with _undo_step(reference_image):
            _add_region_channels(reference_image, [(region.name, region.style_mask) for region in result.regions],
                                 reference_area)
    Gimp.displays_flush()
    for note in result.notes:
        Gimp.message(f"Photo Style Transfer: {note}")


def _selection_bounds(layer: Gimp.Layer) -> Gegl.Rectangle:
    """The part of `layer` to restyle (the selection's bounds on it), in layer coordinates."""
    found, x, y, width, height = layer.mask_intersect()
    if not found:
        raise ArgumentError(f"The selection does not overlap the layer '{layer.get_name()}'; select part of it "
                            "(or Select ▸ None for the whole layer).")
    return Gegl.Rectangle.new(x, y, width, height)


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


def _pixels(drawable: Gimp.Drawable, rect: Gegl.Rectangle, layout: str, channels: int, scale: float = 1.0,
            sample: tuple[str, str] | None = None) -> "ps.Image":
    """Pixels of `rect` as perceptual (R'G'B') samples, whatever the image's TRC and profile.

    At the image's depth unless `sample` (client sample type, babl suffix) says otherwise. With a
    `scale` below 1, `rect` is in the shrunk image's coordinates (see `_scaled`) and GEGL shrinks
    the pixels as it reads them, so a preview of a large layer never copies it at full size.
    """
    sample_type, suffix = sample or _sample_type(drawable.get_image())
    return ps.Image(rect.width, rect.height, channels, sample_type,
                    drawable.get_buffer().get(rect, scale, f"{layout} {suffix}", _CLAMP))


def _scaled(rect: Gegl.Rectangle, scale: float) -> Gegl.Rectangle:
    """`rect` in the coordinates of the drawable shrunk by `scale` (what GeglBuffer.get reads at that scale)."""
    if scale == 1.0:
        return rect
    return Gegl.Rectangle.new(math.floor(rect.x * scale), math.floor(rect.y * scale),
                              max(1, round(rect.width * scale)), max(1, round(rect.height * scale)))


def _extent(drawable: Gimp.Drawable) -> Gegl.Rectangle:
    return Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())


def _in_image(layer: Gimp.Layer, rect: Gegl.Rectangle) -> Gegl.Rectangle:
    _, offset_x, offset_y = layer.get_offsets()
    return Gegl.Rectangle.new(rect.x + offset_x, rect.y + offset_y, rect.width, rect.height)


def _mask(drawable: Gimp.Drawable, rect: Gegl.Rectangle, scale: float = 1.0) -> "ps.Image":
    """8-bit coverage of a channel or the selection (linear, as GIMP's channel-to-selection reads it).

    `rect` is in image coordinates, shrunk by `scale` (see `_scaled`)."""
    rect = _scaled(rect, scale)
    return ps.Image(rect.width, rect.height, 1, "uint8", drawable.get_buffer().get(rect, scale, "Y u8", _CLAMP))


def _regions(image: Gimp.Image, crop: Gegl.Rectangle, reference: Gimp.Layer, mode: str,
             scale: float = 1.0, reference_scale: float = 1.0) -> tuple[list["ps.Region"], str]:
    """The regions to send for the region `mode` (channels are the named regions; the client
    library's `plan_regions` decides), and the engine's region mode to ask for.

    `crop` is the photo's part in image coordinates. A photo channel that the reference lacks goes
    with an all-zero reference mask (the engine decides what styles it). The photo's masks are
    shrunk by `scale`, the reference's by `reference_scale` (1 for a transfer; a live preview's
    factors otherwise).
    """
    whole = _in_image(reference, _extent(reference))
    size = _scaled(whole, reference_scale)
    theirs = {channel.get_name(): channel for channel in reference.get_image().get_channels()}
    ours = {channel.get_name(): channel for channel in image.get_channels()}
    plan = ps.plan_regions(mode, ours, theirs)

    def filled(value: bytes) -> "ps.Image":
        return ps.Image(size.width, size.height, 1, "uint8", value * (size.width * size.height))

    regions = [ps.Region(name, _mask(ours[name], crop, scale),
                         _mask(theirs[name], whole, reference_scale) if name in theirs else filled(b"\x00"))
               for name in plan.names]
    if plan.selection and not Gimp.Selection.is_empty(image):
        regions.append(ps.Region(ps.SELECTION_REGION, _mask(image.get_selection(), crop, scale), filled(b"\xff")))
    return regions, plan.engine_mode


def _options(config: Gimp.ProcedureConfig, regions: str) -> "ps.Options":
    """The engine options the arguments ask for, with the engine's region mode (`_regions` says which)."""
    def preset_if_zero(name: str) -> int | None:
        return config.get_property(name) or None

    return ps.Options(preset=config.get_property("preset") or DEFAULT_PRESET, size=preset_if_zero("size"),
                      style_iterations=preset_if_zero("style-iterations"),
                      photoreal_iterations=preset_if_zero("photoreal-iterations"), regions=regions)


def _show_progress(event: "ps.Event") -> None:
    if isinstance(event, ps.Queued) and event.position:
        Gimp.progress_set_text(f"Photo Style Transfer: waiting for {event.position} job(s) ahead")
    elif isinstance(event, ps.Progress):
        Gimp.progress_set_text(f"Photo Style Transfer: {event.stage} (stage {event.stage_index}/{event.stage_count}), "
                               f"iteration {event.iteration}/{event.iterations}")
        Gimp.progress_update(min(event.fraction, 0.99))  # 100 % only once the layer is there


@contextmanager
def _undo_step(image: Gimp.Image) -> Iterator[None]:
    """One undo group: one Undo removes everything done inside."""
    image.undo_group_start()
    try:
        yield
    finally:
        image.undo_group_end()


def _add_layer(image: Gimp.Image, source: Gimp.Layer, crop: Gegl.Rectangle, name: str, babl_format: str,
               pixels: bytes) -> None:
    """The result as a new layer above `source` (same size, offsets, precision), masked by the selection."""
    kind = Gimp.ImageType.RGBA_IMAGE if image.get_base_type() == Gimp.ImageBaseType.RGB else Gimp.ImageType.GRAYA_IMAGE
    layer = Gimp.Layer.new(image, name, source.get_width(), source.get_height(), kind, 100.0, Gimp.LayerMode.NORMAL)
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


def _add_region_channels(image: Gimp.Image, masks: list[tuple[str, "ps.Image"]], area: Gegl.Rectangle) -> None:
    """Regions the engine found, as hidden image-sized channels named after them, each mask placed
    on `area` (image coordinates; the part of the image that was sent) and zero elsewhere.

    Replaces the channels of the previous run's automatic regions, so the names stay unique.
    """
    if not masks:
        return
    for channel in image.get_channels():
        if ps.is_auto_region(channel.get_name()):
            image.remove_channel(channel)
    width, height = image.get_width(), image.get_height()
    for position, (name, mask) in enumerate(masks):
        channel = Gimp.Channel.new(image, name, width, height, 50.0, Gegl.Color.new("red"))
        channel.set_visible(False)
        image.insert_channel(channel, None, position)
        buffer = channel.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, width, height), "Y u8", _placed(mask, area, width, height))
        buffer.flush()


def _placed(mask: "ps.Image", area: Gegl.Rectangle, width: int, height: int) -> bytearray:
    """`mask` (the size of `area`) at `area`'s place on a width×height canvas of zeros, clipped to it."""
    canvas = bytearray(width * height)
    data = bytes(mask.data)
    left, right = max(0, area.x), min(width, area.x + area.width)
    for y in range(max(0, area.y), min(height, area.y + area.height)):
        row = (y - area.y) * area.width - area.x
        canvas[y * width + left:y * width + right] = data[row + left:row + right]
    return canvas


# --- presets and the live preview, without Gtk (tests run these inside GIMP) ---------------------


def preset_entries(capabilities: "ps.photostyle_pb2.Capabilities") -> list[tuple[str, str]]:
    """(name, description) of every preset the daemon offers, in its order: the dialog's combo box."""
    return [(preset.name, preset.description) for preset in capabilities.presets]


@dataclass(frozen=True)
class PreviewRequest:
    """A live preview's inputs, read from the image at reduced scale; reading never changes the image."""

    content: "ps.Image"  # the selection's bounds on the layer, shrunk: R'G'B'A 8-bit
    style: "ps.Image"  # the reference, shrunk: R'G'B' 8-bit
    regions: list  # [ps.Region]: as for the transfer, each mask shrunk with its image
    engine_mode: str  # the engine's region mode, as for the transfer
    selection: "ps.Image | None"  # the selection's coverage of `content`; None when nothing is selected
    scale: float  # of the photo (the reference has its own factor)
    reference_name: str

    def send(self, client: "ps.Client") -> "ps.TransferCall":
        """Start it on the daemon with the live-preview options (any thread; touches no GIMP object)."""
        return client.transfer(self.content, self.style, self.regions,
                               replace(ps.live_preview_options(), regions=self.engine_mode))


def preview_request(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig,
                    min_side: int) -> PreviewRequest:
    """Read what a live preview of `config` sends, each image shrunk by the client library's policy
    (`live_preview_scale`, with the daemon's `min_side`). Call it on GIMP's (the main) thread."""
    Gegl.init(None)  # idempotent; GEGL's shrinking reads need it (see `run`)
    crop = _selection_bounds(layer)
    in_image = _in_image(layer, crop)
    scale = ps.live_preview_scale(crop.width, crop.height, min_side)
    as_8bit = ("uint8", "u8")  # a preview is for looking at
    content = _pixels(layer, _scaled(crop, scale), "R'G'B'A", 4, scale, as_8bit)
    reference, reference_name, loaded = _reference(config)
    try:
        reference_scale = ps.live_preview_scale(reference.get_width(), reference.get_height(), min_side)
        style = _pixels(reference, _scaled(_extent(reference), reference_scale), "R'G'B'", 3, reference_scale,
                        as_8bit)
        regions, engine_mode = _regions(image, in_image, reference, config.get_property("regions"), scale,
                                        reference_scale)
    finally:
        if loaded is not None:
            loaded.delete()
    selection = None if Gimp.Selection.is_empty(image) else _mask(image.get_selection(), in_image, scale)
    return PreviewRequest(content, style, regions, engine_mode, selection, scale, reference_name)


def live_preview(client: "ps.Client", image: Gimp.Image, layer: Gimp.Layer,
                 config: Gimp.ProcedureConfig) -> tuple[PreviewRequest, "ps.Result"]:
    """A live preview, start to end, on this thread: what the dialog does in two halves."""
    request = preview_request(image, layer, config, client.capabilities().limits.min_side)
    return request, request.send(client).result()


def preview_pixbuf(request: PreviewRequest, result: "ps.Result") -> GdkPixbuf.Pixbuf:
    """What the dialog shows: the restyled pixels where the selection is, the photo's elsewhere (as
    the new layer's mask will show them), at the preview's size. Safe off the main thread."""
    styled = result.image
    if (styled.width, styled.height, styled.channels) != (request.content.width, request.content.height, 4):
        raise ps.DaemonError("The daemon answered the preview with an image of another size or layout (a daemon "
                             "bug).")
    after = bytes(styled.data)
    if request.selection is None:
        return _pixbuf(after, styled.width, styled.height)
    shown = _pixbuf(bytes(request.content.data), styled.width, styled.height)
    masked = bytearray(after)
    masked[3::4] = bytes(map(min, after[3::4], bytes(request.selection.data)))
    _pixbuf(bytes(masked), styled.width, styled.height).composite(
        shown, 0, 0, styled.width, styled.height, 0, 0, 1.0, 1.0, GdkPixbuf.InterpType.NEAREST, 255)
    return shown


def _pixbuf(rgba: bytes, width: int, height: int) -> GdkPixbuf.Pixbuf:
    return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(rgba), GdkPixbuf.Colorspace.RGB, True, 8, width, height,
                                           width * 4)


# --- the dialog ------------------------------------------------------------------------------------


def _dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, image: Gimp.Image, layer: Gimp.Layer) -> bool:
    GimpUi.init(PROCEDURE)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title="Photo Style Transfer")
    extras = _Dialog(dialog, config, image, layer)
    try:
        accepted = dialog.run()
    finally:
        extras.close()
        dialog.destroy()
    if accepted:  # a daemon the dialog is still starting: let it come up rather than start a second one
        extras.wait_for_connection()
    return accepted


_PREVIEW_BOX = 360  # px: the preview is shown scaled to fit a square this size
_AUTO_PREVIEW_MS = 400  # after the reference or the region pairing changes


class _Dialog:
    """The Gtk half: GIMP's widgets for the arguments and the daemon's presets on the left, the
    live preview on the right.

    Talking to the daemon happens on worker threads (connecting may start the daemon and wait for
    it; a preview takes about a second); they report back with GLib.idle_add, so the dialog never
    blocks. GIMP objects are only touched on the main thread.
    """

    def __init__(self, dialog: GimpUi.ProcedureDialog, config: Gimp.ProcedureConfig, image: Gimp.Image,
                 layer: Gimp.Layer) -> None:
        self._config, self._image, self._layer = config, image, layer
        self._client: "ps.Client | None" = None
        self._min_side = 0
        self._connecting = False
        self._connector: threading.Thread | None = None
        self._call: "ps.TransferCall | None" = None  # the preview in flight
        self._again = False  # inputs changed while a preview ran: run another when it ends
        self._auto: int | None = None  # pending automatic preview (GLib source id)
        self._closed = False

        settings = dialog.fill_box("photostyle-settings", ["reference-layer", "reference-file", "regions", "size"])
        self.preset = Gtk.ComboBoxText(tooltip_text="The PhotoStyle daemon's presets")
        self._set_presets([(config.get_property("preset") or DEFAULT_PRESET, "")])
        self.preset.set_sensitive(False)
        self.preset_about = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=44, selectable=True)
        self.preset_about.get_style_context().add_class("dim-label")
        preset_row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        preset_label = Gtk.Label(label="_Preset", use_underline=True, mnemonic_widget=self.preset, xalign=0.0)
        preset_row.pack_start(preset_label, False, False, 0)
        preset_row.pack_start(self.preset, True, True, 0)
        settings.pack_start(preset_row, False, False, 0)
        settings.pack_start(self.preset_about, False, False, 0)
        settings.reorder_child(preset_row, 2)  # after the reference, where GIMP would have put it
        settings.reorder_child(self.preset_about, 3)
        regions = dialog.get_widget("regions", GObject.TYPE_NONE)
        if isinstance(regions, GimpUi.Labeled):  # line the label up with GIMP's own
            self._labels = Gtk.SizeGroup(mode=Gtk.SizeGroupMode.HORIZONTAL)
            self._labels.add_widget(regions.get_label())
            self._labels.add_widget(preset_label)

        self.image = Gtk.Image(width_request=_PREVIEW_BOX, height_request=_PREVIEW_BOX)
        frame = Gtk.Frame(label="Live preview (quick colour transfer)")
        frame.add(self.image)
        self.button = Gtk.Button.new_with_mnemonic("Pre_view")
        self.button.set_tooltip_text("Restyle a small copy of the selection with the daemon's instant 'preview' "
                                     "preset (the image is not changed); the chosen preset refines this look.")
        self.status = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=44, selectable=True)
        preview = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        preview.pack_start(frame, False, False, 0)
        buttons = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        buttons.pack_start(self.button, False, False, 0)
        preview.pack_start(buttons, False, False, 0)
        preview.pack_start(self.status, False, False, 0)
        columns = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=18)
        columns.pack_start(settings, True, True, 0)
        columns.pack_start(preview, False, False, 0)
        dialog.get_content_area().pack_start(columns, True, True, 0)
        columns.show_all()

        self.preset.connect("changed", self._on_preset_changed)
        config.connect("notify::preset", self._on_preset_set)  # Reset, Load Saved Settings
        self.button.connect("clicked", lambda button: self._preview())
        for name in ("reference-layer", "reference-file", "regions"):
            config.connect(f"notify::{name}", self._on_input_changed)
        self._connect()

    # The daemon: capabilities, presets --------------------------------------------------------

    def _connect(self) -> None:
        """Reach the daemon (starting it if need be) off the main thread, then show its presets."""
        if self._connecting:
            return
        self._connecting = True
        self._say("Asking the PhotoStyle engine for its presets…")
        self._connector = threading.Thread(target=self._connect_worker, name="photostyle-connect", daemon=True)
        self._connector.start()

    def wait_for_connection(self) -> None:
        """Wait (at most the daemon's start-up time) for a connection attempt still under way."""
        if self._connector is not None and self._connector.is_alive():
            Gimp.progress_init("Photo Style Transfer: waiting for the PhotoStyle engine to start")
            self._connector.join(DaemonConfig.load(PLUGIN_DIR).start_timeout_s + 5)

    def _connect_worker(self) -> None:
        def waiting(elapsed: float) -> None:
            GLib.idle_add(self._say, f"Starting the PhotoStyle engine… {elapsed:.0f} s")

        try:
            client = connect_daemon(on_wait=waiting)
            capabilities = client.capabilities()
        except ps.PhotoStyleClientError as error:
            GLib.idle_add(self._on_connect_failed, error)
            return
        GLib.idle_add(self._on_connected, client, capabilities)

    def _on_connected(self, client: "ps.Client", capabilities: "ps.photostyle_pb2.Capabilities") -> bool:
        self._connecting = False
        if self._closed:
            client.close()
            return False
        self._client, self._min_side = client, capabilities.limits.min_side
        self._set_presets(preset_entries(capabilities))
        self.preset.set_sensitive(True)
        self._say(f"PhotoStyle engine {capabilities.engine_version} ready on {capabilities.device}.")
        if self._has_reference():
            self._preview()
        return False

    def _on_connect_failed(self, error: Exception) -> bool:
        self._connecting = False
        if not self._closed:
            self._say(f"{error}\nPress Preview to try again.", error=True)
        return False

    def _set_presets(self, entries: list[tuple[str, str]]) -> None:
        chosen = self._config.get_property("preset") or DEFAULT_PRESET
        self._descriptions = dict(entries)
        self.preset.remove_all()
        for name, _ in entries:
            self.preset.append(name, name)
        if not self.preset.set_active_id(chosen):  # a preset the daemon no longer has
            self.preset.set_active_id(DEFAULT_PRESET) or self.preset.set_active(0)

    def _on_preset_changed(self, combo: Gtk.ComboBoxText) -> None:
        name = combo.get_active_id()
        if name is None:
            return
        if self._config.get_property("preset") != name:
            self._config.set_property("preset", name)
        about = self._descriptions.get(name, "")
        self.preset_about.set_text(about)
        combo.set_tooltip_text(about or "The PhotoStyle daemon's presets")

    def _on_preset_set(self, config: Gimp.ProcedureConfig, spec: GObject.ParamSpec) -> None:
        name = config.get_property("preset") or DEFAULT_PRESET
        if not self._closed and self.preset.get_active_id() != name:
            if not self.preset.set_active_id(name):  # not one of the daemon's (yet): show it as it is
                self._set_presets([*self._descriptions.items(), (name, "")])

    # The live preview ---------------------------------------------------------------------------

    def _has_reference(self) -> bool:
        return (self._config.get_property("reference-layer") is not None
                or self._config.get_property("reference-file") is not None)

    def _on_input_changed(self, config: Gimp.ProcedureConfig, spec: GObject.ParamSpec) -> None:
        if self._closed or self._client is None:
            return
        if self._auto is not None:
            GLib.source_remove(self._auto)
        self._auto = GLib.timeout_add(_AUTO_PREVIEW_MS, self._auto_preview)

    def _auto_preview(self) -> bool:
        self._auto = None
        if not self._closed and self._has_reference():
            self._preview()
        return False

    def _preview(self) -> None:
        if self._closed:
            return
        if self._client is None:
            self._connect()  # once connected, it previews by itself
            return
        if self._call is not None:
            self._again = True
            return
        try:  # GIMP's API: here, on the main thread (reading a shrunk copy is quick)
            request = preview_request(self._image, self._layer, self._config, self._min_side)
        except (ArgumentError, ps.InvalidMasksError) as error:  # no reference; no region named alike in both
            self._say(str(error), error=True)
            return
        except GLib.Error as error:
            self._say(f"Could not read the pixels for the preview: {error.message}", error=True)
            return
        self._show(_pixbuf(bytes(request.content.data), request.content.width, request.content.height))
        self._say(f"Previewing the look of {request.reference_name}…")
        self.button.set_sensitive(False)
        try:
            self._call = request.send(self._client)
        except ps.PhotoStyleClientError as error:
            self._call = None
            self._say(f"No preview: {error}", error=True)
            self.button.set_sensitive(True)
            return
        threading.Thread(target=self._preview_worker, args=(request, self._call), name="photostyle-preview",
                         daemon=True).start()

    def _preview_worker(self, request: PreviewRequest, call: "ps.TransferCall") -> None:
        try:
            result = call.result()
            shown = preview_pixbuf(request, result)
        except ps.PhotoStyleClientError as error:
            GLib.idle_add(self._on_preview_failed, error)
            return
        except Exception as error:  # never leave the dialog waiting for a preview that will not come
            GLib.idle_add(self._on_preview_failed, ps.DaemonError(f"{type(error).__name__}: {error}"))
            return
        GLib.idle_add(self._on_previewed, request, result, shown)

    def _on_previewed(self, request: PreviewRequest, result: "ps.Result", shown: GdkPixbuf.Pixbuf) -> bool:
        self._call = None
        if self._closed:
            return False
        self._show(shown)
        notes = "".join(f" {note}" for note in result.notes)
        self._say(f"Preview: the look of {request.reference_name} ({result.image.width}×{result.image.height} px, "
                  f"{result.seconds:.1f} s on {result.device}).{notes}")
        self._next()
        return False

    def _on_preview_failed(self, error: Exception) -> bool:
        self._call = None
        if self._closed:
            return False
        if isinstance(error, ps.DaemonUnavailableError) and self._client is not None:
            self._client.close()  # gone: the next preview reconnects (and may start it again)
            self._client = None
        self._say(f"No preview: {error}", error=True)
        self._next()
        return False

    def _next(self) -> None:
        self.button.set_sensitive(True)
        if self._again:
            self._again = False
            self._preview()

    def _show(self, pixbuf: GdkPixbuf.Pixbuf) -> None:
        fit = min(_PREVIEW_BOX / pixbuf.get_width(), _PREVIEW_BOX / pixbuf.get_height(), 1.0)
        if fit < 1.0:
            pixbuf = pixbuf.scale_simple(max(1, round(pixbuf.get_width() * fit)),
                                         max(1, round(pixbuf.get_height() * fit)), GdkPixbuf.InterpType.BILINEAR)
        self.image.set_from_pixbuf(pixbuf)

    def _say(self, text: str, error: bool = False) -> bool:
        if not self._closed:
            self.status.set_text(text)
            context = self.status.get_style_context()
            (context.add_class if error else context.remove_class)("error")
        return False

    def close(self) -> None:
        """The dialog is done: stop a preview in flight and let go of the daemon."""
        self._closed = True
        if self._auto is not None:
            GLib.source_remove(self._auto)
            self._auto = None
        if self._call is not None:
            self._call.cancel()
        if self._client is not None:
            self._client.close()
            self._client = None


if __name__ == "__main__":  # GIMP runs the file; tests import it for its functions
    Gimp.main(PhotoStyle.__gtype__, sys.argv)
