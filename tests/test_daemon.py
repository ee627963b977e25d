"""The daemon and the client library together, on a real daemon on 127.0.0.1: results, events,
bit depths, regions (given and automatic), encoded files, the line, health checking, reflection,
round robin, TLS."""

from __future__ import annotations

import shutil
import subprocess
import threading
from io import BytesIO

import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from PIL import Image as PILImage

from daemon_fixtures import CONTENT, FAST, STYLE, client, daemon, image, photo, running_daemon  # noqa: F401  (fixtures)
from photostyle.core import PRESETS
from photostyle.core.options import JOB_OPTIONS, OPTIONS_BY_NAME
from photostyle.server.client import (Client, DaemonUnavailableError, EncodedImage, Image, Options, Preview,
                                      Progress, Queued, Region, Result)
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.options import from_wire
from photostyle.server.wire.contract import SERVICE
from photostyle.server.daemon import Limits
from photostyle.server.wire.arrays import array_from_image


def test_capabilities_state_engine_device_presets_and_limits(client, device):
    caps = client.capabilities()
    assert caps.api_version == "photostyle.v1" and caps.engine_version
    # The device the daemon was started on, as torch names it; a GPU also by its model.
    if torch.device(device).type == "cuda":
        assert caps.device.startswith(f"{torch.device(device)} (") and caps.device.endswith(")"), caps.device
    else:
        assert caps.device == str(torch.device(device))
    assert [p.name for p in caps.presets] == list(PRESETS)  # the engine's presets, default first
    described = {p.name: p for p in caps.presets}
    assert described["default"].description == PRESETS["default"].description
    assert (described["reference"].iterations, described["reference"].method) == (2000, "neural-style")
    assert (described["preview"].iterations, described["preview"].method) == (0, "colour-transfer")
    # Each preset lists what a job may set with it: the hosts show only those.
    assert "iterations" in described["default"].options and "iterations" not in described["preview"].options
    assert "smooth" not in described["painterly"].options and "keep_brightness" in described["painterly"].options
    assert "device" not in described["default"].options  # the daemon's own
    specs = {spec.name: spec for spec in caps.options}
    assert [spec.name for spec in caps.options] == [spec.name for spec in JOB_OPTIONS] and caps.default_preset == "default"
    assert (specs["size"].minimum, specs["size"].maximum, specs["size"].unit) == (32, Limits().max_working_size, "px")
    assert (specs["keep_brightness"].kind, specs["keep_brightness"].default) == ("bool", "false")
    assert list(specs["preset"].choices) == list(PRESETS) and list(specs["regions"].choices) == ["given", "auto"]
    assert caps.limits.max_pixels == Limits().max_pixels and caps.limits.min_side == 64
    assert caps.limits.chunk_bytes < caps.limits.max_message_bytes and caps.limits.max_message_bytes > 4 << 20
    assert caps.limits.upload_idle_seconds == Limits().upload_idle_s
    assert set(caps.sample_types) == {pb.SAMPLE_TYPE_UINT8, pb.SAMPLE_TYPE_UINT16, pb.SAMPLE_TYPE_FLOAT32}
    assert caps.instance.endswith(f":{client.addresses[0].rsplit(':', 1)[1]}")


def test_transfer_streams_queue_progress_previews_then_result(client, device):
    options = Options(size=64, iterations=8, preview_every=2, preview_size=48)
    events = list(client.transfer(CONTENT, STYLE, options=options))
    assert isinstance(events[0], Queued) and events[0].position == 0
    assert isinstance(events[-1], Result)
    progress = [e for e in events if isinstance(e, Progress)]
    # The default preset's stages, coarse to fine, each with previews at the requested size.
    assert list(dict.fromkeys(p.stage for p in progress)) == ["coarse", "medium", "fine", "finishing"]
    assert progress[-1].fraction == 1.0 and all(a.fraction <= b.fraction for a, b in zip(progress, progress[1:]))
    assert {"content", "style", "tv"} <= set(progress[0].losses)
    previews = [e.image for e in events if isinstance(e, Preview)]
    assert previews and all(p.channels == 3 and p.sample_type == "uint8" and max(p.width, p.height) == 48 for p in previews)
    result = events[-1]
    assert (result.image.width, result.image.height, result.image.channels) == (96, 80, 3)
    assert result.device == str(torch.device(device)) and result.seconds > 0 and result.working_size == (64, 53)
    out = array_from_image(result.image)
    assert not np.array_equal(out, array_from_image(CONTENT))


