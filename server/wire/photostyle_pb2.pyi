from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SampleType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_TYPE_UNSPECIFIED: _ClassVar[SampleType]
    SAMPLE_TYPE_UINT8: _ClassVar[SampleType]
    SAMPLE_TYPE_UINT16: _ClassVar[SampleType]
    SAMPLE_TYPE_FLOAT32: _ClassVar[SampleType]

class ChannelLayout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_LAYOUT_UNSPECIFIED: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_GREY: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_GREY_ALPHA: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_RGB: _ClassVar[ChannelLayout]
    CHANNEL_LAYOUT_RGBA: _ClassVar[ChannelLayout]

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODING_RAW: _ClassVar[Encoding]
    ENCODING_PNG: _ClassVar[Encoding]
    ENCODING_JPEG: _ClassVar[Encoding]

class RegionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGION_MODE_GIVEN: _ClassVar[RegionMode]
    REGION_MODE_AUTO: _ClassVar[RegionMode]

class Interpolation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_TRILINEAR: _ClassVar[Interpolation]
    INTERPOLATION_TETRAHEDRAL: _ClassVar[Interpolation]

class LookFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOOK_FORMAT_CUBE: _ClassVar[LookFormat]
    LOOK_FORMAT_HALD_PNG: _ClassVar[LookFormat]
SAMPLE_TYPE_UNSPECIFIED: SampleType
SAMPLE_TYPE_UINT8: SampleType
SAMPLE_TYPE_UINT16: SampleType
SAMPLE_TYPE_FLOAT32: SampleType
CHANNEL_LAYOUT_UNSPECIFIED: ChannelLayout
CHANNEL_LAYOUT_GREY: ChannelLayout
CHANNEL_LAYOUT_GREY_ALPHA: ChannelLayout
CHANNEL_LAYOUT_RGB: ChannelLayout
CHANNEL_LAYOUT_RGBA: ChannelLayout
ENCODING_RAW: Encoding
ENCODING_PNG: Encoding
ENCODING_JPEG: Encoding
REGION_MODE_GIVEN: RegionMode
REGION_MODE_AUTO: RegionMode
INTERPOLATION_TRILINEAR: Interpolation
INTERPOLATION_TETRAHEDRAL: Interpolation
LOOK_FORMAT_CUBE: LookFormat
LOOK_FORMAT_HALD_PNG: LookFormat

