"""Pixels as QImages: shrinking what a live preview sends, and showing what the daemon answers
(the client library composes the preview's picture; `picture` makes it a QImage).

Qt does the scaling (smoothly, in C++) because Krita for Windows may have no numpy. A shrunk
image is read row by row, keeping every n-th pixel down to about twice the size sent, so a
preview of a 24 MP layer never copies the whole layer; Qt's smooth scaling then makes the exact
size. Float layers, which Qt 5 cannot hold, are converted sample by sample in Python, so they
are thinned down to the size sent before that. Everything here runs on Krita's UI thread.
"""

from __future__ import annotations

from array import array
from typing import Callable, Protocol

from photostyle.server.client import Image
from PyQt5.QtCore import QSize, Qt
from PyQt5.QtGui import QImage, QImageReader

from .pixels import DEPTHS, to_wire

#: (width, height) of an image -> (width, height) it is sent at.
Fit = Callable[[int, int], "tuple[int, int]"]

_FLOAT_DEPTHS = ("F16", "F32")
_OVERSAMPLE = 2  # integer layers are thinned to about this many times the size sent, then smoothed by Qt


class PixelSource(Protocol):
    """A layer, a document (its projection) or a selection: Krita's `pixelData(x, y, w, h)`."""

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes: ...


def shrunk_rgba(source: PixelSource, x: int, y: int, width: int, height: int, depth: str,
                size: tuple[int, int]) -> bytes:
    """RGBA 8-bit pixels of a rectangle of `source` (Krita RGBA bytes of `depth`) at `size`."""
    oversample = 1 if depth in _FLOAT_DEPTHS else _OVERSAMPLE
    data, thin_width, thin_height = _thinned(source, x, y, width, height, 4 * DEPTHS[depth][1],
                                             _step(width, height, size, oversample))
    if depth == "U8":  # Krita's BGRA bytes are Qt's ARGB32 on little-endian machines
        image = _owned(data, thin_width, thin_height, 4 * thin_width, QImage.Format_ARGB32)
    else:  # RGBA 16-bit, as Qt's RGBA64
        wire = to_wire(data, depth)
        samples = wire if depth == "U16" else _floats_as_uint16(wire)
        image = _owned(samples, thin_width, thin_height, 8 * thin_width, QImage.Format_RGBA64)
    return image_bytes(_scaled(image, size).convertToFormat(QImage.Format_RGBA8888), 4)


def shrunk_mask(source: PixelSource, x: int, y: int, width: int, height: int, size: tuple[int, int]) -> bytes:
    """A selection's 8-bit coverage of a rectangle, at `size`."""
    data, thin_width, thin_height = _thinned(source, x, y, width, height, 1, _step(width, height, size, _OVERSAMPLE))
    stride = (thin_width + 3) // 4 * 4  # Qt wants 32-bit aligned rows
    if stride != thin_width:
        padding = bytes(stride - thin_width)
        data = b"".join(data[row:row + thin_width] + padding for row in range(0, len(data), thin_width))
    image = _owned(data, thin_width, thin_height, stride, QImage.Format_Grayscale8)
    return image_bytes(_scaled(image, size).convertToFormat(QImage.Format_Grayscale8), 1)


def shrunk_file(path: str, fit: Fit) -> Image | None:
    """An image file as RGBA 8-bit at `fit(its size)` (decoded at reduced size where the format
    allows, as JPEG does), or None when Qt cannot read it."""
    reader = QImageReader(path)
    size = reader.size()
    wanted = fit(size.width(), size.height()) if size.isValid() else None
    if wanted is not None:
        reader.setScaledSize(QSize(*wanted))
    image = reader.read()
    if image.isNull():
        return None
    image = _scaled(image, wanted or fit(image.width(), image.height()))
    return Image(image.width(), image.height(), 4, "uint8",
                 image_bytes(image.convertToFormat(QImage.Format_RGBA8888), 4))


def picture(image: Image) -> QImage:
    """An 8-bit RGBA (a live preview) or RGB (a run's streamed preview) image as a QImage owning its pixels."""
    form = QImage.Format_RGBA8888 if image.channels == 4 else QImage.Format_RGB888
    return _owned(bytes(image.data), image.width, image.height, image.channels * image.width, form)


def image_bytes(image: QImage, pixel_bytes: int) -> bytes:
    """A QImage's pixels, row after row without Qt's row padding."""
    data = image.constBits().asstring(image.bytesPerLine() * image.height())
    row, stride = pixel_bytes * image.width(), image.bytesPerLine()
    if stride == row:
        return data
    return b"".join(data[offset:offset + row] for offset in range(0, len(data), stride))


def _step(width: int, height: int, size: tuple[int, int], oversample: int) -> int:
    """Keep every `step`-th pixel: still about `oversample` times `size`."""
    return max(1, int(min(width / size[0], height / size[1]) / oversample))


def _thinned(source: PixelSource, x: int, y: int, width: int, height: int, pixel_bytes: int,
             step: int) -> tuple[bytes, int, int]:
    """Every `step`-th pixel of every `step`-th row of a rectangle, reading only those rows."""
    if step == 1:
        return bytes(source.pixelData(x, y, width, height)), width, height
    columns = len(range(0, width, step))
    kept = bytearray()
    for row_y in range(y, y + height, step):
        row = bytes(source.pixelData(x, row_y, width, 1))
        thin = bytearray(columns * pixel_bytes)
        for offset in range(pixel_bytes):
            thin[offset::pixel_bytes] = row[offset::step * pixel_bytes]
        kept += thin
    return bytes(kept), columns, len(range(0, height, step))


def _floats_as_uint16(wire: bytes | bytearray) -> bytes:
    """float32 samples (0..1; others clipped, NaN as 0) as uint16."""
    return array("H", [int(min(1.0, max(0.0, value)) * 65535 + 0.5) for value in array("f", bytes(wire))]).tobytes()


def _owned(data: bytes | bytearray, width: int, height: int, stride: int, form: QImage.Format) -> QImage:
    """A QImage holding its own copy of `data` (one over Python's buffer would dangle)."""
    return QImage(bytes(data), width, height, stride, form).copy()


def _scaled(image: QImage, size: tuple[int, int]) -> QImage:
    if (image.width(), image.height()) == size:
        return image
    return image.scaled(size[0], size[1], Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
