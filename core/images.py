"""Pixels in and out of the engine: array validation, bit depths, alpha, and image files.

The engine computes on float RGB in [0, 1]. Callers hand in H×W×C arrays of 8-bit, 16-bit or
float32 samples with 1-4 channels; they get back the same shape and sample type, with alpha
passed through untouched. Files: 16-bit PNGs through pypng and 16-bit or float TIFFs through
tifffile (Pillow reads both at 8 bits), everything else through Pillow. Every file's dimensions
are read from its header and checked before it is decoded; every file is written atomically.
"""

from __future__ import annotations

import os
import stat
import struct
import sys
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Mapping

import numpy as np
import png
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .errors import ImageTooLargeError, InputImageError, OptionsError
from .options import MIN_WORKING_SIDE
from .progress import Checkpoint, no_checkpoint

#: Images smaller than this on their short side carry too little for VGG19's statistics.
MIN_SIDE = 64
#: The longest file name, in bytes, where the file system does not say (ext4, XFS, Btrfs, APFS, NTFS).
NAME_MAX = 255

_SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
#: JPEG frame headers (SOF0-SOF15, less DHT, JPG and DAC, which share the range).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length: SOI, RST0-7, TEM.
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}

# Pillow warns from half its hard limit; `check_pixel_count` applies the caller's limit instead.
# (Set once here: `warnings.catch_warnings` around each open is not thread-safe, and the daemon
# decodes uploads on several threads.)
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

#: The most pixels `load_image` decodes unless told otherwise: Pillow's own decompression-bomb
#: threshold (2 × PIL.Image.MAX_IMAGE_PIXELS), so large legitimate photos still open. Pillow refuses
#: files above it whatever the caller's limit; raw pixels (the daemon's uploads) are not files.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS  # 178_956_970 in Pillow 10 and later


#: Rows of about this many pixels are converted at a time, so that a full-resolution pass never
#: holds more than one strip of float samples beside the caller's image and the result.
STRIP_PIXELS = 1 << 18

#: Renders rows [start, stop) of the result as a 3×rows×W tensor from the photo's same rows.
RowRenderer = Callable[[torch.Tensor, int, int], torch.Tensor]


