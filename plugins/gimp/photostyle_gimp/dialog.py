"""The dialog: GIMP's widgets for the arguments, the daemon's presets and a live preview, as an
adapter over the client library's `Controller` (shared with Krita's docker).

The controller talks to the daemon on worker threads and reports through GLib's main loop, so
the dialog never blocks; its policy here is `auto_preview`: the preview follows the reference and
the region choice by itself. The engine options are typed widgets built from the daemon's
capabilities for the chosen preset (option_widgets.py), bound to the `options` text argument.
OK closes the dialog and the procedure runs the job (transfer.py).
"""

from __future__ import annotations

from typing import Callable, Sequence

from gi.repository import GLib, GObject, Gimp, GimpUi, Gtk

from photostyle.server.client import Capture, Controller, Image, State, preset_choices
from photostyle.server.client.launch import DaemonConfig
from photostyle.server.wire import photostyle_pb2 as pb

from . import PLUGIN_DIR, connect_daemon, preview
from .capture import capture
from .option_widgets import OptionWidgets
from .options import DEFAULT_PRESET, OPTIONS_ARGUMENT

TITLE = "Photo Style Transfer"
#: The arguments that make the preview out of date when they change.
_PREVIEW_INPUTS = ("reference-layer", "reference-file", "regions")
#: The arguments shown in GIMP's own widgets, those of them the procedure has (the preset's and
#: the options' widgets are ours, after the first two).
_SETTINGS = ("reference-layer", "reference-file", "regions", "look-file", "fps", "new-image")


def run_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, image: Gimp.Image,
               layer: Gimp.Layer | None = None) -> bool:
    """Show the dialog, with a live preview of `layer` when given; True when the user pressed OK
    (then `config` holds the arguments)."""
    GimpUi.init(procedure.get_name())
    title = TITLE if layer is not None else f"{TITLE} (all layers as frames)"
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title=title)
    has = {spec.name for spec in config.list_properties()}
    panel = _Panel(dialog, config, image, layer, [name for name in _SETTINGS if name in has])
    accepted = False
    try:
        accepted = dialog.run()
    finally:
        if accepted:  # a daemon the dialog is still starting: let it come up rather than start a second one
            Gimp.progress_init("Photo Style Transfer: waiting for the PhotoStyle engine to start")
        panel.controller.close(wait_s=DaemonConfig.load(PLUGIN_DIR).start_timeout_s + 5 if accepted else 0)
        dialog.destroy()
    return accepted


