"""Runs inside GIMP 3 (python-fu-eval batch): one scenario of tests/test_gimp_plugin.py.

Environment: PHOTOSTYLE_SCENARIO is "transfer", "16bit", "channels" (regions "sky" and "ground"
as channels in both images), "auto" (no channel named alike, only a stale "auto: 9": the engine
finds regions), "daemon-down", "bad-preset" (a preset the daemon does not have),
"smooth-on-painterly" (an option the painterly preset does not use), "painterly" (the painterly
preset, keeping the photo's brightness, through the options text),
"slow" (a long job, for the test to kill) or "undo" (which needs GIMP's GUI, under Xvfb, and
xdotool): these call our procedure non-interactively, as a script would. "dialog" and "dialog-ok"
(GUI too) open the dialog as a retoucher does; dialog_screenshot.py, run as a helper, grabs it once
the live preview should be in (PHOTOSTYLE_GRAB, inside the chroot) and presses Escape, or OK. "presets" and "preview"
import the installed plug-in and call what its dialog's controller calls: the combo box's entries,
and the live preview's path (the one capture with GEGL's shrinking reads, the daemon's `preview`
preset, the client library's picture as the dialog's pixbuf). "look" (GUI too) runs the transfer
with a look file to write, then Apply Photo Style Look with that file on the photo's layer (a
selection present, which must play no part), dumps the layer's and the new layer's pixels for the
test, and presses Ctrl+Z once. "frames" (GUI too) makes a three-layer animation (the frames
differ: a mirrored copy, a smaller one off the origin), styles all layers as frames, reports each
new layer against its frame, and presses Ctrl+Z once ("frames-slow": a long job, for the test
to kill; "frames-new-image": into a new image, reported layer by layer against the frames, the
animation checked untouched); "frames-dialog" (GUI) runs that procedure
interactively, its dialog OK'd by the helper. PHOTOSTYLE_DATA is the folder holding coffee.png and rocket.jpg as GIMP sees
it. Each prints one line `RESULT {json}` of facts for the test to assert on.
"""

import json
import os
import subprocess
import sys
import time

from gi.repository import Gegl, Gimp, Gio

PROCEDURE = "plug-in-photostyle-transfer"
FRAMES = "plug-in-photostyle-transfer-frames"
SCENARIO = os.environ["PHOTOSTYLE_SCENARIO"]
DATA = os.environ["PHOTOSTYLE_DATA"]
CLAMP = Gegl.AbyssPolicy.CLAMP
sys.path.insert(0, DATA)
from xwindows import find_window  # noqa: E402  (copied beside this file)

GRAB = "/tmp/photostyle-test/dialog-grab.png"  # "dialog": the dialog as the helper saw it


def load(name):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(f"{DATA}/{name}"))


def pixels(drawable, fmt=None):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return drawable.get_buffer().get(rect, 1.0, fmt, CLAMP)


def composite(image):
    """The visible image as 8-bit RGBA, read from a duplicate."""
    copy = image.duplicate()
    data = pixels(copy.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE), "R'G'B'A u8")
    copy.delete()
    return data


def changed_fraction(before, after, width, box):
    """Fraction of the pixels inside `box` (x0, y0, x1, y1, image coordinates) that differ."""
    x0, y0, x1, y1 = box
    changed = 0
    for y in range(y0, y1):
        row = slice((y * width + x0) * 4, (y * width + x1) * 4)
        a, b = before[row], after[row]
        changed += sum(a[i:i + 4] != b[i:i + 4] for i in range(0, len(a), 4))
    return changed / ((x1 - x0) * (y1 - y0))


