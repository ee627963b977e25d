"""Krita documents <-> one transfer job: read photo, selection, reference and regions; add the result.

Runs on the UI thread (Krita's API is not thread-safe). Reading changes nothing, and the result
is only added once the whole image has arrived and the controller has checked it, so a failed or
cancelled job leaves the document as it was; the source layer is only ever read. `capture` is the
one path for Run and Preview: a live preview reads with a `Shrink` (only the selected area, every
image shrunk, see `qimages`) and nothing is ever written back.

A look file applied to a layer (`capture_layer`, `add_look_layer`) reads the whole active layer and
comes back as a new layer above it.

An animated paint layer is styled as one sequence (`capture_frames`, `add_animation_layer`): each
drawing shown in the document's frame range is read with `pixelDataAtTime` (which leaves the layer
alone), and the styled drawings go into a copy of the layer above it, so the new layer has its
keyframes at the very same times (Krita 5.1's API cannot add a keyframe; a copy brings them).

Regions are local selections (selection masks on a layer), paired by name; which ones are sent
is the client library's `regions_to_send`, shared with GIMP. Regions the engine found come back as
local selections "auto: 1"… on the photo's layer and the reference document's top layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

from krita import Document, Krita, Node, Selection
from photostyle.server.client import (Capture, EncodedImage, FramesCapture, Image, InputError, LayerCapture, Region,
                                      Result, is_auto_region, live_preview_scale, regions_to_send)
from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QTimer
from PyQt5.QtGui import QImage, QImageReader

from . import qimages
from .pixels import DEPTHS, from_wire, to_wire

#: A reference is another open document or an image file's path.
Reference = Union[Document, str]

_RGBA = "RGBA"
_ENCODED_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8")
_EMPTY_SELECTION = "The selection is empty; select the area to restyle, or Deselect to restyle everything."


@dataclass(frozen=True)
class Shrink:
    """How a live preview reads: the selection's bounds only (grown to the daemon's minimum side
    where the canvas allows), and each image with its masks shrunk by the client library's
    `live_preview_scale`, as 8-bit RGBA."""

    min_side: int  # the daemon's Capabilities.limits.min_side

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The size a width×height image is sent at."""
        factor = live_preview_scale(width, height, self.min_side)
        return max(1, round(width * factor)), max(1, round(height * factor))


@dataclass(frozen=True)
class Target:
    """Where a job's result goes (a `Capture`'s context): the photo's document and layer."""

    document: Document
    source: Node
    depth: str  # the layer's colour depth, which the result comes back in
    reference: Reference  # an open document also receives the regions the engine finds
    reference_name: str

    @property
    def layer_name(self) -> str:
        return styled_name(self.source, self.reference_name)


def styled_name(source: Node, reference_name: str) -> str:
    """The name of a layer holding `source` styled like the reference."""
    return f"{source.name()} styled like {reference_name}"


@dataclass(frozen=True)
class _Frame:
    """A rectangle of a canvas and how its pixels are sent: as they are, or shrunk for a preview."""

    x: int
    y: int
    width: int
    height: int
    shrink: Shrink | None = None

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height) if self.shrink is None else self.shrink.size(self.width, self.height)

    def pixels(self, source: Node | Document, depth: str) -> Image:
        """RGBA pixels of a layer or a document's projection: at `depth` as they are, 8-bit shrunk."""
        if self.shrink is None:
            data = bytes(source.pixelData(self.x, self.y, self.width, self.height))
            return Image(self.width, self.height, 4, DEPTHS[depth][0], to_wire(data, depth))
        size = self.size
        data = qimages.shrunk_rgba(source, self.x, self.y, self.width, self.height, depth, size)
        return Image(*size, 4, "uint8", data)

    def mask(self, selection: Selection) -> Image:
        """A Selection's coverage (1 byte per pixel)."""
        if self.shrink is None:
            data = bytes(selection.pixelData(self.x, self.y, self.width, self.height))
        else:
            data = qimages.shrunk_mask(selection, self.x, self.y, self.width, self.height, self.size)
        return Image(*self.size, 1, "uint8", data)