class _GLibLoop:
    """The client library's `Loop` on GLib's main loop (Gtk's thread)."""

    def post(self, callback: Callable[[], None]) -> None:
        GLib.idle_add(lambda: callback() and False)

    def later(self, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
        pending = [True]

        def fire() -> bool:
            pending[0] = False
            callback()
            return False

        source = GLib.timeout_add(round(seconds * 1000), fire)
        return lambda: pending[0] and GLib.source_remove(source)


class _Panel:
    """The preset combo box, the preview (with a layer to preview) and the status line beside GIMP's
    argument widgets; the controller's PreviewHost. GIMP objects are only touched on the main thread."""

    def __init__(self, dialog: GimpUi.ProcedureDialog, config: Gimp.ProcedureConfig, image: Gimp.Image,
                 layer: Gimp.Layer | None, arguments: Sequence[str]) -> None:
        self._config, self._image, self._layer = config, image, layer
        self._descriptions: dict[str, str] = {}
        self._capabilities: pb.Capabilities | None = None
        settings = dialog.fill_box("photostyle-settings", list(arguments))
        self.preset = Gtk.ComboBoxText(tooltip_text="The PhotoStyle daemon's presets")
        self._set_presets([(self._chosen_preset(), "")], self._chosen_preset())
        self.preset.set_sensitive(False)
        self.preset_about = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=44, selectable=True)
        self.preset_about.get_style_context().add_class("dim-label")
        preset_row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        preset_label = Gtk.Label(label="_Preset", use_underline=True, mnemonic_widget=self.preset, xalign=0.0)
        preset_row.pack_start(preset_label, False, False, 0)
        preset_row.pack_start(self.preset, True, True, 0)
        settings.pack_start(preset_row, False, False, 0)
        settings.pack_start(self.preset_about, False, False, 0)
        settings.reorder_child(preset_row, 2)  # after the reference, where GIMP would have put it
        settings.reorder_child(self.preset_about, 3)
        regions = dialog.get_widget("regions", GObject.TYPE_NONE) if "regions" in arguments else None
        if isinstance(regions, GimpUi.Labeled):  # line the label up with GIMP's own
            self._labels = Gtk.SizeGroup(mode=Gtk.SizeGroupMode.HORIZONTAL)
            self._labels.add_widget(regions.get_label())
            self._labels.add_widget(preset_label)
        self.options = OptionWidgets(self._on_options_set)
        options_frame = Gtk.Frame(label="Engine options (this preset's)")
        options_frame.add(self.options.grid)
        self.options.grid.set_border_width(6)
        settings.pack_start(options_frame, False, False, 0)

        self.image = Gtk.Image(width_request=preview.PREVIEW_BOX, height_request=preview.PREVIEW_BOX)
        self.button = Gtk.Button.new_with_mnemonic("Pre_view")
        self.status = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=44, selectable=True)
        column = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        if layer is not None:
            frame = Gtk.Frame(label="Live preview (quick colour transfer)")
            frame.add(self.image)
            self.button.set_tooltip_text("Restyle a small copy of the selection with the daemon's instant 'preview' "
                                         "preset (the image is not changed); the chosen preset refines this look.")
            column.pack_start(frame, False, False, 0)
            buttons = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
            buttons.pack_start(self.button, False, False, 0)
            column.pack_start(buttons, False, False, 0)
        column.pack_start(self.status, False, False, 0)
        columns = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=18)
        columns.pack_start(settings, True, True, 0)
        columns.pack_start(column, False, False, 0)
        dialog.get_content_area().pack_start(columns, True, True, 0)
        columns.show_all()

        self.controller = Controller(self, _GLibLoop(), lambda start, on_wait: connect_daemon(start, on_wait),
                                     auto_preview=layer is not None, run_label="OK")
        self.preset.connect("changed", self._on_preset_changed)
        config.connect("notify::preset", self._on_preset_set)  # Reset, Load Saved Settings
        config.connect(f"notify::{OPTIONS_ARGUMENT}", self._on_options_text_set)
        self.button.connect("clicked", lambda button: self.controller.preview())
        for name in _PREVIEW_INPUTS if layer is not None else ():
            config.connect(f"notify::{name}", lambda config, spec: self.controller.inputs_changed())
        self.say("Asking the PhotoStyle engine for its presets…")
        self.controller.probe(start=True)

    # The presets --------------------------------------------------------------------------------

    def _chosen_preset(self) -> str:
        return self._config.get_property("preset") or DEFAULT_PRESET

    def _set_presets(self, entries: list[tuple[str, str]], active: str) -> None:
        self._descriptions = dict(entries)
        self.preset.remove_all()
        for name, _ in entries:
            self.preset.append(name, name)
        self.preset.set_active_id(active)

    def _on_preset_changed(self, combo: Gtk.ComboBoxText) -> None:
        name = combo.get_active_id()
        if name is None:
            return
        if self._config.get_property("preset") != name:
            self._config.set_property("preset", name)
        about = self._descriptions.get(name, "")
        self.preset_about.set_text(about)
        combo.set_tooltip_text(about or "The PhotoStyle daemon's presets")
        self._show_options()

    def _on_preset_set(self, config: Gimp.ProcedureConfig, spec: GObject.ParamSpec) -> None:
        name = self._chosen_preset()
        if self.preset.get_active_id() != name and not self.preset.set_active_id(name):
            self._set_presets([*self._descriptions.items(), (name, "")], name)  # not the daemon's (yet): as it is

    # The engine options -------------------------------------------------------------------------

    def _options_text(self) -> str:
        return str(self._config.get_property(OPTIONS_ARGUMENT) or "")

    def _show_options(self) -> None:
        if self._capabilities is not None:
            self.options.show(self._capabilities, self._chosen_preset(), self._options_text())

    def _on_options_set(self, text: str) -> None:
        """A widget changed (or the form dropped what the preset does not read): the argument follows."""
        if self._options_text() != text:
            self._config.set_property(OPTIONS_ARGUMENT, text)

    def _on_options_text_set(self, config: Gimp.ProcedureConfig, spec: GObject.ParamSpec) -> None:
        """Reset, Load Saved Settings: the widgets follow the argument."""
        if self._options_text() != self.options.text():
            self._show_options()

    # The controller's PreviewHost -----------------------------------------------------------------

    def capture(self, preview_min_side: int | None) -> Capture:
        return capture(self._image, self._layer, self._config, preview_min_side)

    def say(self, text: str, error: bool = False) -> None:
        self.status.set_text(text)
        context = self.status.get_style_context()
        (context.add_class if error else context.remove_class)("error")

    def show_state(self, state: State) -> None:
        self.button.set_sensitive(not state.previewing)

    def show_presets(self, capabilities: pb.Capabilities) -> None:
        self._capabilities = capabilities
        self._set_presets(*preset_choices(capabilities, self._chosen_preset()))
        self.preset.set_sensitive(True)
        self._show_options()

    def show_picture(self, image: Image | None) -> None:
        if image is None:
            self.image.clear()
        else:
            self.image.set_from_pixbuf(preview.fitted(preview.pixbuf(image)))