def tone_change(source, new, box):
    """Mean change of Rec. 709 luma and of R, G, B (8-bit levels) from `source` to `new` (two layers
    of one size) inside `box` (x0, y0, x1, y1, layer coordinates)."""
    width, before, after = source.get_width(), pixels(source, "R'G'B'A u8"), pixels(new, "R'G'B'A u8")
    luma = colour = count = 0
    x0, y0, x1, y1 = box
    for y in range(y0, y1):
        for x in range(x0, x1):
            i = (y * width + x) * 4
            a, b = before[i:i + 3], after[i:i + 3]
            luma += abs(sum(w * (q - p) for w, p, q in zip((0.2126, 0.7152, 0.0722), a, b)))
            colour += sum(abs(q - p) for p, q in zip(a, b)) / 3
            count += 1
    return {"luma": luma / count, "colour": colour / count}


def load_plugin():
    """The installed plug-in's package and its vendored client, as its entry file imports them."""
    folder = f"{os.environ['GIMP3_DIRECTORY']}/plug-ins/photostyle"
    sys.path[:0] = [f"{folder}/vendor", folder]
    import photostyle_gimp.capture
    import photostyle_gimp.preview
    from photostyle.server import client
    return photostyle_gimp, client


def mean_rgb(data, channels, mask=None):
    """Mean R, G, B of 8-bit pixels (`channels` per pixel), over the pixels where `mask` >= 128."""
    picked = range(len(data) // channels) if mask is None else [i for i, m in enumerate(mask) if m >= 128]
    return [sum(data[i * channels + c] for i in picked) / len(picked) for c in range(3)]


def image_state(image):
    """Everything a preview must leave as it was."""
    return {"layers": [layer.get_name() for layer in image.get_layers()],
            "channels": [channel.get_name() for channel in image.get_channels()],
            "selection": list(Gimp.Selection.bounds(image))[1:],
            "dirty": image.is_dirty(),
            "images_open": len(Gimp.get_images()),
            "pixels": [pixels(layer) for layer in image.get_layers()],
            "composite": composite(image)}


def preview_facts(plugin, client, image, layer, config):
    """One live preview as the dialog's controller runs it, and what it shows."""
    gimp, ps = plugin
    state_before = image_state(image)
    request = gimp.capture.capture(image, layer, config, client.capabilities().limits.min_side)
    result = request.start(client, ps.live_preview_options()).result()
    ps.check_result(result, request.content, request.style_size)
    shown = gimp.preview.pixbuf(ps.composite_preview(request.content, result.image, request.selection))
    found, _, _, crop_width, crop_height = layer.mask_intersect()
    content, style, styled = request.content, request.style, result.image
    mask = bytes(request.selection.data) if request.selection is not None else None
    # The picture shows the styled pixels inside the selection and the photo's outside it
    # (compared where the selection is fully on or off, to ±1 for the compositing's rounding).
    stride, shown_bytes = shown.get_rowstride(), shown.read_pixel_bytes().get_data()
    styled_bytes, content_bytes = bytes(styled.data), bytes(content.data)
    matches = {"inside": [0, 0], "outside": [0, 0]}
    for i in range(content.width * content.height):
        coverage = 255 if mask is None else mask[i]
        if coverage in (0, 255):
            y, x = divmod(i, content.width)
            pixel = shown_bytes[y * stride + x * 4:y * stride + x * 4 + 3]
            expected = (styled_bytes if coverage == 255 else content_bytes)[i * 4:i * 4 + 3]
            where = matches["inside" if coverage == 255 else "outside"]
            where[0] += all(abs(a - b) <= 1 for a, b in zip(pixel, expected))
            where[1] += 1
    return {
        "crop": [crop_width, crop_height],
        "content_size": [content.width, content.height],
        "style_size": [style.width, style.height],
        "result_size": [styled.width, styled.height, styled.channels],
        "shown_size": [shown.get_width(), shown.get_height()],
        "selection_size": [request.selection.width, request.selection.height] if mask else None,
        "regions": [region.name for region in request.regions],
        "engine_mode": request.plan.engine_mode,
        "reference_name": request.reference_name,
        "photo_mean": mean_rgb(bytes(content.data), 4, mask),
        "reference_mean": mean_rgb(bytes(style.data), 3),
        "preview_mean": mean_rgb(bytes(styled.data), 4, mask),
        "shown_inside": matches["inside"],  # [pixels as expected, pixels compared]
        "shown_outside": matches["outside"],
        "image_unchanged": {key: value == state_before[key] for key, value in image_state(image).items()},
    }


def live_preview_scenario():
    """The dialog's preset list, or live previews of a 1200×800 photo: a wide selection, a thin one,
    then no selection and region channels."""
    plugin = gimp, ps = load_plugin()
    if SCENARIO == "presets":  # what the dialog's combo box offers
        with gimp.connect_daemon() as client:
            return {"entries": ps.preset_choices(client.capabilities(), "default")[0]}
    image = load("coffee.png")
    image.scale(1200, 800)
    image.resize(1220, 810, 10, 5)  # the layer sits at (10, 5)
    layer = image.get_layers()[0]
    reference = load("rocket.jpg")
    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    config = procedure.create_config()
    config.set_property("reference-layer", reference.get_layers()[0])
    facts = {}
    config.set_property("regions", "whole")  # the selection against the whole reference
    with gimp.connect_daemon() as client:
        facts["min_side"] = client.capabilities().limits.min_side
        image.select_ellipse(Gimp.ChannelOps.REPLACE, 60, 40, 1100, 740)
        Gimp.Selection.feather(image, 20)
        facts["wide"] = preview_facts(plugin, client, image, layer, config)
        # A thin strip: shrinking it to 512 px long would leave it below the daemon's minimum side.
        # The reference as a file this time: the image loaded for it must be closed again.
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 20, 300, 1180, 80)
        config.set_property("reference-layer", None)
        config.set_property("reference-file", Gio.File.new_for_path(f"{DATA}/rocket.jpg"))
        facts["thin"] = preview_facts(plugin, client, image, layer, config)
        # No selection, regions as same-named channels: their masks must shrink with their images.
        add_region_channels(image, 0.3)
        add_region_channels(reference, 0.6)
        config.set_property("reference-file", None)
        config.set_property("reference-layer", reference.get_layers()[0])
        config.set_property("regions", "auto")  # channels named alike in both: those are used
        facts["channels"] = preview_facts(plugin, client, image, layer, config)
    return facts


