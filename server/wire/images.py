"""Images as they cross the wire: plain bytes plus a shape, and their wire headers.

Deliberately free of numpy: GIMP and Krita fill these from their own layer buffers (numpy arrays
become these in `arrays`, which the daemon and the CLI use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from . import photostyle_pb2 as pb

Bytes = Union[bytes, bytearray, memoryview]

#: Sample type names used by the client API → (wire enum, bytes per sample).
SAMPLE_TYPES: dict[str, tuple[int, int]] = {
    "uint8": (pb.SAMPLE_TYPE_UINT8, 1),
    "uint16": (pb.SAMPLE_TYPE_UINT16, 2),
    "float32": (pb.SAMPLE_TYPE_FLOAT32, 4),
}
SAMPLE_TYPE_NAMES: dict[int, str] = {enum: name for name, (enum, _) in SAMPLE_TYPES.items()}


@dataclass(frozen=True)
class Image:
    """Raw pixels: row-major, channels interleaved, no padding, little-endian samples.

    channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. sample_type: "uint8", "uint16" or "float32"
    (floats in [0, 1]). A region mask is an Image with 1 channel of "uint8" (255 = inside).
    """

    width: int
    height: int
    channels: int
    sample_type: str
    data: Bytes

    def info(self) -> pb.ImageInfo:
        """The wire header for these pixels (their byte count as actually held)."""
        if self.sample_type not in SAMPLE_TYPES:
            raise ValueError(f"Unknown sample type {self.sample_type!r}; use one of {', '.join(SAMPLE_TYPES)}.")
        return pb.ImageInfo(width=self.width, height=self.height, layout=self.channels,
                            sample_type=SAMPLE_TYPES[self.sample_type][0], encoding=pb.ENCODING_RAW,
                            size_bytes=self.view().nbytes)

    def view(self) -> memoryview:
        """The pixel bytes as a flat byte view (no copy)."""
        return memoryview(self.data).cast("B")

    @classmethod
    def from_wire(cls, info: pb.ImageInfo, data: Bytes) -> "Image":
        return cls(info.width, info.height, info.layout, SAMPLE_TYPE_NAMES[info.sample_type], data)


@dataclass(frozen=True)
class EncodedImage:
    """A PNG or JPEG file's bytes, for callers that have a file rather than a layer."""

    data: bytes

    def info(self) -> pb.ImageInfo:
        if self.data.startswith(b"\x89PNG\r\n\x1a\n"):
            encoding = pb.ENCODING_PNG
        elif self.data.startswith(b"\xff\xd8"):
            encoding = pb.ENCODING_JPEG
        else:
            raise ValueError("EncodedImage holds neither a PNG nor a JPEG file; send raw pixels as an Image instead.")
        return pb.ImageInfo(encoding=encoding, size_bytes=len(self.data))

    def view(self) -> memoryview:
        return memoryview(self.data).cast("B")


@dataclass(frozen=True)
class Region:
    """One semantic region (sky, skin...): its mask in the content and in the style image."""

    name: str
    content_mask: Image
    style_mask: Image