#: A reference with a colour cast that photo() lacks (it is grey on average): its blue mostly gone.
WARM = photo(90, 70, flip=True) // np.array([1, 1, 4], np.uint8)


def assert_took_the_references_colours(result: np.ndarray, content: np.ndarray, reference: np.ndarray) -> None:
    """The result's mean colour went most of the way from the photo's to the reference's: it is not
    the photo handed back."""
    def mean_colour(pixels: np.ndarray) -> np.ndarray:
        scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(pixels.dtype, 1)
        rgb = pixels[:, :, :3] if pixels.shape[2] >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)
        return rgb.reshape(-1, 3).astype(np.float64).mean(axis=0) / scale

    before = np.linalg.norm(mean_colour(content) - mean_colour(reference))
    after = np.linalg.norm(mean_colour(result) - mean_colour(reference))
    assert after < 0.2 * before, (mean_colour(result), mean_colour(content), mean_colour(reference))


@pytest.mark.parametrize("channels, dtype", [(4, np.uint16), (2, np.float32), (1, np.uint8)])
def test_layouts_and_depths_round_trip(client, channels, dtype):
    content = photo(72, 90, channels, dtype)
    if channels in (2, 4):  # an alpha that varies from pixel to pixel, so that no made-up one matches it
        alpha = np.random.default_rng(0).random((72, 90))
        content[:, :, -1] = alpha if dtype == np.float32 else np.round(alpha * np.iinfo(dtype).max)
    result = client.transfer(image(content), image(WARM), options=FAST).result()
    out = array_from_image(result.image)
    assert out.dtype == dtype and out.shape[:2] == (72, 90)
    assert out.shape[2] == (3 if channels == 1 else 4 if channels in (2, 4) else channels)
    if channels in (2, 4):
        assert np.array_equal(out[:, :, -1], content[:, :, -1])  # alpha passes through untouched
    assert_took_the_references_colours(out, content, WARM)
    if dtype == np.uint16:  # 16 bits all the way: not an 8-bit result scaled up (multiples of 257)
        assert (out[:, :, :3] % 257 != 0).mean() > 0.9


def test_regions_and_notes(client):
    content_mask = np.zeros((80, 96), np.uint8)
    content_mask[:40] = 255
    style_mask = np.zeros((90, 70), np.uint8)
    style_mask[:45] = 255
    only_in_photo = np.zeros((80, 96), np.uint8)
    only_in_photo[40:] = 255
    regions = [Region("sky", image(content_mask), image(style_mask)),
               Region("ground", image(only_in_photo), image(np.zeros((90, 70), np.uint8)))]
    result = client.transfer(CONTENT, STYLE, regions, FAST).result()
    assert result.image.width == 96
    assert any("'ground'" in note and "missing from the style image" in note for note in result.notes)


#: Automatic regions without the neural optimisation: a second or two on a CPU.
AUTO = Options(preset="preview", regions="auto")


def test_automatic_regions_come_back_with_full_size_masks(client):
    result = client.transfer(CONTENT, STYLE, options=AUTO).result()
    names = [r.name for r in result.regions]
    assert names and names == [f"auto: {n}" for n in range(1, len(names) + 1)]
    for masks, (width, height) in (([r.content_mask for r in result.regions], (96, 80)),
                                   ([r.style_mask for r in result.regions], (70, 90))):
        assert all((m.width, m.height, m.channels, m.sample_type) == (width, height, 1, "uint8") for m in masks)
        total = sum(array_from_image(m)[:, :, 0].astype(np.int32) for m in masks)
        assert np.abs(total - 255).max() <= len(masks)  # soft masks, each rounded to 8 bits
    assert any(note.startswith("Automatic regions") for note in result.notes)


def test_automatic_regions_give_way_to_the_users_regions(client):
    content_mask = np.zeros((80, 96), np.uint8)
    content_mask[:40] = 255
    style_mask = np.zeros((90, 70), np.uint8)
    style_mask[:45] = 255
    result = client.transfer(CONTENT, STYLE, [Region("sky", image(content_mask), image(style_mask))], AUTO).result()
    assert result.regions == [] and result.image.width == 96
    assert any("Your own regions were used" in note for note in result.notes)


def test_encoded_png_and_jpeg_inputs(client):
    def encode(array: np.ndarray, fmt: str) -> EncodedImage:
        buffer = BytesIO()
        PILImage.fromarray(array).save(buffer, format=fmt)
        return EncodedImage(buffer.getvalue())

    result = client.transfer(encode(photo(), "PNG"), encode(WARM, "JPEG"), options=FAST).result()
    assert (result.image.width, result.image.height, result.image.sample_type) == (96, 80, "uint8")
    assert_took_the_references_colours(array_from_image(result.image), photo(), WARM)