@dataclass
class Pixels:
    """A validated image, read as float RGB in [0, 1] strip by strip, plus what rebuilds its layout.

    The samples are kept as given: a 24 MP layer is never converted to float all at once.
    """

    samples: np.ndarray  # H×W×C, 1-4 channels, uint8/uint16/float32/float64, as the caller gave them

    @property
    def height(self) -> int:
        return self.samples.shape[0]

    @property
    def width(self) -> int:
        return self.samples.shape[1]

    @property
    def channels(self) -> int:
        return self.samples.shape[2]

    @property
    def colour_channels(self) -> int:
        """How many of the channels are colour (grey: 1, RGB: 3); the rest is alpha."""
        return 3 if self.channels >= 3 else 1

    @property
    def dtype(self) -> np.dtype:
        return self.samples.dtype

    def rgb_rows(self, start: int = 0, stop: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Rows [start, stop) as a 3×rows×W float32 tensor in [0, 1] (grey repeated into R, G and B).

        Channels-last in memory (a permuted view), which saves a copy per strip; call
        `.contiguous()` where a standard layout matters.
        """
        colour = self.samples[start:stop, :, :self.colour_channels]
        if self.dtype == np.uint16:  # torch has no arithmetic on uint16
            colour = colour.astype(np.float32)
        samples = read_only_tensor(colour).to(device)
        if self.dtype == np.uint8:
            rgb = samples * (1 / 255.0)  # one pass: uint8 in, float32 out
        elif self.dtype == np.uint16:
            rgb = samples.mul_(1 / 65535.0)  # a float32 copy already
        else:
            rgb = samples.to(torch.float32).clamp(0.0, 1.0)
        if rgb.shape[2] == 1:
            rgb = rgb.expand(-1, -1, 3).contiguous()
        return rgb.permute(2, 0, 1)  # a view: the samples stay interleaved, as they came

    @property
    def rgb(self) -> np.ndarray:
        """The whole image as H×W×3 float32 (for small images; large ones go through `rgb_rows`)."""
        return self.rgb_rows().permute(1, 2, 0).numpy()

    def strip_rows(self) -> int:
        """How many rows make one strip of about `STRIP_PIXELS` pixels."""
        return max(1, STRIP_PIXELS // self.width)


def read_only_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing `array`'s memory, for reading only: the caller's pixels (often a
    read-only buffer, e.g. an upload or a decoded file) are never written, so no copy is made."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def split_pixels(image: np.ndarray, what: str, min_side: int = MIN_SIDE) -> Pixels:
    """Validate an H×W[×C] array for the engine (sizes, sample type, finite floats). `min_side` is
    VGG19's need; a colour lookup (a look) takes any image with pixels."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise InputImageError(f"The {what} has shape {image.shape}; expected H×W×C with 1 to 4 channels (grey, grey+alpha, RGB, RGBA).")
    height, width, _ = image.shape
    if height == 0 or width == 0:
        raise InputImageError(f"The {what} is empty ({width}×{height}); send an image with pixels.")
    if min(height, width) < min_side:
        raise InputImageError(f"The {what} is {width}×{height}; both sides must be at least {min_side} px. Use a larger image.")
    if image.dtype.type not in _SUPPORTED_DTYPES:
        raise InputImageError(f"The {what} has {image.dtype} samples; send 8-bit, 16-bit or float32 pixels.")
    pixels = Pixels(image)
    if image.dtype.kind == "f":
        step = pixels.strip_rows()
        if not all(np.isfinite(image[start:start + step]).all() for start in range(0, height, step)):
            raise InputImageError(f"The {what} contains NaN or infinite values; fix or re-export the layer.")
    return pixels


def _to_samples(rgb: torch.Tensor, dtype: np.dtype) -> torch.Tensor:
    """3×rows×W float RGB → rows×W×3 samples of `dtype`, clipped to [0, 1] and rounded (in place)."""
    rgb = rgb.clamp_(0.0, 1.0)
    if dtype == np.uint8:
        rgb = rgb.mul_(255.0).round_().to(torch.uint8)
    elif dtype == np.uint16:
        rgb = rgb.mul_(65535.0).round_().to(torch.uint16)
    else:
        rgb = rgb.to(torch.float64 if dtype == np.float64 else torch.float32)
    return rgb.permute(1, 2, 0)


def rebuild(like: Pixels, render: RowRenderer, device: torch.device | str = "cpu",
            checkpoint: Checkpoint = no_checkpoint) -> np.ndarray:
    """The result in `like`'s layout, rendered strip by strip from the photo's float rows.

    Memory beyond the photo and the result stays at a few strips, so time and memory grow
    linearly with the layer's pixels. RGB (a grey photo gains colour), same sample type, the
    photo's alpha passed through untouched. What `render` returns is converted in place.
    """
    out = np.empty((like.height, like.width, 4 if like.channels in (2, 4) else 3), like.dtype)
    step = like.strip_rows()
    for start in range(0, like.height, step):
        checkpoint()
        stop = min(start + step, like.height)
        rendered = render(like.rgb_rows(start, stop, device), start, stop).cpu()  # uint16 is a CPU-only type
        out[start:stop, :, :3] = _to_samples(rendered, like.dtype).numpy()
    if out.shape[2] == 4:
        out[:, :, 3] = like.samples[:, :, -1]
    return out


def downscale(pixels: Pixels, shape: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The image as a 3×h×w float tensor in [0, 1] at `shape`, antialiased, read strip by strip.

    A large reduction of 8-bit RGB is torch's antialiased resize of the samples as they are; of
    anything else it first averages boxes of an integer size strip by strip (so a 24 MP layer is
    never held as float), then finishes with the antialiased `resize_image`. A small reduction
    is `resize_image` of the whole image.
    """
    box = min(pixels.height // shape[0], pixels.width // shape[1]) // 2
    if box <= 1:
        return resize_image(pixels.rgb_rows(device=device).contiguous(), shape).clamp(0, 1).contiguous()
    if pixels.dtype == np.uint8 and pixels.channels >= 3 and torch.device(device).type == "cpu":
        # torch resizes 8-bit interleaved RGB in one pass on a CPU, ten times faster than the strips below.
        colour = read_only_tensor(pixels.samples[:, :, :3]).to(device).permute(2, 0, 1)[None]
        small = F.interpolate(colour.contiguous(memory_format=torch.channels_last), size=shape, mode="bilinear",
                              antialias=True, align_corners=False)[0]
        return small.to(torch.float32, memory_format=torch.contiguous_format).mul_(1 / 255.0)
    step = max(box, pixels.strip_rows() // box * box)
    reduced = []
    for start in range(0, pixels.height, step):
        reduced.append(F.avg_pool2d(pixels.rgb_rows(start, start + step, device)[None], box, ceil_mode=True)[0])
    return resize_image(torch.cat(reduced, dim=1), shape).clamp(0, 1).contiguous()


def resize_rows(maps: torch.Tensor, start: int, stop: int, height: int, width: int) -> torch.Tensor:
    """Rows [start, stop) of K×h×w maps resized to height×width, bilinear with half-pixel centres
    and no antialiasing (as `F.interpolate`), reading only the source rows those rows need.
    The result may be a non-contiguous view."""
    source_height = maps.shape[1]
    source = ((torch.arange(start, stop, device=maps.device, dtype=torch.float32) + 0.5) * (source_height / height)
              - 0.5).clamp(0, source_height - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=source_height - 1)
    fraction = (source - low)[None, :, None]
    rows = maps[:, low] * (1 - fraction) + maps[:, high] * fraction  # K×rows×w
    if rows.shape[-1] == width:
        return rows
    # rows×K×W in memory, returned as a K×rows×W view: copying it to K×rows×W costs more than it saves.
    return F.interpolate(rows.transpose(0, 1), size=width, mode="linear", align_corners=False).transpose(0, 1)


def working_shape(height: int, width: int, long_side: int, limit: int | None = None,
                  what: str = "The image") -> tuple[int, int]:
    """(h, w) scaled so the long side is at most `long_side` (never upscaled), with a short side of
    at least 32 px even where the long side must then exceed `long_side` (a panorama).

    `limit` is a long side never to exceed (a daemon's largest working size): a shape so long and
    thin that its short side cannot reach 32 px within it raises OptionsError saying why, rather
    than running above the limit.
    """
    scale = min(1.0, long_side / max(height, width))
    scale = max(scale, min(1.0, MIN_WORKING_SIDE / min(height, width)))
    shape = max(1, round(height * scale)), max(1, round(width * scale))
    if limit is not None and max(shape) > limit:
        raise OptionsError(f"{what} is {width}×{height} px, {max(height, width) / min(height, width):.0f}:1: within "
                           f"the largest working size allowed here ({limit} px) its short side would be under the "
                           f"{MIN_WORKING_SIDE} px the engine needs (it would have to work at {max(shape)} px). Crop it "
                           f"to at most {limit / MIN_WORKING_SIDE:.1f}:1, or raise the limit.")
    return shape


def resize_image(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of a C×H×W tensor (a no-op at the same size)."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    return F.interpolate(image[None], size=shape, mode="bilinear", antialias=True, align_corners=False)[0]


def load_image(source: str | os.PathLike[str] | BinaryIO, max_pixels: int = MAX_PIXELS,
               name: str | None = None) -> np.ndarray:
    """Read an image file (a path, or an open binary stream such as an upload in memory) as
    H×W×C uint8 or uint16 (float32 for a float TIFF); 16-bit PNGs and TIFFs keep their 16 bits.

    The dimensions come from the file's header first, and a file declaring more than
    `max_pixels` raises ImageTooLargeError before anything is decoded: a small file can declare
    gigabytes of pixels. `name` is what messages call the image (default: its path).
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        _check_name_lengths(path, "The image file", "no such file can exist. Check the path.")
        try:
            if not path.is_file():
                raise InputImageError(f"Image file not found: {path}. Check the path.")
            with open(path, "rb") as handle:
                return _read_image(handle, name or str(path), max_pixels)
        except OSError as exc:  # no permission, a loop of links, a path too long as a whole
            raise InputImageError(f"Cannot open {path} ({exc.strerror or exc}); check the path and its "
                                  "permissions.") from None
    return _read_image(source, name or "The image data", max_pixels)


def check_pixel_count(width: int, height: int, max_pixels: int, what: str) -> None:
    """ImageTooLargeError when a `width`×`height` image is above `max_pixels`."""
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{what} is {width}×{height} px ({width * height / 1e6:.1f} MP); at most "
                                 f"{max_pixels / 1e6:.1f} MP per image is accepted. Scale it down first.")


def _read_image(stream: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    """The decoded H×W×C array, or InputImageError for anything that is not a readable image."""
    try:
        array = _decode(stream, name, max_pixels)
    # The parsers fail on damaged headers in many ways (tifffile with TypeError or KeyError, too).
    except (UnidentifiedImageError, OSError, ValueError, png.Error, IndexError, KeyError, TypeError, struct.error,
            tifffile.TiffFileError) as exc:
        raise InputImageError(f"Cannot read {name} as an image ({exc}). The file may be corrupt or not an image; "
                              "re-export it as PNG or JPEG.") from exc
    if array.ndim != 3 or 0 in array.shape:  # a damaged header can declare a side of 0
        raise InputImageError(f"{name} holds no pixels (its header declares an empty image, {array.shape}). The file "
                              "is corrupt; re-export it as PNG or JPEG.")
    return array


def _decode(stream: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    """Dispatch on the file's signature, checking the declared size before decoding."""
    header = stream.read(26)
    stream.seek(0)
    if header.startswith(_TIFF_MAGICS):
        deep = _load_deep_tiff(stream, name, max_pixels)
        if deep is not None:
            return deep
        stream.seek(0)
    elif header.startswith(PNG_MAGIC):
        check_pixel_count(*_png_size(header), max_pixels, name)
        if header[24] == 16:
            return _load_png16(stream)
    elif header.startswith(JPEG_MAGIC):
        size = _jpeg_size(stream)  # Pillow's bomb check names no size: say which, where we can
        if size is not None:
            check_pixel_count(*size, max_pixels, name)
        stream.seek(0)
    return _load_with_pillow(stream, name, max_pixels)


def _load_with_pillow(stream: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    """Any format Pillow reads, as 8-bit grey/RGB(A); its size checked after the lazy open, before decoding."""
    try:
        image = Image.open(stream)
    except Image.DecompressionBombError:
        ceiling = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageTooLargeError(f"{name} declares more than {ceiling / 1e6:.1f} MP, the most that can be decoded "
                                 f"safely; at most {min(max_pixels, ceiling) / 1e6:.1f} MP per image is accepted. "
                                 "Scale it down first.") from None
    with image:
        check_pixel_count(*image.size, max_pixels, name)
        image.load()
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
        array = np.array(image)
    return array[:, :, None] if array.ndim == 2 else array


def _png_size(header: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, which must come first."""
    if len(header) < 26 or header[12:16] != b"IHDR":
        raise ValueError("no IHDR chunk after the PNG signature")
    return struct.unpack(">II", header[16:24])


def _jpeg_size(stream: BinaryIO) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, found by walking its marker segments; None when
    the walk meets anything unusual (Pillow, more forgiving, then reads and checks the file)."""
    stream.seek(2)
    while True:
        if stream.read(1) != b"\xff":
            return None
        marker = stream.read(1)
        while marker == b"\xff":  # fill bytes
            marker = stream.read(1)
        if not marker or marker[0] in (0xD9, 0xDA):  # end of file, end of image, start of scan
            return None
        if marker[0] in _JPEG_STANDALONE_MARKERS:
            continue
        length = stream.read(2)
        if len(length) < 2:
            return None
        if marker[0] in _JPEG_FRAME_MARKERS:
            frame = stream.read(5)
            return struct.unpack(">xHH", frame)[::-1] if len(frame) == 5 else None
        stream.seek(struct.unpack(">H", length)[0] - 2, os.SEEK_CUR)


def _load_deep_tiff(stream: BinaryIO, name: str, max_pixels: int) -> np.ndarray | None:
    """The first image of a 16-bit or float grey/RGB(A) TIFF at full depth; None for any other
    TIFF (8-bit, palette, CMYK...), which Pillow reads well. Any TIFF's size is checked here."""
    with tifffile.TiffFile(stream) as tiff:
        page = tiff.pages[0]
        size = page.imagewidth, page.imagelength
        # A damaged tag can hold several values, and a tuple times a huge height is a huge tuple.
        if not all(isinstance(side, int) for side in size):
            raise ValueError(f"the TIFF's width and height tags are damaged ({size})")
        check_pixel_count(*size, max_pixels, name)
        kinds = (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB)
        if page.photometric not in kinds or page.dtype not in (np.uint16, np.float16, np.float32, np.float64):
            return None
        # More than 4 samples a pixel (checked before decoding: the count multiplies the pixels'
        # memory) is nothing we read at full depth; Pillow reads the few such layouts it knows.
        if page.axes not in ("YX", "YXS", "SYX") or page.samplesperpixel > 4:
            return None
        try:
            array = page.asarray()
        except (KeyError, NotImplementedError, RuntimeError, TypeError, ValueError) as exc:  # codec missing, data corrupt
            raise InputImageError(f"Cannot decode {name} ({type(exc).__name__}: {exc}). The file may be corrupt or "
                                  "use a rare compression; re-export it as a ZIP or LZW TIFF, or a 16-bit PNG.") from exc
    if page.axes == "SYX":  # planar: one plane per channel
        array = np.moveaxis(array, 0, -1)
    array = array[:, :, None] if array.ndim == 2 else array
    return array if array.dtype == np.uint16 else array.astype(np.float32)


def _load_png16(stream: BinaryIO) -> np.ndarray:
    width, height, rows, info = png.Reader(file=stream).asDirect()
    planes = info["planes"]
    array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)
    return array


@dataclass(frozen=True)
class _FileFormat:
    """What one kind of output file holds."""

    label: str  # as Pillow names it
    alpha: bool  # an alpha channel survives
    dtypes: tuple[type, ...]  # sample types written as they are; others are written at 8 bits


#: Output files by extension; `check_output_path` and `save_image` accept only these.
_OUTPUT_FORMATS: dict[str, _FileFormat] = {
    ".png": _FileFormat("PNG", True, (np.uint8, np.uint16)),
    ".tif": _FileFormat("TIFF", True, (np.uint8, np.uint16, np.float32)),
    ".tiff": _FileFormat("TIFF", True, (np.uint8, np.uint16, np.float32)),
    ".jpg": _FileFormat("JPEG", False, (np.uint8,)),
    ".jpeg": _FileFormat("JPEG", False, (np.uint8,)),
    ".webp": _FileFormat("WEBP", True, (np.uint8,)),  # written lossless
    ".bmp": _FileFormat("BMP", False, (np.uint8,)),
}


#: The extensions `save_image` writes.
OUTPUT_EXTENSIONS: tuple[str, ...] = tuple(_OUTPUT_FORMATS)


def _output_format(path: Path) -> _FileFormat:
    try:
        return _OUTPUT_FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputImageError(f"Cannot write {path}: unknown image extension '{path.suffix}'; end the name with one "
                              f"of {', '.join(_OUTPUT_FORMATS)}.") from None


def check_output_path(path: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str]] = {},
                      elsewhere: str = "choose another name") -> None:
    """InputImageError unless an image can be written at `path` (a name the file system takes, with a
    known extension, in an existing folder this process can write to) without replacing one of
    `inputs` (see `check_not_an_input`). Callers check before a long job, not after it."""
    check_output_file(path, inputs, elsewhere, _output_format)


def check_output_file(path: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str]] = {},
                      elsewhere: str = "choose another name", check_kind: Callable[[Path], object] = lambda _: None,
                      example: str = "result.png") -> None:
    """`check_output_path` for any kind of file: `check_kind` refuses the names of a kind the caller
    cannot write (raising its own error), after the checks that say more."""
    path = Path(path)
    _check_name_lengths(path, "The output", "choose a shorter name.")
    if path.is_dir():
        raise InputImageError(f"The output {path} is a folder; give a file name in it, such as {path / example}.")
    check_kind(path)
    if not path.parent.is_dir():
        raise InputImageError(f"The output folder {path.parent} does not exist; create it or choose another path.")
    check_not_an_input(path, inputs, elsewhere)
    _check_writable(path.parent, path)


def check_output_folder(folder: str | os.PathLike[str]) -> None:
    """InputImageError unless `folder` is, or can be created as, a folder this process can write to."""
    folder = Path(folder)
    _check_name_lengths(folder, "The folder", "choose a shorter name.")
    existing = next(place for place in (folder, *folder.parents) if place.exists())
    if not existing.is_dir():
        raise InputImageError(f"Cannot write into {folder}: {existing} is a file, not a folder; choose another folder.")
    _check_writable(existing, folder)


def check_not_an_input(output: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str]],
                       elsewhere: str) -> None:
    """InputImageError when writing `output` would replace one of `inputs` (what each is → its path).

    Files are compared, not names: the same name, a symbolic link to an input, a hard link to
    it or another spelling of its path all replace the original. `elsewhere` says how to write
    somewhere else (a command's option).
    """
    for what, source in inputs.items():
        try:
            same = os.path.samefile(output, source)
        except (OSError, ValueError):  # either one does not exist (yet), or is no name at all
            same = False
        if same:
            raise InputImageError(f"{output} is the same file as {what}, {source}: writing there would replace the "
                                  f"original, so nothing was written. To write elsewhere, {elsewhere}.")


