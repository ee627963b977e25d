"""Screenshot of the plug-in's dialog for the README (docs/gimp-dialog.png); not a test.

Run inside GIMP's GUI under Xvfb (in the chroot of tests/gimp/chroot.py, plug-in installed and
its daemon running, as the gimp tests leave them), with the tests' environment:

    chroot ROOT env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 GIMP3_DIRECTORY=/tmp/photostyle-test/gimp3 \
        xvfb-run -a -s "-screen 0 1280x900x24" gimp-3.0 --no-splash --batch-interpreter=python-fu-eval \
        -b 'exec(open("/tmp/photostyle-test/data/dialog_screenshot.py").read())' --quit

As GIMP's batch code it opens the example photo with a selection, names the reference file, then calls
the procedure interactively; the dialog blocks it, so a helper process (this file again, with
PHOTOSTYLE_GRAB=PATH) waits for the dialog window, gives it time to fill the daemon's presets
and show the live preview, saves it as PNG, and presses Escape (or PHOTOSTYLE_GRAB_KEY); another
dialog is found by PHOTOSTYLE_GRAB_TITLE (a regular expression).
"""

import os
import subprocess
import sys
import time

DATA = "/tmp/photostyle-test/data"
OUTPUT = "/tmp/photostyle-test/gimp-dialog.png"


def grab(path: str) -> None:
    import gi

    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from xwindows import find_window

    window = find_window(os.environ.get("PHOTOSTYLE_GRAB_TITLE", "^Photo Style Transfer$"))
    time.sleep(float(os.environ.get("PHOTOSTYLE_GRAB_AFTER", "30")))  # presets, then the live preview (~1-3 s idle, far more on a busy machine)
    geometry = dict(line.split("=") for line in subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True, check=True).stdout.split())
    x, y, width, height = (int(geometry[key]) for key in ("X", "Y", "WIDTH", "HEIGHT"))
    Gdk.pixbuf_get_from_window(Gdk.get_default_root_window(), x, y, width, height).savev(path, "png", [], [])
    key = os.environ.get("PHOTOSTYLE_GRAB_KEY", "Escape")  # or "alt+o": the dialog's _OK
    subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", key], timeout=30, check=True)


if os.environ.get("PHOTOSTYLE_GRAB"):
    grab(os.environ["PHOTOSTYLE_GRAB"])
    sys.exit(0)

from gi.repository import Gimp, Gio  # noqa: E402  (GIMP batch code from here on)

image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(f"{DATA}/coffee.png"))
image.select_ellipse(Gimp.ChannelOps.REPLACE, 150, 75, 300, 240)
Gimp.Display.new(image)
helper = subprocess.Popen(["/usr/bin/python3", f"{DATA}/dialog_screenshot.py"],
                          env={**os.environ, "PHOTOSTYLE_GRAB": OUTPUT})
procedure = Gimp.get_pdb().lookup_procedure("plug-in-photostyle-transfer")
config = procedure.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", [image.get_layers()[0]])
# The reference as a file: the layer chooser draws no thumbnail under Xvfb, and batch-loaded images are "[Untitled]".
config.set_property("reference-file", Gio.File.new_for_path(f"{DATA}/rocket.jpg"))
procedure.run(config)
print("screenshot helper exit", helper.wait(timeout=90), flush=True)
