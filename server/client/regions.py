"""Which regions a plug-in sends: the one policy GIMP and Krita share.

A retoucher names regions in the host (GIMP: channels; Krita: local selections) and picks a
region mode. `plan_regions` turns the mode and the names found in the photo and the reference
into what to send: which of the photo's regions, whether the host's selection goes along as the
region "selection", and the engine's region mode (`Options(regions=...)`). How the engine then
styles unpartnered regions and unregioned pixels is the engine's business, never a plug-in's:
a plug-in sends each planned region with an all-zero reference mask when the reference lacks it.

When the engine finds regions itself, the result names them "auto: 1", "auto: 2", …; hosts keep
them as named regions (which the retoucher may edit, and which a later run then pairs like any
other), and replace the previous run's ones, recognised by `is_auto_region`, with new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from .errors import DaemonError, InvalidMasksError
from photostyle.server.wire.images import Image, Region

#: The region modes a retoucher chooses from, in the order both hosts show them, with their labels
#: (not the engine's own "given" and "auto" of `Options.regions`: `plan_regions` picks that one).
REGION_CHOICES: dict[str, str] = {
    "auto": "Automatic: your named regions when both images have them, otherwise found by the engine",
    "by-name": "Pair regions with the same name (sky ↔ sky)",
    "whole": "Whole reference styles the selection",
}
DEFAULT_REGION_CHOICE = "auto"
#: The name of the region a host sends for its selection in "whole" mode.
SELECTION_REGION = "selection"
_AUTO_PREFIX = "auto: "  # the engine names the regions it finds "auto: 1", "auto: 2", …


@dataclass(frozen=True)
class RegionPlan:
    """What a host sends for one job."""

    names: tuple[str, ...]  # the photo's regions to send, in the photo's order
    unpaired: tuple[str, ...]  # those the reference lacks: send an all-zero reference mask
    selection: bool  # also send the selection, if any, as SELECTION_REGION against the whole reference
    engine_mode: str  # for Options(regions=...): "given" or "auto"


def plan_regions(mode: str, photo_names: Iterable[str], reference_names: Iterable[str]) -> RegionPlan:
    """The regions to send for `mode` (a key of REGION_CHOICES), given the names of the photo's and
    the reference's regions.

    "auto": every photo region when at least one name is in both images (sent as given regions),
    else none (the engine finds regions). "by-name": every photo region when a name is shared,
    else InvalidMasksError saying how to fix it. "whole": no named region, only the selection.
    """
    if mode not in REGION_CHOICES:
        raise ValueError(f"Unknown region mode {mode!r}; use one of {', '.join(REGION_CHOICES)}.")
    ours = tuple(dict.fromkeys(photo_names))
    theirs = set(reference_names)
    shared = any(name in theirs for name in ours)
    if mode == "whole":
        return RegionPlan((), (), selection=True, engine_mode="given")
    if not shared and mode == "auto":
        return RegionPlan((), (), selection=False, engine_mode="auto")
    if not shared:
        raise InvalidMasksError(
            f"No region has the same name in both images (the photo's: {_listed(ours)}; the reference's: "
            f"{_listed(sorted(theirs))}). Give the regions the same names in both (sky and sky), or choose "
            "Automatic regions.")
    return RegionPlan(ours, tuple(name for name in ours if name not in theirs), selection=False, engine_mode="given")


def regions_to_send(mode: str, photo: Mapping[str, Callable[[], Image]], reference: Mapping[str, Callable[[], Image]],
                    selection: Image | None, style_size: tuple[int, int]) -> tuple[list[Region], RegionPlan]:
    """The regions a host sends for `mode`, and the plan they follow.

    `photo` and `reference` map each region name of the photo and of the reference to a reader of
    its mask (at the size of the content sent, and of the style sent), so that only the masks the
    plan sends are read. A photo region the reference lacks goes with an all-zero reference mask;
    in the "whole" mode the host's `selection` (None: nothing selected) goes as SELECTION_REGION
    against all of the reference.
    """
    plan = plan_regions(mode, photo, reference)
    width, height = style_size
    regions = [Region(name, photo[name](), reference[name]() if name in reference else _filled(width, height, 0))
               for name in plan.names]
    if plan.selection and selection is not None:
        regions.append(Region(SELECTION_REGION, selection, _filled(width, height, 255)))
    return regions, plan


def _filled(width: int, height: int, value: int) -> Image:
    return Image(width, height, 1, "uint8", bytes([value]) * (width * height))


def is_auto_region(name: str) -> bool:
    """Whether a region's name is one the engine gave a region it found ("auto: 1"…)."""
    return name.startswith(_AUTO_PREFIX)


def check_found_regions(regions: Sequence[Region], content_size: tuple[int, int],
                        style_size: tuple[int, int] | None) -> None:
    """Raise DaemonError unless every found region has 8-bit single-channel masks at the sizes of
    the content and style images sent (`style_size` None: not known, not checked). Hosts call it
    before they change the document, so a wrong answer changes nothing."""
    for region in regions:
        for mask, size in ((region.content_mask, content_size), (region.style_mask, style_size)):
            fits = (mask.channels, mask.sample_type) == (1, "uint8") and size in (None, (mask.width, mask.height))
            if not fits:
                raise DaemonError(f"The daemon sent the region '{region.name}' with masks that do not fit the "
                                  "images (a daemon bug); nothing was changed.")


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"