def _check_name_lengths(path: Path, what: str, fix: str) -> None:
    """InputImageError when a part of `path` is longer than the file system's names can be, which
    the system would otherwise report from deep inside the first call that touches the path."""
    limit = _name_max(path)
    for part in path.parts:
        length = len(os.fsencode(part))
        if length > limit:
            shown = part if len(part) <= 40 else f"{part[:24]}…{part[-12:]}"
            raise InputImageError(f"{what} name '{shown}' is {length} bytes long, but file names can be at most "
                                  f"{limit} bytes; {fix}")


def _name_max(path: Path) -> int:
    """The longest file name, in bytes, the file system holding `path` (or its nearest existing folder) takes."""
    for folder in (path.parent, *path.parents):
        try:
            return os.pathconf(folder, "PC_NAME_MAX")
        except OSError:  # not there (yet), or itself a name too long
            continue
        except (AttributeError, ValueError):  # no pathconf (Windows)
            break
    return NAME_MAX


def _check_writable(folder: Path, target: Path) -> None:
    """Create and remove a file in `folder` (permissions alone say nothing for root or read-only mounts)."""
    try:
        probe = _temporary_beside(folder / "probe")
        probe.open("xb").close()
        probe.unlink()
    except OSError as exc:
        raise InputImageError(f"Cannot write {target}: this process cannot write into {folder} "
                              f"({exc.strerror or exc}); choose a folder you can write to.") from None


