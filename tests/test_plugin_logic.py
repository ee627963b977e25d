"""The plug-ins' logic without GIMP, Krita or a daemon: the client library's controller (Krita's
docker and GIMP's dialog are adapters over it), its pixel work and region policy, driven through
tests/fakes (a scripted client, a host's event loop, a recording host). Seconds, not minutes.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from fakes import FakeClient, FakeHost, FakeLoop, Script, capabilities, connector, painted
from photostyle.core import PRESETS
from photostyle.core.options import JOB_OPTIONS
from photostyle.server.client import (LIVE_PREVIEW_PRESET, SELECTION_REGION, Capture, Controller, DaemonError,
                                      DaemonUnavailableError, Image, InputError, InvalidMasksError,
                                      InvalidRequestError, Options, Progress, Queued, Region, Result, check_result,
                                      composite_preview, placed_mask, plan_regions, preset_choices, regions_to_send)
from photostyle.core.look_files import CUBE as CUBE_KIND, HALD as HALD_KIND
from photostyle.core.looks import DEFAULT_SIZE as DEFAULT_LOOK_SIZE
from photostyle.server.client import LOOK_FILES, LOOK_SIZE, LookFidelity, with_look
from photostyle.server.client import FramesCapture, SequenceDone, named_frame_rate, styled_sequence
from photostyle.core.looks import INTERPOLATIONS as CORE_INTERPOLATIONS
from photostyle.server.client import INTERPOLATION_CHOICES
from photostyle.server.client.client import INTERPOLATIONS, LOOK_FORMATS
from photostyle.server.client.option_form import HOST_SET, WIDGET_MAX, form_text, form_values, option_fields
from photostyle.server.daemon.service import option_messages, preset_messages
from photostyle.server.daemon.validation import Limits
from photostyle.server.wire import photostyle_pb2 as pb
from photostyle.server.wire.options import parse_options

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 4, 3
PHOTO = (10, 20, 30, 255)


def rgba(colour: tuple[int, ...], width: int = WIDTH, height: int = HEIGHT) -> Image:
    return Image(width, height, 4, "uint8", bytes(colour) * (width * height))


def mask(values: list[int], width: int = WIDTH) -> Image:
    return Image(width, len(values) // width, 1, "uint8", bytes(values))


#: Columns fully selected, half selected, unselected, unselected.
SELECTION = mask([255, 128, 0, 0] * HEIGHT)


def capture(preview_min_side: int | None = None, selection: Image | None = SELECTION, mode: str = "whole") -> Capture:
    """What a host reads from a 4×3 photo and a 6×4 reference."""
    style = Image(6, 4, 3, "uint8", bytes([0, 0, 200]) * 24)
    regions, plan = regions_to_send(mode, {}, {}, selection, (6, 4))
    return Capture(rgba(PHOTO), style, (6, 4), regions, plan, selection, "Background", "rocket.jpg",
                   context=preview_min_side)


def controller(client: FakeClient | None = None, *, auto_preview: bool = False, capture_with=capture,
               refuse: Exception | None = None) -> tuple[Controller, FakeHost, FakeLoop, FakeClient]:
    client = client or FakeClient()
    host, loop = FakeHost(capture_with), FakeLoop()
    control = Controller(host, loop, connector(client, refuse), auto_preview=auto_preview)
    return control, host, loop, client


def connected(**kwargs) -> tuple[Controller, FakeHost, FakeLoop, FakeClient]:
    """A controller whose daemon has answered."""
    control, host, loop, client = controller(**kwargs)
    control.probe()
    loop.pump(lambda: control.capabilities is not None)
    return control, host, loop, client


# --- pixels: the preview picture, masks, result checks ------------------------------------------


def test_preview_shows_the_result_inside_the_selection_and_the_photo_outside() -> None:
    shown = composite_preview(rgba(PHOTO), rgba((200, 100, 0, 255)), SELECTION)
    row = [tuple(shown.data[i * 4:i * 4 + 4]) for i in range(WIDTH)]
    assert row[0] == (200, 100, 0, 255) and row[2] == row[3] == PHOTO
    assert row[1] == (105, 60, 15, 255)  # 128/255 of the way: (200·128 + 10·127) / 255 = 105.4
    assert composite_preview(rgba(PHOTO), rgba((200, 100, 0, 255)), None).data == rgba((200, 100, 0, 255)).data


def test_preview_lays_the_result_over_a_transparent_photo() -> None:
    shown = composite_preview(rgba((10, 20, 30, 0)), rgba((200, 100, 0, 255)), SELECTION)
    row = [tuple(shown.data[i * 4:i * 4 + 4]) for i in range(WIDTH)]
    assert row[0] == (200, 100, 0, 255) and row[3] == (10, 20, 30, 0)
    assert row[1] == (200, 100, 0, 128)  # over nothing: the result's colour, half covering


def test_a_wrong_sized_preview_is_a_daemon_bug() -> None:
    with pytest.raises(DaemonError, match=r"2×3 4-channel uint8 image for a 4×3 .*daemon bug"):
        composite_preview(rgba(PHOTO), rgba((1, 2, 3, 255), width=2), SELECTION)


def test_a_mask_of_the_part_sent_is_placed_on_the_whole_canvas_and_clipped() -> None:
    part = mask([1, 2, 3, 4, 5, 6], width=3)  # 3×2
    assert bytes(placed_mask(part, 1, 1, 4, 3).data) == bytes([0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6])
    assert bytes(placed_mask(part, -1, 2, 4, 3).data) == bytes([0] * 8 + [2, 3, 0, 0])  # off the left and bottom


def _result(image: Image, regions: list[Region] = ()) -> Result:
    return Result(image, [], 1.0, "fake:0", (image.width, image.height), list(regions))


def test_the_result_check_refuses_what_does_not_fit_what_was_sent() -> None:
    content = Image(WIDTH, HEIGHT, 4, "uint16", bytes(WIDTH * HEIGHT * 8))
    check_result(_result(content), content, (6, 4))
    for wrong in (Image(WIDTH + 1, HEIGHT, 4, "uint16", b""), Image(WIDTH, HEIGHT, 4, "uint8", b""),
                  Image(WIDTH, HEIGHT, 3, "uint16", b"")):
        with pytest.raises(DaemonError, match="daemon bug.*nothing was changed"):
            check_result(_result(wrong), content, (6, 4))
    found = Region("auto: 1", mask([0] * 12), mask([0] * 24, width=5))  # the style mask is 5×... not 6×4
    with pytest.raises(DaemonError, match="'auto: 1'"):
        check_result(_result(content, [found]), content, (6, 4))


# --- regions: what a host sends for each choice ------------------------------------------------


def test_named_regions_read_only_the_masks_they_send() -> None:
    read = []

    def reader(name: str, size: tuple[int, int]):
        return lambda: read.append(name) or mask([7] * (size[0] * size[1]), width=size[0])

    photo = {name: reader(f"photo {name}", (WIDTH, HEIGHT)) for name in ("sky", "water")}
    reference = {name: reader(f"reference {name}", (6, 4)) for name in ("sky", "trees")}
    regions, plan = regions_to_send("auto", photo, reference, SELECTION, (6, 4))
    assert [region.name for region in regions] == ["sky", "water"] and plan.engine_mode == "given"
    assert sorted(read) == ["photo sky", "photo water", "reference sky"]  # never the reference's "trees"
    assert bytes(regions[1].style_mask.data) == bytes(24)  # "water" is not in the reference: an all-zero mask
    regions, plan = regions_to_send("whole", photo, reference, SELECTION, (6, 4))
    assert [(region.name, bytes(region.style_mask.data)) for region in regions] == [(SELECTION_REGION, b"\xff" * 24)]
    assert regions_to_send("whole", photo, reference, None, (6, 4))[0] == []  # nothing selected: the whole layer
    regions, plan = regions_to_send("auto", {"sky": photo["sky"]}, {"trees": reference["trees"]}, None, (6, 4))
    assert regions == [] and plan.engine_mode == "auto"  # no name in both: the engine finds regions
    with pytest.raises(InvalidMasksError, match="Give the regions the same names"):
        regions_to_send("by-name", {"sky": photo["sky"]}, {"trees": reference["trees"]}, None, (6, 4))


# --- the controller: Krita's docker policy --------------------------------------------------------


def test_preview_first_asks_the_daemon_for_its_limits_then_shows_a_composited_picture() -> None:
    control, host, loop, client = controller(FakeClient(capabilities(min_side=32)))
    control.preview()
    assert host.state.previewing and host.state.can_cancel and host.status.startswith("Reaching")
    loop.pump(lambda: not host.state.previewing)
    assert host.captured == [32]  # shrunk with the daemon's minimum side
    [sent] = client.sent
    assert sent.options == Options(preset=LIVE_PREVIEW_PRESET, regions="given")
    assert [region.name for region in sent.regions] == [SELECTION_REGION]
    assert host.pictures[-1].data == composite_preview(rgba(PHOTO), painted(rgba(PHOTO)), SELECTION).data
    assert host.status.startswith("Preview of the selection of “Background” like rocket.jpg (4×3 px, ")
    assert host.status.endswith("Run makes the full-size layer.")


def test_run_supersedes_a_preview_whose_late_answer_is_never_shown() -> None:
    control, host, loop, client = connected(client=FakeClient(scripts=[Script(seconds=30)]))
    control.preview()
    control.run(Options(preset="default"))  # at once: the preview is still in flight
    loop.pump(lambda: not host.state.running)
    preview = client.sent[0]
    assert preview.options.preset == LIVE_PREVIEW_PRESET and preview.call.cancelled
    assert client.sent[1].options.preset == "default" and len(host.delivered) == 1
    assert host.status == "Done: new layer “Background styled” (0 s on fake:0)."
    loop.settle()
    since_run = [text for text, _ in host.statuses][[text for text, _ in host.statuses].index(
        "Restyling the selection of “Background” like rocket.jpg (regions: selection)."):]
    assert len(since_run) == 2 and not any("preview" in text.lower() for text in since_run), since_run
    assert host.pictures == [None]  # Run cleared the picture; the superseded preview showed nothing


def test_a_preview_supersedes_a_preview_but_not_a_run() -> None:
    control, host, loop, client = connected(client=FakeClient(scripts=[Script(seconds=30)]))
    control.preview()
    control.preview()
    loop.pump(lambda: not host.state.previewing)
    assert client.sent[0].call.cancelled and len(host.pictures) == 1
    client.default = Script(seconds=30)
    control.run(Options())
    control.preview()  # refused while a Run is in flight (the daemon runs one job at a time)
    loop.settle(0.1)
    assert len(client.sent) == 3 and host.state.running and not host.state.previewing
    control.close()


def test_cancel_stops_a_run_within_a_second_and_changes_nothing() -> None:
    control, host, loop, client = connected(client=FakeClient(default=Script(seconds=60, events=[Queued(0)])))
    control.run(Options())
    loop.pump(lambda: bool(client.sent) and ("starting…", None) in host.progress)
    started = time.monotonic()
    control.cancel()
    loop.pump(lambda: not host.state.running, timeout_s=1.0)
    assert time.monotonic() - started < 1.0
    assert client.sent[0].call.cancelled and host.delivered == []
    assert host.status == "The job was cancelled; nothing was changed." and host.progress[-1] == ("stopped", None)
    assert not host.statuses[-1][1]  # not shown as an error


def test_cancel_drops_a_preview_at_once() -> None:
    control, host, loop, client = connected(client=FakeClient(default=Script(seconds=0.2)))
    control.preview()
    control.cancel()
    assert host.status == "Preview cancelled." and not host.state.can_cancel
    loop.settle(0.5)
    assert host.pictures == [] and host.status == "Preview cancelled."


def test_the_daemons_refusal_is_shown_in_its_own_words() -> None:
    refusal = InvalidRequestError("Unknown preset 'x'; the daemon has default, preview.")
    control, host, loop, client = connected(client=FakeClient(scripts=[Script(error=refusal)]))
    control.run(Options(preset="x"))
    loop.pump(lambda: not host.state.running)
    assert host.statuses[-1] == (str(refusal), True) and host.delivered == []


def test_no_daemon_is_explained_for_a_preview_and_for_a_run() -> None:
    down = DaemonUnavailableError("No PhotoStyle daemon is answering at 127.0.0.1:1. Start one with "
                                  "`photostyle serve`.")
    control, host, loop, client = controller(refuse=down)
    control.probe()
    loop.pump(lambda: host.statuses and host.statuses[-1][1])
    assert host.status == str(down)  # at start-up: said, nothing started
    control.preview()
    loop.pump(lambda: not host.state.previewing)
    assert host.status == f"Preview failed: {down}"
    control.run(Options())
    loop.pump(lambda: not host.state.running)
    assert host.status == str(down) and control._connect.starts == [False, True, True]


def test_a_wrong_sized_result_is_refused_before_the_host_writes_it() -> None:
    shrunk = Script(result=lambda content: _result(rgba(PHOTO, width=2)))
    control, host, loop, client = connected(client=FakeClient(scripts=[shrunk]))
    control.run(Options())
    loop.pump(lambda: not host.state.running)
    assert host.delivered == [] and "daemon bug" in host.status and host.statuses[-1][1]


def test_a_run_shows_its_progress_and_streamed_previews_then_the_found_regions() -> None:
    found = Region("auto: 1", mask([255] * 12), Image(6, 4, 1, "uint8", b"\xff" * 24))
    events = [Queued(1), Queued(0), Progress("coarse", 1, 3, 5, 10, 0.2), Progress("fine", 3, 3, 10, 10, 1.0)]
    script = Script(events=events, result=lambda content: _result(painted(content), [found]))
    control, host, loop, client = connected(client=FakeClient(scripts=[script]),
                                            capture_with=lambda side: capture(side, mode="auto"))
    control.run(Options())
    loop.pump(lambda: not host.state.running)
    assert host.statuses[-2][0] == "Restyling the selection of “Background” like rocket.jpg (regions: found by the engine)."
    assert host.progress == [("sending…", 0.0), ("waiting: 1 job(s) ahead", None), ("starting…", None),
                             ("coarse 5/10 (stage 1/3)", 0.2), ("fine 10/10 (stage 3/3)", 0.99), ("done", 1.0)]
    assert host.status.endswith("Regions found: auto: 1.")


def test_a_capture_the_user_must_fix_is_said_and_nothing_is_sent() -> None:
    def no_reference(side):
        raise InputError("Choose a reference: another open document, or a file.")

    control, host, loop, client = connected(capture_with=no_reference)
    control.run(Options())
    control.preview()
    assert client.sent == [] and host.statuses[-1] == ("Choose a reference: another open document, or a file.", True)
    assert not host.state.can_cancel


def test_only_a_shown_preview_follows_the_inputs_in_kritas_policy() -> None:
    control, host, loop, client = connected()
    control.inputs_changed()
    assert loop.fire_timers() == 0  # nothing shown yet: nothing to refresh
    control.preview()
    loop.pump(lambda: not host.state.previewing)
    control.inputs_changed()
    control.inputs_changed()  # a second change within the pause restarts it: one refresh
    assert loop.fire_timers() == 1
    loop.pump(lambda: not host.state.previewing)
    assert len(client.sent) == 2 and len(host.pictures) == 2


def test_closing_cancels_what_is_in_flight_and_lets_go_of_the_daemon() -> None:
    control, host, loop, client = connected(client=FakeClient(default=Script(seconds=60)))
    control.run(Options())
    loop.pump(lambda: bool(client.sent))
    control.close(wait_s=2)
    assert client.sent[0].call.cancelled and client.closed


# --- GIMP's dialog policy: presets from the daemon, previews by themselves -----------------------


def test_the_presets_offered_are_the_daemons() -> None:
    offered = capabilities([("default", "Good and fast"), ("painterly", "Stage 1 only"), ("preview", "Instant")])
    control, host, loop, client = connected(client=FakeClient(offered))
    assert host.presets == [offered]
    entries, active = preset_choices(offered, "painterly")
    assert entries == [("default", "Good and fast"), ("painterly", "Stage 1 only"), ("preview", "Instant")]
    assert active == "painterly"
    assert preset_choices(offered, "gone-since")[1] == "default"  # one the daemon no longer has: its first


def test_the_dialog_previews_as_soon_as_the_daemon_answers_and_after_each_change() -> None:
    control, host, loop, client = controller(auto_preview=True)
    control.probe(start=True)
    loop.pump(lambda: host.pictures)
    assert control._connect.starts == [True] and host.captured == [64]
    control.inputs_changed()  # e.g. another region choice
    assert loop.fire_timers() == 1
    loop.pump(lambda: len(host.pictures) == 2)
    assert len(client.sent) == 2


def test_the_region_choice_decides_what_a_preview_sends() -> None:
    sky = {"sky": lambda: mask([255] * 12)}
    reference_sky = {"sky": lambda: Image(6, 4, 1, "uint8", b"\x80" * 24)}
    for mode, names, engine_mode in (("whole", [SELECTION_REGION], "given"), ("auto", ["sky"], "given"),
                                     ("by-name", ["sky"], "given")):
        def read(side, mode=mode):
            regions, plan = regions_to_send(mode, sky, reference_sky, SELECTION, (6, 4))
            return Capture(rgba(PHOTO), Image(6, 4, 3, "uint8", bytes(72)), (6, 4), regions, plan, SELECTION,
                           "Background", "rocket.jpg")

        control, host, loop, client = connected(capture_with=read)
        control.preview()
        loop.pump(lambda: not host.state.previewing)
        assert [region.name for region in client.sent[0].regions] == names, mode
        assert client.sent[0].options.values["regions"] == engine_mode == plan_regions(mode, sky, reference_sky).engine_mode


def _gimp_options_module():
    """plugins/gimp/photostyle_gimp/options.py on its own (the rest of the package needs GIMP)."""
    path = ROOT / "plugins" / "gimp" / "photostyle_gimp" / "options.py"
    spec = importlib.util.spec_from_file_location("gimp_options", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Config:
    """What GIMP's ProcedureConfig offers the options: `get_property`."""

    def __init__(self, **values: object) -> None:
        self.values = values

    def get_property(self, name: str) -> object:
        return self.values[name]