def dialog_scenario():
    """The interactive dialog on the photo with a selection; a helper grabs it, then cancels it
    ("dialog") or presses OK ("dialog-ok": the preview preset, with options text the dialog's
    widgets must sort: iterations, which that preset does not read, and the photo's brightness kept)."""
    image = load("coffee.png")
    reference = load("rocket.jpg")
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 150, 75, 300, 240)
    Gimp.Display.new(image)
    before = image_state(image)
    source = image.get_layers()[0]
    press = "alt+o" if SCENARIO == "dialog-ok" else "Escape"
    helper = subprocess.Popen(["/usr/bin/python3", f"{DATA}/dialog_screenshot.py"],
                              env={**os.environ, "PHOTOSTYLE_GRAB": GRAB, "PHOTOSTYLE_GRAB_AFTER": "10",
                                   "PHOTOSTYLE_GRAB_KEY": press})
    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [source])
    config.set_property("reference-layer", reference.get_layers()[0])
    if SCENARIO == "dialog-ok":
        config.set_property("preset", "preview")
        config.set_property("options", "iterations=5 keep_brightness=true")
    result = procedure.run(config)
    status = result.index(0)
    facts = {"status": status.value_nick, "helper_exit": helper.wait(timeout=90),
             "message": result.index(1) if status not in (Gimp.PDBStatusType.SUCCESS, Gimp.PDBStatusType.CANCEL)
             else "", "layers": [layer.get_name() for layer in image.get_layers()],
             "image_unchanged": {key: value == before[key] for key, value in image_state(image).items()}}
    if status == Gimp.PDBStatusType.SUCCESS:
        facts["tone_change"] = tone_change(source, image.get_layers()[0], (250, 150, 350, 240))
        facts["source_unchanged"] = pixels(source) == before["pixels"][0]
    return facts


