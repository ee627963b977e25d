"""Krita documents <-> one transfer job: read photo, selection, reference and regions; add the result.

Runs on the UI thread (Krita's API is not thread-safe). Reading changes nothing, and the result
is only added once the whole image has arrived, so a failed or cancelled job leaves the document
as it was; the source layer is only ever read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

from krita import Document, Krita, Node
from photostyle_client import EncodedImage, Image, Region
from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QTimer
from PyQt5.QtGui import QImage

from .pixels import DEPTHS, from_wire, to_wire

#: A reference is another open document or an image file's path.
Reference = Union[Document, str]

_RGBA = "RGBA"
_ENCODED_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8")


class UserError(Exception):
    """Something the user can fix; the message is a sentence for the status line."""


@dataclass
class JobInput:
    """What a job was started from, kept until its result is written back."""

    document: Document
    source: Node
    width: int
    height: int
    depth: str
    reference_name: str
    content: Image
    style: Image | EncodedImage
    selection: bytes | None = None  # 1 byte per canvas pixel; None = the whole layer
    regions: list[Region] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)  # local selections only in the photo

    @property
    def layer_name(self) -> str:
        return f"{self.source.name()} styled like {self.reference_name}"


def reference_name(reference: Reference) -> str:
    """How a reference is called in the panel and in the result layer's name."""
    if isinstance(reference, str):
        return Path(reference).name
    return Path(reference.fileName()).name or reference.name() or "untitled"


def capture(document: Document | None, reference: Reference | None, pair_regions: bool) -> JobInput:
    """Read everything a job needs from the active layer, its document and the reference."""
    if document is None:
        raise UserError("Open a photo first.")
    source = document.activeNode()
    if source is None or source.type().endswith("mask"):
        raise UserError("Select the layer to restyle in the Layers docker (not a mask).")
    if source.colorModel() != _RGBA or source.colorDepth() not in DEPTHS:
        raise UserError(f"The layer is {source.colorModel()} {source.colorDepth()}; Photo Style works on RGB(A) "
                        "layers. Convert with Image ▸ Convert Image Color Space.")
    if reference is None:
        raise UserError("Choose a reference: another open document, or a file with the … button.")
    if isinstance(reference, Document) and reference == document:
        raise UserError("The reference is the photo itself; choose another document or a file.")
    width, height = document.width(), document.height()
    depth = source.colorDepth()
    job = JobInput(document, source, width, height, depth, reference_name(reference),
                   content=Image(width, height, 4, DEPTHS[depth][0],
                                 to_wire(bytes(source.pixelData(0, 0, width, height)), depth)),
                   style=_reference_image(reference), selection=_selection(document))
    if pair_regions:
        job.regions, job.unpaired = _paired_regions(document, reference)
    return job


def _selection(document: Document) -> bytes | None:
    selection = document.selection()
    if selection is None:
        return None
    data = bytes(selection.pixelData(0, 0, document.width(), document.height()))
    if not data.strip(b"\x00"):
        raise UserError("The selection is empty; select the area to restyle, or Deselect to restyle everything.")
    return data


def _reference_image(reference: Reference) -> Image | EncodedImage:
    """An open document's pixels, or a file: PNG/JPEG as they are, other formats via Qt as PNG."""
    if isinstance(reference, Document):
        if reference.colorModel() != _RGBA or reference.colorDepth() not in DEPTHS:
            raise UserError(f"The reference document is {reference.colorModel()}; convert it to RGB(A) first.")
        width, height, depth = reference.width(), reference.height(), reference.colorDepth()
        return Image(width, height, 4, DEPTHS[depth][0], to_wire(bytes(reference.pixelData(0, 0, width, height)), depth))
    try:
        data = Path(reference).read_bytes()
    except OSError as exc:
        raise UserError(f"Cannot read the reference file {reference}: {exc.strerror}.") from None
    if data.startswith(_ENCODED_MAGIC):
        return EncodedImage(data)
    image = QImage.fromData(data)
    if image.isNull():
        raise UserError(f"{Path(reference).name} is not an image Krita's Qt can read; use a PNG or JPEG.")
    png = QByteArray()
    buffer = QBuffer(png)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return EncodedImage(bytes(png))


def local_selections(document: Document) -> dict[str, Node]:
    """Selection masks that sit on a layer (Krita's "local selections"), by name.

    Selection masks at the top of the stack are global selections (the active one is the area
    to restyle), so only those on layers name regions.
    """
    found: dict[str, Node] = {}

    def walk(node: Node, on_layer: bool) -> None:
        for child in node.childNodes():
            if child.type() == "selectionmask":
                if on_layer:
                    found.setdefault(child.name(), child)
            else:
                walk(child, True)

    walk(document.rootNode(), False)
    return found


def _paired_regions(document: Document, reference: Reference) -> tuple[list[Region], list[str]]:
    """Regions named alike in photo and reference document, and the photo's names with no partner."""
    ours = local_selections(document)
    theirs = local_selections(reference) if isinstance(reference, Document) else {}
    regions = [Region(name, _mask(ours[name], document), _mask(theirs[name], reference))
               for name in ours if name in theirs]
    return regions, [name for name in ours if name not in theirs]


def _mask(mask: Node, document: Document) -> Image:
    width, height = document.width(), document.height()
    return Image(width, height, 1, "uint8", bytes(mask.selection().pixelData(0, 0, width, height)))


def is_open(document: Document) -> bool:
    return any(open_document == document for open_document in Krita.instance().documents())


def add_result_layer(job: JobInput, image: Image) -> Node:
    """A new paint layer above the source holding the result, in the source's colour space."""
    layer = job.document.createNode(job.layer_name, "paintlayer")
    layer.setColorSpace(job.source.colorModel(), job.depth, job.source.colorProfile())
    job.source.parentNode().addChildNode(layer, job.source)
    layer.setPixelData(bytes(from_wire(image.data, job.depth)), 0, 0, job.width, job.height)
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


def add_selection_mask(job: JobInput, layer: Node) -> None:
    """Give the (active) result layer a transparency mask holding the job's selection.

    Krita 5.1's API cannot fill a transparency mask it creates, so this runs Krita's own
    "Add Transparency Mask" on the layer and overwrites the mask's pixels. That action
    deselects the global selection, which is put back.
    """
    kept = job.document.selection()
    Krita.instance().action("add_new_transparency_mask").trigger()
    masks = [node for node in layer.childNodes() if node.type() == "transparencymask"]
    if not masks:
        raise UserError("Krita did not add the transparency mask; the result layer was removed.")
    masks[0].setName("Selection")
    masks[0].setPixelData(job.selection, 0, 0, job.width, job.height)
    job.document.setSelection(kept)
    job.document.refreshProjection()
