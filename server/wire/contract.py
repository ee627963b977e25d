"""What client and daemon agree on beyond the .proto: addresses, method paths, sizes, metadata,
and the kinds of error.

No `_pb2_grpc.py` is generated (see proto/generate.py): both sides bind the methods by path,
which works the same on grpcio 1.51 (GIMP's and Krita's Debian Python) and on current grpcio.
"""

from __future__ import annotations

from enum import Enum

from . import photostyle_pb2 as pb

API_VERSION = pb.DESCRIPTOR.package  # "photostyle.v1"
SERVICE = pb.DESCRIPTOR.services_by_name["PhotoStyle"].full_name
CAPABILITIES_PATH = f"/{SERVICE}/GetCapabilities"
TRANSFER_PATH = f"/{SERVICE}/Transfer"
APPLY_LOOK_PATH = f"/{SERVICE}/ApplyLook"
SEQUENCE_PATH = f"/{SERVICE}/StyleSequence"

DEFAULT_PORT = 50151
DEFAULT_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
START_COMMAND = "photostyle serve"

#: Pixel bytes per Chunk message. Measured on loopback (benchmarks/transport.py), 256 KiB moves
#: ~400 MB/s each way; 1 MiB ~260 MB/s and 4 MiB ~200 MB/s (bigger messages cost more copying
#: and allocation than they save in per-message overhead).
CHUNK_BYTES = 256 << 10
#: gRPC's per-message limit on both ends, raised from its 4 MB default so that peers with bigger
#: chunks and the largest previews (1024 px) fit.
MAX_MESSAGE_BYTES = 16 << 20

#: What a cancelled job tells its user, whoever cancelled it (the client, its user, the daemon).
CANCELLED_MESSAGE = "The job was cancelled; nothing was changed."

#: The shared token travels as `authorization: Bearer <token>` call metadata.
TOKEN_METADATA_KEY = "authorization"
#: Trailing metadata naming what kind of error a failed call hit (an ErrorKind value).
ERROR_KIND_METADATA_KEY = "photostyle-error"


class ErrorKind(str, Enum):
    """What went wrong with a call, as the daemon names it in the trailing metadata.

    The one vocabulary of both sides: the daemon fails calls only with these, and the client
    (client/errors.py) maps each to an exception class a host can act on. The values are the
    wire strings, so a client older than a new kind still reads the gRPC status code.
    """

    INPUT = "input"  # an image is malformed, unreadable or of the wrong shape
    OPTIONS = "options"  # an option is unknown or out of range
    MASK = "mask"  # region masks do not fit their images or do not pair up
    TOO_LARGE = "too-large"  # an image or file is above the daemon's limits
    BUSY = "busy"  # the daemon's line or its call slots are full
    OUT_OF_MEMORY = "out-of-memory"  # the device ran out of memory on this job
    CANCELLED = "cancelled"  # the job was cancelled
    SHUTTING_DOWN = "shutting-down"  # the daemon stopped while the job waited or ran
    TOKEN = "token"  # missing or wrong shared token
    WEIGHTS = "weights"  # the daemon's model weights cannot be loaded
    STALLED = "upload-stalled"  # the client went silent while sending its setup or pixels
    INTERNAL = "internal"  # a bug in the daemon; it keeps running



def clean_token(token: str) -> str:
    """`token` without the whitespace around it (a file's or a paste's trailing newline); ValueError
    naming the rule unless what is left can travel in call metadata: printable ASCII, no spaces.
    Both the daemon and its clients apply it where a token is given, so they agree on one."""
    cleaned = token.strip()
    if not cleaned:
        raise ValueError("The token is blank; a token must be printable ASCII without spaces.")
    if not all("!" <= character <= "~" for character in cleaned):
        raise ValueError("The token holds a space, a tab or a character outside ASCII; a token must be printable "
                         "ASCII without spaces (letters, digits and punctuation).")
    return cleaned


def token_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `token` (see `clean_token`), or none."""
    return ((TOKEN_METADATA_KEY, f"Bearer {clean_token(token)}"),) if token else ()
