"""The "Photo Style" docker: the panel's widgets and what pressing them does.

It only wires things together: `layers` reads and writes Krita documents, `job` talks to the
daemon off the UI thread (starting the installed one when none answers, via `photostyle.server.client.launch`),
`settings` holds what is remembered, `qimages` shrinks and shows live previews.
Every slot reports problems on the status line: an exception escaping a slot would open
Krita's modal error dialog.

Preview runs the daemon's live-preview preset (`photostyle.server.client.live_preview_options`) on the
selected area, shrunk by the client library's `live_preview_scale`, and only shows the answer.
One preview is current at a time: a newer Preview, or Run, cancels it and its late signals are
ignored; Preview waits while a Run is in flight (the daemon runs one job at a time). Once a
preview has been shown, changing the reference or the region mode refreshes it.

Run and Preview read the document through one path (`_capture`, then `layers.capture`), so both
send the regions the client library's `plan_regions` gives for the chosen region mode.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from photostyle.server.client.launch import DaemonConfig
from krita import DockWidget, Krita
from PyQt5.QtCore import Qt, QTimer, pyqtSlot
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QProgressBar, QPushButton, QToolButton, QVBoxLayout, QWidget)

from photostyle.server.client import REGION_CHOICES, PhotoStyleClientError, live_preview_options

from . import layers, qimages
from .job import ProbeThread, TransferThread
from .settings import Settings

DOCKER_ID = "photostyle_docker"
PREVIEW_PX = 200  # the preview area's long side
_REFRESH_MS = 300  # a live preview follows a changed reference after this pause
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
        self._capabilities: tuple[str, object] | None = None  # (address, its Capabilities message)
        self._live: TransferThread | None = None  # the current live preview
        self._live_input: layers.JobInput | None = None
        self._live_started = 0.0
        self._live_wanted = False  # Preview pressed while the daemon's limits are still unknown
        self._live_shown = False  # a preview was shown: reference changes refresh it
        self._threads: set[TransferThread] = set()  # every transfer thread until it has finished
        #: The last image shown in the preview area, at the size the daemon sent it.
        self.shown_preview: QImage | None = None
        self._refresh = QTimer(self, singleShot=True, interval=_REFRESH_MS)
        self._refresh.timeout.connect(self._auto_preview)
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
        self.run = QPushButton("Run", objectName="run")
        self.cancel = QPushButton("Cancel", objectName="cancel", enabled=False)
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
        buttons.addWidget(self.cancel)
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
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.preview)
        column.addWidget(self.status)
        column.addWidget(connection)
        column.addStretch(1)
        self.setWidget(body)

        self.browse.clicked.connect(self._choose_file)
        self.reference.currentIndexChanged.connect(self._on_choice_changed)
        self.regions.currentIndexChanged.connect(self._on_choice_changed)
        self.live_preview.clicked.connect(self._preview)
        self.run.clicked.connect(self._run)
        self.cancel.clicked.connect(self._cancel)
        self.address.editingFinished.connect(self._check_daemon)

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

    def _check_daemon(self, start: bool = False) -> None:
        """Ask the daemon at the address what it offers (its presets, its limits); only with `start`
        start the installed one when none answers."""
        if self._probe is not None:  # its end starts another when a preview still waits
            return
        self._probe = ProbeThread(self._daemon(), self, start)
        self._probe.starting.connect(self._on_probe_starting)
        self._probe.answered.connect(self._on_daemon_answered)
        self._probe.failed.connect(self._on_daemon_failed)
        self._probe.finished.connect(self._on_probe_finished)
        self._probe.start()

    def _on_probe_starting(self, seconds: float) -> None:
        self._say(f"No daemon answered, so Photo Style is starting it ({seconds:.0f} s): "
                  f"{' '.join(self._installed.start_command)}")

    def _on_probe_finished(self) -> None:
        self._probe.deleteLater()
        self._probe = None
        if self._live_wanted:
            self._check_daemon(start=True)

    def _on_daemon_answered(self, capabilities: object) -> None:
        self._capabilities = (self.address.text().strip(), capabilities)
        chosen = self.preset.currentText()
        self.preset.clear()
        for preset in capabilities.presets:
            self.preset.addItem(preset.name)
            self.preset.setItemData(self.preset.count() - 1, preset.description, Qt.ToolTipRole)
        self.preset.setCurrentIndex(max(self.preset.findText(chosen), 0))
        if self._live_wanted:
            self._live_wanted = False
            self._preview()
        elif self._job is None and self._live is None:
            self._say(f"Daemon ready at {self.address.text()} ({capabilities.device}, "
                      f"engine {capabilities.engine_version}).")

    def _on_daemon_failed(self, error: Exception) -> None:
        if self._live_wanted and self._probe.start_daemon:
            self._live_wanted = False
            self._update_buttons()
            self._say(f"Preview failed: {_explain(error)}")
        elif self._job is None and self._live is None and not self._live_wanted:
            self._say(f"{_explain(error)} {self._start_hint()}")

    def _limits(self) -> object | None:
        """The daemon's limits, once the daemon at the panel's address has answered."""
        if self._capabilities is None or self._capabilities[0] != self.address.text().strip():
            return None
        return self._capabilities[1].limits

    # Running a job ----------------------------------------------------------------------------

    def _remember(self) -> None:
        self._settings.address = self.address.text().strip()
        self._settings.token = self.token.text()
        self._settings.preset = self.preset.currentText()
        self._settings.regions = self.regions.currentData()
        self._settings.save()

    def _capture(self, shrink: layers.Shrink | None = None) -> layers.JobInput | None:
        """What Run (or, with `shrink`, Preview) sends; None when the status line says what to fix."""
        try:
            reference = self._references[self.reference.currentIndex()] if self._references else None
            return layers.capture(Krita.instance().activeDocument(), reference, self.regions.currentData(), shrink)
        except (layers.UserError, PhotoStyleClientError) as error:  # e.g. no region named alike in both
            self._say(str(error))
        except Exception as error:  # noqa: BLE001 - never out of a slot (Krita's modal error dialog)
            self._say(_explain(error))
        return None

    def _transfer(self, job_input: layers.JobInput, options: object) -> TransferThread:
        """A thread for `job_input` with `options` and the engine's region mode the capture chose."""
        options = replace(options, regions=job_input.engine_mode)
        thread = TransferThread(self._daemon(), job_input.content, job_input.style, job_input.regions, options, self)
        self._threads.add(thread)
        thread.finished.connect(self._on_thread_finished)
        return thread

    def _run(self) -> None:
        if self._job is not None:
            return
        self._drop_preview()  # Run supersedes a preview in flight
        self._remember()
        job_input = self._capture()
        if job_input is None:
            return
        self._input = job_input
        self._job = self._transfer(job_input, self._settings.options())
        self._job.starting.connect(self._on_starting)
        self._job.queued.connect(self._on_queued)
        self._job.progressed.connect(self._on_progress)
        self._job.previewed.connect(self._on_preview)
        self._job.succeeded.connect(self._on_result)
        self._job.failed.connect(self._on_failed)
        self._job.finished.connect(self._on_job_finished)
        self._update_buttons()
        self.progress.setValue(0)
        self.progress.setFormat("sending…")
        self.preview.clear()
        self.shown_preview = None
        self._say(f"Restyling {self._where(job_input)} like {job_input.reference_name} "
                  f"(regions: {self._regions_sent(job_input)}).")
        self._job.start()

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.setFormat("cancelling…")
        elif self._live is not None or self._live_wanted:
            self._drop_preview()
            self._say("Preview cancelled.")

    def _update_buttons(self) -> None:
        running = self._job is not None
        self.run.setEnabled(not running)
        self.live_preview.setEnabled(not running)
        self.cancel.setEnabled(running or self._live is not None or self._live_wanted)

    def _on_starting(self, seconds: float) -> None:
        self.progress.setFormat(f"starting the daemon… {seconds:.0f} s")
        self._say(f"No daemon answered, so Photo Style started it: {' '.join(self._installed.start_command)}")

    def _on_queued(self, position: int) -> None:
        self.progress.setFormat(f"waiting: {position} job(s) ahead" if position else "starting…")

    def _on_progress(self, progress: object) -> None:
        # Held below 100 % until the result is in the document; the text first, so that whoever
        # watches the value sees the stage it belongs to.
        self.progress.setFormat(f"{progress.stage} {progress.iteration}/{progress.iterations}  (%p%)")
        self.progress.setValue(int(min(progress.fraction, 0.99) * 1000))

    def _on_preview(self, image: QImage) -> None:
        self.shown_preview = image
        self.preview.setPixmap(QPixmap.fromImage(image).scaled(PREVIEW_PX, PREVIEW_PX, Qt.KeepAspectRatio,
                                                               Qt.SmoothTransformation))

    def _on_failed(self, error: Exception) -> None:
        self.progress.setFormat("stopped")
        self._say(_explain(error))

    def _on_result(self, result: object) -> None:
        job_input = self._input
        if not layers.is_open(job_input.document):
            return
        try:
            layer = layers.add_result_layer(job_input, result)
        except (layers.UserError, PhotoStyleClientError, ValueError) as error:
            self._say(f"Could not add the result layer: {error}")
            return
        found = f" Regions found: {', '.join(region.name for region in result.regions)}." if result.regions else ""
        notes = "".join(f" Note: {note}" for note in result.notes)
        done = (f"Done: new layer “{job_input.layer_name}” ({result.seconds:.0f} s on {result.device})."
                f"{found}{notes}")
        if job_input.selection is None:
            self._finish(job_input, result, done)
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
            self._finish(job_input, result, done)

        layers.when_active(job_input.document, layer, mask)

    def _finish(self, job_input: layers.JobInput, result: object, message: str) -> None:
        """The result layer is complete: add the regions the engine found, and say so."""
        layers.add_found_regions(job_input, result.regions)
        job_input.document.refreshProjection()
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat("done")
        self._say(message)

    def _on_job_finished(self) -> None:
        self._job = None
        self._input = None
        self._update_buttons()

    @pyqtSlot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        self._threads.discard(thread)
        thread.deleteLater()

    # Live preview -----------------------------------------------------------------------------

    def _preview(self) -> None:
        """Send a shrunk copy of the selected area with the live-preview options; only show the answer."""
        if self._job is not None:  # the button is disabled meanwhile; a reference change may still land here
            return
        self._drop_preview()  # a newer preview supersedes one in flight
        self._remember()
        limits = self._limits()
        if limits is None:  # the shrink needs the daemon's minimum side: ask it (starting it) first
            self._live_wanted = True
            self._update_buttons()
            self._say("Reaching the daemon for a preview…")
            self._check_daemon(start=True)
            return
        job_input = self._capture(layers.Shrink(limits.min_side))
        if job_input is None:
            return
        self._live_input = job_input
        self._live_started = time.monotonic()
        self._live = self._transfer(job_input, live_preview_options())
        self._live.starting.connect(self._on_preview_starting)
        self._live.queued.connect(self._on_preview_queued)
        self._live.succeeded.connect(self._on_preview_result)
        self._live.failed.connect(self._on_preview_failed)
        self._live.finished.connect(self._on_preview_finished)
        self._update_buttons()
        self._say(f"Previewing {self._where(job_input)} like {job_input.reference_name}…")
        self._live.start()

    def _drop_preview(self) -> None:
        """Cancel the current (or an automatic, pending) preview: whatever it still sends is ignored."""
        self._refresh.stop()
        self._live_wanted = False
        if self._live is not None:
            self._live.cancel()
        self._live = None
        self._live_input = None
        self._update_buttons()

    def _on_choice_changed(self, *_: object) -> None:
        if self._live_shown and self._job is None:
            self._refresh.start()

    def _auto_preview(self) -> None:
        if self._live_shown and self._job is None:
            self._preview()

    @pyqtSlot(float)
    def _on_preview_starting(self, seconds: float) -> None:
        if self.sender() is self._live:
            self._say(f"Starting the daemon for a preview… {seconds:.0f} s")

    @pyqtSlot(int)
    def _on_preview_queued(self, position: int) -> None:
        if self.sender() is self._live and position:
            self._say(f"The preview waits for {position} job(s) ahead in the daemon…")

    @pyqtSlot(object)
    def _on_preview_result(self, result: object) -> None:
        if self.sender() is not self._live:
            return
        job_input = self._live_input
        try:
            image = qimages.live_preview_image(job_input.content, result.image, job_input.selection)
        except Exception as error:  # noqa: BLE001 - never out of a slot
            self._say(f"Preview failed: {_explain(error)}")
            return
        self._on_preview(image)
        self._live_shown = True
        seconds = time.monotonic() - self._live_started
        notes = "".join(f" Note: {note}" for note in result.notes)
        self._say(f"Preview of {self._where(job_input)} like {job_input.reference_name} ({image.width()}×"
                  f"{image.height()} px, {seconds:.1f} s). Run makes the full-size layer.{notes}")

    @pyqtSlot(object)
    def _on_preview_failed(self, error: Exception) -> None:
        if self.sender() is self._live:  # a superseded or cancelled preview is no longer the current one
            self._say(f"Preview failed: {_explain(error)}")

    @pyqtSlot()
    def _on_preview_finished(self) -> None:
        if self.sender() is self._live:
            self._live = None
            self._live_input = None
            self._update_buttons()

    @staticmethod
    def _regions_sent(job_input: layers.JobInput) -> str:
        names = ", ".join(region.name for region in job_input.regions)
        if not names:
            return "found by the engine" if job_input.engine_mode == "auto" else "none"
        unpaired = f"; not in the reference: {', '.join(job_input.unpaired)}" if job_input.unpaired else ""
        return names + unpaired

    @staticmethod
    def _where(job_input: layers.JobInput) -> str:
        return f"{'the selection' if job_input.selection else 'the whole layer'} of “{job_input.source.name()}”"

    # Closing ----------------------------------------------------------------------------------

    def _on_image_closed(self, *_: object) -> None:
        """Closing the job's document cancels the job (and its preview)."""
        if self._input is not None and not layers.is_open(self._input.document):
            self._cancel()
        if self._live_input is not None and not layers.is_open(self._live_input.document):
            self._drop_preview()
        self._refresh_references()

    def _on_application_closing(self) -> None:
        self._drop_preview()
        for thread in list(self._threads):
            thread.cancel()
        for thread in list(self._threads):
            thread.wait(5000)

    def _say(self, text: str) -> None:
        self.status.setText(text)


def _explain(error: Exception) -> str:
    """The client's sentence for what went wrong (it says what to run or change)."""
    if isinstance(error, PhotoStyleClientError):
        return str(error)
    return f"Unexpected error, please report it: {type(error).__name__}: {error}"
