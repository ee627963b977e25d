"""Reading and writing GIMP drawables as the client library's raw Images.

Pixels travel perceptual (R'G'B'), whatever the image's TRC and profile, at the image's
precision (u32/half/double as float). A scale below 1 has GEGL shrink the pixels as it reads
them, so a live preview of a large layer never copies it at full size.
"""

from __future__ import annotations

import math

from gi.repository import Gegl, Gimp

from photostyle.server.client import Image

_CLAMP = Gegl.AbyssPolicy.CLAMP
#: A live preview is for looking at: 8-bit whatever the image's precision.
PREVIEW_SAMPLE = ("uint8", "u8")


def sample_type(image: Gimp.Image) -> tuple[str, str]:
    """Client sample type and babl suffix for the image's precision."""
    nick = image.get_precision().value_nick
    if nick.startswith("u8"):
        return "uint8", "u8"
    if nick.startswith("u16"):
        return "uint16", "u16"
    return "float32", "float"


def read(drawable: Gimp.Drawable, rect: Gegl.Rectangle, layout: str, channels: int, scale: float = 1.0,
         sample: tuple[str, str] | None = None) -> Image:
    """`rect` of `drawable` (in its own coordinates, at full size) as `layout` ("R'G'B'A", "R'G'B'")
    samples; with `scale` below 1, shrunk by it. At the image's depth unless `sample` (client sample
    type, babl suffix) says otherwise."""
    kind, suffix = sample or sample_type(drawable.get_image())
    rect = scaled(rect, scale)
    return Image(rect.width, rect.height, channels, kind,
                 drawable.get_buffer().get(rect, scale, f"{layout} {suffix}", _CLAMP))


def read_on_canvas(layer: Gimp.Layer) -> Image:
    """`layer` as it sits on its image's canvas: image-sized R'G'B'A at the image's precision, cut
    where it overhangs and transparent where it does not reach (GEGL reads zeros outside it)."""
    image = layer.get_image()
    kind, suffix = sample_type(image)
    _, offset_x, offset_y = layer.get_offsets()
    canvas = Gegl.Rectangle.new(-offset_x, -offset_y, image.get_width(), image.get_height())  # in layer coordinates
    return Image(canvas.width, canvas.height, 4, kind,
                 layer.get_buffer().get(canvas, 1.0, f"R'G'B'A {suffix}", Gegl.AbyssPolicy.NONE))


def read_mask(drawable: Gimp.Drawable, rect: Gegl.Rectangle, scale: float = 1.0) -> Image:
    """8-bit coverage of a channel or the selection over `rect` (its coordinates, at full size),
    shrunk by `scale` (linear, as GIMP's channel-to-selection reads it)."""
    rect = scaled(rect, scale)
    return Image(rect.width, rect.height, 1, "uint8", drawable.get_buffer().get(rect, scale, "Y u8", _CLAMP))


def write(drawable: Gimp.Drawable, rect: Gegl.Rectangle, babl_format: str, data: bytes) -> None:
    """Replace `rect` of `drawable` with `data` and let GIMP redraw it."""
    buffer = drawable.get_buffer()
    buffer.set(rect, babl_format, data)
    buffer.flush()
    drawable.update(rect.x, rect.y, rect.width, rect.height)


def scaled(rect: Gegl.Rectangle, scale: float) -> Gegl.Rectangle:
    """`rect` in the coordinates of the drawable shrunk by `scale` (what GeglBuffer.get reads at that scale)."""
    if scale == 1.0:
        return rect
    return Gegl.Rectangle.new(math.floor(rect.x * scale), math.floor(rect.y * scale),
                              max(1, round(rect.width * scale)), max(1, round(rect.height * scale)))


def extent(drawable: Gimp.Drawable) -> Gegl.Rectangle:
    """All of `drawable`, in its own coordinates."""
    return Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())


def canvas(image: Gimp.Image) -> Gegl.Rectangle:
    """All of `image`'s canvas, in image coordinates."""
    return Gegl.Rectangle.new(0, 0, image.get_width(), image.get_height())


def in_image(drawable: Gimp.Drawable, rect: Gegl.Rectangle) -> Gegl.Rectangle:
    """`rect` of a layer, in image coordinates (where channels and the selection are read)."""
    _, offset_x, offset_y = drawable.get_offsets()
    return Gegl.Rectangle.new(rect.x + offset_x, rect.y + offset_y, rect.width, rect.height)
