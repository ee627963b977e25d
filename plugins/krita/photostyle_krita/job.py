"""Daemon calls off the UI thread, reported to the docker through Qt signals.

A transfer streams for seconds to minutes (a live preview is a short one) and a daemon being
started takes a while to answer; doing either on Krita's UI thread would freeze Krita. Signals
reach the UI thread through Qt's queued connections; `cancel()` may be called from the UI thread
at any time.
"""

from __future__ import annotations

import threading

from photostyle.server.client.launch import DaemonConfig, connect
from photostyle.server.wire.contract import CANCELLED_MESSAGE
from photostyle.server.client import (CancelledError, Client, Image, Options, Preview, Progress, Queued, Region, Result,
                               TransferCall)
from PyQt5.QtCore import QObject, QThread, pyqtSignal
from PyQt5.QtGui import QImage


class TransferThread(QThread):
    """Reaches the daemon (starting it when the config allows), runs one transfer and relays its events."""

    starting = pyqtSignal(float)  # seconds spent waiting for a daemon this thread started
    queued = pyqtSignal(int)
    progressed = pyqtSignal(object)  # photostyle.server.client.Progress
    previewed = pyqtSignal(QImage)
    succeeded = pyqtSignal(object)  # photostyle.server.client.Result
    failed = pyqtSignal(object)  # an Exception whose str() is shown to the user

    def __init__(self, daemon: DaemonConfig, content: Image, style: object, regions: list[Region], options: Options,
                 parent: QObject) -> None:
        super().__init__(parent)
        self._daemon = daemon
        self._request = (content, style, regions, options)
        self._lock = threading.Lock()
        self._call: TransferCall | None = None
        self._cancelled = False

    def run(self) -> None:
        try:
            with connect(self._daemon, self.starting.emit) as client:
                self._stream(client)
        except Exception as error:  # noqa: BLE001 - an exception escaping a Qt thread opens a modal dialog
            self.failed.emit(error)

    def _stream(self, client: Client) -> None:
        with self._lock:
            if self._cancelled:
                raise CancelledError(CANCELLED_MESSAGE)
            self._call = client.transfer(*self._request)
        for event in self._call:
            if isinstance(event, Queued):
                self.queued.emit(event.position)
            elif isinstance(event, Progress):
                self.progressed.emit(event)
            elif isinstance(event, Preview):
                self.previewed.emit(preview_image(event.image))
            elif isinstance(event, Result):
                self.succeeded.emit(event)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._call is not None:
                self._call.cancel()


class ProbeThread(QThread):
    """Asks the daemon at an address what it offers. Only with `start` does it start the installed
    daemon when none answers (not when Krita is just opening: Run or Preview does)."""

    starting = pyqtSignal(float)  # see TransferThread
    answered = pyqtSignal(object)  # the Capabilities message
    failed = pyqtSignal(object)

    def __init__(self, daemon: DaemonConfig, parent: QObject, start: bool = False) -> None:
        super().__init__(parent)
        self._daemon = daemon
        self.start_daemon = start

    def run(self) -> None:
        try:
            with (connect(self._daemon, self.starting.emit) if self.start_daemon else self._daemon.client()) as client:
                self.answered.emit(client.capabilities(timeout=5))
        except Exception as error:  # noqa: BLE001 - see TransferThread.run
            self.failed.emit(error)


def preview_image(image: Image) -> QImage:
    """A streamed preview (8-bit RGB) as a QImage that owns its pixels."""
    return QImage(bytes(image.data), image.width, image.height, 3 * image.width, QImage.Format_RGB888).copy()
