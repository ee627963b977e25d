"""Property-based fuzzing (Hypothesis) of the code that reads untrusted bytes: the daemon's request
decoding and setup checks, the image file readers, and the daemon's pixel decoding; and of the
path handling of the command line's inputs and outputs (names of any length and encoding, links).

Each must answer any input with a result within its limits or its own error class (RequestError,
DecodeError, InputImageError): never another exception, never MemoryError, never minutes spent
decoding what a small file's header promises. CI runs a bounded number of examples; set
HYPOTHESIS_PROFILE=long for a deeper run.
"""

from __future__ import annotations

import os
import re
import resource
import tempfile
import time
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Iterator

import grpc
import numpy as np
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from hostile_files import (PNG_SIGNATURE, SAMPLE_FILES, tiff_without_width, with_jpeg_size, with_png_size,
                           with_tiff_size)
from daemon_fixtures import photo
from photostyle.core import InputImageError, check_output_path, load_image, save_image
from photostyle.core.images import MIN_WORKING_SIDE
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.contract import ErrorKind
from photostyle.server.daemon import Limits
from photostyle.server.daemon.pixels import to_array
from photostyle.server.daemon.validation import Blob, Plan, RequestError, check_image, check_setup, raw_size

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

INT32 = st.integers(-2**31, 2**31 - 1)
INT64_MAX = 2**63 - 1
INT64 = st.integers(-2**63, INT64_MAX)
SEED_MAX = INT64_MAX  # the agreed range of seeds: 0 to the wire's int64 maximum
#: A reader's pixel limit for the fuzzed files: far below any mutated header's claims.
READ_LIMIT = 1_000_000
#: Seconds one read may take: a 64 px file decodes in milliseconds, a bomb in minutes.
READ_SECONDS = 10


def edgy(values: list[int], base: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """`base`, with the boundary values that break range checks drawn often."""
    return st.one_of(st.sampled_from(values), base)


SIDES = edgy([0, 1, -1, 63, 64, 65, 8000, 2**16, 2**31 - 1, -2**31], INT32)
LAYOUTS = edgy([0, 1, 2, 3, 4, 5, -1], INT32)
SAMPLE_TYPES = edgy([0, 1, 2, 3, 4, -1], INT32)
ENCODINGS = edgy([pb.ENCODING_RAW, pb.ENCODING_PNG, pb.ENCODING_JPEG, 3, -1], INT32)


# --- The daemon's setup checks ------------------------------------------------------------------

@st.composite
def image_infos(draw: st.DrawFn) -> pb.ImageInfo:
    """Image headers: often consistent (size_bytes as the pixels take), otherwise anything."""
    info = pb.ImageInfo(width=draw(SIDES), height=draw(SIDES), layout=draw(LAYOUTS), sample_type=draw(SAMPLE_TYPES),
                        encoding=draw(ENCODINGS))
    consistent = (info.encoding == pb.ENCODING_RAW and 1 <= info.layout <= 4 and 1 <= info.sample_type <= 3
                  and 0 <= raw_size(info) <= INT64_MAX)
    if consistent and draw(st.booleans()):
        info.size_bytes = raw_size(info)
    else:
        info.size_bytes = draw(edgy([0, 1, -1, 2**62, INT64_MAX], INT64))
    return info


def mask_like(image: pb.ImageInfo) -> pb.ImageInfo:
    """A well-formed raw 8-bit grey mask header for `image`."""
    return pb.ImageInfo(width=image.width, height=image.height, layout=pb.CHANNEL_LAYOUT_GREY,
                        sample_type=pb.SAMPLE_TYPE_UINT8, size_bytes=max(image.width * image.height, 0))


@st.composite
def options(draw: st.DrawFn) -> pb.TransferOptions:
    """Wire options with every number anywhere in its type's range, boundaries often."""
    wire = pb.TransferOptions(preset=draw(st.sampled_from(["", "default", "preview", "classic", "fancy"]) | st.text()),
                              seed=draw(edgy([0, -1, SEED_MAX, -2**63], INT64)),
                              preview_every=draw(edgy([0, -1], INT32)), preview_size=draw(edgy([0, 1024, 1025], INT32)),
                              regions=draw(edgy([0, 1, 2, -1], INT32)))
    for name, values in (("size", [0, 31, 32, 2048, 2049]), ("iterations", [-1, 0, 5000, 5001])):
        value = draw(st.none() | edgy(values, INT32))
        if value is not None:
            setattr(wire, name, value)
    if draw(st.booleans()):
        wire.smooth = draw(st.booleans())
    return wire


@st.composite
def setups(draw: st.DrawFn) -> pb.TransferSetup:
    """Setups with images and masks missing, mismatched or well formed, and clashing region names."""
    setup = pb.TransferSetup(options=draw(options()))
    for side in ("content", "style"):
        if draw(st.integers(0, 9)):  # mostly present
            getattr(setup, side).CopyFrom(draw(image_infos()))
    names = st.sampled_from(["sky", "sky", "", "ground"]) | st.text(max_size=12)
    for _ in range(draw(st.integers(0, 20))):
        region = setup.regions.add(name=draw(names))
        for side in ("content", "style"):
            choice = draw(st.integers(0, 3))
            if choice == 1:
                getattr(region, f"{side}_mask").CopyFrom(mask_like(getattr(setup, side)))
            elif choice >= 2:
                getattr(region, f"{side}_mask").CopyFrom(draw(image_infos()))
    return setup


def assert_readable_refusal(error: RequestError) -> None:
    assert error.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), error.code
    assert isinstance(error.kind, ErrorKind)
    assert error.message and "\n" not in error.message and "Traceback" not in error.message