def test_gimps_options_text_becomes_the_jobs_options() -> None:
    options = _gimp_options_module()
    config = _Config(**{"preset": "painterly", "options": "size=300 iterations=7 keep_brightness=true"})
    assert options.options_from_config(config) == Options(preset="painterly", size=300, iterations=7,
                                                          keep_brightness=True)
    assert options.options_from_config(_Config(**{**config.values, "preset": ""})).preset == options.DEFAULT_PRESET


#: The device the capabilities describe the presets on (a daemon's own, here this machine's CPU).
CPU = torch.device("cpu")


def _daemons_capabilities(**limits: int) -> pb.Capabilities:
    """The capabilities a real daemon with these limits describes (its presets and options)."""
    return pb.Capabilities(presets=preset_messages(CPU), options=option_messages(Limits(**limits)))


def test_the_option_widgets_are_the_options_each_preset_reads_with_its_values() -> None:
    """The hosts' widgets come from the daemon: a preset's own options with the preset's values and
    the daemon's limits as ranges; what the host sets itself (preset, regions, previews) is not there."""
    offered = _daemons_capabilities(max_working_size=1500, max_iterations=900)
    default = {field.name: field for field in option_fields(offered, "default")}
    sent = {spec.name for spec in JOB_OPTIONS}  # device and weights are set where the engine runs
    assert set(default) == (PRESETS["default"].reads & sent) - HOST_SET
    assert default["size"].default == PRESETS["default"].size and default["size"].kind == "int"
    assert (default["size"].minimum, default["size"].maximum, default["size"].unit) == (32, 1500, "px")
    listed = PRESETS["default"].for_device(CPU)[0].iterations  # 17 where VGG19 runs in float32 on this CPU
    assert default["iterations"].default == listed and default["iterations"].maximum == 900
    assert default["keep_brightness"].kind == "bool" and default["keep_brightness"].default is False
    assert default["smooth"].default is True and default["keep_brightness"].label == "Keep the photo's brightness"
    assert default["seed"].maximum == WIDGET_MAX  # the schema's 2^63 - 1 does not fit a spin box
    preview = {field.name for field in option_fields(offered, "preview")}
    assert "iterations" not in preview and preview == (PRESETS["preview"].reads & sent) - HOST_SET
    assert option_fields(offered, "no-such-preset") == []