def _temporary_beside(path: Path) -> Path:
    """A new hidden file name in `path`'s folder, for writing `path` under and renaming it over: as
    long as a name there may be at most, whatever the length of `path`'s own."""
    tag = f".{uuid.uuid4().hex[:12]}.tmp"
    room = _name_max(path) - len(tag) - 1  # the leading dot
    name = os.fsencode(path.name)[:room].decode(sys.getfilesystemencoding(), "ignore")  # a cut character is dropped
    return path.with_name(f".{name}{tag}")


def _keep_mode(existing: Path, written: Path) -> None:
    """Give `written` the permissions of the file it will replace, where the file system has them
    (a FAT stick refuses chmod: the result is still worth writing). A new file is created as an
    ordinary one, with the umask applied."""
    try:
        if existing.exists():
            os.chmod(written, stat.S_IMODE(existing.stat().st_mode))
    except OSError:
        pass


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> list[str]:
    """Write H×W×C uint8/uint16/float32 pixels; return notes on what the file format dropped.

    A PNG keeps 16 bits, a TIFF 16 bits or float; anything else is written at 8 bits; JPEG and
    BMP drop alpha. The file is written beside `path` under a temporary name and then renamed
    over it, so a failed write (a full disk, Ctrl-C) leaves no partial file and an existing
    file intact.
    """
    path = Path(path)
    file_format = _output_format(path)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.dtype == np.float64:
        image = image.astype(np.float32)
    notes = []
    if image.dtype.type not in file_format.dtypes:
        depth = "floats" if image.dtype.kind == "f" else f"{image.dtype.itemsize * 8} bits"
        notes.append(f"{path.name}: {file_format.label} holds 8 bits per sample; the result was written at 8 bits "
                     f"(write {'.tif' if image.dtype.kind == 'f' else '.png or .tif'} to keep {depth}).")
        image = np.round(np.clip(image.astype(np.float64) / (65535.0 if image.dtype == np.uint16 else 1.0), 0, 1)
                         * 255).astype(np.uint8)
    if image.shape[2] in (2, 4) and not file_format.alpha:
        notes.append(f"{path.name}: {file_format.label} has no alpha; the transparency was dropped "
                     "(write .png or .tif to keep it).")
        image = image[:, :, :-1]
    write_atomically(path, lambda handle: _write(handle, image, file_format))
    return notes


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Have `write` fill a new file beside `path` (through a symbolic link, not over it), then
    rename it over `path` in one step: a failed write (a full disk, Ctrl-C) leaves no partial file
    and an existing file intact. InputImageError, naming `path`, when it cannot be written."""
    destination = Path(os.path.realpath(path))
    temporary = _temporary_beside(destination)
    try:
        try:
            with open(temporary, "xb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            _keep_mode(destination, temporary)
            os.replace(temporary, destination)
        finally:
            temporary.unlink(missing_ok=True)  # gone already once renamed
    except (OSError, ValueError, KeyError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputImageError(f"Cannot write {path} ({reason}); nothing was changed there. Check the folder exists, "
                              "has free space and can be written to, or choose another path.") from exc


def _write(handle: BinaryIO, image: np.ndarray, file_format: _FileFormat) -> None:
    """Encode H×W×C samples (already of a type and layout `file_format` holds) into `handle`."""
    height, width, channels = image.shape
    if file_format.label == "PNG" and image.dtype == np.uint16:
        writer = png.Writer(width, height, greyscale=channels <= 2, alpha=channels in (2, 4), bitdepth=16)
        writer.write(handle, image.reshape(height, width * channels))
    elif file_format.label == "TIFF" and image.dtype != np.uint8:
        tifffile.imwrite(handle, image[:, :, 0] if channels == 1 else image,
                         photometric="minisblack" if channels <= 2 else "rgb", planarconfig="contig",
                         extrasamples=["unassalpha"] if channels in (2, 4) else None, compression="zlib")
    else:
        Image.fromarray(image[:, :, 0] if channels == 1 else image).save(
            handle, format=file_format.label, **({"lossless": True} if file_format.label == "WEBP" else {}))