def assert_within_limits(plan: Plan, limits: Limits) -> None:
    """What a Plan the daemon accepts may hold: every blob and option within the limits."""
    assert len(plan.region_names) <= limits.max_regions
    assert all(plan.region_names) and len(set(plan.region_names)) == len(plan.region_names)
    assert len(plan.blobs) == 2 + 2 * len(plan.region_names)
    for blob in plan.blobs:
        info = blob.info
        if info.encoding == pb.ENCODING_RAW:
            assert 0 < info.width and 0 < info.height and info.width * info.height <= limits.max_pixels
            assert info.size_bytes == raw_size(info)
        else:
            assert 0 < info.size_bytes <= limits.max_encoded_bytes()
    assert plan.total_bytes <= len(plan.blobs) * limits.max_encoded_bytes()
    values = plan.options.values  # the options' effective values, as the job will run
    assert 0 <= values["seed"] <= SEED_MAX
    assert MIN_WORKING_SIDE <= values["size"] == plan.options.preset.size <= limits.max_working_size
    assert 0 <= values["iterations"] <= limits.max_iterations
    assert values["preview_every"] >= 0 and 0 < values["preview_size"] <= 1024
    assert values["regions"] in ("given", "auto")


def check_or_refuse(setup: pb.TransferSetup, limits: Limits = Limits()) -> None:
    try:
        plan = check_setup(setup, limits)
    except RequestError as error:
        assert_readable_refusal(error)
        return
    assert_within_limits(plan, limits)


#: Daemon limits to check against, from tight (below every preset's working size) to the defaults.
LIMITS = st.builds(Limits, max_pixels=st.sampled_from([64 * 64, 10_000, 64_000_000]),
                   max_regions=st.sampled_from([0, 1, 16]), max_working_size=st.sampled_from([48, 512, 2048]),
                   max_iterations=st.sampled_from([0, 100, 5000]))


@given(setups(), LIMITS)
def test_setup_checks_refuse_or_plan_within_the_limits(setup: pb.TransferSetup, limits: Limits) -> None:
    check_or_refuse(setup, limits)


# --- Mutated files -------------------------------------------------------------------------------

#: Mutations land in a file's first bytes half the time: its headers are what a reader trusts.
HEADER_BYTES = 512
SIZES = edgy([0, 1, 64, 20000, 65535, 2**31 - 1, 2**32 - 1], st.integers(0, 2**32 - 1))


