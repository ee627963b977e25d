"""Pixels in and out of the engine: array validation, bit depths, alpha, and image files.

The engine computes on float RGB in [0, 1]. Callers hand in H×W×C arrays of 8-bit, 16-bit or
float32 samples with 1-4 channels; they get back the same shape and sample type, with alpha
passed through untouched. Files: 16-bit PNGs through pypng and 16-bit or float TIFFs through
tifffile (Pillow reads both at 8 bits), everything else through Pillow.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import png
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .errors import InputImageError
from .progress import Checkpoint, no_checkpoint

#: Images smaller than this on their short side carry too little for VGG19's statistics.
MIN_SIDE = 64
#: The smallest working short side VGG19's five scales can use.
MIN_WORKING_SIDE = 32

_SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_TIFF_SUFFIXES = (".tif", ".tiff")


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
    def dtype(self) -> np.dtype:
        return self.samples.dtype

    def rgb_rows(self, start: int = 0, stop: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Rows [start, stop) as a 3×rows×W float32 tensor in [0, 1] (grey repeated into R, G and B).

        Channels-last in memory (a permuted view), which saves a copy per strip; call
        `.contiguous()` where a standard layout matters.
        """
        colour = self.samples[start:stop, :, : 3 if self.channels >= 3 else 1]
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


def split_pixels(image: np.ndarray, what: str) -> Pixels:
    """Validate an H×W[×C] array for the engine (sizes, sample type, finite floats)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise InputImageError(f"The {what} has shape {image.shape}; expected H×W×C with 1 to 4 channels (grey, grey+alpha, RGB, RGBA).")
    height, width, _ = image.shape
    if height == 0 or width == 0:
        raise InputImageError(f"The {what} is empty ({width}×{height}); send an image with pixels.")
    if min(height, width) < MIN_SIDE:
        raise InputImageError(f"The {what} is {width}×{height}; both sides must be at least {MIN_SIDE} px. Use a larger image.")
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
