"""A checked result into the image: a new layer above the source, masked by the selection, with
the regions the engine found as channels, in one undo step per image; a look applied to a layer
as a new layer above it, in one undo step; and a styled sequence as one new layer above each of
its frames' layers, all in one undo step."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from gi.repository import Gegl, Gimp

from photostyle.server.client import Capture, FramesCapture, Image, Result, StyledSequence

from . import pixels
from .capture import FramesTarget, Target
from .regions import add_found_channels


def add_result(capture: Capture, result: Result) -> str:
    """Write `result` (checked against `capture` by the caller) into the captured image; returns the new layer's name."""
    target: Target = capture.context
    image = target.image
    name = styled_name(target.layer, capture.reference_name)
    with undo_step(image):
        add_found_channels(image, [(region.name, region.content_mask) for region in result.regions],
                           pixels.in_image(target.layer, target.crop))
        layer = _add_layer(image, target.layer, _bounds(target.layer), target.crop, name, bytes(result.image.data))
        if not Gimp.Selection.is_empty(image):
            layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
    if target.reference_image is not None and result.regions:
        with undo_step(target.reference_image):
            add_found_channels(target.reference_image, [(region.name, region.style_mask) for region in result.regions],
                               target.reference_area)
    Gimp.displays_flush()
    return name


def add_styled_frames(capture: FramesCapture, sequence: StyledSequence) -> None:
    """Each styled frame (checked by the caller) as a new canvas-sized layer directly above its
    source layer, so the frame order stays; the sources are left as they were. One undo step."""
    target: FramesTarget = capture.context
    image = target.image
    canvas = pixels.canvas(image)
    with undo_step(image):
        for source, frame in zip(target.layers, sequence.frames, strict=True):
            _add_layer(image, source, canvas, canvas, styled_name(source, capture.reference_name), bytes(frame.data))
    Gimp.displays_flush()


def new_image_of_frames(capture: FramesCapture, sequence: StyledSequence, show: bool) -> Gimp.Image:
    """The styled frames (checked by the caller) as the layers of a new image of the source's size,
    type and precision, in the same order (the first frame the bottom layer); `show`: in a new
    display. The source image is not touched."""
    target: FramesTarget = capture.context
    source = target.image
    image = Gimp.Image.new_with_precision(source.get_width(), source.get_height(), source.get_base_type(),
                                          source.get_precision())
    image.undo_disable()  # a new image has nothing to undo to
    canvas = pixels.canvas(image)
    for layer, frame in zip(target.layers, sequence.frames, strict=True):
        _insert_layer(image, None, 0, canvas, canvas, styled_name(layer, capture.reference_name), bytes(frame.data))
    image.undo_enable()
    if show:
        Gimp.Display.new(image)
        Gimp.displays_flush()
    return image


def styled_name(source: Gimp.Layer, reference_name: str) -> str:
    """The new layer's name: its source's (a frame's "(NNms)" delay included) and the reference's."""
    return f"{source.get_name()} (style: {reference_name})"


@contextmanager
def undo_step(image: Gimp.Image) -> Iterator[None]:
    """One undo group: one Undo removes everything done inside."""
    image.undo_group_start()
    try:
        yield
    finally:
        image.undo_group_end()


def add_look_layer(image: Gimp.Image, source: Gimp.Layer, name: str, applied: Image) -> None:
    """A look applied to all of `source` (checked by the caller) as a new layer `name` above it, in one undo step."""
    with undo_step(image):
        _add_layer(image, source, _bounds(source), pixels.extent(source), name, bytes(applied.data))
    Gimp.displays_flush()


def _add_layer(image: Gimp.Image, source: Gimp.Layer, area: Gegl.Rectangle, crop: Gegl.Rectangle, name: str,
               data: bytes) -> Gimp.Layer:
    """A new layer directly above `source` over `area` (image coordinates), at the image's precision,
    holding `data` (R'G'B'A at that precision) over `crop` (its own coordinates), transparent elsewhere."""
    return _insert_layer(image, source.get_parent(), image.get_item_position(source), area, crop, name, data)


def _insert_layer(image: Gimp.Image, parent: Gimp.Layer | None, position: int, area: Gegl.Rectangle,
                  crop: Gegl.Rectangle, name: str, data: bytes) -> Gimp.Layer:
    """A new layer at `position` in `parent` (None: the image's top level), as `_add_layer` says."""
    kind = Gimp.ImageType.RGBA_IMAGE if image.get_base_type() == Gimp.ImageBaseType.RGB else Gimp.ImageType.GRAYA_IMAGE
    layer = Gimp.Layer.new(image, name, area.width, area.height, kind, 100.0, Gimp.LayerMode.NORMAL)
    layer.set_offsets(area.x, area.y)
    layer.fill(Gimp.FillType.TRANSPARENT)
    image.insert_layer(layer, parent, position)
    pixels.write(layer, crop, f"R'G'B'A {pixels.sample_type(image)[1]}", data)
    return layer


def _bounds(layer: Gimp.Layer) -> Gegl.Rectangle:
    """Where `layer` lies, in image coordinates."""
    return pixels.in_image(layer, pixels.extent(layer))