def reference_name(reference: Reference) -> str:
    """How a reference is called in the panel and in the result layer's name."""
    if isinstance(reference, str):
        return Path(reference).name
    return Path(reference.fileName()).name or reference.name() or "untitled"


def capture(document: Document | None, reference: Reference | None, region_mode: str,
            shrink: Shrink | None = None) -> Capture:
    """Read everything a job needs from the active layer, its document and the reference, with
    the regions `region_mode` (a key of the client library's REGION_CHOICES) sends; the capture's
    context is the job's `Target`.

    With `shrink`, read it for a live preview: the selected area only, everything shrunk, 8-bit.
    """
    source = _active_layer(document, "restyle")
    _check_reference(document, reference)
    depth = source.colorDepth()
    selection = document.selection()
    frame = _Frame(*_area(selection, document.width(), document.height(), shrink), shrink)
    reference_frame = (_Frame(0, 0, reference.width(), reference.height(), shrink)
                       if isinstance(reference, Document) else None)
    style = _reference_image(reference, reference_frame, shrink)
    style_size = _size(style)
    covered = _selection(selection, frame)
    ours = {name: (lambda mask=mask: frame.mask(mask.selection())) for name, mask in local_selections(document).items()}
    theirs = ({name: (lambda mask=mask: reference_frame.mask(mask.selection()))
               for name, mask in local_selections(reference).items()} if reference_frame is not None else {})
    regions, plan = regions_to_send(region_mode, ours, theirs, covered, style_size)
    name = reference_name(reference)
    return Capture(frame.pixels(source, depth), style, style_size, regions, plan, covered, source.name(), name,
                   context=Target(document, source, depth, reference, name))


def _check_reference(document: Document, reference: Reference | None) -> None:
    """InputError unless `reference` is a file or another RGB(A) document."""
    if reference is None:
        raise InputError("Choose a reference: another open document, or a file with the … button.")
    if isinstance(reference, Document) and reference == document:
        raise InputError("The reference is the photo itself; choose another document or a file.")
    if isinstance(reference, Document) and (reference.colorModel() != _RGBA or reference.colorDepth() not in DEPTHS):
        raise InputError(f"The reference document is {reference.colorModel()}; convert it to RGB(A) first.")


def _active_layer(document: Document | None, what: str) -> Node:
    """The document's active layer, which a job reads; InputError saying what to fix."""
    if document is None:
        raise InputError("Open a photo first.")
    source = document.activeNode()
    if source is None or source.type().endswith("mask"):
        raise InputError(f"Select the layer to {what} in the Layers docker (not a mask).")
    if source.colorModel() != _RGBA or source.colorDepth() not in DEPTHS:
        raise InputError(f"The layer is {source.colorModel()} {source.colorDepth()}; Photo Style works on RGB(A) "
                         "layers. Convert with Image ▸ Convert Image Color Space.")
    return source


@dataclass(frozen=True)
class LayerTarget:
    """Where a look applied to a layer goes (a `LayerCapture`'s context): above that layer."""

    document: Document
    source: Node
    depth: str


def capture_layer(document: Document | None) -> LayerCapture:
    """The active layer over the whole canvas at its depth (the selection plays no part), for a look."""
    source = _active_layer(document, "apply the look to")
    width, height = document.width(), document.height()
    depth = source.colorDepth()
    data = bytes(source.pixelData(0, 0, width, height))
    return LayerCapture(Image(width, height, 4, DEPTHS[depth][0], to_wire(data, depth)), source.name(),
                        context=LayerTarget(document, source, depth))


