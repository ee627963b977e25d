"""The "Photo Style" docker: the panel's widgets and what pressing them does.

It only wires things together: `layers` reads and writes Krita documents, `job` talks to the
daemon off the UI thread (starting the installed one when none answers, via `photostyle_client.launch`),
`settings` holds what is remembered.
Every slot reports problems on the status line: an exception escaping a slot would open
Krita's modal error dialog.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from photostyle_client.launch import DaemonConfig
from krita import DockWidget, Krita
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QProgressBar, QPushButton, QToolButton, QVBoxLayout, QWidget)

from photostyle_client import PhotoStyleClientError

from . import layers
from .job import ProbeThread, TransferThread
from .settings import Settings

DOCKER_ID = "photostyle_docker"
_PREVIEW_PX = 200
_PLUGIN_DIR = Path(__file__).resolve().parent
_IMAGE_FILES = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"


class PhotoStyleDocker(DockWidget):
    """Reference, preset, regions, Run/Cancel, progress, preview, status, and the daemon connection."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Photo Style")
        self._installed = DaemonConfig.load(_PLUGIN_DIR)
        self._settings = Settings.load(self._installed)
        self._job: TransferThread | None = None
        self._input: layers.JobInput | None = None
        self._probe: ProbeThread | None = None
        self._build()
        notifier = Krita.instance().notifier()
        notifier.imageCreated.connect(lambda: QTimer.singleShot(0, self._refresh_references))  # once listed
        notifier.imageClosed.connect(self._on_image_closed)
        notifier.applicationClosing.connect(self._on_application_closing)
        self._refresh_references()
        self._check_daemon()

    def _build(self) -> None:
        self.reference = QComboBox(objectName="reference", toolTip="The photo whose colours and tone to take: "
                                   "another open document (its local selections can pair regions) or a file.")
        self.browse = QToolButton(objectName="browse", text="…", toolTip="Choose a reference file")
        self.preset = QComboBox(objectName="preset")
        self.preset.addItem(self._settings.preset)
        self.pair_regions = QCheckBox("Pair regions by local selection name", objectName="pair_regions",
                                      checked=self._settings.pair_regions,
                                      toolTip="Local selections (Layer ▸ New ▸ Local Selection) with the same name "
                                              "in the photo and the reference document are styled region to region "
                                              "(sky to sky). The active selection is the area to restyle.")
        self.run = QPushButton("Run", objectName="run")
        self.cancel = QPushButton("Cancel", objectName="cancel", enabled=False)
        self.progress = QProgressBar(objectName="progress", maximum=1000, textVisible=True)
        self.progress.setFormat("idle")
        self.preview = QLabel(objectName="preview", alignment=Qt.AlignCenter, minimumHeight=_PREVIEW_PX // 2)
        self.status = QLabel(objectName="status", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.address = QLineEdit(self._settings.address, objectName="address", placeholderText="127.0.0.1:50151")
        self.token = QLineEdit(self._settings.token, objectName="token", echoMode=QLineEdit.Password,
                               placeholderText="none")

        reference_row = QHBoxLayout()
        reference_row.addWidget(self.reference, 1)
        reference_row.addWidget(self.browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run)
        buttons.addWidget(self.cancel)
        form = QFormLayout()
        form.addRow("Reference", reference_row)
        form.addRow("Preset", self.preset)
        connection = QGroupBox("Daemon")
        connection_form = QFormLayout(connection)
        connection_form.addRow("Address", self.address)
        connection_form.addRow("Token", self.token)
        connection_form.addRow(QLabel(self._start_hint(), wordWrap=True))
        body = QWidget()
        column = QVBoxLayout(body)
        column.addLayout(form)
        column.addWidget(self.pair_regions)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.preview)
        column.addWidget(self.status)
        column.addWidget(connection)
        column.addStretch(1)
        self.setWidget(body)

        self.browse.clicked.connect(self._choose_file)
        self.run.clicked.connect(self._run)
        self.cancel.clicked.connect(self._cancel)
        self.address.editingFinished.connect(self._check_daemon)

    def canvasChanged(self, canvas: object) -> None:
        """Required by DockWidget; the reference list does not depend on the active document."""

    # Reference list ---------------------------------------------------------------------------

    def _refresh_references(self, *_: object) -> None:
        current = self.reference.currentText()
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

    def _choose_file(self) -> None:
        start = str(Path(self._settings.reference_file).parent) if self._settings.reference_file else ""
        path, _ = QFileDialog.getOpenFileName(self, "Reference photo", start, _IMAGE_FILES)
        if path:
            self._settings.reference_file = path
            self._refresh_references()
            self.reference.setCurrentIndex(self.reference.count() - 1)

    # Daemon connection ------------------------------------------------------------------------

    def _daemon(self) -> DaemonConfig:
        """The daemon at the panel's address; only the installed one may be started from here."""
        address, token = self.address.text().strip(), self.token.text() or None
        if address == self._installed.address:
            return replace(self._installed, token=token)
        return DaemonConfig(address, [], self._installed.start_timeout_s, token)

    def _start_hint(self) -> str:
        if self._installed.start_command:
            return f"When no daemon answers at {self._installed.address}, Run starts: {' '.join(self._installed.start_command)}"
        return "Run does not start a daemon: start one with `photostyle serve`."

    def _check_daemon(self) -> None:
        """Ask the daemon at the address what it offers (its presets), without starting one."""
        if self._probe is not None:
            return
        self._probe = ProbeThread(self._daemon(), self)
        self._probe.answered.connect(self._on_daemon_answered)
        self._probe.failed.connect(self._on_daemon_failed)
        self._probe.finished.connect(self._on_probe_finished)
        self._probe.start()

    def _on_probe_finished(self) -> None:
        self._probe.deleteLater()
        self._probe = None

    def _on_daemon_answered(self, capabilities: object) -> None:
        chosen = self.preset.currentText()
        self.preset.clear()
        for preset in capabilities.presets:
            self.preset.addItem(preset.name)
            self.preset.setItemData(self.preset.count() - 1, preset.description, Qt.ToolTipRole)
        self.preset.setCurrentIndex(max(self.preset.findText(chosen), 0))
        if self._job is None:
            self._say(f"Daemon ready at {self.address.text()} ({capabilities.device}, "
                      f"engine {capabilities.engine_version}).")

    def _on_daemon_failed(self, error: Exception) -> None:
        if self._job is None:
            self._say(f"{_explain(error)} {self._start_hint()}")

    # Running a job ----------------------------------------------------------------------------

    def _remember(self) -> None:
        self._settings.address = self.address.text().strip()
        self._settings.token = self.token.text()
        self._settings.preset = self.preset.currentText()
        self._settings.pair_regions = self.pair_regions.isChecked()
        self._settings.save()

    def _run(self) -> None:
        if self._job is not None:
            return
        self._remember()
        try:
            reference = self._references[self.reference.currentIndex()] if self._references else None
            job_input = layers.capture(Krita.instance().activeDocument(), reference, self.pair_regions.isChecked())
        except layers.UserError as error:
            self._say(str(error))
            return
        self._input = job_input
        self._job = TransferThread(self._daemon(), job_input.content, job_input.style, job_input.regions,
                                   self._settings.options(), self)
        self._job.starting.connect(self._on_starting)
        self._job.queued.connect(self._on_queued)
        self._job.progressed.connect(self._on_progress)
        self._job.previewed.connect(self._on_preview)
        self._job.succeeded.connect(self._on_result)
        self._job.failed.connect(self._on_failed)
        self._job.finished.connect(self._on_job_finished)
        self._set_running(True)
        self.progress.setValue(0)
        self.progress.setFormat("sending…")
        self.preview.clear()
        regions = ", ".join(region.name for region in job_input.regions) or "none"
        unpaired = f"; not in the reference: {', '.join(job_input.unpaired)}" if job_input.unpaired else ""
        where = "the selection" if job_input.selection else "the whole layer"
        self._say(f"Restyling {where} of “{job_input.source.name()}” like {job_input.reference_name} "
                  f"(regions: {regions}{unpaired}).")
        self._job.start()

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.setFormat("cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run.setEnabled(not running)
        self.cancel.setEnabled(running)

    def _on_starting(self, seconds: float) -> None:
        self.progress.setFormat(f"starting the daemon… {seconds:.0f} s")
        self._say(f"No daemon answered, so Photo Style started it: {' '.join(self._installed.start_command)}")

    def _on_queued(self, position: int) -> None:
        self.progress.setFormat(f"waiting: {position} job(s) ahead" if position else "starting…")

    def _on_progress(self, progress: object) -> None:
        # Held below 100 % until the result is in the document.
        self.progress.setValue(int(min(progress.fraction, 0.99) * 1000))
        self.progress.setFormat(f"{progress.stage} {progress.iteration}/{progress.iterations}  (%p%)")

    def _on_preview(self, image: QImage) -> None:
        self.preview.setPixmap(QPixmap.fromImage(image).scaled(_PREVIEW_PX, _PREVIEW_PX, Qt.KeepAspectRatio,
                                                               Qt.SmoothTransformation))

    def _on_failed(self, error: Exception) -> None:
        self.progress.setFormat("stopped")
        self._say(_explain(error))

    def _on_result(self, result: object) -> None:
        job_input = self._input
        if not layers.is_open(job_input.document):
            return
        try:
            layer = layers.add_result_layer(job_input, result.image)
        except (layers.UserError, ValueError) as error:
            self._say(f"Could not add the result layer: {error}")
            return
        notes = "".join(f" Note: {note}" for note in result.notes)
        done = f"Done: new layer “{job_input.layer_name}” ({result.seconds:.0f} s on {result.device}).{notes}"
        if job_input.selection is None:
            self._finish(job_input, done)
            return

        def mask(active: bool) -> None:
            try:
                if not active:
                    raise layers.UserError("Krita did not activate the result layer to mask it; nothing was "
                                           "changed. Press Run again.")
                layers.add_selection_mask(job_input, layer)
            except layers.UserError as error:
                layer.remove()
                job_input.document.refreshProjection()
                self._say(str(error))
                return
            self._finish(job_input, done)

        layers.when_active(job_input.document, layer, mask)

    def _finish(self, job_input: layers.JobInput, message: str) -> None:
        job_input.document.refreshProjection()
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("done")
        self._say(message)

    def _on_job_finished(self) -> None:
        self._job.deleteLater()
        self._job = None
        self._input = None
        self._set_running(False)

    def _on_image_closed(self, *_: object) -> None:
        """Closing the job's document cancels the job."""
        if self._input is not None and not layers.is_open(self._input.document):
            self._cancel()
        self._refresh_references()

    def _on_application_closing(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job.wait(5000)

    def _say(self, text: str) -> None:
        self.status.setText(text)


def _explain(error: Exception) -> str:
    """The client's sentence for what went wrong (it says what to run or change)."""
    if isinstance(error, PhotoStyleClientError):
        return str(error)
    return f"Unexpected error, please report it: {type(error).__name__}: {error}"
