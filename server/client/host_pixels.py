"""Pixel work both plug-ins need around a transfer, written once in pure Python.

GIMP and Krita each read and write their documents their own way, but what they do with the
pixels in between is the same: show a live preview as the result layer's mask will show it
(`composite_preview`), place a mask of the part sent on the whole canvas (`placed_mask`), and
check the daemon's answer before anything touches the document (`check_result`), so that a wrong
answer changes nothing. Pure Python (slices, `re`, `map`) because a host's Python may have no numpy.
"""

from __future__ import annotations

import re

from photostyle.server.wire.images import Image

from .errors import DaemonError
from .events import Result
from .regions import check_found_regions

_OPAQUE_RUNS = re.compile(rb"\xff+")
_SOFT_RUNS = re.compile(rb"[\x01-\xfe]+")
#: Channels of the image the daemon answers for content of n channels (grey comes back RGB).
_RESULT_CHANNELS = {1: 3, 2: 4, 3: 3, 4: 4}


def composite_preview(content: Image, styled: Image, selection: Image | None) -> Image:
    """What a live preview shows: `styled` where `selection` covers the photo, `content` elsewhere,
    blended at soft edges and laid over the photo's own transparency ("over"), as the new layer
    with its selection mask will look. All three are the preview's size; `content` and `styled`
    are 8-bit RGBA, `selection` 8-bit coverage or None (all of it restyled)."""
    check_image(styled, content, "the preview")
    if selection is None:
        return styled
    if (selection.width, selection.height, selection.channels) != (content.width, content.height, 1):
        raise ValueError("The selection mask is not the preview's size (a plug-in bug).")
    source = bytes(styled.data)
    coverage = bytes(map(min, source[3::4], bytes(selection.data)))
    out = bytearray(content.data)
    for run in _OPAQUE_RUNS.finditer(coverage):
        start, end = run.span()
        out[4 * start:4 * end] = source[4 * start:4 * end]
    for run in _SOFT_RUNS.finditer(coverage):
        for pixel in range(*run.span()):
            _blend(out, source, 4 * pixel, coverage[pixel])
    return Image(content.width, content.height, 4, "uint8", bytes(out))


def _blend(out: bytearray, source: bytes, at: int, alpha: int) -> None:
    """`source`'s pixel at byte `at`, with opacity `alpha`, over `out`'s (straight alpha, 0..255)."""
    under = out[at + 3] * (255 - alpha)
    total = alpha * 255 + under  # the result's alpha, times 255
    if total == 0:
        out[at:at + 4] = b"\x00\x00\x00\x00"
        return
    for channel in range(3):
        out[at + channel] = (source[at + channel] * alpha * 255 + out[at + channel] * under + total // 2) // total
    out[at + 3] = (total + 127) // 255


def placed_mask(mask: Image, x: int, y: int, width: int, height: int) -> Image:
    """`mask` placed with its top-left corner at (x, y) on a width×height canvas of zeros, clipped
    to it: a mask of the part of a layer that was sent, as one of the whole canvas."""
    canvas = bytearray(width * height)
    data = bytes(mask.data)
    left, right = max(0, x), min(width, x + mask.width)
    for row in range(max(0, y), min(height, y + mask.height)):
        start = (row - y) * mask.width - x
        canvas[row * width + left:row * width + right] = data[start + left:start + right]
    return Image(width, height, 1, "uint8", bytes(canvas))


def check_result(result: Result, content: Image, style_size: tuple[int, int] | None) -> None:
    """Raise DaemonError unless the result fits what was sent: the image at the content's size,
    channels and sample type, and every found region's masks at the content's and the style's
    size (`style_size` None: not known, not checked). Call it before changing the document."""
    check_image(result.image, content, "the job")
    check_found_regions(result.regions, (content.width, content.height), style_size)


def check_image(image: Image, content: Image, what: str) -> None:
    """Raise DaemonError unless `image` is what the daemon answers for `content` (its size and
    sample type; RGB or RGBA): a transfer's result, a preview's, or a look applied to it."""
    expected = (content.width, content.height, _RESULT_CHANNELS[content.channels], content.sample_type)
    if (image.width, image.height, image.channels, image.sample_type) != expected:
        raise DaemonError(f"The daemon answered {what} with a {_layout(image)} image for a {_layout(content)} one "
                          "(a daemon bug); nothing was changed. Update or restart the daemon.")


def _layout(image: Image) -> str:
    return f"{image.width}×{image.height} {image.channels}-channel {image.sample_type}"
