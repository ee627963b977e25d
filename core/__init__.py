"""PhotoStyle's engine: Deep Photo Style Transfer (Luan et al., CVPR 2017) as a PyTorch library.

    from photostyle.core import transfer, TransferOptions
    result = transfer(content_pixels, style_pixels, regions, TransferOptions(preset="default"))
    result.image  # same size, channels and depth as content_pixels

Nothing here knows about gRPC, files on the command line or host applications.
"""

from .errors import Cancelled, InputImageError, MaskError, OptionsError, PhotoStyleError, WeightsError
from .images import load_image, save_image
from .masks import RegionPair, regions_from_segmentations
from .presets import PRESETS, Preset, get_preset
from .progress import CancelToken, Progress
from .transfer import TransferOptions, TransferResult, resolve_device, transfer

__all__ = [
    "Cancelled", "CancelToken", "InputImageError", "MaskError", "OptionsError", "PhotoStyleError",
    "PRESETS", "Preset", "Progress", "RegionPair", "TransferOptions", "TransferResult", "WeightsError",
    "get_preset", "load_image", "regions_from_segmentations", "resolve_device", "save_image", "transfer",
]