def add_region_channels(image, horizon, names=("sky", "ground")):
    """Channels named `names`: the first above `horizon` (a fraction of the height), the second below; no selection."""
    height = image.get_height()
    for name, top, bottom in zip(names, (0, int(height * horizon)), (int(height * horizon), height)):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, top, image.get_width(), bottom - top)
        Gimp.Selection.save(image).set_name(name)
    Gimp.Selection.none(image)


def channel_facts(channel, crop=None):
    """A channel's name, size, and covered pixels inside and outside `crop` (x, y, w, h; None: all inside)."""
    width, height = channel.get_width(), channel.get_height()
    x0, y0, crop_width, crop_height = crop or (0, 0, width, height)
    data = pixels(channel, "Y u8")
    inside = outside = 0
    for y in range(height):
        row = data[y * width:(y + 1) * width]
        covered = len(row) - row.count(0)
        within = row[x0:x0 + crop_width] if y0 <= y < y0 + crop_height else b""
        covered_within = len(within) - within.count(0)
        inside += covered_within
        outside += covered - covered_within
    return {"name": channel.get_name(), "size": [width, height], "visible": channel.get_visible(),
            "covered_inside": inside, "covered_outside": outside}


def press_undo(image):
    """Ctrl+Z in the image's window, as a retoucher would; waits until the layer count changes."""
    Gimp.Display.new(image)
    Gimp.displays_flush()
    window = find_window(r"\(RGB.* layers\)")
    subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "--clearmodifiers", "ctrl+z"],
                   timeout=30, check=True)
    count = len(image.get_layers())
    for _ in range(40):
        time.sleep(0.25)
        if len(image.get_layers()) != count:
            break


def look_scenario():
    """Transfer keeping its look in a file, then that look applied to the photo's layer, then one Undo."""
    image = load("coffee.png")
    source = image.get_layers()[0]
    reference = load("rocket.jpg")
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 160, 80, 300, 240)
    look_file = f"{DATA}/kept look.cube"
    if os.path.exists(look_file):
        os.remove(look_file)
    transfer = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    config = transfer.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [source])
    config.set_property("reference-layer", reference.get_layers()[0])
    config.set_property("preset", "preview")
    config.set_property("look-file", Gio.File.new_for_path(look_file))
    result = transfer.run(config)
    facts = {"transfer_status": result.index(0).value_nick, "transfer_message": str(result.index(1) or ""),
             "look_file": look_file, "look_written": os.path.exists(look_file)}
    if result.index(0) != Gimp.PDBStatusType.SUCCESS:
        return facts
    apply = Gimp.get_pdb().lookup_procedure("plug-in-photostyle-apply-look")
    assert apply is not None, "plug-in-photostyle-apply-look is not registered"
    layers_before = [layer.get_name() for layer in image.get_layers()]
    composite_before = composite(image)
    source_before = pixels(source, "R'G'B'A u8")
    config = apply.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [source])
    config.set_property("look-file", Gio.File.new_for_path(look_file))
    started = time.monotonic()
    result = apply.run(config)
    facts.update(apply_status=result.index(0).value_nick, apply_seconds=round(time.monotonic() - started, 2),
                 apply_message=str(result.index(1) or "") if result.index(0) != Gimp.PDBStatusType.SUCCESS else "",
                 layers_before=layers_before, layers=[layer.get_name() for layer in image.get_layers()],
                 size=[source.get_width(), source.get_height()], source_unchanged=pixels(source, "R'G'B'A u8") == source_before)
    if result.index(0) != Gimp.PDBStatusType.SUCCESS:
        return facts
    new = image.get_layers()[image.get_item_position(source) - 1]
    facts.update(new_layer=new.get_name(), new_has_mask=new.get_mask() is not None)
    with open(f"{DATA}/look-photo.raw", "wb") as out:
        out.write(source_before)
    with open(f"{DATA}/look-layer.raw", "wb") as out:
        out.write(pixels(new, "R'G'B'A u8"))
    press_undo(image)
    facts.update(layers_after_undo=[layer.get_name() for layer in image.get_layers()],
                 composite_after_undo_unchanged=composite(image) == composite_before)
    return facts


