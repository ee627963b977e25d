"""A job's uploaded pixels: received from their chunks, checked and decoded into arrays.

Raw bytes become arrays without a copy; float layers are checked for NaN/inf as soon as they
arrive, so a bad upload is refused before it reaches the engine.
"""

from __future__ import annotations

from io import BytesIO
from typing import Iterator, Union

import numpy as np

from photostyle.core import ImageTooLargeError, InputImageError, load_image
from photostyle.core.images import JPEG_MAGIC, PNG_MAGIC
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.arrays import raw_array
from photostyle.server.wire.chunks import ChunkOverflow, Reassembly
from photostyle.server.wire.contract import ErrorKind

from .validation import Blob, Limits, image_too_large, invalid

#: A streamed call's requests: a setup first, then chunks (a Transfer's or an ApplyLook's).
Request = Union[pb.TransferRequest, pb.ApplyLookRequest]
#: Encoded files by the encoding that declares them: name and signature.
_FORMATS = {pb.ENCODING_PNG: ("PNG", PNG_MAGIC), pb.ENCODING_JPEG: ("JPEG", JPEG_MAGIC)}


def receive(requests: Iterator[Request], blobs: list[Blob]) -> list[bytearray]:
    """Read every blob's bytes from the rest of the request stream; return as soon as the last
    declared byte has arrived, whether or not the client has closed its side of the stream (a
    client may keep it open until it has the result). `expect_end` reads what follows."""
    upload = Reassembly([blob.info.size_bytes for blob in blobs])
    for request in requests:
        _add(upload, request)
        if upload.complete:
            return upload.buffers
    index, filled = upload.missing()
    raise invalid(ErrorKind.INPUT, f"{blobs[index].what}'s data ended after {filled} of "
                                   f"{blobs[index].info.size_bytes} bytes (truncated upload); send all the bytes "
                                   "the setup declares.")


def expect_end(requests: Iterator[Request]) -> None:
    """Wait for the end of a request stream whose pixels have all arrived: anything more is refused."""
    for request in requests:
        _add(Reassembly([]), request)


def _add(upload: Reassembly, request: Request) -> None:
    if request.WhichOneof("part") != "chunk":
        raise invalid(ErrorKind.INPUT, "Only chunk messages may follow the setup; send the setup once, first.")
    try:
        upload.add(request.chunk.data)
    except ChunkOverflow:
        raise invalid(ErrorKind.INPUT, "More data arrived than the setup declared; send exactly the bytes it "
                                       "declares (size_bytes per image, look_bytes for a look file).") from None


def to_array(blob: Blob, data: bytearray, limits: Limits) -> np.ndarray:
    """H×W×C array of a received blob (a view of `data` for raw pixels)."""
    info = blob.info
    if info.encoding != pb.ENCODING_RAW:
        return _decode(blob, data, limits)
    array = raw_array(info, data)
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
