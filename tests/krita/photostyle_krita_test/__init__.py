"""Test-only Krita extension: drives the Photo Style docker's real widgets, records what happened, quits.

Installed only by tests/test_krita_plugin.py into a throwaway HOME. It waits for Krita's window,
the photo and the docker, prepares the documents for the scenario named in
$PHOTOSTYLE_TEST_SCENARIO, clicks the docker's buttons, then writes $PHOTOSTYLE_TEST_OUT/result.json
and raw pixel dumps for the test to check. It observes and never asserts; any exception is
recorded and ends Krita (a modal error dialog would hang it), and a watchdog ends a stuck run.
"""

import faulthandler
import json
import os
import sys
import time
import traceback
from pathlib import Path

from krita import Extension, Krita, Selection
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QGroupBox, QLabel, QProgressBar,
                             QPushButton, QWidget)

OUT = Path(os.environ.get("PHOTOSTYLE_TEST_OUT", "."))
SCENARIO = os.environ.get("PHOTOSTYLE_TEST_SCENARIO", "")
REFERENCE = os.environ.get("PHOTOSTYLE_TEST_REFERENCE", "")
SECOND_REFERENCE = os.environ.get("PHOTOSTYLE_TEST_SECOND_REFERENCE", "")  # a file, for the preview scenario
FRAMES = [path for path in os.environ.get("PHOTOSTYLE_TEST_FRAMES", "").split(os.pathsep) if path]  # "frames…"
FIRST_FRAME, FRAME_STEP = 1, 3  # "frames": the animated layer's keyframes (Krita adds an empty one at 0)
CLIP_START = 2  # "frames": the document's frame range starts while the first drawing is held
WATCHDOG_S = float(os.environ.get("PHOTOSTYLE_TEST_WATCHDOG_S", "150"))
REGION = "top"  # a local selection of this name in photo and reference pairs them as a region
STALE = "auto: 9"  # "auto" scenario: a previous run's automatic region, to be replaced


def finish(record: dict, status: int = 0) -> None:
    (OUT / "result.json").write_text(json.dumps(record, indent=1))
    for document in Krita.instance().documents():
        document.setModified(False)
    if status:
        os._exit(status)
    Krita.instance().action("file_quit").trigger()
    QTimer.singleShot(15000, lambda: os._exit(0))  # file_quit can be ignored by a busy Krita


def on_exception(kind, value, tb) -> None:
    finish({"error": "".join(traceback.format_exception(kind, value, tb))}, status=3)


def trace(*words: object) -> None:
    """Where the driver got to, for diagnosing a run that the watchdog ended."""
    with (OUT / "trace.txt").open("a", encoding="utf-8") as log:
        log.write(" ".join(map(str, words)) + "\n")


def dump(name: str, data: bytes) -> None:
    (OUT / name).write_bytes(bytes(data))


def add_local_selection(document, top_fraction: float, name: str = REGION) -> None:
    """A local selection `name` over the top part of the document's first layer."""
    selection = Selection()
    selection.select(0, 0, document.width(), int(document.height() * top_fraction), 255)
    mask = document.createSelectionMask(name)
    mask.setSelection(selection)
    document.topLevelNodes()[0].addChildNode(mask, None)


