"""PhotoStyle's engine: Deep Photo Style Transfer (Luan et al., CVPR 2017) as a PyTorch library.

    from photostyle.core import transfer, TransferOptions
    result = transfer(content_pixels, style_pixels, regions, TransferOptions(preset="default"))
    result.image  # same size, channels and depth as content_pixels

Nothing here knows about gRPC, files on the command line or host applications. The options'
schema (`options`) is torch-free, for the shells that describe options without running them.
"""

import os

# torch's CPU threads wait for each other by spinning, briefly (see `threads`: the job's thread
# count follows the idle cores, so spinning never waits on a thread another program displaced).
# Read by OpenMP when torch loads, so it is set before this package imports torch; a caller's own
# wait policy or spin count wins.
if "OMP_WAIT_POLICY" not in os.environ:
    # GNU OpenMP (torch's on Linux) spins ~0.1 ms, then sleeps; its default spins ~3 ms, and
    # passive waiting (1 ms of wake-ups at every one of thousands of barriers) cost 1.4x on pair 1.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from .errors import (Cancelled, ImageTooLargeError, InputImageError, LookFileError, MaskError, OptionsError,
                     PhotoStyleError, WeightsError)
from .images import MAX_PIXELS, check_not_an_input, check_output_folder, check_output_path, load_image, save_image
from .look_files import check_look_path, load_look, save_look
from .looks import Fidelity, Look, Lut, RegionLut, apply_look, fit_look, measure_fidelity
from .masks import RegionPair, check_region_names, check_regions, regions_from_segmentations
from .options import OPTIONS, OptionSpec, TransferOptions
from .presets import DEFAULT_PRESET, PRESETS, Preset, get_preset
from .progress import CancelToken, Progress
from .transfer import Recipe, TransferResult, check_options, resolve_device, transfer

__all__ = [
    "Cancelled", "CancelToken", "DEFAULT_PRESET", "Fidelity", "ImageTooLargeError", "InputImageError", "Look",
    "LookFileError", "Lut", "MAX_PIXELS", "MaskError", "OPTIONS", "OptionSpec", "OptionsError", "PhotoStyleError",
    "PRESETS", "Preset", "Progress", "Recipe", "RegionLut", "RegionPair", "TransferOptions", "TransferResult",
    "WeightsError", "apply_look", "check_look_path", "check_not_an_input", "check_options", "check_output_folder",
    "check_output_path", "check_region_names", "check_regions", "fit_look", "get_preset", "load_image", "load_look",
    "measure_fidelity", "regions_from_segmentations", "resolve_device", "save_image", "save_look", "transfer",
]
