"""Pixels between the wire and numpy: receiving chunked uploads, decoding, and back.

Raw bytes become arrays without a copy (`np.frombuffer`); float layers are checked for NaN/inf
as soon as they arrive, so a bad upload is refused before it reaches the engine.
"""

from __future__ import annotations

from io import BytesIO
from typing import Iterator

import numpy as np

from photostyle.core import ImageTooLargeError, InputImageError, load_image
from photostyle.core.images import JPEG_MAGIC, PNG_MAGIC
from photostyle.server.client import Image
from photostyle.server.client import photostyle_pb2 as pb
from photostyle.server.client.wire import SAMPLE_TYPES, ErrorKind

from .validation import Blob, Limits, image_too_large, invalid

_DTYPES = {pb.SAMPLE_TYPE_UINT8: np.dtype("u1"), pb.SAMPLE_TYPE_UINT16: np.dtype("<u2"),
           pb.SAMPLE_TYPE_FLOAT32: np.dtype("<f4")}
_SAMPLE_TYPES = {np.dtype("u1"): pb.SAMPLE_TYPE_UINT8, np.dtype("<u2"): pb.SAMPLE_TYPE_UINT16,
                 np.dtype("<f4"): pb.SAMPLE_TYPE_FLOAT32}
#: Encoded files by the encoding that declares them: name and signature.
_FORMATS = {pb.ENCODING_PNG: ("PNG", PNG_MAGIC), pb.ENCODING_JPEG: ("JPEG", JPEG_MAGIC)}


def receive(requests: Iterator[pb.TransferRequest], blobs: list[Blob]) -> list[bytearray]:
    """Read every blob's bytes from the rest of the request stream, which must then end."""
    buffers = [bytearray(blob.info.size_bytes) for blob in blobs]
    index, filled = 0, 0
    for request in requests:
        if request.WhichOneof("part") != "chunk":
            raise invalid(ErrorKind.INPUT, "Only chunk messages may follow the setup; send the setup once, first.")
        data = memoryview(request.chunk.data)
        while data:
            while index < len(blobs) and filled == len(buffers[index]):
                index, filled = index + 1, 0
            if index == len(blobs):
                raise invalid(ErrorKind.INPUT, "More pixel data arrived than the setup declared; send exactly size_bytes per image.")
            taken = min(len(data), len(buffers[index]) - filled)
            buffers[index][filled:filled + taken] = data[:taken]
            filled += taken
            data = data[taken:]
    while index < len(blobs) and filled == len(buffers[index]):
        index, filled = index + 1, 0
    if index < len(blobs):
        raise invalid(ErrorKind.INPUT, f"{blobs[index].what}'s data ended after {filled} of {blobs[index].info.size_bytes} "
                               "bytes (truncated upload); send all the bytes the setup declares.")
    return buffers


def to_array(blob: Blob, data: bytearray, limits: Limits) -> np.ndarray:
    """H×W×C array of a received blob (a view of `data` for raw pixels)."""
    info = blob.info
    if info.encoding != pb.ENCODING_RAW:
        return _decode(blob, data, limits)
    array = np.frombuffer(data, dtype=_DTYPES[info.sample_type]).reshape(info.height, info.width, info.layout)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise invalid(ErrorKind.INPUT, f"{blob.what} contains NaN or infinite values; fix or re-export the layer (floats in [0, 1]).")
    return array


def _decode(blob: Blob, data: bytearray, limits: Limits) -> np.ndarray:
    """Decode a PNG/JPEG with the engine's reader (16-bit PNGs keep 16 bits), which checks the
    declared size against the daemon's --max-pixels before decoding anything."""
    name, signature = _FORMATS[blob.info.encoding]
    if not data.startswith(signature):
        raise invalid(ErrorKind.INPUT, f"{blob.what} is not a {name} file, as its encoding says; send PNG as "
                                       "ENCODING_PNG, JPEG as ENCODING_JPEG.")
    try:
        return load_image(BytesIO(data), max_pixels=limits.max_pixels, name=blob.what)
    except ImageTooLargeError as exc:
        raise image_too_large(exc, limits) from None
    except InputImageError as exc:
        raise invalid(ErrorKind.INPUT, f"{blob.what} is not a readable {name} file ({exc.__cause__ or exc}); "
                                       "re-export it.") from None


def to_wire(array: np.ndarray) -> tuple[pb.ImageInfo, memoryview]:
    """Header and little-endian bytes (a view, no copy where possible) of an H×W[×C] array."""
    if array.ndim == 2:
        array = array[:, :, None]
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    height, width, channels = array.shape
    info = pb.ImageInfo(width=width, height=height, layout=channels, sample_type=_SAMPLE_TYPES[array.dtype],
                        encoding=pb.ENCODING_RAW, size_bytes=array.nbytes)
    return info, memoryview(array).cast("B")


def image_from_array(array: np.ndarray) -> Image:
    """A client Image holding an H×W[×C] uint8/uint16/float32 array's pixels (for the CLI)."""
    info, view = to_wire(array)
    return Image.from_wire(info, view)


def array_from_image(image: Image) -> np.ndarray:
    """The H×W×C array of a client Image (a view of its bytes)."""
    dtype = {name: _DTYPES[enum] for name, (enum, _) in SAMPLE_TYPES.items()}[image.sample_type]
    return np.frombuffer(image.view(), dtype=dtype).reshape(image.height, image.width, image.channels)
