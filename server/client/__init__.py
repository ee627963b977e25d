"""PhotoStyle's client library: talk to the engine daemon (`photostyle serve`) over gRPC.

Shared by `photostyle transfer --server` and the GIMP and Krita plug-ins, which vendor this
folder as-is: it needs only grpcio (>= 1.51) and protobuf (>= 4.21), and imports relatively.
The plug-ins' shared logic lives here too, in pure Python: `Controller` (what Preview, Run and
Cancel do, Save look / Apply look, and Run on an animation, over the `ClientProtocol` a fake can
stand in for), `sequences` (frames captured from a host's animation, styled in one job),
`composite_preview`, `regions_to_send`, `placed_mask`, `check_result`, and `looks` (look files in
the hosts: `with_look`, `read_look`, `write_look`, `apply_look_file`, `look_layer_name`).

    from photostyle.server.client import Client, Image, Options
    with Client("127.0.0.1:50151") as client:
        call = client.transfer(Image(w, h, 4, "uint16", layer_bytes), Image(...), options=Options(size=512))
        result = call.result(on_event=print)  # Queued / Progress / Preview events on the way
        new_bytes = result.image.data
"""

from .client import Client, Options, TransferCall
from .errors import (AuthenticationError, CancelledError, DaemonBugError, DaemonBusyError, DaemonDiedError,
                     DaemonError, DaemonSetupError, DaemonUnavailableError, DeviceOutOfMemoryError, InputError,
                     InvalidMasksError, InvalidRequestError, PhotoStyleClientError, StalledError, TooLargeError)
from .events import (Event, LookFidelity, Preview, Progress, Queued, Result, SequenceDone, SequenceEvent,
                     SequencePlanned, StyledFrame)
from .sequence_call import FrameSource, SequenceCall
from photostyle.server.wire.images import EncodedImage, Image, Region
from .controller import (Capture, Controller, Delivery, Host, LayerCapture, Loop, LookHost, PreviewHost, SequenceHost,
                         State, explain, preset_choices, status_text)
from .sequences import DEFAULT_FPS, FramesCapture, StyledSequence, check_frames, named_frame_rate, styled_sequence
from .looks import (INTERPOLATION_CHOICES, LOOK_FILES, LOOK_SIZE, KeptLook, apply_look_file, kept_look, look_kind,
                    look_layer_name, read_look, saved_look_path, with_look, write_look)
from .host_pixels import check_result, composite_preview, placed_mask
from .live_preview import LIVE_PREVIEW_PRESET, LIVE_PREVIEW_SIDE, live_preview_options, live_preview_scale
from .protocol import CallProtocol, ClientProtocol, Connector, SequenceCallProtocol
from .regions import (DEFAULT_REGION_CHOICE, REGION_CHOICES, SELECTION_REGION, RegionPlan, check_found_regions,
                      is_auto_region, plan_regions, regions_to_send)
from photostyle.server.wire.contract import DEFAULT_ADDRESS, DEFAULT_PORT

__all__ = [
    "AuthenticationError", "CancelledError", "Client", "DEFAULT_ADDRESS", "DEFAULT_PORT", "DaemonBugError",
    "DaemonBusyError", "DaemonDiedError", "DaemonError", "DaemonSetupError", "StalledError", "DaemonUnavailableError", "DeviceOutOfMemoryError", "EncodedImage", "Event",
    "Image", "InvalidMasksError", "InvalidRequestError", "LIVE_PREVIEW_PRESET", "LIVE_PREVIEW_SIDE", "Options",
    "PhotoStyleClientError", "Preview", "Progress", "Queued", "Region", "Result", "TooLargeError", "TransferCall",
    "live_preview_options", "live_preview_scale",
    "DEFAULT_REGION_CHOICE", "REGION_CHOICES", "SELECTION_REGION", "RegionPlan", "check_found_regions",
    "is_auto_region", "plan_regions", "regions_to_send",
    "CallProtocol", "Capture", "ClientProtocol", "Connector", "Controller", "Delivery", "Host", "InputError", "Loop", "PreviewHost",
    "State", "LayerCapture", "LookHost", "LookFidelity", "LOOK_FILES", "LOOK_SIZE", "KeptLook", "apply_look_file",
    "kept_look", "look_kind", "look_layer_name", "read_look", "with_look", "write_look", "INTERPOLATION_CHOICES",
    "saved_look_path", "check_result", "composite_preview", "explain", "placed_mask", "preset_choices", "status_text",
    "FrameSource", "SequenceCall", "SequenceCallProtocol", "SequenceDone", "SequenceEvent", "SequencePlanned",
    "StyledFrame", "DEFAULT_FPS", "FramesCapture", "SequenceHost", "StyledSequence", "check_frames", "named_frame_rate",
    "styled_sequence",
]
