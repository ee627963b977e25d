"""Pixels in and out of the engine: array validation, bit depths, alpha, and image files.

The engine computes on float RGB in [0, 1]. Callers hand in H×W×C arrays of 8-bit, 16-bit or
float32 samples with 1-4 channels; they get back the same shape and sample type, with alpha
passed through untouched. Files: 16-bit PNGs through pypng and 16-bit or float TIFFs through
tifffile (Pillow reads both at 8 bits), everything else through Pillow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .errors import InputImageError

#: Images smaller than this on their short side carry too little for VGG19's statistics.
MIN_SIDE = 64
#: The smallest working short side VGG19's five scales can use.
MIN_WORKING_SIDE = 32

_SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass
class Pixels:
    """An image split for the engine: float RGB in [0, 1], plus what is needed to rebuild it."""

    rgb: np.ndarray  # H×W×3 float32 in [0, 1]
    alpha: np.ndarray | None  # H×W original alpha samples, untouched
    dtype: np.dtype
    channels: int

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]


def split_pixels(image: np.ndarray, what: str) -> Pixels:
    """Validate an H×W[×C] array and convert it to float RGB, keeping its alpha aside."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise InputImageError(f"The {what} has shape {image.shape}; expected H×W×C with 1 to 4 channels (grey, grey+alpha, RGB, RGBA).")
    height, width, channels = image.shape
    if height == 0 or width == 0:
        raise InputImageError(f"The {what} is empty ({width}×{height}); send an image with pixels.")
    if min(height, width) < MIN_SIDE:
        raise InputImageError(f"The {what} is {width}×{height}; both sides must be at least {MIN_SIDE} px. Use a larger image.")
    if image.dtype.type not in _SUPPORTED_DTYPES:
        raise InputImageError(f"The {what} has {image.dtype} samples; send 8-bit, 16-bit or float32 pixels.")
    has_alpha = channels in (2, 4)
    colour = image[:, :, : channels - 1] if has_alpha else image
    if image.dtype == np.uint8:
        rgb = colour.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        rgb = colour.astype(np.float32) / 65535.0
    else:
        if not np.isfinite(image).all():
            raise InputImageError(f"The {what} contains NaN or infinite values; fix or re-export the layer.")
        rgb = np.clip(colour.astype(np.float32), 0.0, 1.0)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    alpha = image[:, :, -1].copy() if has_alpha else None
    return Pixels(np.ascontiguousarray(rgb), alpha, image.dtype, channels)


def join_pixels(rgb: np.ndarray, like: Pixels) -> np.ndarray:
    """Float RGB result → the caller's layout: same sample type, alpha re-attached.

    A grey input comes back as RGB (the style brings colour), keeping its alpha.
    """
    rgb = np.clip(rgb, 0.0, 1.0)
    if like.dtype == np.uint8:
        colour = np.round(rgb * 255.0).astype(np.uint8)
    elif like.dtype == np.uint16:
        colour = np.round(rgb * 65535.0).astype(np.uint16)
    else:
        colour = rgb.astype(like.dtype)
    if like.alpha is None:
        return colour
    return np.concatenate([colour, like.alpha[:, :, None].astype(like.dtype)], axis=2)


def working_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) scaled so the long side is at most `long_side` (never upscaled, short side ≥ 32)."""
    scale = min(1.0, long_side / max(height, width))
    scale = max(scale, min(1.0, MIN_WORKING_SIDE / min(height, width)))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of a C×H×W tensor (a no-op at the same size)."""
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    return F.interpolate(image[None], size=shape, mode="bilinear", antialias=True, align_corners=False)[0]