class ImageInfo(_message.Message):
    __slots__ = ("width", "height", "layout", "sample_type", "encoding", "size_bytes")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    layout: ChannelLayout
    sample_type: SampleType
    encoding: Encoding
    size_bytes: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., layout: _Optional[_Union[ChannelLayout, str]] = ..., sample_type: _Optional[_Union[SampleType, str]] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class Region(_message.Message):
    __slots__ = ("name", "content_mask", "style_mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_MASK_FIELD_NUMBER: _ClassVar[int]
    STYLE_MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_mask: ImageInfo
    style_mask: ImageInfo
    def __init__(self, name: _Optional[str] = ..., content_mask: _Optional[_Union[ImageInfo, _Mapping]] = ..., style_mask: _Optional[_Union[ImageInfo, _Mapping]] = ...) -> None: ...

class TransferOptions(_message.Message):
    __slots__ = ("preset", "size", "seed", "smooth", "preview_every", "preview_size", "regions", "iterations", "keep_brightness", "look_size")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SMOOTH_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    KEEP_BRIGHTNESS_FIELD_NUMBER: _ClassVar[int]
    LOOK_SIZE_FIELD_NUMBER: _ClassVar[int]
    preset: str
    size: int
    seed: int
    smooth: bool
    preview_every: int
    preview_size: int
    regions: RegionMode
    iterations: int
    keep_brightness: bool
    look_size: int
    def __init__(self, preset: _Optional[str] = ..., size: _Optional[int] = ..., seed: _Optional[int] = ..., smooth: _Optional[bool] = ..., preview_every: _Optional[int] = ..., preview_size: _Optional[int] = ..., regions: _Optional[_Union[RegionMode, str]] = ..., iterations: _Optional[int] = ..., keep_brightness: _Optional[bool] = ..., look_size: _Optional[int] = ...) -> None: ...

class TransferSetup(_message.Message):
    __slots__ = ("options", "content", "style", "regions")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    options: TransferOptions
    content: ImageInfo
    style: ImageInfo
    regions: _containers.RepeatedCompositeFieldContainer[Region]
    def __init__(self, options: _Optional[_Union[TransferOptions, _Mapping]] = ..., content: _Optional[_Union[ImageInfo, _Mapping]] = ..., style: _Optional[_Union[ImageInfo, _Mapping]] = ..., regions: _Optional[_Iterable[_Union[Region, _Mapping]]] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("setup", "chunk")
    SETUP_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    setup: TransferSetup
    chunk: Chunk
    def __init__(self, setup: _Optional[_Union[TransferSetup, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class Queued(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class SendPixels(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "stage_index", "stage_count", "iteration", "iterations", "fraction", "losses", "loss")
    class LossesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    STAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    stage_index: int
    stage_count: int
    iteration: int
    iterations: int
    fraction: float
    losses: _containers.ScalarMap[str, float]
    loss: float
    def __init__(self, stage: _Optional[str] = ..., stage_index: _Optional[int] = ..., stage_count: _Optional[int] = ..., iteration: _Optional[int] = ..., iterations: _Optional[int] = ..., fraction: _Optional[float] = ..., losses: _Optional[_Mapping[str, float]] = ..., loss: _Optional[float] = ...) -> None: ...

class Preview(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: ImageInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[ImageInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TransferResult(_message.Message):
    __slots__ = ("image", "notes", "seconds", "device", "working_width", "working_height", "regions", "look_cube", "look_fidelity")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    WORKING_WIDTH_FIELD_NUMBER: _ClassVar[int]
    WORKING_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    LOOK_CUBE_FIELD_NUMBER: _ClassVar[int]
    LOOK_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    image: ImageInfo
    notes: _containers.RepeatedScalarFieldContainer[str]
    seconds: float
    device: str
    working_width: int
    working_height: int
    regions: _containers.RepeatedCompositeFieldContainer[Region]
    look_cube: bytes
    look_fidelity: LookFidelity
    def __init__(self, image: _Optional[_Union[ImageInfo, _Mapping]] = ..., notes: _Optional[_Iterable[str]] = ..., seconds: _Optional[float] = ..., device: _Optional[str] = ..., working_width: _Optional[int] = ..., working_height: _Optional[int] = ..., regions: _Optional[_Iterable[_Union[Region, _Mapping]]] = ..., look_cube: _Optional[bytes] = ..., look_fidelity: _Optional[_Union[LookFidelity, _Mapping]] = ...) -> None: ...

class LookFidelity(_message.Message):
    __slots__ = ("median", "p95")
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    median: float
    p95: float
    def __init__(self, median: _Optional[float] = ..., p95: _Optional[float] = ...) -> None: ...

class TransferEvent(_message.Message):
    __slots__ = ("queued", "progress", "preview", "result", "chunk", "send_pixels")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SEND_PIXELS_FIELD_NUMBER: _ClassVar[int]
    queued: Queued
    progress: Progress
    preview: Preview
    result: TransferResult
    chunk: Chunk
    send_pixels: SendPixels
    def __init__(self, queued: _Optional[_Union[Queued, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., preview: _Optional[_Union[Preview, _Mapping]] = ..., result: _Optional[_Union[TransferResult, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., send_pixels: _Optional[_Union[SendPixels, _Mapping]] = ...) -> None: ...

class ApplyLookSetup(_message.Message):
    __slots__ = ("image", "look_format", "look_bytes", "interpolation")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    LOOK_FORMAT_FIELD_NUMBER: _ClassVar[int]
    LOOK_BYTES_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    image: ImageInfo
    look_format: LookFormat
    look_bytes: int
    interpolation: Interpolation
    def __init__(self, image: _Optional[_Union[ImageInfo, _Mapping]] = ..., look_format: _Optional[_Union[LookFormat, str]] = ..., look_bytes: _Optional[int] = ..., interpolation: _Optional[_Union[Interpolation, str]] = ...) -> None: ...

class ApplyLookRequest(_message.Message):
    __slots__ = ("setup", "chunk")
    SETUP_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    setup: ApplyLookSetup
    chunk: Chunk
    def __init__(self, setup: _Optional[_Union[ApplyLookSetup, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class ApplyLookResult(_message.Message):
    __slots__ = ("image", "seconds")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    image: ImageInfo
    seconds: float
    def __init__(self, image: _Optional[_Union[ImageInfo, _Mapping]] = ..., seconds: _Optional[float] = ...) -> None: ...

class ApplyLookEvent(_message.Message):
    __slots__ = ("result", "chunk")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    result: ApplyLookResult
    chunk: Chunk
    def __init__(self, result: _Optional[_Union[ApplyLookResult, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class SequenceSetup(_message.Message):
    __slots__ = ("options", "style", "frame_count", "fps", "keyframes", "keyframe_every")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_EVERY_FIELD_NUMBER: _ClassVar[int]
    options: TransferOptions
    style: ImageInfo
    frame_count: int
    fps: float
    keyframes: _containers.RepeatedScalarFieldContainer[int]
    keyframe_every: float
    def __init__(self, options: _Optional[_Union[TransferOptions, _Mapping]] = ..., style: _Optional[_Union[ImageInfo, _Mapping]] = ..., frame_count: _Optional[int] = ..., fps: _Optional[float] = ..., keyframes: _Optional[_Iterable[int]] = ..., keyframe_every: _Optional[float] = ...) -> None: ...

class SequenceRequest(_message.Message):
    __slots__ = ("setup", "frame", "chunk")
    SETUP_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    setup: SequenceSetup
    frame: ImageInfo
    chunk: Chunk
    def __init__(self, setup: _Optional[_Union[SequenceSetup, _Mapping]] = ..., frame: _Optional[_Union[ImageInfo, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ...) -> None: ...

class SequencePlanned(_message.Message):
    __slots__ = ("cuts", "keyframes")
    CUTS_FIELD_NUMBER: _ClassVar[int]
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    cuts: _containers.RepeatedScalarFieldContainer[int]
    keyframes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, cuts: _Optional[_Iterable[int]] = ..., keyframes: _Optional[_Iterable[int]] = ...) -> None: ...

class SendFrames(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StyledFrame(_message.Message):
    __slots__ = ("index", "image")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    image: ImageInfo
    def __init__(self, index: _Optional[int] = ..., image: _Optional[_Union[ImageInfo, _Mapping]] = ...) -> None: ...

class SequenceDone(_message.Message):
    __slots__ = ("notes", "seconds", "device")
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    notes: _containers.RepeatedScalarFieldContainer[str]
    seconds: float
    device: str
    def __init__(self, notes: _Optional[_Iterable[str]] = ..., seconds: _Optional[float] = ..., device: _Optional[str] = ...) -> None: ...

class SequenceEvent(_message.Message):
    __slots__ = ("queued", "send_pixels", "progress", "planned", "send_frames", "frame", "chunk", "done")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    SEND_PIXELS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PLANNED_FIELD_NUMBER: _ClassVar[int]
    SEND_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    queued: Queued
    send_pixels: SendPixels
    progress: Progress
    planned: SequencePlanned
    send_frames: SendFrames
    frame: StyledFrame
    chunk: Chunk
    done: SequenceDone
    def __init__(self, queued: _Optional[_Union[Queued, _Mapping]] = ..., send_pixels: _Optional[_Union[SendPixels, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., planned: _Optional[_Union[SequencePlanned, _Mapping]] = ..., send_frames: _Optional[_Union[SendFrames, _Mapping]] = ..., frame: _Optional[_Union[StyledFrame, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., done: _Optional[_Union[SequenceDone, _Mapping]] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Preset(_message.Message):
    __slots__ = ("name", "description", "size", "iterations", "method", "options")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    size: int
    iterations: int
    method: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., size: _Optional[int] = ..., iterations: _Optional[int] = ..., method: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class OptionSpec(_message.Message):
    __slots__ = ("name", "kind", "label", "help", "default", "minimum", "maximum", "unit", "choices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    label: str
    help: str
    default: str
    minimum: int
    maximum: int
    unit: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., label: _Optional[str] = ..., help: _Optional[str] = ..., default: _Optional[str] = ..., minimum: _Optional[int] = ..., maximum: _Optional[int] = ..., unit: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_pixels", "min_side", "max_regions", "max_working_size", "max_iterations", "chunk_bytes", "max_message_bytes", "max_jobs", "upload_idle_seconds", "max_look_bytes", "max_frames")
    MAX_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MIN_SIDE_FIELD_NUMBER: _ClassVar[int]
    MAX_REGIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORKING_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_IDLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_LOOK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAMES_FIELD_NUMBER: _ClassVar[int]
    max_pixels: int
    min_side: int
    max_regions: int
    max_working_size: int
    max_iterations: int
    chunk_bytes: int
    max_message_bytes: int
    max_jobs: int
    upload_idle_seconds: float
    max_look_bytes: int
    max_frames: int
    def __init__(self, max_pixels: _Optional[int] = ..., min_side: _Optional[int] = ..., max_regions: _Optional[int] = ..., max_working_size: _Optional[int] = ..., max_iterations: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_jobs: _Optional[int] = ..., upload_idle_seconds: _Optional[float] = ..., max_look_bytes: _Optional[int] = ..., max_frames: _Optional[int] = ...) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("engine_version", "api_version", "device", "presets", "limits", "sample_types", "encodings", "jobs_in_line", "instance", "options", "default_preset", "looks", "sequences")
    ENGINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TYPES_FIELD_NUMBER: _ClassVar[int]
    ENCODINGS_FIELD_NUMBER: _ClassVar[int]
    JOBS_IN_LINE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PRESET_FIELD_NUMBER: _ClassVar[int]
    LOOKS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    engine_version: str
    api_version: str
    device: str
    presets: _containers.RepeatedCompositeFieldContainer[Preset]
    limits: Limits
    sample_types: _containers.RepeatedScalarFieldContainer[SampleType]
    encodings: _containers.RepeatedScalarFieldContainer[Encoding]
    jobs_in_line: int
    instance: str
    options: _containers.RepeatedCompositeFieldContainer[OptionSpec]
    default_preset: str
    looks: bool
    sequences: bool
    def __init__(self, engine_version: _Optional[str] = ..., api_version: _Optional[str] = ..., device: _Optional[str] = ..., presets: _Optional[_Iterable[_Union[Preset, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., sample_types: _Optional[_Iterable[_Union[SampleType, str]]] = ..., encodings: _Optional[_Iterable[_Union[Encoding, str]]] = ..., jobs_in_line: _Optional[int] = ..., instance: _Optional[str] = ..., options: _Optional[_Iterable[_Union[OptionSpec, _Mapping]]] = ..., default_preset: _Optional[str] = ..., looks: _Optional[bool] = ..., sequences: _Optional[bool] = ...) -> None: ...