def on_canvas(layer):
    """`layer` as it sits on its image's canvas, 8-bit RGBA, transparent where it does not reach."""
    _, x, y = layer.get_offsets()
    image = layer.get_image()
    rect = Gegl.Rectangle.new(-x, -y, image.get_width(), image.get_height())
    return layer.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE)


def frame_facts(data):
    """Mean R, G, B over the opaque pixels of 8-bit RGBA `data`, and how many are opaque and transparent."""
    alpha = data[3::4]
    return {"mean": mean_rgb(data, 4, alpha), "opaque": alpha.count(255), "transparent": alpha.count(0)}


def animation():
    """A three-frame animation, one layer per frame, and its layers in frame order (the bottom one
    first): the photo, a mirrored copy, and a smaller copy off the origin."""
    image = load("coffee.png")
    image.scale(200, 134)
    first = image.get_layers()[0]
    first.set_name("one (100ms)")
    second = first.copy()
    image.insert_layer(second, None, 0)
    second.set_name("two (100ms)")
    second.transform_flip_simple(Gimp.OrientationType.HORIZONTAL, True, 0.0)
    third = first.copy()
    image.insert_layer(third, None, 0)
    third.set_name("three (100ms)")
    third.scale(100, 67, False)
    third.set_offsets(40, 30)
    return image, [first, second, third]


def mirror_comparison(first, second, width):
    """How two 8-bit RGBA frames of one size compare: the largest difference between `second`
    mirrored back and `first`, and the fraction of pixels where `second` differs from `first`."""
    largest, differing = 0, 0
    pixel_count = len(first) // 4
    for i in range(pixel_count):
        y, x = divmod(i, width)
        mirrored = (y * width + width - 1 - x) * 4
        a, b, c = first[i * 4:i * 4 + 4], second[mirrored:mirrored + 4], second[i * 4:i * 4 + 4]
        largest = max(largest, *(abs(p - q) for p, q in zip(a, b)))
        differing += a != c
    return {"mirror_difference": largest, "differing_fraction": differing / pixel_count}


def frames_dialog_scenario():
    """The frames procedure run interactively: its dialog opens, a helper presses OK."""
    image, sources = animation()
    Gimp.Display.new(image)
    helper = subprocess.Popen(["/usr/bin/python3", f"{DATA}/dialog_screenshot.py"],
                              env={**os.environ, "PHOTOSTYLE_GRAB": GRAB, "PHOTOSTYLE_GRAB_AFTER": "5",
                                   "PHOTOSTYLE_GRAB_KEY": "alt+o",
                                   "PHOTOSTYLE_GRAB_TITLE": "^Photo Style Transfer \\(all layers as frames\\)$"})
    procedure = Gimp.get_pdb().lookup_procedure(FRAMES)
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [sources[-1]])
    config.set_property("reference-layer", load("rocket.jpg").get_layers()[0])
    config.set_property("options", "size=64 iterations=5")
    result = procedure.run(config)
    status = result.index(0)
    return {"status": status.value_nick, "helper_exit": helper.wait(timeout=90),
            "message": str(result.index(1) or "") if status != Gimp.PDBStatusType.SUCCESS else "",
            "layers": [layer.get_name() for layer in image.get_layers()]}