def test_the_option_widgets_read_and_write_the_options_text() -> None:
    """Values the user set are the options text, minus what equals the preset's; switching preset
    drops what the new one does not read (the daemon would refuse it), and bad text is the preset's."""
    offered = _daemons_capabilities()
    default = option_fields(offered, "default")
    listed = PRESETS["default"].for_device(CPU)[0].iterations
    values = form_values(default, "iterations=60 keep_brightness=true size=99999")  # the preset's: 26 or 17
    assert values["iterations"] == 60 and values["keep_brightness"] is True
    assert values["size"] == 2048  # fitted to the daemon's limit
    assert values["smooth"] is True  # unset: the preset's
    assert form_text(default, values) == "size=2048 iterations=60 keep_brightness=true"  # the schema's order
    assert form_text(default, {**values, "iterations": listed, "size": 512,
                               "keep_brightness": False}) == ""
    assert parse_options(form_text(default, {**values, "smooth": False}))["smooth"] is False
    preview = option_fields(offered, "preview")
    assert "iterations" not in form_text(preview, form_values(preview, "iterations=50 keep_brightness=true"))
    assert form_values(default, "size=") == form_values(default, "")  # malformed: the preset's values


# --- looks: keep a run's look, apply a look file to a layer ---------------------------------------

CUBE = b'TITLE "look"\nLUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n'


