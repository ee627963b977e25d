"""Krita pixel bytes <-> the client's raw RGBA, per colour depth.

Krita keeps 8- and 16-bit RGBA as BGRA and half/float RGBA as RGBA; the daemon takes RGBA as
uint8, uint16 or float32. Pure Python (slice copies and struct), because Krita for Windows
may have no numpy.
"""

from __future__ import annotations

import struct
from array import array

#: Krita colour depth -> (client sample type, bytes per sample in Krita).
DEPTHS: dict[str, tuple[str, int]] = {
    "U8": ("uint8", 1),
    "U16": ("uint16", 2),
    "F16": ("float32", 2),
    "F32": ("float32", 4),
}
_BGRA_DEPTHS = ("U8", "U16")


def _swap_red_blue(data: bytes | bytearray, sample_bytes: int) -> bytearray:
    """BGRA <-> RGBA for 4-channel pixels of `sample_bytes`-byte samples (its own inverse)."""
    out = bytearray(data)
    step = 4 * sample_bytes
    for offset in range(sample_bytes):
        out[offset::step] = data[2 * sample_bytes + offset::step]
        out[2 * sample_bytes + offset::step] = data[offset::step]
    return out


def to_wire(data: bytes, depth: str) -> bytes | bytearray:
    """Krita RGBA pixel bytes of `depth` as the client's RGBA samples (see `DEPTHS`)."""
    if depth in _BGRA_DEPTHS:
        return _swap_red_blue(data, DEPTHS[depth][1])
    if depth == "F16":
        return array("f", struct.unpack(f"<{len(data) // 2}e", data)).tobytes()
    return bytes(data)


def from_wire(data: bytes | bytearray | memoryview, depth: str) -> bytes | bytearray:
    """The client's RGBA samples back as Krita pixel bytes of `depth` (inverse of `to_wire`)."""
    if depth in _BGRA_DEPTHS:
        return _swap_red_blue(bytes(data), DEPTHS[depth][1])
    if depth == "F16":
        return struct.pack(f"<{len(data) // 4}e", *array("f", bytes(data)))
    return bytes(data)
