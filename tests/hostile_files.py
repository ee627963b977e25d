"""Hostile image files for the bad-input tests (test_hostile_input.py, test_shared_checks.py) and
the fuzzers (test_fuzz.py), built in memory in well under a second.

Decompression bombs come in two kinds. `png_bomb` is a complete, valid file of the issue's size
(20000×20000 black pixels in under 1 MB): what a real attacker sends. The `*_declaring` files only
declare a huge size in their header and hold a little data: the header is what a reader must
check, and the missing data keeps a reader that does not check from taking gigabytes on a shared
test machine (it fails on the short data instead, with a message that lacks the size, so the
tests still tell the two apart).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import png
import tifffile
from PIL import Image as PILImage

from daemon_fixtures import photo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The issue's bomb: 20000×20000 px, 400 MP; at 16 bits 800 MB of samples, in a ~780 KB file.
BOMB_SIDE = 20000
_ZEROS = bytes(1 << 20)
#: Where a PNG's IHDR chunk keeps width and height, and where its CRC starts.
_IHDR_SIZE, _IHDR_CRC = slice(16, 24), slice(29, 33)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, bit_depth: int, rows: int = 4) -> bytes:
    """An RGB PNG whose header says `width`×`height` at `bit_depth` bits, holding only `rows` rows."""
    row = b"\x00" + bytes(width * 3 * bit_depth // 8)  # filter byte, then black pixels
    return (PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(row * rows)) + png_chunk(b"IEND", b""))


def _zlib_zeros(length: int) -> bytes:
    """A valid zlib stream of `length` zero bytes, made by repeating one compressed megabyte (after a
    full flush, equal input compresses to equal bytes) instead of compressing them all."""
    whole, rest = divmod(length, len(_ZEROS))
    compressor = zlib.compressobj(9)
    pieces = [compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH) for _ in range(min(whole, 2))]
    pieces += pieces[-1:] * (whole - 2)
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    checksum = (length % 65521) << 16 | 1  # Adler-32 of zeros: A stays 1, B grows by 1 a byte
    return b"".join(pieces) + tail[:-4] + struct.pack(">I", checksum)


def png_bomb(bit_depth: int = 16, side: int = BOMB_SIDE) -> bytes:
    """A valid grey PNG of side×side black pixels at `bit_depth` (8 or 16) bits."""
    header = struct.pack(">IIBBBBB", side, side, bit_depth, 0, 0, 0, 0)  # grey, deflate, no filter, no interlace
    pixels = _zlib_zeros(side * (1 + side * bit_depth // 8))  # each row: filter byte 0, then black samples
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def with_png_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG with its IHDR patched to `width`×`height` and the CRC fixed, so readers believe it."""
    patched = bytearray(data)
    patched[_IHDR_SIZE] = struct.pack(">II", width, height)
    patched[_IHDR_CRC] = struct.pack(">I", zlib.crc32(bytes(patched[12:29])))
    return bytes(patched)


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG with its first frame header (SOF0) patched to `width`×`height` (16 bits each)."""
    patched = bytearray(data)
    struct.pack_into(">HH", patched, patched.index(b"\xff\xc0") + 5, height & 0xFFFF, width & 0xFFFF)
    return bytes(patched)


def with_tiff_size(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF with its first page's ImageWidth and ImageLength tags patched."""
    patched = bytearray(data)
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        tags = tiff.pages[0].tags
        for tag, value in ((tags["ImageWidth"], width), (tags["ImageLength"], height)):
            layout, largest = ("<H", 0xFFFF) if tag.dtype == 3 else ("<I", 0xFFFFFFFF)  # SHORT or LONG
            struct.pack_into(layout, patched, tag.valueoffset, value & largest)
    return bytes(patched)


def flipped(data: bytes, where: int, bits: int) -> bytes:
    """`data` with the byte at `where` XORed with `bits`."""
    changed = bytearray(data)
    changed[where] ^= bits
    return bytes(changed)


def tiff_without_width(pixels: np.ndarray) -> bytes:
    """A TIFF of `pixels` whose first tag, ImageWidth (256), reads as a second ImageLength (257):
    one flipped bit, found by test_fuzz.py, that makes tifffile fail with a TypeError."""
    return flipped(encode(pixels, "TIFF"), 12, 1)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header says `width`×`height`."""
    return with_jpeg_size(encode(photo(64, 64), "JPEG"), width, height)


def tiff_declaring(width: int, height: int, dtype: type = np.uint16) -> bytes:
    """An RGB TIFF of 64×64 px (16-bit by default) whose header says `width`×`height`."""
    return with_tiff_size(encode(photo(64, 64, dtype=dtype), "TIFF"), width, height)


def encode(pixels: np.ndarray, file_format: str) -> bytes:
    """`pixels` as a PNG (8 or 16 bits), JPEG or TIFF (any sample type) file's bytes."""
    buffer = io.BytesIO()
    height, width, channels = pixels.shape
    if file_format == "TIFF":
        tifffile.imwrite(buffer, pixels, photometric="rgb" if channels >= 3 else "minisblack")
    elif file_format == "PNG" and pixels.dtype == np.uint16:
        png.Writer(width, height, greyscale=channels <= 2, alpha=channels in (2, 4), bitdepth=16).write(
            buffer, pixels.reshape(height, width * channels))
    else:
        PILImage.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(buffer, file_format)
    return buffer.getvalue()


#: Small valid files of every kind the readers take, to mutate.
SAMPLE_FILES: dict[str, bytes] = {
    "8-bit PNG": encode(photo(64, 72), "PNG"),
    "16-bit PNG": encode(photo(64, 72, 4, np.uint16), "PNG"),
    "grey PNG": encode(photo(64, 64, 1), "PNG"),
    "JPEG": encode(photo(64, 72), "JPEG"),
    "16-bit TIFF": encode(photo(64, 72, dtype=np.uint16), "TIFF"),
    "float TIFF": encode(photo(64, 72, dtype=np.float32), "TIFF"),
    "8-bit TIFF": encode(photo(64, 72), "TIFF"),
}
