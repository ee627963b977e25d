"""Regions as GIMP channels: read them for a job, add the ones the engine found.

A retoucher names regions as channels ("sky" in both images pairs them); which ones go is the
client library's `regions_to_send`, shared with Krita. The regions the engine finds come back as
hidden channels "auto: 1"… replacing the previous run's, so the names stay unique.
"""

from __future__ import annotations

from typing import Callable

from gi.repository import Gegl, Gimp

from photostyle.server.client import Image, is_auto_region, placed_mask

from . import pixels

#: A region's name -> a reader of its mask (at the size its image is sent).
Readers = dict[str, Callable[[], Image]]


def channel_readers(image: Gimp.Image, area: Gegl.Rectangle, scale: float = 1.0) -> Readers:
    """Readers of `image`'s channels over `area` (image coordinates), shrunk by `scale`."""
    return {channel.get_name(): (lambda channel=channel: pixels.read_mask(channel, area, scale))
            for channel in image.get_channels()}


def add_found_channels(image: Gimp.Image, masks: list[tuple[str, Image]], area: Gegl.Rectangle) -> None:
    """The regions the engine found, as hidden image-sized channels named after them, each mask
    placed on `area` (image coordinates: the part of the image that was sent) and zero elsewhere."""
    if not masks:
        return
    for channel in image.get_channels():
        if is_auto_region(channel.get_name()):
            image.remove_channel(channel)
    width, height = image.get_width(), image.get_height()
    for position, (name, mask) in enumerate(masks):
        channel = Gimp.Channel.new(image, name, width, height, 50.0, Gegl.Color.new("red"))
        channel.set_visible(False)
        image.insert_channel(channel, None, position)
        placed = placed_mask(mask, area.x, area.y, width, height)
        pixels.write(channel, Gegl.Rectangle.new(0, 0, width, height), "Y u8", bytes(placed.data))