def _with_look(content: Image) -> Result:
    return Result(painted(content), ["The look reproduces this result within ΔE 0.8 (median), 2.1 (95th "
                                     "percentile): a LUT carries it."], 1.0, "fake:0", (content.width, content.height),
                  look_cube=CUBE, look_fidelity=LookFidelity(0.8, 2.1))


def test_hosts_ask_for_the_engines_usual_look_size_unless_one_is_set() -> None:
    assert LOOK_SIZE == DEFAULT_LOOK_SIZE  # the client library has no core to read it from
    assert with_look(Options("default", size=256)) == Options("default", size=256, look_size=LOOK_SIZE)
    assert with_look(Options(look_size=65)) == Options(look_size=65)
    assert set(LOOK_FILES) == set(LOOK_FORMATS) == {CUBE_KIND, HALD_KIND}  # what the daemon reads
    assert set(INTERPOLATION_CHOICES) == set(INTERPOLATIONS) == set(CORE_INTERPOLATIONS)


def test_a_runs_look_can_be_saved_and_only_as_a_cube(tmp_path) -> None:
    control, host, loop, client = connected(client=FakeClient(scripts=[Script(result=_with_look)]))
    control.save_look(str(tmp_path / "early.cube"))
    assert host.statuses[-1] == ("There is no look to save: Run first (the daemon sends the result's look with it).",
                                 True)
    assert not host.state.look
    control.run(with_look(Options()))
    loop.pump(lambda: not host.state.running)
    assert client.sent[0].options.values["look_size"] == LOOK_SIZE and host.state.look
    assert control.look.file_name == "rocket look.cube"
    control.save_look(str(tmp_path / "rocket look.cube"))
    assert (tmp_path / "rocket look.cube").read_bytes() == CUBE
    assert host.statuses[-1] == (f"Saved the look to {tmp_path / 'rocket look.cube'} (ΔE 0.8 median, 2.1 at the 95th "
                                 "percentile). Apply look… puts it on other layers.", False)
    control.save_look(str(tmp_path / "no suffix"))
    assert (tmp_path / "no suffix.cube").read_bytes() == CUBE
    control.save_look(str(tmp_path / "look.png"))
    assert "Save the look as a .cube file (not look.png)" in host.status and host.statuses[-1][1]
    assert not (tmp_path / "look.png").exists()
    control.save_look(str(tmp_path / "no such folder" / "look.cube"))
    assert host.status.startswith(f"Cannot write the look to {tmp_path / 'no such folder' / 'look.cube'}")
    assert not (tmp_path / "no such folder").exists()