class Driver:
    """One scenario as a chain of polled steps (Krita must keep running its event loop)."""

    def __init__(self) -> None:
        self.record: dict = {"scenario": SCENARIO, "progress": [], "preview_seen": False, "statuses": []}
        self.started = time.monotonic()
        self.watching = False  # the status line is recorded once the docker is found and prepared
        self.timer = QTimer()
        self.timer.timeout.connect(self.step)
        self.wait_for(self.ready, self.prepare)
        self.timer.start(100)

    def wait_for(self, condition, then) -> None:
        self.condition, self.then = condition, then

    def step(self) -> None:
        if self.watching:  # every text the status line showed, in order
            text = self.widget(QLabel, "status").text()
            if not self.record["statuses"] or self.record["statuses"][-1][1] != text:
                self.record["statuses"].append([round(time.monotonic() - self.started, 2), text])
        if self.condition():
            self.condition, then = (lambda: False), self.then
            then()

    def widget(self, cls, name):
        return self.docker.findChild(cls, name)

    def ready(self) -> bool:
        krita = Krita.instance()
        window = krita.activeWindow()
        if not (window and krita.activeDocument() and window.activeView()):
            return False
        if SCENARIO in ("run", "preview", "auto") and len(krita.documents()) < 2:  # the test opens reference and photo
            return False
        dockers = [d for d in krita.dockers() if d.objectName() == "photostyle_docker"]
        self.docker = dockers[0] if dockers else None
        return self.docker is not None

    def prepare(self) -> None:
        sys.excepthook = on_exception  # again: Krita installs its own (a modal dialog) after loading plug-ins
        self.watching = True
        krita = Krita.instance()
        krita.activeWindow().qwindow().showMaximized()
        for other in krita.dockers():  # room for the docker's every row, in the screenshot too
            if other.objectName() not in ("photostyle_docker", "KisLayerBox"):
                other.hide()
        self.docker.show()
        self.docker.raise_()
        self.document = document = krita.activeDocument()
        if SCENARIO.startswith("frames"):  # an animated paint layer above the photo; Krita makes it the active layer
            self.record["imported"] = document.importAnimation(FRAMES, FIRST_FRAME, FRAME_STEP)
            document.setFullClipRangeStartTime(CLIP_START)
            document.waitForDone()
        self.source = document.activeNode()
        width, height = document.width(), document.height()
        self.record.update(size=[width, height], source=self.source.name(), depth=document.colorDepth())
        if SCENARIO in ("run", "preview"):
            reference = next(other for other in krita.documents() if other != document)  # opened by the test
            add_local_selection(reference, 0.5)
            add_local_selection(document, 0.5)
        elif SCENARIO == "auto":  # no region named alike: the engine finds them and replaces the stale one
            add_local_selection(document, 0.5, STALE)
        self.record["region_mode"] = self.widget(QComboBox, "regions").currentData()  # as loaded from kritarc
        selection = Selection()
        selection.select(width // 4, height // 4, width // 2, height // 2, 255)
        document.setSelection(selection)
        document.waitForDone()
        self.widget(QProgressBar, "progress").valueChanged.connect(self.on_progress)
        QTimer.singleShot(500, self.choose_reference)

    def choose_reference(self) -> None:
        document = self.document
        width, height = document.width(), document.height()
        dump("source_before.raw", self.source.pixelData(0, 0, width, height))
        dump("projection_before.raw", document.pixelData(0, 0, width, height))
        dump("selection.raw", document.selection().pixelData(0, 0, width, height))
        self.record["nodes_before"] = self.nodes()
        if SCENARIO.startswith("frames"):
            self.record.update(source_animated=self.source.animated(), source_keys_before=self.keys(self.source),
                               time_before=document.currentTime())
            self.dump_frames(self.source, "source_frame_{}_before.raw")
        trace("documents", [document.fileName() for document in Krita.instance().documents()])
        if SCENARIO in ("run", "preview", "auto"):
            combo = self.docker.findChild(QWidget, "reference")
            combo.setCurrentIndex(combo.findText(Path(REFERENCE).name))
        else:
            QFileDialog.getOpenFileName = staticmethod(lambda *args, **kwargs: (REFERENCE, ""))
            self.widget(QWidget, "browse").click()
        self.record["reference"] = self.docker.findChild(QWidget, "reference").currentText()
        self.record["status_before"] = self.widget(QLabel, "status").text()
        if SCENARIO == "preview":
            self.preview_clicked()
            return
        if SCENARIO == "run":  # a preview in flight, superseded at once by Run: it must leave no trace
            self.widget(QPushButton, "live_preview").click()
            self.record["run_clicked_at"] = round(time.monotonic() - self.started, 2)
        if SCENARIO == "options":  # once the daemon has described the chosen preset's options
            self.wait_for(lambda: not self.widget(QGroupBox, "engine_options").isHidden(), self.start_run)
            return
        self.start_run()

    def start_run(self) -> None:
        if SCENARIO == "options":  # the engine options as the docker shows them, then one ticked
            self.record["presets_offered"] = [self.widget(QComboBox, "preset").itemText(index)
                                              for index in range(self.widget(QComboBox, "preset").count())]
            self.record["preset_chosen"] = self.widget(QComboBox, "preset").currentText()
            box = self.widget(QGroupBox, "engine_options")
            self.record["option_widgets"] = [child.objectName()[len("option_"):] for child in
                                             box.findChildren(QWidget) if child.objectName().startswith("option_")]
            self.widget(QCheckBox, "option_keep_brightness").click()
            self.record["options_text"] = box.text()
        trace("run with reference", self.record["reference"])
        self.widget(QPushButton, "run_frames" if SCENARIO.startswith("frames") else "run").click()
        self.record["status_started"] = self.widget(QLabel, "status").text()
        self.seen_running = not self.widget(QPushButton, "run").isEnabled()
        if SCENARIO == "cancel":
            self.wait_for(lambda: "style" in self.widget(QProgressBar, "progress").format(), self.cancel)
        elif SCENARIO == "frames_cancel":  # while the engine fits the look on a keyframe
            self.wait_for(lambda: "keyframe" in self.widget(QProgressBar, "progress").format(), self.cancel)
        elif SCENARIO == "look":
            self.wait_for(self.job_over, self.save_look)
        else:
            self.wait_for(self.job_over, self.settle)

    # Preview scenario: one preview with the regions paired (automatic mode, "top" in both); then, in
    # the "whole" mode, two presses in a row (the first superseded); then a new reference file, which
    # refreshes the preview by itself; then a preview cancelled at once.

    def preview_clicked(self) -> None:
        self.click_preview()
        self.wait_preview("first", self.preview_twice)

    def click_preview(self) -> None:
        self.widget(QPushButton, "live_preview").click()
        self.record.setdefault("cancel_enabled_on_click", []).append(self.widget(QPushButton, "cancel").isEnabled())

    def wait_preview(self, name: str, then) -> None:
        """Until a new preview is shown and nothing is in flight (or it failed, or 60 s passed)."""
        before, since = self.docker.shown_preview, time.monotonic()
        trace("waiting for preview", name)

        def done() -> bool:
            status = self.widget(QLabel, "status").text()
            shown = self.docker.shown_preview is not before and not self.widget(QPushButton, "cancel").isEnabled()
            return shown or status.startswith("Preview failed") or time.monotonic() - since > 60

        def record() -> None:
            image, label = self.docker.shown_preview, self.widget(QLabel, "preview").pixmap()
            self.record[f"preview_{name}"] = {
                "seconds": round(time.monotonic() - since, 2), "status": self.widget(QLabel, "status").text(),
                "new": image is not before, "size": [image.width(), image.height()] if image is not None else None,
                "shown_size": [label.width(), label.height()] if label is not None else None,
                "buttons": {key: self.widget(QPushButton, key).isEnabled()
                            for key in ("live_preview", "run", "cancel")}}
            if image is not None:
                image.save(str(OUT / f"preview_{name}.png"))
            trace("preview", name, self.record[f"preview_{name}"])
            then()

        self.wait_for(done, record)

    def preview_twice(self) -> None:
        regions = self.widget(QComboBox, "regions")
        regions.setCurrentIndex(regions.findData("whole"))  # the selection against the whole reference from now on
        self.click_preview()
        self.click_preview()  # supersedes the one just sent
        self.wait_preview("superseding", self.preview_after_reference_change)

    def preview_after_reference_change(self) -> None:
        QFileDialog.getOpenFileName = staticmethod(lambda *args, **kwargs: (SECOND_REFERENCE, ""))
        self.widget(QWidget, "browse").click()  # a new reference: no button pressed, the preview follows
        self.record["reference_changed_to"] = self.docker.findChild(QWidget, "reference").currentText()
        self.wait_preview("refreshed", self.preview_cancelled)

    def preview_cancelled(self) -> None:
        """Preview, then Cancel at once: nothing of that preview may show, even seconds later."""
        shown = self.docker.shown_preview
        self.click_preview()
        self.widget(QPushButton, "cancel").click()
        buttons = {key: self.widget(QPushButton, key).isEnabled() for key in ("live_preview", "run", "cancel")}

        def later() -> None:
            self.record["preview_cancelled"] = {
                "buttons": buttons, "status": self.widget(QLabel, "status").text(),
                "same_image_later": self.docker.shown_preview is shown}
            self.settle()

        QTimer.singleShot(4000, later)

    # Look scenario: after the Run, Save look… to a file, then Apply look… with that file to the photo's
    # layer (made active again: the Run left its result layer active), then Edit ▸ Undo once.

    def save_look(self) -> None:
        self.record["run_status"] = self.widget(QLabel, "status").text()
        self.record["save_look_enabled"] = self.widget(QPushButton, "save_look").isEnabled()
        self.record["saved_look"] = str(OUT / "saved look.cube")
        QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (self.record["saved_look"], ""))
        self.widget(QPushButton, "save_look").click()
        self.record["save_status"] = self.widget(QLabel, "status").text()
        self.document.setActiveNode(self.source)
        self.wait_for(lambda: self.document.activeNode() == self.source, self.apply_look)

    def apply_look(self) -> None:
        QFileDialog.getOpenFileName = staticmethod(lambda *args, **kwargs: (self.record["saved_look"], ""))
        self.widget(QPushButton, "apply_look").click()
        self.record["apply_started_status"] = self.widget(QLabel, "status").text()
        self.record["apply_look_enabled_while_applying"] = self.widget(QPushButton, "apply_look").isEnabled()
        self.wait_for(lambda: self.widget(QPushButton, "apply_look").isEnabled(), self.applied)

    def applied(self) -> None:
        document = self.document
        width, height = document.width(), document.height()
        self.record["apply_status"] = self.widget(QLabel, "status").text()
        self.record["nodes_with_look"] = self.nodes()
        look = [node for node in document.topLevelNodes() if node.name().endswith("(look: saved look)")]
        if look:
            dump("look_layer.raw", look[0].pixelData(0, 0, width, height))
        Krita.instance().action("edit_undo").trigger()
        QTimer.singleShot(2000, self.collect)

    def on_progress(self, value: int) -> None:
        self.record["progress"].append([value, self.widget(QProgressBar, "progress").format()])
        self.record["preview_seen"] |= bool(self.widget(QLabel, "preview").pixmap()
                                            and not self.widget(QLabel, "preview").pixmap().isNull())

    def cancel(self) -> None:
        self.record["cancelled_at"] = self.widget(QProgressBar, "progress").format()
        self.widget(QPushButton, "cancel").click()
        self.wait_for(self.job_over, self.settle)

    def job_over(self) -> bool:
        """Run is enabled again after the job ran, or at once when the docker refused to start one."""
        idle = self.widget(QPushButton, "run").isEnabled()
        self.seen_running |= not idle
        return idle and (self.seen_running or self.widget(QLabel, "status").text() != self.record["status_before"])

    def settle(self) -> None:
        trace("job over:", self.widget(QLabel, "status").text())
        QTimer.singleShot(4000, self.collect)  # the result's mask is added a few event-loop turns later

    def keys(self, layer) -> list:
        """The layer's keyframe times in the document's frame range."""
        return [time_ for time_ in range(self.document.fullClipRangeEndTime() + 1) if layer.hasKeyframeAtTime(time_)]

    def dump_frames(self, layer, name: str) -> None:
        """Each keyframe of `layer`, whole, as `name` with its time."""
        width, height = self.document.width(), self.document.height()
        for time_ in self.keys(layer):
            dump(name.format(time_), layer.pixelDataAtTime(0, 0, width, height, time_))

    def nodes(self, document=None) -> list:
        def walk(node):
            return [{"name": child.name(), "type": child.type(), "depth": child.colorDepth(),
                     "children": walk(child)} for child in node.childNodes()]
        return walk((document or self.document).rootNode())

    @staticmethod
    def local_selections(layer, width: int, height: int) -> list:
        """Each selection mask on `layer`: its name, covered pixels of the canvas, and bounds."""
        found = []
        for mask in layer.childNodes():
            if mask.type() == "selectionmask":
                selection = mask.selection()
                data = bytes(selection.pixelData(0, 0, width, height))
                found.append({"name": mask.name(), "covered": len(data) - data.count(0),
                              "bounds": [selection.x(), selection.y(), selection.width(), selection.height()]})
        return found

    def collect(self) -> None:
        document = self.document
        width, height = document.width(), document.height()
        document.refreshProjection()
        document.waitForDone()
        from photostyle_krita.docker import PREVIEW_PX  # loaded by Krita with the plug-in
        self.record.update(status=self.widget(QLabel, "status").text(), nodes_after=self.nodes(), preview_px=PREVIEW_PX,
                           progress_format=self.widget(QProgressBar, "progress").format(),
                           selection_after=document.selection() is not None,
                           seconds=round(time.monotonic() - self.started, 1))
        self.record["preview_seen"] |= bool(self.widget(QLabel, "preview").pixmap()
                                            and not self.widget(QLabel, "preview").pixmap().isNull())
        dump("source_after.raw", self.source.pixelData(0, 0, width, height))
        dump("projection_after.raw", document.pixelData(0, 0, width, height))
        if SCENARIO in ("run", "options"):
            result = [n for n in document.topLevelNodes() if n.name().endswith("styled like " + Path(REFERENCE).name)]
            if result:
                dump("result_layer.raw", result[0].pixelData(0, 0, width, height))
        if SCENARIO.startswith("frames"):
            styled = [n for n in document.topLevelNodes() if n.name().endswith("styled like " + Path(REFERENCE).name)]
            self.record.update(time_after=document.currentTime(), source_keys_after=self.keys(self.source),
                               styled_animated=bool(styled) and styled[0].animated(),
                               styled_keys=self.keys(styled[0]) if styled else None)
            self.dump_frames(self.source, "source_frame_{}_after.raw")
            if styled:
                self.dump_frames(styled[0], "styled_frame_{}.raw")
        if SCENARIO == "auto":
            reference = next(other for other in Krita.instance().documents() if other != document)
            self.record.update(reference_size=[reference.width(), reference.height()],
                               reference_nodes_after=self.nodes(reference),
                               found_photo=self.local_selections(self.source, width, height),
                               found_reference=self.local_selections(reference.topLevelNodes()[-1], reference.width(),
                                                                     reference.height()))
        QApplication.processEvents()
        QTimer.singleShot(500, self.screenshot)

    def screenshot(self) -> None:
        """Krita's window with the docker, small enough for the README (palette PNG, 960 px wide)."""
        image = Krita.instance().activeWindow().qwindow().grab().toImage()
        image = image.scaledToWidth(min(960, image.width()), Qt.SmoothTransformation)
        image.convertToFormat(QImage.Format_Indexed8).save(str(OUT / "screenshot.png"))
        self.watching = False  # Krita deletes the docker as it quits
        finish(self.record)


class TestDriver(Extension):
    def setup(self) -> None:
        if not SCENARIO:
            return
        sys.excepthook = on_exception
        # A thread-level watchdog: it fires even when Krita's event loop is blocked, with every stack.
        self.stacks = (OUT / "watchdog-stacks.txt").open("w")
        faulthandler.dump_traceback_later(WATCHDOG_S, exit=True, file=self.stacks)
        self.driver = Driver()

    def createActions(self, window) -> None:
        pass


Krita.instance().addExtension(TestDriver(Krita.instance()))