def test_jobs_wait_in_fifo_line_and_are_told_their_position(daemon, device):
    # The first job must still be running when the second joins the line: a few seconds of work on
    # a CPU, on a GPU (ten times faster or more at this size) ten times the iterations.
    iterations = 40 if torch.device(device).type == "cpu" else 400
    with Client(daemon.address) as first_client, Client(daemon.address) as second_client:
        first = first_client.transfer(CONTENT, STYLE, options=Options(preset="classic", size=64,
                                                                      iterations=iterations))
        first_events = iter(first)
        assert next(first_events) == Queued(0)
        second_events = list(second_client.transfer(CONTENT, STYLE, options=FAST))
        first_result = [e for e in first_events if isinstance(e, Result)]
    positions = [e.position for e in second_events if isinstance(e, Queued)]
    assert positions == [1, 0]
    assert first_result and isinstance(second_events[-1], Result)


def test_health_checking_and_reflection(daemon):
    with grpc.insecure_channel(daemon.address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        assert check(health_pb2.HealthCheckRequest(service=SERVICE)).status == health_pb2.HealthCheckResponse.SERVING
        assert check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert SERVICE in services and "grpc.health.v1.Health" in services


def test_round_robin_across_daemons_skips_one_that_is_not_serving():
    with running_daemon() as one, running_daemon() as two, Client([one.address, two.address]) as client:
        assert {client.capabilities().instance for _ in range(8)} == {_instance(one), _instance(two)}
        one._health.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)  # what a draining daemon reports
        threading.Event().wait(0.5)  # the health watch delivers the change
        assert {client.capabilities().instance for _ in range(8)} == {_instance(two)}
        assert isinstance(client.transfer(CONTENT, STYLE, options=FAST).result(), Result)


def test_a_daemon_started_without_a_device_uses_the_gpu_when_there_is_one():
    with running_daemon() as started, Client(started.address) as client:
        reported = client.capabilities().device
    assert reported.split(" ")[0] == ("cuda" if torch.cuda.is_available() else "cpu"), reported


def _instance(daemon) -> str:
    with Client(daemon.address) as client:
        return client.capabilities().instance


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a test certificate")
def test_tls_with_token(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with running_daemon(token="s3cret", tls_cert=cert.read_bytes(), tls_key=key.read_bytes()) as daemon:
        with Client(daemon.address, token="s3cret", tls_ca=str(cert)) as client:
            assert client.capabilities().api_version == "photostyle.v1"
            assert client.transfer(CONTENT, STYLE, options=FAST).result().image.width == 96
        with Client(daemon.address, token="s3cret") as plain, pytest.raises(DaemonUnavailableError):
            plain.capabilities(timeout=5)


def test_image_info_names_unknown_sample_types():
    with pytest.raises(ValueError, match="uint32"):
        Image(64, 64, 3, "uint32", b"").info()


def test_every_job_option_of_the_schema_is_a_wire_field_and_back():
    assert sorted(field.name for field in pb.TransferOptions.DESCRIPTOR.fields) == sorted(spec.name for spec in JOB_OPTIONS)
    values = {"preset": "painterly", "size": 300, "iterations": 7, "keep_brightness": True, "smooth": False,
              "regions": "auto", "seed": 2**40, "preview_every": 3, "preview_size": 64}
    assert from_wire(Options(**values).to_wire()) == values
    assert from_wire(Options().to_wire()) == {}  # unset stays unset: the preset's values
    assert Options.parse("default", "size=384 keep_brightness=yes regions=auto") == Options(
        "default", size=384, keep_brightness=True, regions="auto")
    with pytest.raises(ValueError, match="Unknown option 'sise'"):
        Options(sise=3)
    with pytest.raises(ValueError, match="size is a whole number"):
        Options.parse(None, "size=big")


def test_options_region_modes_are_the_engines_and_unknown_ones_are_refused():
    assert OPTIONS_BY_NAME["regions"].choices == ("given", "auto")
    assert Options().to_wire().regions == pb.REGION_MODE_GIVEN
    assert Options(regions="auto").to_wire().regions == pb.REGION_MODE_AUTO
    with pytest.raises(ValueError, match="'magic'.*given, auto"):
        Options(regions="magic").to_wire()