def test_a_run_without_a_look_leaves_nothing_to_save() -> None:
    control, host, loop, client = connected(client=FakeClient(scripts=[Script(result=_with_look), Script()]))
    control.run(with_look(Options()))
    loop.pump(lambda: not host.state.running)
    control.run(Options())  # an older daemon, say: its result carries no look
    loop.pump(lambda: not host.state.running and len(host.delivered) == 2)
    assert control.look is None and not host.state.look


def test_a_look_file_applied_to_the_layer_becomes_a_new_layer(tmp_path) -> None:
    (tmp_path / "teal.cube").write_bytes(CUBE)
    control, host, loop, client = connected()
    control.apply_look(str(tmp_path / "teal.cube"), "tetrahedral")
    assert host.state.applying and not host.states[-1].running
    assert host.status == "Applying the look teal.cube to “Background”…"
    loop.pump(lambda: not host.state.applying)
    [applied] = client.applied
    assert (applied.image, applied.look, applied.look_kind, applied.interpolation) == (host.layer.image, CUBE,
                                                                                      ".cube", "tetrahedral")
    [(layer, image, name)] = host.look_layers
    assert layer is host.layer and image == painted(host.layer.image) and name == "Background (look: teal)"
    assert host.status.startswith("Done: new layer “Background (look: teal)” (the look applied in ")
    assert client.sent == []  # no transfer: the look alone


