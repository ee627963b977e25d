"""What a job sends, read from the image: the one path for the procedure's run and the dialog's preview.

The layer within the selection's bounds, the reference (a layer, or a file loaded and closed
again), the selection's coverage and the regions the chosen mode sends. For a live preview every
image is read shrunk by the client library's `live_preview_scale`, 8-bit. For the frames
procedure, every top-level layer as one frame of a sequence (`capture_frames`). Reading never
changes the image; call it on GIMP's (the main) thread.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from gi.repository import Gegl, Gimp, GLib

from photostyle.server.client import (DEFAULT_FPS, Capture, FramesCapture, InputError, live_preview_scale,
                                      named_frame_rate, regions_to_send)

from . import pixels
from .regions import channel_readers


@dataclass(frozen=True)
class Target:
    """Where a run's result goes (a `Capture`'s context)."""

    image: Gimp.Image
    layer: Gimp.Layer
    crop: Gegl.Rectangle  # the part of the layer sent, in layer coordinates
    reference_image: Gimp.Image | None  # receives the found regions: an open image other than the photo's
    reference_area: Gegl.Rectangle  # the reference layer in its image's coordinates


@dataclass(frozen=True)
class FramesTarget:
    """Where a sequence's styled frames go (a `FramesCapture`'s context): one new layer above each source."""

    image: Gimp.Image
    layers: list[Gimp.Layer]  # the frames' source layers, in frame order (bottom layer first)


def capture(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig,
            preview_min_side: int | None = None) -> Capture:
    """Read the job `config` describes on `layer`: at full size, or with `preview_min_side` (the
    daemon's minimum side) shrunk for a live preview. Raises InputError saying what to fix."""
    Gegl.init(None)  # idempotent, as GIMP's own plug-ins do; without it GEGL's shrinking reads give zeros
    crop = _selection_bounds(layer)
    area = pixels.in_image(layer, crop)
    shrink = preview_min_side is not None
    scale = live_preview_scale(crop.width, crop.height, preview_min_side) if shrink else 1.0
    sample = pixels.PREVIEW_SAMPLE if shrink else None
    content = pixels.read(layer, crop, "R'G'B'A", 4, scale, sample)
    selection = None if Gimp.Selection.is_empty(image) else pixels.read_mask(image.get_selection(), area, scale)
    with reference_layer(config) as (reference, reference_name):
        whole = pixels.extent(reference)
        reference_scale = (live_preview_scale(whole.width, whole.height, preview_min_side) if shrink else 1.0)
        style = pixels.read(reference, whole, "R'G'B'", 3, reference_scale, sample)
        reference_area = pixels.in_image(reference, whole)
        regions, plan = regions_to_send(config.get_property("regions"), channel_readers(image, area, scale),
                                        channel_readers(reference.get_image(), reference_area, reference_scale),
                                        selection, (style.width, style.height))
        reference_image = (reference.get_image() if config.get_property("reference-layer") is not None
                           and reference.get_image().get_id() != image.get_id() else None)
    return Capture(content, style, (style.width, style.height), regions, plan, selection, layer.get_name(),
                   reference_name, context=Target(image, layer, crop, reference_image, reference_area))


def capture_frames(image: Gimp.Image, config: Gimp.ProcedureConfig) -> FramesCapture:
    """Every top-level layer of `image` as one frame, in GIMP's animation order (the bottom layer is
    the first frame), each as it sits on the canvas (image-sized, transparent where the layer does
    not reach), and the reference whole. The frame rate: the "fps" argument, else the one the layer
    names' "(NNms)" delays give, else the client's default."""
    Gegl.init(None)
    layers = list(reversed(image.get_layers()))
    frames = [pixels.read_on_canvas(layer) for layer in layers]
    with reference_layer(config) as (reference, reference_name):
        style = pixels.read(reference, pixels.extent(reference), "R'G'B'", 3)
    fps = config.get_property("fps") or named_frame_rate([layer.get_name() for layer in layers]) or DEFAULT_FPS
    return FramesCapture(frames, style, image.get_name(), reference_name, fps, FramesTarget(image, layers))


def _selection_bounds(layer: Gimp.Layer) -> Gegl.Rectangle:
    """The part of `layer` to restyle (the selection's bounds on it), in layer coordinates."""
    found, x, y, width, height = layer.mask_intersect()
    if not found:
        raise InputError(f"The selection does not overlap the layer '{layer.get_name()}'; select part of it "
                         "(or Select ▸ None for the whole layer).")
    return Gegl.Rectangle.new(x, y, width, height)


@contextmanager
def reference_layer(config: Gimp.ProcedureConfig) -> Iterator[tuple[Gimp.Layer, str]]:
    """The reference layer and a name for it: the "reference-layer", or the "reference-file" loaded
    for the block and closed again after it."""
    layer = config.get_property("reference-layer")
    if layer is not None:
        yield layer, layer.get_image().get_name()
        return
    file = config.get_property("reference-file")
    if file is None:
        raise InputError("Choose a reference photo: a layer of an open image, or a file.")
    try:
        loaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, file)
    except GLib.Error as error:
        raise InputError(f"Cannot open the reference {file.get_parse_name()}: {error.message}") from None
    try:
        yield loaded.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE), file.get_basename()
    finally:
        loaded.delete()
