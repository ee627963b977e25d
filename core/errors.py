"""Errors the engine raises for things a user can fix.

Every message names the problem *and* the fix, so shells (CLI, daemon, plug-ins) can show it
as-is without a traceback. Anything else escaping the engine is a bug.
"""

from __future__ import annotations


class PhotoStyleError(Exception):
    """Base class: a problem with the user's input or set-up, with a readable message."""


class InputImageError(PhotoStyleError):
    """An image is unreadable, empty, of an unsupported layout, or holds NaN/inf; or a result
    cannot be written where it was asked to go."""


class ImageTooLargeError(InputImageError):
    """An image file declares more pixels than the reader accepts: refused from its header,
    before any decoding, so a small "decompression bomb" file never takes the memory it asks for."""


class MaskError(PhotoStyleError):
    """Region masks do not fit their image or do not pair up."""


class LookFileError(PhotoStyleError):
    """A look file (a .cube 3D LUT or a Hald CLUT PNG) is missing, malformed or of a kind not read,
    or a look cannot be saved as the file asked for."""


class WeightsError(PhotoStyleError):
    """The VGG19 weights file is missing, unreadable or of the wrong shape."""


class OptionsError(PhotoStyleError):
    """An option (preset, device, size...) has a value the engine does not know."""


class Cancelled(PhotoStyleError):
    """The caller set the cancel token; the job stopped without a result."""