def add_look_layer(target: LayerTarget, image: Image, name: str) -> Node:
    """A new paint layer `name` above the source holding `image` (checked); the source is untouched."""
    if not is_open(target.document):
        raise InputError("The photo was closed before the look came back; nothing was added.")
    layer = _add_layer(target.document, target.source, target.depth, name, image)
    target.document.refreshProjection()
    return layer


@dataclass(frozen=True)
class AnimationTarget:
    """Where a styled animation goes (a `FramesCapture`'s context): a copy of the source layer
    right above it, whose keyframes at `times` (one per frame sent, in order) get the styled frames."""

    document: Document
    source: Node
    depth: str
    reference_name: str
    times: tuple[int, ...]

    @property
    def layer_name(self) -> str:
        return styled_name(self.source, self.reference_name)


def capture_frames(document: Document | None, reference: Reference | None) -> FramesCapture:
    """Every drawing of the active animated paint layer shown in the document's frame range (its
    keyframes in the range, and the one held into the range's first frame), whole, at the layer's
    depth; the selection plays no part. Empty (transparent) keyframes are not sent: they stay empty."""
    source = _active_layer(document, "style")
    if source.type() != "paintlayer" or not source.animated():
        raise InputError(f"“{source.name()}” is not an animated paint layer; select one with frames in the "
                         "Timeline docker (Run styles a still layer, or the current frame).")
    _check_reference(document, reference)
    start, end = document.fullClipRangeStartTime(), document.fullClipRangeEndTime()
    width, height, depth = document.width(), document.height(), source.colorDepth()
    times, frames = [], []
    for time_ in keyframe_times(source, start, end):
        data = bytes(source.pixelDataAtTime(0, 0, width, height, time_))
        if data.strip(b"\x00"):
            times.append(time_)
            frames.append(Image(width, height, 4, DEPTHS[depth][0], to_wire(data, depth)))
    if not frames:
        raise InputError(f"Every keyframe of “{source.name()}” in frames {start}–{end} is empty; "
                         "draw on them first.")
    reference_frame = (_Frame(0, 0, reference.width(), reference.height())
                       if isinstance(reference, Document) else None)
    name = reference_name(reference)
    return FramesCapture(frames, _reference_image(reference, reference_frame, None), source.name(), name,
                         fps=float(document.framesPerSecond()),
                         context=AnimationTarget(document, source, depth, name, tuple(times)))


def keyframe_times(layer: Node, start: int, end: int) -> list[int]:
    """The layer's keyframe times from `start` to `end`, after the keyframe held into `start` if any."""
    inside = [time_ for time_ in range(start, end + 1) if layer.hasKeyframeAtTime(time_)]
    if inside and inside[0] == start:
        return inside
    held = next((time_ for time_ in range(start - 1, -1, -1) if layer.hasKeyframeAtTime(time_)), None)
    return ([held] if held is not None else []) + inside


def add_animation_layer(target: AnimationTarget, frames: list[Image]) -> Node:
    """A copy of the source right above it, named like a transfer's result, each of its keyframes at
    `target.times` holding the styled frame (checked: the canvas's size, the layer's depth); its other
    keyframes (empty, or outside the frame range) stay as the source's. The source is untouched.
    Krita writes a layer's pixels into its keyframe at the document's current time, so each time is
    visited and the current time put back. Raises, changing nothing, on failure."""
    document = target.document
    if not is_open(document):
        raise InputError("The animation was closed before its frames came back; nothing was added.")
    layer = target.source.duplicate()
    layer.setName(target.layer_name)
    target.source.parentNode().addChildNode(layer, target.source)
    now = document.currentTime()
    try:
        for child in layer.childNodes():  # the source's regions stay the source's
            if child.type() == "selectionmask":
                child.remove()
        for time_, frame in zip(target.times, frames, strict=True):
            document.setCurrentTime(time_)
            document.waitForDone()
            if document.currentTime() != time_:
                raise InputError(f"Krita did not go to frame {time_} to write it; nothing was added.")
            layer.setPixelData(bytes(from_wire(frame.data, target.depth)), 0, 0, frame.width, frame.height)
    except Exception:
        layer.remove()
        raise
    finally:
        document.setCurrentTime(now)
        document.waitForDone()  # Krita switches time asynchronously
    document.refreshProjection()
    return layer