@st.composite
def mutated(draw: st.DrawFn, samples: dict[str, bytes]) -> bytes:
    """One of `samples`, perhaps declaring another size, with a few bytes flipped, inserted or cut."""
    data = samples[draw(st.sampled_from(sorted(samples)))]
    if draw(st.booleans()):
        data = _resized(data, draw(SIZES), draw(SIZES))
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        last = max(len(data) - 1, 0)
        where = draw(st.integers(0, min(last, HEADER_BYTES)) | st.integers(0, last))  # headers break readers
        change = draw(st.sampled_from(["flip", "insert", "cut", "truncate"]))
        if change == "flip" and data:
            data[where] ^= draw(st.integers(1, 255))
        elif change == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif change == "cut":
            del data[where:where + draw(st.integers(1, 64))]
        elif change == "truncate":
            del data[where:]
    return bytes(data)


def _resized(data: bytes, width: int, height: int) -> bytes:
    """A valid file's bytes with its header declaring `width`×`height` (other bytes unchanged)."""
    if data.startswith(PNG_SIGNATURE):
        return with_png_size(data, width, height)
    if data.startswith(b"\xff\xd8"):
        return with_jpeg_size(data, width, height)
    if data.startswith(b"II*\x00"):
        return with_tiff_size(data, width, height)
    return data


# --- The request decoder -------------------------------------------------------------------------

VALID_REQUEST = pb.TransferRequest(setup=pb.TransferSetup(
    options=pb.TransferOptions(preset="default", size=64, seed=7),
    content=pb.ImageInfo(width=96, height=80, layout=3, sample_type=1, size_bytes=23040),
    style=pb.ImageInfo(encoding=pb.ENCODING_PNG, size_bytes=5000),
    regions=[pb.Region(name="sky", content_mask=pb.ImageInfo(width=96, height=80, layout=1, sample_type=1,
                                                             size_bytes=7680),
                       style_mask=pb.ImageInfo(width=70, height=90, layout=1, sample_type=1, size_bytes=6300))],
)).SerializeToString()

@given(st.binary(max_size=512) | mutated({"setup": VALID_REQUEST}))
def test_request_bytes_are_decoded_or_refused(data: bytes) -> None:
    try:
        request = pb.TransferRequest.FromString(data)
    except DecodeError:
        return
    if request.WhichOneof("part") == "setup":
        check_or_refuse(request.setup)


# --- The image readers ---------------------------------------------------------------------------

def _address_space() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024