def load_image(source: str | os.PathLike[str] | BinaryIO) -> np.ndarray:
    """Read an image file (a path, or an open binary stream such as an upload in memory) as
    H×W×C uint8 or uint16 (float32 for a float TIFF); 16-bit PNGs and TIFFs keep their 16 bits."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputImageError(f"Image file not found: {path}. Check the path.")
        with open(path, "rb") as handle:
            return _read_image(handle, str(path))
    return _read_image(source, "The image data")


def _read_image(stream: BinaryIO, name: str) -> np.ndarray:
    try:
        header = stream.read(26)
        stream.seek(0)
        if header.startswith(b"\x89PNG\r\n\x1a\n") and len(header) == 26 and header[24] == 16:
            return _load_png16(stream)
        if header.startswith(_TIFF_MAGICS):
            deep = _load_deep_tiff(stream, name)
            if deep is not None:
                return deep
            stream.seek(0)
        with Image.open(stream) as image:
            image.load()
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
            array = np.array(image)
            return array[:, :, None] if array.ndim == 2 else array
    except Image.DecompressionBombError as exc:
        raise InputImageError(f"{name} is too large to read safely ({exc}). Downscale it below 178 megapixels first.") from exc
    except (UnidentifiedImageError, OSError, ValueError, png.Error, IndexError, tifffile.TiffFileError) as exc:
        raise InputImageError(f"Cannot read {name} as an image ({exc}). The file may be corrupt or not an image; re-export it as PNG or JPEG.") from exc


def _load_deep_tiff(stream: BinaryIO, name: str) -> np.ndarray | None:
    """The first image of a 16-bit or float grey/RGB(A) TIFF at full depth; None for any other
    TIFF (8-bit, palette, CMYK...), which Pillow reads well."""
    with tifffile.TiffFile(stream) as tiff:
        page = tiff.pages[0]
        kinds = (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB)
        if page.photometric not in kinds or page.dtype not in (np.uint16, np.float16, np.float32, np.float64):
            return None
        if page.axes not in ("YX", "YXS", "SYX"):
            return None
        try:
            array = page.asarray()
        except (KeyError, NotImplementedError, RuntimeError, ValueError) as exc:  # codec missing or data corrupt
            raise InputImageError(f"Cannot decode {name} ({type(exc).__name__}: {exc}). The file may be corrupt or "
                                  "use a rare compression; re-export it as a ZIP or LZW TIFF, or a 16-bit PNG.") from exc
    if page.axes == "SYX":  # planar: one plane per channel
        array = np.moveaxis(array, 0, -1)
    array = array[:, :, None] if array.ndim == 2 else array
    if array.shape[2] > 4:
        return None
    return array if array.dtype == np.uint16 else array.astype(np.float32)


def _load_png16(stream: BinaryIO) -> np.ndarray:
    width, height, rows, info = png.Reader(file=stream).asDirect()
    planes = info["planes"]
    array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)
    return array


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write H×W×C uint8/uint16/float32 pixels. A PNG keeps 16 bits, a TIFF 16 bits or float;
    anything else is written at 8 bits."""
    path = Path(path)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    height, width, channels = image.shape
    try:
        if image.dtype == np.uint16 and path.suffix.lower() == ".png":
            writer = png.Writer(width, height, greyscale=channels <= 2, alpha=channels in (2, 4), bitdepth=16)
            with open(path, "wb") as handle:
                writer.write(handle, image.reshape(height, width * channels))
            return
        if image.dtype != np.uint8 and path.suffix.lower() in _TIFF_SUFFIXES:
            samples = image if image.dtype == np.uint16 else image.astype(np.float32)
            tifffile.imwrite(path, samples[:, :, 0] if channels == 1 else samples,
                             photometric="minisblack" if channels <= 2 else "rgb", planarconfig="contig",
                             extrasamples=["unassalpha"] if channels in (2, 4) else None, compression="zlib")
            return
        if image.dtype != np.uint8:
            image = np.round(np.clip(image.astype(np.float64) / (65535.0 if image.dtype == np.uint16 else 1.0), 0, 1) * 255).astype(np.uint8)
        pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
        if path.suffix.lower() in (".jpg", ".jpeg") and pil.mode in ("RGBA", "LA"):
            pil = pil.convert(pil.mode[:-1])
        pil.save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise InputImageError(f"Cannot write {path} ({exc}). Check the folder exists and the extension is .png, .jpg or .tif.") from exc