def _area(selection: object | None, width: int, height: int, shrink: Shrink | None) -> tuple[int, int, int, int]:
    """The part of the canvas to read: all of it, or for a preview the selection's bounds."""
    if shrink is None or selection is None:
        return 0, 0, width, height
    left, top = max(0, selection.x()), max(0, selection.y())
    right, bottom = min(width, selection.x() + selection.width()), min(height, selection.y() + selection.height())
    if right <= left or bottom <= top:
        raise InputError(_EMPTY_SELECTION)
    x, area_width = _widen(left, right - left, shrink.min_side, width)
    y, area_height = _widen(top, bottom - top, shrink.min_side, height)
    return x, y, area_width, area_height


def _widen(start: int, length: int, minimum: int, total: int) -> tuple[int, int]:
    """[start, start + length) grown about its middle to `minimum`, within [0, total)."""
    wanted = min(max(length, minimum), total)
    return min(max(0, start - (wanted - length) // 2), total - wanted), wanted


def _selection(selection: Selection | None, frame: _Frame) -> Image | None:
    """The selection's coverage of the frame; None when nothing is selected."""
    if selection is None:
        return None
    covered = frame.mask(selection)
    if not bytes(covered.data).strip(b"\x00"):
        raise InputError(_EMPTY_SELECTION)
    return covered


def _reference_image(reference: Reference, frame: _Frame | None, shrink: Shrink | None) -> Image | EncodedImage:
    """An open document's pixels, or a file: PNG/JPEG as they are, other formats via Qt as PNG
    (shrunk by Qt, whatever the format, for a preview)."""
    if isinstance(reference, Document):
        return frame.pixels(reference, reference.colorDepth())
    if shrink is not None:
        if not Path(reference).is_file():
            raise InputError(f"Cannot read the reference file {reference}: it is not there any more.")
        image = qimages.shrunk_file(reference, shrink.size)
        if image is None:
            raise InputError(f"{Path(reference).name} is not an image Krita's Qt can read; use a PNG or JPEG.")
        return image
    try:
        data = Path(reference).read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read the reference file {reference}: {exc.strerror}.") from None
    if data.startswith(_ENCODED_MAGIC):
        return EncodedImage(data)
    image = QImage.fromData(data)
    if image.isNull():
        raise InputError(f"{Path(reference).name} is not an image Krita's Qt can read; use a PNG or JPEG.")
    png = QByteArray()
    buffer = QBuffer(png)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return EncodedImage(bytes(png))


def _local_selection_masks(document: Document) -> Iterator[Node]:
    """Selection masks that sit on a layer (Krita's "local selections"), top-level layers first.

    Selection masks at the top of the stack are global selections (the active one is the area
    to restyle), so only those on layers name regions.
    """
    def walk(node: Node, on_layer: bool) -> Iterator[Node]:
        for child in node.childNodes():
            if child.type() == "selectionmask":
                if on_layer:
                    yield child
            else:
                yield from walk(child, True)

    return walk(document.rootNode(), False)


def local_selections(document: Document) -> dict[str, Node]:
    """The document's local selections by name (the first of each name)."""
    found: dict[str, Node] = {}
    for mask in _local_selection_masks(document):
        found.setdefault(mask.name(), mask)
    return found


def _size(image: Image | EncodedImage) -> tuple[int, int]:
    """Width and height of pixels, or of a PNG/JPEG file as the daemon decodes it (from its header)."""
    if isinstance(image, Image):
        return image.width, image.height
    buffer = QBuffer()
    buffer.setData(QByteArray(image.data))
    buffer.open(QIODevice.ReadOnly)
    size = QImageReader(buffer).size()
    if not size.isValid():
        raise InputError("The reference file's size cannot be read; use a PNG or JPEG.")
    return size.width(), size.height()


def add_found_regions(target: Target, regions: list[Region]) -> None:
    """The regions the engine found, as local selections named after them: on the source layer,
    and on the reference document's top layer while it is open. Replaces the previous run's
    automatic regions in each document, so the names stay unique."""
    if not regions:
        return
    _replace_found_regions(target.document, target.source,
                           [(region.name, region.content_mask) for region in regions])
    if isinstance(target.reference, Document) and is_open(target.reference):
        top = [node for node in target.reference.topLevelNodes() if not node.type().endswith("mask")]
        if top:
            _replace_found_regions(target.reference, top[-1], [(region.name, region.style_mask) for region in regions])


def _replace_found_regions(document: Document, layer: Node, masks: list[tuple[str, Image]]) -> None:
    for old in list(_local_selection_masks(document)):
        if is_auto_region(old.name()):
            old.remove()
    above = None
    for name, mask in masks:
        selection = Selection()
        selection.setPixelData(bytes(mask.data), 0, 0, mask.width, mask.height)
        node = document.createSelectionMask(name)
        node.setSelection(selection)
        layer.addChildNode(node, above)
        above = node


def is_open(document: Document) -> bool:
    return any(open_document == document for open_document in Krita.instance().documents())


def add_result_layer(target: Target, result: Result) -> Node:
    """A new paint layer above the source holding the (checked) result, in the source's colour space."""
    return _add_layer(target.document, target.source, target.depth, target.layer_name, result.image)


def _add_layer(document: Document, source: Node, depth: str, name: str, image: Image) -> Node:
    """A new paint layer `name` right above `source`, in its colour space, holding `image` (wire RGBA)."""
    layer = document.createNode(name, "paintlayer")
    layer.setColorSpace(source.colorModel(), depth, source.colorProfile())
    source.parentNode().addChildNode(layer, source)
    layer.setPixelData(bytes(from_wire(image.data, depth)), 0, 0, image.width, image.height)
    return layer


def when_active(document: Document, layer: Node, then: Callable[[bool], None], timeout_s: float = 3.0) -> None:
    """Make `layer` the active node, then call `then(True)`; `then(False)` if Krita never does.

    Krita activates a node through its layer model, a few event-loop turns after the call.
    """
    _show(document)
    document.setActiveNode(layer)
    deadline = time.monotonic() + timeout_s
    timer = QTimer()

    def check() -> None:
        active = document.activeNode() == layer
        if active or time.monotonic() >= deadline:
            timer.stop()
            timer.deleteLater()
            then(active)

    timer.timeout.connect(check)
    timer.start(50)


def _show(document: Document) -> None:
    """Bring a view of `document` to the front: Krita's actions act on the active view."""
    for window in Krita.instance().windows():
        for view in window.views():
            if view.document() == document:
                window.activate()
                window.showView(view)
                return


def add_selection_mask(target: Target, selection: Image, layer: Node) -> None:
    """Give the (active) result layer a transparency mask holding the job's selection.

    Krita 5.1's API cannot fill a transparency mask it creates, so this runs Krita's own
    "Add Transparency Mask" on the layer and overwrites the mask's pixels. That action
    deselects the global selection, which is put back.
    """
    kept = target.document.selection()
    Krita.instance().action("add_new_transparency_mask").trigger()
    masks = [node for node in layer.childNodes() if node.type() == "transparencymask"]
    if not masks:
        raise InputError("Krita did not add the transparency mask; the result layer was removed.")
    masks[0].setName("Selection")
    masks[0].setPixelData(bytes(selection.data), 0, 0, selection.width, selection.height)
    target.document.setSelection(kept)
    target.document.refreshProjection()