@contextmanager
def bounded(extra_bytes: int = 1 << 30, seconds: float = READ_SECONDS) -> Iterator[None]:
    """The body may take only `extra_bytes` more address space (beyond it, allocations raise
    MemoryError rather than take the shared machine's memory) and must end within `seconds`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + extra_bytes, hard))
    started = time.monotonic()
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert time.monotonic() - started < seconds, f"took {time.monotonic() - started:.1f} s"


def assert_image_array(array: np.ndarray, max_pixels: int) -> None:
    assert array.ndim == 3 and 1 <= array.shape[2] <= 4, array.shape
    assert array.dtype in (np.uint8, np.uint16, np.float32), array.dtype
    assert 0 < array.shape[0] * array.shape[1] <= max_pixels


@given(st.binary(max_size=2048) | mutated(SAMPLE_FILES))
@example(tiff_without_width(np.zeros((8, 8, 3), np.uint8)))  # found by this test
def test_image_files_are_read_or_refused(data: bytes) -> None:
    try:
        with bounded():
            array = load_image(BytesIO(data), max_pixels=READ_LIMIT)
    except InputImageError:
        return
    assert_image_array(array, READ_LIMIT)


# --- The daemon's pixel path ---------------------------------------------------------------------

ENCODED_SAMPLES = {name: data for name, data in SAMPLE_FILES.items() if "PNG" in name or "JPEG" in name}


@st.composite
def blobs(draw: st.DrawFn) -> tuple[Blob, bytes]:
    """A mask-sized raw blob with random bytes, or a PNG/JPEG blob with mutated or random bytes,
    its size_bytes as received (the upload delivers exactly what the setup declared)."""
    if draw(st.booleans()):
        info = pb.ImageInfo(width=draw(st.integers(1, 24)), height=draw(st.integers(1, 24)),
                            layout=draw(st.integers(1, 4)), sample_type=draw(st.integers(1, 3)))
        info.size_bytes = raw_size(info)
        data = draw(st.binary(min_size=info.size_bytes, max_size=info.size_bytes))
    else:
        data = draw(mutated(ENCODED_SAMPLES) | st.binary(max_size=512))
        info = pb.ImageInfo(encoding=draw(st.sampled_from([pb.ENCODING_PNG, pb.ENCODING_JPEG])),
                            size_bytes=len(data))
    return Blob("The fuzzed image", info), data


@given(blobs())
def test_received_pixels_become_an_array_or_a_refusal(blob_and_data: tuple[Blob, bytes]) -> None:
    blob, data = blob_and_data
    limits = Limits(max_pixels=READ_LIMIT)
    try:
        check_image(blob.info, blob.what, limits, min_side=1)  # what the setup check does first
        with bounded():
            array = to_array(blob, bytearray(data), limits)
    except RequestError as error:
        assert_readable_refusal(error)
        return
    assert_image_array(array, limits.max_pixels)
    if blob.info.encoding == pb.ENCODING_RAW:
        assert array.shape == (blob.info.height, blob.info.width, blob.info.layout)


# --- Output and input paths --------------------------------------------------------------------

#: File names as users and scripts make them: any text, any bytes (undecodable ones too, as a
#: Linux file system keeps them), and lengths around the 255-byte limit, multi-byte ones included.
NAMES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=80),
    st.binary(min_size=1, max_size=80).filter(lambda raw: b"/" not in raw and b"\x00" not in raw).map(os.fsdecode),
    st.builds(lambda char, count: char * count, st.sampled_from(["r", "é", "語", "🎨"]), st.integers(60, 300)),
).filter(lambda name: name not in (".", ".."))
#: How an output relates to the photo: the same name, links to it, or files of its own.
RELATIONS = ["same name", "symbolic link", "hard link", "new file", "other existing file"]
OUTPUT_EXTENSIONS = st.sampled_from([".png", ".tif", ".jpg", ".PNG", ".xyz", ""])
PHOTO = photo(64, 64)


def assert_one_line(error: InputImageError, name: str) -> None:
    """The message is one line, unless the name itself holds a line break (the CLI escapes those)."""
    assert str(error) and "Traceback" not in str(error)
    if name.isprintable():
        assert "\n" not in str(error)


@given(NAMES, OUTPUT_EXTENSIONS, st.sampled_from(RELATIONS))
def test_output_paths_are_written_or_refused(stem: str, extension: str, relation: str) -> None:
    """An output is refused in one line before any work (a name too long, no known extension, the
    photo itself by any name), or written whole, leaving the photo and nothing else behind."""
    with tempfile.TemporaryDirectory() as folder:
        photo_path = Path(folder, "photo.png")
        save_image(photo_path, PHOTO)
        original = photo_path.read_bytes()
        assume(stem + extension != photo_path.name)
        output = photo_path if relation == "same name" else Path(folder, stem + extension)
        try:
            if relation == "symbolic link":
                output.symlink_to(photo_path)
            elif relation == "hard link":
                os.link(photo_path, output)
            elif relation == "other existing file":
                output.write_bytes(b"an earlier result")
        except OSError:  # a name the file system refuses: the check below must refuse it too
            pass
        same_file = relation in ("same name", "symbolic link", "hard link") and os.path.exists(output)
        try:
            check_output_path(output, {"the photo": photo_path}, elsewhere="choose another name")
        except InputImageError as error:
            assert_one_line(error, output.name)
        else:
            assert not same_file, f"{output.name!r} ({relation}) was accepted over the photo"
            assert len(os.fsencode(output.name)) <= 255
            save_image(output, PHOTO)
            assert load_image(output).shape == PHOTO.shape
        assert photo_path.read_bytes() == original
        leftovers = [name for name in os.listdir(folder) if name.endswith(".tmp")]
        assert not leftovers, leftovers


@given(NAMES, st.sampled_from(["", "sub/", "missing/", "photo.png/"]))
def test_input_paths_are_read_or_refused(name: str, folder_part: str) -> None:
    """Whatever the name, reading it gives an image or one InputImageError line, never an OSError."""
    with tempfile.TemporaryDirectory() as folder:
        save_image(Path(folder, "photo.png"), PHOTO)
        Path(folder, "sub").mkdir()
        try:
            array = load_image(Path(folder, folder_part + name))
        except InputImageError as error:
            assert_one_line(error, name)
            return
        assert array.shape == PHOTO.shape
