"""The engine options as Qt widgets, built from the daemon's capabilities for the chosen preset.

A check box per on/off option, a spin box (the daemon's range) per number, a choice or text per
text option: whatever the daemon describes (client library's option_form), so a new engine
option or preset needs no change here. Each widget is named "option_<name>". The values are the
options text that Settings remembers and Run sends.
"""

from __future__ import annotations

from typing import Callable

from PyQt5.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QLineEdit, QSpinBox, QWidget

from photostyle.server.client.option_form import OptionField, Value, form_text, form_values, option_fields
from photostyle.server.wire import photostyle_pb2 as pb


class OptionWidgets(QGroupBox):
    """A form of the chosen preset's options; `text()` is what they set, as the options text."""

    def __init__(self, on_change: Callable[[str], None]) -> None:
        super().__init__("Engine options", objectName="engine_options")
        self._form = QFormLayout(self)
        self._on_change = on_change
        self._fields: list[OptionField] = []
        self._values: dict[str, Value] = {}

    def show_options(self, capabilities: pb.Capabilities, preset: str, text: str) -> None:
        """The preset's options with the values `text` sets (the preset's for the rest). Values the
        preset does not read are dropped from the text, which is reported through `on_change`."""
        while self._form.rowCount():
            self._form.removeRow(0)
        self._fields = option_fields(capabilities, preset)
        self._values = form_values(self._fields, text)
        for field in self._fields:
            widget = self._widget(field, self._values[field.name])
            widget.setObjectName(f"option_{field.name}")
            widget.setToolTip(field.help)
            if field.kind == "bool":
                self._form.addRow(widget)
            else:
                self._form.addRow(field.label, widget)
        self.setVisible(bool(self._fields))
        if self.text() != text:
            self._on_change(self.text())

    def text(self) -> str:
        return form_text(self._fields, self._values)

    def _widget(self, field: OptionField, value: Value) -> QWidget:
        if field.kind == "bool":
            widget = QCheckBox(field.label, checked=bool(value))
            widget.toggled.connect(lambda checked: self._set(field.name, checked))
        elif field.kind == "int":
            widget = QSpinBox(suffix=f" {field.unit}" if field.unit else "")
            widget.setRange(field.minimum, field.maximum)  # before the value, which the range would clamp
            widget.setValue(int(value))
            widget.valueChanged.connect(lambda number: self._set(field.name, number))
        elif field.choices:
            widget = QComboBox()
            widget.addItems(field.choices)
            widget.setCurrentText(str(value))
            widget.currentTextChanged.connect(lambda choice: self._set(field.name, choice))
        else:
            widget = QLineEdit(str(value))
            widget.textChanged.connect(lambda words: self._set(field.name, words))
        return widget

    def _set(self, name: str, value: Value) -> None:
        self._values[name] = value
        self._on_change(self.text())
