"""Runs inside GIMP 3 (python-fu-eval batch): one scenario of tests/test_gimp_plugin.py.

Environment: PHOTOSTYLE_SCENARIO is "transfer", "16bit", "channels" (regions "sky" and "ground"
as channels in both images), "daemon-down", "slow" (a long job, for the test to kill) or "undo"
(which needs GIMP's GUI, under Xvfb, and xdotool); PHOTOSTYLE_DATA is the folder holding
coffee.png and rocket.jpg as GIMP sees it. It calls our procedure non-interactively, as a script
would, and prints one line `RESULT {json}` of facts for the test to assert on.
"""

import json
import os
import subprocess
import time

from gi.repository import Gegl, Gimp, Gio

PROCEDURE = "plug-in-photostyle-transfer"
SCENARIO = os.environ["PHOTOSTYLE_SCENARIO"]
DATA = os.environ["PHOTOSTYLE_DATA"]
CLAMP = Gegl.AbyssPolicy.CLAMP


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


def add_region_channels(image, horizon):
    """Channels "sky" (above `horizon`, a fraction of the height) and "ground" (below), no selection."""
    height = image.get_height()
    for name, top, bottom in (("sky", 0, int(height * horizon)), ("ground", int(height * horizon), height)):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, top, image.get_width(), bottom - top)
        Gimp.Selection.save(image).set_name(name)
    Gimp.Selection.none(image)


def press_undo(image):
    """Ctrl+Z in the image's window, as a retoucher would; waits until the layer count changes."""
    Gimp.Display.new(image)
    Gimp.displays_flush()
    windows = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", r"\(RGB.* layers\)"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.split()
    subprocess.run(["xdotool", "windowfocus", "--sync", windows[0], "key", "--clearmodifiers", "ctrl+z"],
                   timeout=30, check=True)
    count = len(image.get_layers())
    for _ in range(40):
        time.sleep(0.25)
        if len(image.get_layers()) != count:
            break


image = load("coffee.png")
image.resize(image.get_width() + 20, image.get_height() + 10, 10, 5)  # the layer now sits at (10, 5)
if SCENARIO == "16bit":
    image.convert_precision(Gimp.Precision.U16_NON_LINEAR)
elif SCENARIO == "channels":
    add_region_channels(image, 0.3)
else:
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

procedure = Gimp.get_pdb().lookup_procedure(PROCEDURE)
assert procedure is not None, f"{PROCEDURE} is not registered (did the plug-in fail to load?)"
config = procedure.create_config()
config.set_property("image", image)
config.set_core_object_array("drawables", [source])
if SCENARIO == "16bit":  # the reference as a file, as a script that has not opened it passes it
    config.set_property("reference-file", Gio.File.new_for_path(f"{DATA}/rocket.jpg"))
else:
    config.set_property("reference-layer", reference.get_layers()[0])
config.set_property("size", 64)
config.set_property("style-iterations", 2000 if SCENARIO == "slow" else 3)  # "slow": to be killed mid-job
config.set_property("photoreal-iterations", 2)
result = procedure.run(config)

status = result.index(0)
facts = {
    "status": status.value_nick,
    "message": result.index(1) if status != Gimp.PDBStatusType.SUCCESS else "",
    "reference_name": reference.get_name(),
    "layers_before": layers_before,
    "layers": [layer.get_name() for layer in image.get_layers()],
    "source_unchanged": pixels(source) == source_before,
    "composite_unchanged": composite(image) == composite_before,
}
if status == Gimp.PDBStatusType.SUCCESS and SCENARIO == "undo":
    press_undo(image)
    facts.update(layers_after_undo=[layer.get_name() for layer in image.get_layers()],
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
    if SCENARIO == "16bit":
        samples = pixels(new, "R'G'B'A u16")
        values = [int.from_bytes(samples[i:i + 2], "little") for i in range(0, len(samples), 2)]
        facts["not_8bit_fraction"] = sum(value % 257 != 0 for value in values) / len(values)
print("RESULT " + json.dumps(facts), flush=True)
