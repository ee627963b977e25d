"""numpy arrays <-> wire images, for the daemon and the CLI (never shipped to the plug-ins,
whose hosts may have no numpy).

Raw bytes become arrays without a copy (`np.frombuffer`), and arrays become bytes without one
where their layout allows.
"""

from __future__ import annotations

import numpy as np

from . import photostyle_pb2 as pb
from .images import SAMPLE_TYPES, Image

#: Wire sample types <-> little-endian numpy sample types.
DTYPES: dict[int, np.dtype] = {pb.SAMPLE_TYPE_UINT8: np.dtype("u1"), pb.SAMPLE_TYPE_UINT16: np.dtype("<u2"),
                               pb.SAMPLE_TYPE_FLOAT32: np.dtype("<f4")}
_SAMPLE_TYPES = {dtype: enum for enum, dtype in DTYPES.items()}


def to_wire(array: np.ndarray) -> tuple[pb.ImageInfo, memoryview]:
    """Header and little-endian bytes (a view, no copy where possible) of an H×W[×C] array."""
    if array.ndim == 2:
        array = array[:, :, None]
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    height, width, channels = array.shape
    info = pb.ImageInfo(width=width, height=height, layout=channels, sample_type=_SAMPLE_TYPES[array.dtype],
                        encoding=pb.ENCODING_RAW, size_bytes=array.nbytes)
    return info, memoryview(array).cast("B")


def raw_array(info: pb.ImageInfo, data: bytes | bytearray | memoryview) -> np.ndarray:
    """The H×W×C array of raw bytes described by `info` (a view of `data`)."""
    return np.frombuffer(data, dtype=DTYPES[info.sample_type]).reshape(info.height, info.width, info.layout)


def image_from_array(array: np.ndarray) -> Image:
    """An Image holding an H×W[×C] uint8/uint16/float32 array's pixels."""
    info, view = to_wire(array)
    return Image.from_wire(info, view)


def array_from_image(image: Image) -> np.ndarray:
    """The H×W×C array of an Image (a view of its bytes)."""
    dtype = DTYPES[SAMPLE_TYPES[image.sample_type][0]]
    return np.frombuffer(image.view(), dtype=dtype).reshape(image.height, image.width, image.channels)