def frames_scenario():
    """Every layer of a three-frame animation styled as frames (non-interactively, as a script
    would), each new layer against its frame, then one Ctrl+Z."""
    image, sources = animation()
    reference = load("rocket.jpg")
    before = [on_canvas(layer) for layer in sources]
    layers_before = [layer.get_name() for layer in image.get_layers()]
    composite_before = composite(image)
    procedure = Gimp.get_pdb().lookup_procedure(FRAMES)
    assert procedure is not None, f"{FRAMES} is not registered (did the plug-in fail to load?)"
    config = procedure.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [sources[-1]])
    config.set_property("reference-layer", reference.get_layers()[0])
    if SCENARIO == "frames-slow":  # a long keyframe transfer, to be killed mid-job
        config.set_property("preset", "classic")
        config.set_property("options", "size=64 iterations=4000")
    else:
        config.set_property("preset", "default")
        config.set_property("options", "size=64 iterations=5")
    config.set_property("new-image", SCENARIO == "frames-new-image")
    images_before = len(Gimp.get_images())
    result = procedure.run(config)
    status = result.index(0)
    facts = {"status": status.value_nick, "message": str(result.index(1) or "") if status != Gimp.PDBStatusType.SUCCESS
             else "", "reference_name": reference.get_name(), "reference_mean": mean_rgb(pixels(
                 reference.get_layers()[0], "R'G'B' u8"), 3), "layers_before": layers_before,
             "layers": [layer.get_name() for layer in image.get_layers()],
             "source_unchanged": [on_canvas(layer) for layer in sources] == before,
             "composite_unchanged": composite(image) == composite_before,
             "frames": [frame_facts(data) for data in before]}
    if status != Gimp.PDBStatusType.SUCCESS:
        return facts
    if SCENARIO == "frames-new-image":
        made = result.index(1)
        facts.update(images_made=len(Gimp.get_images()) - images_before, new_image_size=[
            made.get_width(), made.get_height()], new_image_layers=[layer.get_name() for layer in made.get_layers()])
        new = list(reversed(made.get_layers()))  # the first frame is the bottom layer
    else:
        new = [image.get_layers()[image.get_item_position(layer) - 1] for layer in sources]  # each one's layer above
    facts["styled"] = [dict(frame_facts(pixels(layer, "R'G'B'A u8")), name=layer.get_name(),
                            size=[layer.get_width(), layer.get_height()], offsets=list(layer.get_offsets()[1:]))
                       for layer in new]
    facts.update(mirror_comparison(pixels(new[0], "R'G'B'A u8"), pixels(new[1], "R'G'B'A u8"), image.get_width()))
    if SCENARIO == "frames-new-image":
        return facts
    press_undo(image)
    facts.update(layers_after_undo=[layer.get_name() for layer in image.get_layers()],
                 composite_after_undo_unchanged=composite(image) == composite_before)
    return facts