@pytest.mark.parametrize("case, words", [
    ("not a look", "photo.jpg is not a look file; choose a .cube 3D LUT or a Hald CLUT .png."),
    ("missing", "Cannot read the look file"),
    ("empty", "is empty; export the look again."),
    ("malformed", "The look file as a 2³ LUT"),
    ("wrong answer", "The daemon answered the look with a 2×2 4-channel uint8 image for a 4×3 4-channel uint8 one"),
    ("no layer", "Select the layer to apply the look to."),
])
def test_a_look_that_cannot_be_applied_says_why_and_adds_nothing(tmp_path, case, words) -> None:
    (tmp_path / "look.cube").write_bytes(CUBE)
    (tmp_path / "empty.cube").write_bytes(b"")
    control, host, loop, client = connected()
    path = {"not a look": "photo.jpg", "missing": "gone.cube", "empty": "empty.cube"}.get(case, "look.cube")
    if case == "malformed":
        client.apply_error = InvalidRequestError("The look file as a 2³ LUT is damaged; export it again.")
    if case == "wrong answer":
        client.apply_answer = lambda image: painted(Image(2, 2, 4, "uint8", b""))
    if case == "no layer":
        host.layer_error = InputError("Select the layer to apply the look to.")
    control.apply_look(str(tmp_path / path))
    loop.pump(lambda: not host.state.applying)
    assert words in host.status and host.statuses[-1][1] and host.look_layers == []
    assert len(client.applied) == (1 if case in ("malformed", "wrong answer") else 0)


