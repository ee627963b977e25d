"""The engine options as GTK widgets, built from the daemon's capabilities for the chosen preset.

A check box per on/off option, a spin box (the daemon's range) per number, a choice or text per
text option: whatever the daemon describes (client library's option_form), so a new engine
option or preset needs no change here. The widgets read and write the procedure's `options`
text argument, which is what runs the job and what GIMP remembers between runs.
"""

from __future__ import annotations

from typing import Callable

from gi.repository import Gtk

from photostyle.server.client.option_form import OptionField, Value, form_text, form_values, option_fields
from photostyle.server.wire import photostyle_pb2 as pb


class OptionWidgets:
    """A grid of the chosen preset's options; `text()` is what they set, as the options text."""

    def __init__(self, on_change: Callable[[str], None]) -> None:
        self.grid = Gtk.Grid(row_spacing=4, column_spacing=6)
        self._on_change = on_change
        self._fields: list[OptionField] = []
        self._values: dict[str, Value] = {}
        self.widgets: dict[str, Gtk.Widget] = {}

    def show(self, capabilities: pb.Capabilities, preset: str, text: str) -> None:
        """The preset's options with the values `text` sets (the preset's for the rest). Values the
        preset does not read are dropped from the text, which is reported through `on_change`."""
        for child in self.grid.get_children():
            self.grid.remove(child)
        self._fields = option_fields(capabilities, preset)
        self._values = form_values(self._fields, text)
        self.widgets = {}
        for row, field in enumerate(self._fields):
            widget = self._widget(field, self._values[field.name])
            widget.set_tooltip_text(field.help)
            self.widgets[field.name] = widget
            if field.kind == "bool":
                self.grid.attach(widget, 0, row, 3, 1)
                continue
            label = Gtk.Label(label=field.label, xalign=0.0, mnemonic_widget=widget)
            self.grid.attach(label, 0, row, 1, 1)
            self.grid.attach(widget, 1, row, 1, 1)
            if field.unit:
                self.grid.attach(Gtk.Label(label=field.unit, xalign=0.0), 2, row, 1, 1)
        self.grid.show_all()
        if self.text() != text:
            self._on_change(self.text())

    def text(self) -> str:
        return form_text(self._fields, self._values)

    def _widget(self, field: OptionField, value: Value) -> Gtk.Widget:
        if field.kind == "bool":
            widget = Gtk.CheckButton(label=field.label, active=bool(value))
            widget.connect("toggled", lambda button: self._set(field.name, button.get_active()))
        elif field.kind == "int":
            adjustment = Gtk.Adjustment(value=value, lower=field.minimum, upper=field.maximum, step_increment=1,
                                        page_increment=10)
            widget = Gtk.SpinButton(adjustment=adjustment, digits=0, numeric=True, hexpand=True)
            widget.connect("value-changed", lambda spin: self._set(field.name, spin.get_value_as_int()))
        elif field.choices:
            widget = Gtk.ComboBoxText()
            for choice in field.choices:
                widget.append(choice, choice)
            widget.set_active_id(str(value))
            widget.connect("changed", lambda combo: self._set(field.name, combo.get_active_id()))
        else:
            widget = Gtk.Entry(text=str(value), hexpand=True)
            widget.connect("changed", lambda entry: self._set(field.name, entry.get_text()))
        return widget

    def _set(self, name: str, value: Value) -> None:
        self._values[name] = value
        self._on_change(self.text())
