"""The live preview as the dialog shows it: the client library's composited picture as a GdkPixbuf."""

from __future__ import annotations

from gi.repository import GdkPixbuf, GLib

from photostyle.server.client import Image

#: px: the preview is shown scaled to fit a square this size.
PREVIEW_BOX = 360


def pixbuf(image: Image) -> GdkPixbuf.Pixbuf:
    """An 8-bit RGBA image (the picture `composite_preview` makes) as a pixbuf of its size."""
    return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(bytes(image.data)), GdkPixbuf.Colorspace.RGB, True, 8,
                                           image.width, image.height, image.width * 4)


def fitted(picture: GdkPixbuf.Pixbuf, box: int = PREVIEW_BOX) -> GdkPixbuf.Pixbuf:
    """`picture` shrunk to fit a `box`-pixel square (never enlarged)."""
    fit = min(box / picture.get_width(), box / picture.get_height(), 1.0)
    if fit == 1.0:
        return picture
    return picture.scale_simple(max(1, round(picture.get_width() * fit)), max(1, round(picture.get_height() * fit)),
                                GdkPixbuf.InterpType.BILINEAR)