def test_no_look_is_applied_during_a_run() -> None:
    control, host, loop, client = connected(client=FakeClient(default=Script(seconds=10)))
    control.run(Options())
    control.apply_look("look.cube")
    assert not host.state.applying and client.applied == []
    control.cancel()
    loop.pump(lambda: not host.state.running)


# --- sequences as GIMP sends its layers as frames (the host-neutral part) ------------------------


def frames_capture(frames: list[Image], fps: float = 10.0) -> FramesCapture:
    """What GIMP's frames procedure reads: every layer on the canvas, bottom first, and a reference."""
    return FramesCapture(frames, Image(6, 4, 3, "uint8", bytes([0, 0, 200]) * 24), "walk.xcf", "rocket.jpg", fps)


def test_gimps_frame_delays_in_layer_names_give_the_frame_rate() -> None:
    assert named_frame_rate(["Frame 1 (100ms)", "Frame 2 (50 ms) (combine)", "Frame 3"]) == pytest.approx(1000 / 75)
    assert named_frame_rate(["Background", "Layer copy"]) is None  # no delay stated: the host's default
    assert named_frame_rate(["Frame 1 (0ms)"]) is None
    assert named_frame_rate([]) is None


def test_layers_as_frames_go_as_one_sequence_and_come_back_in_order() -> None:
    frames = [rgba((value, 20, 30, 255)) for value in (10, 90, 170)]
    client = FakeClient()
    events: list = []
    job = frames_capture(frames, fps=12.5)
    styled = styled_sequence(job.start(client, Options(preset="default")), job.frames, events.append)
    sent = client.sequences[0]
    assert sent.frames == frames and sent.fps == 12.5 and sent.options.preset == "default"
    assert len(styled.frames) == 3 and all(frame.width == WIDTH and frame.channels == 4 for frame in styled.frames)
    assert styled.planned is not None and styled.planned.keyframes == (0,)
    assert isinstance(events[-1], SequenceDone) and job.subject == "the 3 frames of “walk.xcf”"


def test_frames_the_sequence_cannot_take_are_refused_before_anything_is_sent() -> None:
    client = FakeClient()
    with pytest.raises(InputError, match="Frame 1 is 2×2"):
        frames_capture([rgba(PHOTO), rgba(PHOTO, 2, 2)]).start(client, Options())
    with pytest.raises(InputError, match="no frames"):
        frames_capture([]).start(client, Options())
    assert client.sequences == []


def test_a_sequence_that_fails_midway_gives_the_host_nothing_to_write() -> None:
    client = FakeClient(scripts=[Script(error=DaemonError("The daemon stopped (a test)."))])
    job = frames_capture([rgba(PHOTO)] * 3)
    with pytest.raises(DaemonError, match="a test"):
        styled_sequence(job.start(client, Options()), job.frames)