def procedure_scenario():
    """Our procedure, called non-interactively on the photo with a feathered selection (or as SCENARIO says)."""
    image = load("coffee.png")
    image.resize(image.get_width() + 20, image.get_height() + 10, 10, 5)  # the layer now sits at (10, 5)
    if SCENARIO == "16bit":
        image.convert_precision(Gimp.Precision.U16_NON_LINEAR)
    elif SCENARIO == "channels":
        add_region_channels(image, 0.3)
    else:
        if SCENARIO == "auto":  # a previous run's automatic region: replaced, as no name is in both images
            add_region_channels(image, 0.5, names=("auto: 9",))
        image.select_ellipse(Gimp.ChannelOps.REPLACE, 160, 80, 300, 240)
        Gimp.Selection.feather(image, 20)
    source = image.get_layers()[0]
    reference = load("rocket.jpg")
    if SCENARIO == "channels":
        add_region_channels(reference, 0.6)

    width = image.get_width()
    source_before = pixels(source)
    composite_before = composite(image)
    layers_before = [layer.get_name() for layer in image.get_layers()]
    channels_before = [channel.get_name() for channel in image.get_channels()]
    _, crop_x, crop_y, crop_width, crop_height = source.mask_intersect()
    _, offset_x, offset_y = source.get_offsets()
    crop = (crop_x + offset_x, crop_y + offset_y, crop_width, crop_height)  # the part sent, in image coordinates

    procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
    assert procedure is not None, f"{PROCEDURE} is not registered (did the plug-in fail to load?)"
    config = procedure.create_config()
    config.set_property("image", image)
    config.set_core_object_array("drawables", [source])
    if SCENARIO == "16bit":  # the reference as a file, as a script that has not opened it passes it
        config.set_property("reference-file", Gio.File.new_for_path(f"{DATA}/rocket.jpg"))
    else:
        config.set_property("reference-layer", reference.get_layers()[0])
    if SCENARIO == "slow":  # a long job, to be killed mid-job: the paper's method, many style iterations
        config.set_property("preset", "classic")
        config.set_property("options", "size=64 iterations=4000")
    elif SCENARIO == "smooth-on-painterly":  # the painterly preset has no smooth finish to turn off
        config.set_property("preset", "painterly")
        config.set_property("options", "size=64 smooth=false")
    elif SCENARIO == "painterly":
        config.set_property("preset", "painterly")
        config.set_property("options", "size=64 iterations=5 keep_brightness=true")
    else:  # 5 iterations spread over the default preset's stages
        config.set_property("preset", "no-such-preset" if SCENARIO == "bad-preset" else "default")
        config.set_property("options", "size=64 iterations=5")
    result = procedure.run(config)

    status = result.index(0)
    facts = {
        "status": status.value_nick,
        "message": result.index(1) if status != Gimp.PDBStatusType.SUCCESS else "",
        "reference_name": reference.get_name(),
        "layers_before": layers_before,
        "layers": [layer.get_name() for layer in image.get_layers()],
        "channels_before": channels_before,
        "region_mode": config.get_property("regions"),
        "source_unchanged": pixels(source) == source_before,
        "composite_unchanged": composite(image) == composite_before,
    }
    if status == Gimp.PDBStatusType.SUCCESS and SCENARIO == "undo":
        press_undo(image)
        facts.update(layers_after_undo=[layer.get_name() for layer in image.get_layers()],
                     channels_after_undo=[channel.get_name() for channel in image.get_channels()],
                     selection_after_undo=not Gimp.Selection.is_empty(image),
                     composite_after_undo_unchanged=composite(image) == composite_before)
    elif status == Gimp.PDBStatusType.SUCCESS:
        new = image.get_layers()[0]
        composite_after = composite(image)
        facts.update(
            new_layer=new.get_name(),
            size=[new.get_width(), new.get_height()],
            source_size=[source.get_width(), source.get_height()],
            offsets=list(new.get_offsets()[1:]),
            source_offsets=list(source.get_offsets()[1:]),
            has_mask=new.get_mask() is not None,
            bpp=new.get_bpp(),
            # well inside the feathered ellipse (centre 320, 205 in image coordinates), and far outside it:
            # its top is at y = 80 and the 20 px feather's tails reach past y = 60, so stop at 40.
            changed_inside=changed_fraction(composite_before, composite_after, width, (270, 165, 370, 245)),
            changed_outside=changed_fraction(composite_before, composite_after, width, (10, 5, width - 10, 40)),
        )
        if SCENARIO == "painterly":  # the photo's brightness kept: its luma, not its colours
            facts["tone_change"] = tone_change(source, new, (260, 160, 360, 240))
        if SCENARIO == "auto":
            facts.update(crop=crop, reference_size=[reference.get_width(), reference.get_height()],
                         photo_channels=[channel_facts(channel, crop) for channel in image.get_channels()],
                         reference_channels=[channel_facts(channel) for channel in reference.get_channels()])
        if SCENARIO == "16bit":
            samples = pixels(new, "R'G'B'A u16")
            values = [int.from_bytes(samples[i:i + 2], "little") for i in range(0, len(samples), 2)]
            facts["not_8bit_fraction"] = sum(value % 257 != 0 for value in values) / len(values)
    return facts


if SCENARIO in ("presets", "preview"):
    facts = live_preview_scenario()
elif SCENARIO in ("dialog", "dialog-ok"):
    facts = dialog_scenario()
elif SCENARIO == "look":
    facts = look_scenario()
elif SCENARIO in ("frames", "frames-slow", "frames-new-image"):
    facts = frames_scenario()
elif SCENARIO == "frames-dialog":
    facts = frames_dialog_scenario()
else:
    facts = procedure_scenario()
print("RESULT " + json.dumps(facts), flush=True)
