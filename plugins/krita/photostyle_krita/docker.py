"""The "Photo Style" docker: the panel's widgets, as an adapter over the client library's Controller.

The controller (photostyle.server.client.controller, shared with GIMP's dialog) decides what
Preview, Run, Cancel, Save look and Apply look do, talks to the daemon off the UI thread (starting the installed one
when none answers) and says what happened; this docker implements its `Host`: `layers` reads the
document into a `Capture` (one path for Run and Preview) and writes the result back, `qimages`
shows pictures, `settings` holds what is remembered (and the engine options, in one place), and
`qtloop` brings the workers' reports to Krita's UI thread, and `option_widgets` shows the chosen
preset's engine options as the daemon describes them. Nothing may escape a slot: an
exception would open Krita's modal error dialog, so the controller reports every failure here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from krita import DockWidget, Krita
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QProgressBar, QPushButton, QToolButton, QVBoxLayout, QWidget)

from photostyle.server.client import (LOOK_FILES, REGION_CHOICES, Capture, Controller, Delivery, FramesCapture, Image,
                                      InputError, LayerCapture, Options, Result, State, StyledSequence, preset_choices,
                                      with_look)
from photostyle.server.client.launch import DaemonConfig, connect
from photostyle.server.client.protocol import ClientProtocol, Connector
from photostyle.server.wire import photostyle_pb2 as pb

from . import layers, qimages
from .option_widgets import OptionWidgets
from .qtloop import QtLoop
from .settings import Settings

DOCKER_ID = "photostyle_docker"
PREVIEW_PX = 200  # the preview area's long side
_PLUGIN_DIR = Path(__file__).resolve().parent
_IMAGE_FILES = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"
_LOOK_FILES = f"Looks ({' '.join('*' + suffix for suffix in LOOK_FILES)});;All files (*)"


class PhotoStyleDocker(DockWidget):
    """Reference, preset, regions, Preview/Run/Every frame/Cancel, Save look/Apply look, progress,
    picture, status and the daemon's address. Every Run asks for its result's look (about a second
    more), so Save look can keep it. Run styles a still layer (or an animated one's current frame,
    as Krita's filters do); Every frame styles a whole animated layer into a new animated layer."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Photo Style")
        self._installed = DaemonConfig.load(_PLUGIN_DIR)
        self._settings = Settings.load(self._installed)
        self._daemon = self._daemon_config()
        #: The last image shown in the preview area, at the size the daemon sent it.
        self.shown_preview: QImage | None = None
        self.controller = Controller(self, QtLoop(self), self._connector(self._daemon), run_label="Run")
        self._build()
        notifier = Krita.instance().notifier()
        notifier.imageCreated.connect(lambda: QTimer.singleShot(0, self._refresh_references))  # once listed
        notifier.imageClosed.connect(self._on_image_closed)
        notifier.applicationClosing.connect(lambda: self.controller.close(wait_s=5))
        self._refresh_references()
        self.controller.probe()

    def _build(self) -> None:
        self.reference = QComboBox(objectName="reference", toolTip="The photo whose colours and tone to take: "
                                   "another open document (its local selections can pair regions) or a file.")
        self.browse = QToolButton(objectName="browse", text="…", toolTip="Choose a reference file")
        self.preset = QComboBox(objectName="preset", toolTip="The PhotoStyle daemon's presets")
        self.preset.addItem(self._settings.preset)
        self.regions = QComboBox(objectName="regions", minimumContentsLength=12,
                                 sizeAdjustPolicy=QComboBox.AdjustToMinimumContentsLengthWithIcon,
                                 toolTip="Regions are local selections (Layer ▸ New ▸ Local Selection); those with "
                                         "the same name in the photo and the reference document are styled region "
                                         "to region (sky to sky). Regions the engine finds are added as local "
                                         "selections “auto: 1”…. The active selection is the area to restyle.")
        for mode, label in REGION_CHOICES.items():
            self.regions.addItem(label, mode)
            self.regions.setItemData(self.regions.count() - 1, label, Qt.ToolTipRole)
        self.regions.setCurrentIndex(self.regions.findData(self._settings.regions))
        self.live_preview = QPushButton("Preview", objectName="live_preview",
                                        toolTip="A quick look at the selected area (about a second): the daemon's "
                                                "“preview” preset on a shrunk copy. The document is not changed.")
        self.options = OptionWidgets(self._on_options_set)
        self.options.hide()  # until the daemon has said what the chosen preset reads
        self._capabilities: pb.Capabilities | None = None
        self.run = QPushButton("Run", objectName="run", toolTip="Restyle the active layer (or, on an animated "
                                                                "layer, its current frame) as a new layer above it.")
        self.run_frames = QPushButton("Every frame", objectName="run_frames",
                                      toolTip="Style every frame of the active animated paint layer in the "
                                              "document's frame range, with one look for them all, into a new "
                                              "animated layer above it (keyframes at the same times); the layer "
                                              "is not changed. Cancel stops it and adds nothing.")
        self.cancel = QPushButton("Cancel", objectName="cancel", enabled=False)
        self.save_look = QPushButton("Save look…", objectName="save_look", enabled=False,
                                     toolTip="Keep the last Run's look as a .cube 3D LUT, which Apply look…, "
                                             "graders, ffmpeg and `photostyle apply` put on other photos.")
        self.apply_look = QPushButton("Apply look…", objectName="apply_look",
                                      toolTip="Recolour the active layer with a look file (.cube or a Hald CLUT "
                                              ".png) as a new layer above it; the layer is not changed.")
        self.progress = QProgressBar(objectName="progress", maximum=1000, textVisible=True)
        self.progress.setFormat("idle")
        self.preview = QLabel(objectName="preview", alignment=Qt.AlignCenter, minimumHeight=PREVIEW_PX // 2)
        self.status = QLabel(objectName="status", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.address = QLineEdit(self._settings.address, objectName="address", placeholderText="127.0.0.1:50151")
        self.token = QLineEdit(self._settings.token, objectName="token", echoMode=QLineEdit.Password,
                               placeholderText="none")

        reference_row = QHBoxLayout()
        reference_row.addWidget(self.reference, 1)
        reference_row.addWidget(self.browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.live_preview)
        buttons.addWidget(self.run)
        buttons.addWidget(self.run_frames)
        buttons.addWidget(self.cancel)
        look_buttons = QHBoxLayout()
        look_buttons.addWidget(self.save_look)
        look_buttons.addWidget(self.apply_look)
        form = QFormLayout()
        form.addRow("Reference", reference_row)
        form.addRow("Preset", self.preset)
        form.addRow("Regions", self.regions)
        connection = QGroupBox("Daemon")
        connection_form = QFormLayout(connection)
        connection_form.addRow("Address", self.address)
        connection_form.addRow("Token", self.token)
        connection_form.addRow(QLabel(self._start_hint(), wordWrap=True))
        body = QWidget()
        column = QVBoxLayout(body)
        column.addLayout(form)
        column.addWidget(self.options)
        column.addLayout(buttons)
        column.addLayout(look_buttons)
        column.addWidget(self.progress)
        column.addWidget(self.preview)
        column.addWidget(self.status)
        column.addWidget(connection)
        column.addStretch(1)
        self.setWidget(body)

        self.browse.clicked.connect(self._choose_file)
        self.reference.currentIndexChanged.connect(self._on_choice_changed)
        self.regions.currentIndexChanged.connect(self._on_choice_changed)
        self.preset.currentIndexChanged.connect(self._show_options)
        self.live_preview.clicked.connect(self._preview)
        self.run.clicked.connect(self._run)
        self.run_frames.clicked.connect(self._run_frames)
        self.cancel.clicked.connect(self.controller.cancel)
        self.save_look.clicked.connect(self._save_look)
        self.apply_look.clicked.connect(self._apply_look)
        self.address.editingFinished.connect(self._on_address_set)
        self.token.editingFinished.connect(self._on_address_set)

    def canvasChanged(self, canvas: object) -> None:
        """Required by DockWidget; the reference list does not depend on the active document."""

    # Reference list ---------------------------------------------------------------------------

    def _refresh_references(self, *_: object) -> None:
        current = self.reference.currentText()
        self.reference.blockSignals(True)  # one change signal for the whole refill, below
        self.reference.clear()
        # Kept beside the combo: a Document stored as item data comes back as a bare QObject.
        self._references: list[layers.Reference] = list(Krita.instance().documents())
        if self._settings.reference_file and Path(self._settings.reference_file).is_file():
            self._references.append(self._settings.reference_file)
        for reference in self._references:
            file = " (file)" if isinstance(reference, str) else ""
            self.reference.addItem(layers.reference_name(reference) + file)
        index = self.reference.findText(current)
        self.reference.setCurrentIndex(index if index >= 0 else self.reference.count() - 1)
        self.reference.blockSignals(False)
        if self.reference.currentText() != current:
            self._on_choice_changed()

    def _choose_file(self) -> None:
        start = str(Path(self._settings.reference_file).parent) if self._settings.reference_file else ""
        path, _ = QFileDialog.getOpenFileName(self, "Reference photo", start, _IMAGE_FILES)
        if path:
            self._settings.reference_file = path
            self._refresh_references()
            self.reference.setCurrentIndex(self.reference.count() - 1)

    # The daemon ---------------------------------------------------------------------------------

    def _daemon_config(self) -> DaemonConfig:
        """The daemon at the panel's address; only the installed one may be started from here."""
        address, token = self._settings.address.strip(), self._settings.token or None
        if address == self._installed.address:
            return replace(self._installed, token=token)
        return DaemonConfig(address, [], self._installed.start_timeout_s, token)

    @staticmethod
    def _connector(daemon: DaemonConfig) -> Connector:
        def reach(start: bool, on_wait) -> ClientProtocol:
            return connect(daemon, on_wait, start=start)
        return reach

    def _start_hint(self) -> str:
        if self._installed.start_command:
            return (f"When no daemon answers at {self._installed.address}, Preview and Run start: "
                    f"{' '.join(self._installed.start_command)}")
        return "Preview and Run do not start a daemon: start one with `photostyle serve`."

    def _on_address_set(self) -> None:
        self._remember()
        daemon = self._daemon_config()
        if daemon != self._daemon:
            self._daemon = daemon
            self.controller.reconnect(self._connector(daemon))

    # The buttons ----------------------------------------------------------------------------------

    def _remember(self) -> None:
        self._settings.address = self.address.text().strip()
        self._settings.token = self.token.text()
        self._settings.preset = self.preset.currentText()
        self._settings.regions = self.regions.currentData()
        self._settings.save()

    def _preview(self) -> None:
        self._remember()
        self.controller.preview()

    def _run(self) -> None:
        options = self._options()
        if options is not None:
            self.controller.run(with_look(options))

    def _run_frames(self) -> None:
        options = self._options()
        if options is not None:
            self.controller.run_sequence(options)

    def _options(self) -> Options | None:
        """The engine options chosen (remembered first), or None when the status line says what to fix."""
        self._remember()
        try:
            return self._settings.options()
        except ValueError as error:  # the engine_options text, as edited in kritarc
            self.say(f"{error} (kritarc, [PhotoStyle] engine_options)", error=True)
            return None

    def _save_look(self) -> None:
        look = self.controller.look
        if look is None:
            return
        folder = Path(self._settings.reference_file).parent if self._settings.reference_file else Path.home()
        path, _ = QFileDialog.getSaveFileName(self, "Save look", str(folder / look.file_name), "3D LUT (*.cube)")
        if path:
            self.controller.save_look(path)

    def _apply_look(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Apply look", "", _LOOK_FILES)
        if path:
            self.controller.apply_look(path)

    def _show_options(self, *_: object) -> None:
        if self._capabilities is not None:
            self.options.show_options(self._capabilities, self.preset.currentText(), self._settings.engine_options)

    def _on_options_set(self, text: str) -> None:
        self._settings.engine_options = text
        self._remember()

    def _on_choice_changed(self, *_: object) -> None:
        self.controller.inputs_changed()

    def _on_image_closed(self, *_: object) -> None:
        """Closing a job's document cancels the job."""
        self.controller.cancel_where(lambda capture: not layers.is_open(capture.context.document))
        self._refresh_references()

    # The controller's Host --------------------------------------------------------------------------

    def _reference(self) -> layers.Reference | None:
        return self._references[self.reference.currentIndex()] if self._references else None

    def capture(self, preview_min_side: int | None) -> Capture:
        reference = self._reference()
        shrink = layers.Shrink(preview_min_side) if preview_min_side is not None else None
        return layers.capture(Krita.instance().activeDocument(), reference, self.regions.currentData(), shrink)

    def deliver(self, capture: Capture, result: Result, delivery: Delivery) -> None:
        """The result layer; masked by the selection once Krita has made it the active layer."""
        target: layers.Target = capture.context
        if not layers.is_open(target.document):
            raise InputError("The photo was closed before the result came; nothing was added.")
        layer = layers.add_result_layer(target, result)

        def finish() -> None:
            layers.add_found_regions(target, result.regions)
            target.document.refreshProjection()
            delivery.done(target.layer_name)

        if capture.selection is None:
            finish()
            return

        def mask(active: bool) -> None:
            try:
                if not active:
                    raise InputError("Krita did not activate the result layer to mask it; nothing was changed. "
                                     "Press Run again.")
                layers.add_selection_mask(target, capture.selection, layer)
            except InputError as error:
                layer.remove()
                target.document.refreshProjection()
                delivery.failed(error)
                return
            finish()

        layers.when_active(target.document, layer, mask)

    def capture_frames(self) -> FramesCapture:
        return layers.capture_frames(Krita.instance().activeDocument(), self._reference())

    def deliver_frames(self, capture: FramesCapture, sequence: StyledSequence, delivery: Delivery) -> None:
        target: layers.AnimationTarget = capture.context
        layers.add_animation_layer(target, sequence.frames)
        delivery.done(target.layer_name)

    def capture_layer(self) -> LayerCapture:
        return layers.capture_layer(Krita.instance().activeDocument())

    def add_look_layer(self, layer: LayerCapture, image: Image, name: str) -> None:
        layers.add_look_layer(layer.context, image, name)

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)

    def show_state(self, state: State) -> None:
        busy = state.running or state.applying
        self.run.setEnabled(not busy)
        self.run_frames.setEnabled(not busy)
        self.live_preview.setEnabled(not busy)
        self.cancel.setEnabled(state.can_cancel)
        self.save_look.setEnabled(state.look and not state.applying)
        self.apply_look.setEnabled(not busy)

    def show_presets(self, capabilities: pb.Capabilities) -> None:
        self._capabilities = capabilities
        entries, active = preset_choices(capabilities, self.preset.currentText())
        self.preset.blockSignals(True)  # one options form for the whole refill, below
        self.preset.clear()
        for name, description in entries:
            self.preset.addItem(name)
            self.preset.setItemData(self.preset.count() - 1, description, Qt.ToolTipRole)
        self.preset.setCurrentIndex(max(self.preset.findText(active), 0))
        self.preset.blockSignals(False)
        self._show_options()

    def show_progress(self, text: str, fraction: float | None) -> None:
        self.progress.setFormat(text)  # the text first, so whoever watches the value sees its stage
        if fraction is not None:
            self.progress.setValue(round(fraction * self.progress.maximum()))

    def show_picture(self, image: Image | None) -> None:
        if image is None:
            self.preview.clear()
            self.shown_preview = None
            return
        self.shown_preview = qimages.picture(image)
        self.preview.setPixmap(QPixmap.fromImage(self.shown_preview).scaled(
            PREVIEW_PX, PREVIEW_PX, Qt.KeepAspectRatio, Qt.SmoothTransformation))
