"""Runs the Krita docker's `qimages` (the live preview's shrinking, and its pictures) in Krita's
Python with its PyQt5, outside Krita: `python3 check_qimages.py PLUGIN_DIR REFERENCE_JPEG`.

PLUGIN_DIR is an installed photostyle_krita folder (with its vendored client library). Layers
are stand-ins with Krita's `pixelData(x, y, w, h)` and its byte layouts (BGRA for 8/16-bit
integers, RGBA halves and floats). Asserts, then prints a JSON summary for
tests/test_krita_plugin.py.
"""

import json
import struct
import sys
import types
from pathlib import Path

from PyQt5.QtGui import QGuiApplication, QImage

plugin_dir, reference = Path(sys.argv[1]), sys.argv[2]
sys.path.insert(0, str(plugin_dir))  # the vendored photostyle package, as the plug-in's __init__ does
package = types.ModuleType("photostyle_krita")  # the package without its __init__ (which needs Krita)
package.__path__ = [str(plugin_dir)]
sys.modules["photostyle_krita"] = package
from photostyle.server.client import Image, composite_preview  # noqa: E402
from photostyle_krita import qimages  # noqa: E402

app = QGuiApplication(sys.argv)


def colour(x: int, y: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The stand-in layer's RGBA at (x, y): red across, green down, blue and alpha fixed."""
    return x * 255 // (width - 1), y * 255 // (height - 1), 64, 255


class Layer:
    """A width×height layer of `depth`, counting what is read from it."""

    def __init__(self, width: int, height: int, depth: str) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.pixels_read = 0
        self.rows = [self._row(y) for y in range(height)]

    def _row(self, y: int) -> bytes:
        out = bytearray()
        for x in range(self.width):
            r, g, b, a = colour(x, y, self.width, self.height)
            if self.depth == "U8":
                out += bytes((b, g, r, a))
            elif self.depth == "U16":
                out += struct.pack("<4H", b * 257, g * 257, r * 257, a * 257)
            else:
                out += struct.pack("<4e" if self.depth == "F16" else "<4f", r / 255, g / 255, b / 255, a / 255)
        return bytes(out)

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        self.pixels_read += w * h
        size = len(self.rows[0]) // self.width
        return b"".join(row[x * size:(x + w) * size] for row in self.rows[y:y + h])


class Selection:
    """Inside where x < `edge` (1 byte per pixel)."""

    def __init__(self, edge: int) -> None:
        self.edge = edge

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        return bytes(255 if column < self.edge else 0 for _ in range(h) for column in range(x, x + w))


summary = {}
# A 1200×800 rectangle at (40, 30) of a layer, sent at 150×100: each depth gives the same 8-bit
# pixels, and only a fraction of the rectangle is read (a 24 MP layer is never copied whole).
for depth in ("U8", "U16", "F16", "F32"):
    layer = Layer(1280, 860, depth)
    data = qimages.shrunk_rgba(layer, 40, 30, 1200, 800, depth, (150, 100))
    assert len(data) == 150 * 100 * 4, (depth, len(data))
    for out_x, out_y in ((0, 0), (75, 50), (149, 99), (10, 90)):
        got = tuple(data[(out_y * 150 + out_x) * 4:(out_y * 150 + out_x) * 4 + 4])
        want = colour(40 + (out_x + 0.5) * 8, 30 + (out_y + 0.5) * 8, 1280, 860)
        assert all(abs(g - w) <= 5 for g, w in zip(got, want)), (depth, (out_x, out_y), got, want)
    summary[depth] = layer.pixels_read / (1200 * 800)
    assert summary[depth] <= 0.25, (depth, summary[depth])

# Masks: odd widths (Qt pads rows to 32 bits), the edge where it belongs.
mask = qimages.shrunk_mask(Selection(500), 0, 0, 1001, 403, (101, 41))
assert len(mask) == 101 * 41
row = mask[20 * 101:21 * 101]
assert row[:48] == b"\xff" * 48 and row[53:] == bytes(48), list(row)

# A reference file, decoded shrunk: the size asked for, and the same mean colour as the whole file.
full = QImage(reference).convertToFormat(QImage.Format_RGBA8888)
shrunk = qimages.shrunk_file(reference, lambda w, h: (w // 5, h // 5))
assert (shrunk.width, shrunk.height) == (full.width() // 5, full.height() // 5), (shrunk.width, shrunk.height)


def mean_rgb(data: bytes) -> list[float]:
    return [sum(data[channel::4]) / (len(data) // 4) for channel in range(3)]


full_mean, shrunk_mean = mean_rgb(qimages.image_bytes(full, 4)), mean_rgb(shrunk.data)
assert all(abs(a - b) < 3 for a, b in zip(full_mean, shrunk_mean)), (full_mean, shrunk_mean)
assert qimages.shrunk_file(__file__, lambda w, h: (w, h)) is None  # not an image

# What the preview area shows: the client library's picture (the answer inside the selection, the
# photo outside, blended between) as a QImage.
photo = Image(3, 1, 4, "uint8", bytes([10, 20, 30, 255] * 3))
answer = Image(3, 1, 4, "uint8", bytes([200, 100, 0, 255] * 3))
shown = qimages.picture(composite_preview(photo, answer, Image(3, 1, 1, "uint8", bytes([255, 128, 0]))))
pixels = [shown.pixelColor(x, 0).getRgb()[:3] for x in range(3)]
assert pixels == [(200, 100, 0), (105, 60, 15), (10, 20, 30)], pixels
streamed = qimages.picture(Image(2, 1, 3, "uint8", bytes([1, 2, 3, 4, 5, 6])))  # a run's streamed preview, RGB
assert [streamed.pixelColor(x, 0).getRgb()[:3] for x in range(2)] == [(1, 2, 3), (4, 5, 6)]
try:
    composite_preview(photo, Image(2, 1, 4, "uint8", bytes(8)), None)
except Exception as error:  # noqa: BLE001 - the client's DaemonError, shown on the status line
    summary["wrong_size"] = str(error)

print(json.dumps(summary))
