"""Krita's side of the controller's threads: Qt's event loop as the client library's `Loop`.

The controller (photostyle.server.client.controller) runs daemon calls on Python worker threads
and posts what they report; Qt delivers a signal emitted on another thread through its queued
connection, so each posted callback runs on Krita's UI thread, where Krita's API may be used.
"""

from __future__ import annotations

from typing import Callable

from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal, pyqtSlot


class QtLoop(QObject):
    """Implements the client library's `Loop` on the thread that creates it (Krita's UI thread)."""

    _posted = pyqtSignal(object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._posted.connect(self._call, Qt.QueuedConnection)

    def post(self, callback: Callable[[], None]) -> None:
        self._posted.emit(callback)

    def later(self, seconds: float, callback: Callable[[], None]) -> Callable[[], None]:
        timer = QTimer(self, singleShot=True, interval=round(seconds * 1000))
        timer.timeout.connect(callback)
        timer.timeout.connect(timer.deleteLater)
        timer.start()
        return timer.stop

    @pyqtSlot(object)
    def _call(self, callback: Callable[[], None]) -> None:
        callback()
