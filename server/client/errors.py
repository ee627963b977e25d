"""Client errors: one class per thing a user can act on, each with a message to show as-is.

The daemon names the kind of a failure (`wire.ErrorKind`) in trailing metadata; every kind maps
to its own class here, and the gRPC status code is the fallback, so plain gRPC errors (no daemon,
TLS mismatch) and kinds newer than this client read well too.
"""

from __future__ import annotations

import grpc

from photostyle.server.wire.contract import CANCELLED_MESSAGE, ERROR_KIND_METADATA_KEY, START_COMMAND, ErrorKind


class PhotoStyleClientError(Exception):
    """Base class. `str(error)` is a complete sentence for the user; `details` is gRPC's text."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class InputError(Exception):
    """Something in the host's document, choices or files that the user can fix; the message says how."""


class DaemonUnavailableError(PhotoStyleClientError):
    """No daemon answers at the address (not running, wrong port, TLS mismatch, shutting down)."""


class DaemonDiedError(DaemonUnavailableError):
    """The daemon went away while working on this job."""


class AuthenticationError(PhotoStyleClientError):
    """The daemon wants a token and got none, or a different one."""


class InvalidRequestError(PhotoStyleClientError):
    """The images or options were refused (the message says which and how to fix it)."""


class InvalidMasksError(InvalidRequestError):
    """The region masks do not fit their images or do not pair up."""


class TooLargeError(PhotoStyleClientError):
    """An image is above the daemon's limits (the message gives the limit)."""


class DaemonBusyError(PhotoStyleClientError):
    """The daemon's line or its call slots are full; try again later or use another daemon."""


class DeviceOutOfMemoryError(PhotoStyleClientError):
    """The engine ran out of (GPU) memory on this job; the daemon is still up."""


class CancelledError(PhotoStyleClientError):
    """The job was cancelled (by this client, or by the daemon shutting down)."""


class DaemonError(PhotoStyleClientError):
    """Anything else the daemon reported; the subclasses say what it was."""


class DaemonSetupError(DaemonError):
    """The daemon itself is not set up to work (its model weights cannot be loaded): its owner must act."""


class StalledError(DaemonError):
    """The daemon heard nothing from this client for too long while it sent its request, and dropped it."""


class DaemonBugError(DaemonError):
    """The daemon hit a bug on this job; it keeps running, and its log has the details."""


#: Every kind the daemon names, mapped to what the client raises (a test checks none is missing).
_BY_KIND: dict[ErrorKind, type[PhotoStyleClientError]] = {
    ErrorKind.INPUT: InvalidRequestError,
    ErrorKind.OPTIONS: InvalidRequestError,
    ErrorKind.MASK: InvalidMasksError,
    ErrorKind.TOO_LARGE: TooLargeError,
    ErrorKind.BUSY: DaemonBusyError,
    ErrorKind.OUT_OF_MEMORY: DeviceOutOfMemoryError,
    ErrorKind.CANCELLED: CancelledError,
    ErrorKind.SHUTTING_DOWN: DaemonDiedError,
    ErrorKind.TOKEN: AuthenticationError,
    ErrorKind.WEIGHTS: DaemonSetupError,
    ErrorKind.STALLED: StalledError,
    ErrorKind.INTERNAL: DaemonBugError,
}

_BY_CODE: dict[grpc.StatusCode, type[PhotoStyleClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TooLargeError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: AuthenticationError,
    grpc.StatusCode.CANCELLED: CancelledError,
}


def from_rpc_error(error: grpc.Call, where: str, job_started: bool) -> PhotoStyleClientError:
    """Turn a failed call into the matching client error.

    `where` names the daemon address(es) for the message; `job_started` tells a daemon that
    died mid-job from one that was never there.
    """
    code = error.code()
    details = error.details() or ""
    kind = _kind(dict(error.trailing_metadata() or ()).get(ERROR_KIND_METADATA_KEY))
    if kind is not None:
        return _BY_KIND[kind](details, details)
    if code == grpc.StatusCode.UNAVAILABLE:
        if job_started:
            return DaemonDiedError(
                f"The PhotoStyle daemon at {where} stopped while working on this job (it crashed or was shut "
                f"down); nothing was changed. Start it again with `{START_COMMAND}` and retry.", details)
        return DaemonUnavailableError(
            f"No PhotoStyle daemon is answering at {where}. Start one with `{START_COMMAND}`, or check the "
            f"address, port and TLS settings. ({details})", details)
    if code == grpc.StatusCode.CANCELLED and (not details or "Locally cancelled" in details):
        return CancelledError(CANCELLED_MESSAGE, details)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return DaemonError(f"The PhotoStyle daemon at {where} does not offer this call: it is older than this "
                           "client. Update PhotoStyle where the daemon runs and restart it.", details)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationError(details or "The daemon refused this client's token.", details)
    return _BY_CODE.get(code, DaemonError)(details or f"The daemon failed with {code.name}.", details)


def _kind(value: str | None) -> ErrorKind | None:
    """The ErrorKind named in the metadata; None when there is none or it is newer than this client."""
    try:
        return ErrorKind(value)
    except ValueError:
        return None
