"""The region policy both plug-ins share (server/client/regions.py): no host, no daemon."""

from __future__ import annotations

import pytest

from photostyle.server.client import (DEFAULT_REGION_CHOICE, REGION_CHOICES, DaemonError, Image, InvalidMasksError,
                                      PhotoStyleClientError, Region, RegionPlan, check_found_regions, is_auto_region,
                                      plan_regions)


def test_the_modes_the_hosts_show_in_order() -> None:
    assert list(REGION_CHOICES) == ["auto", "by-name", "whole"]
    assert DEFAULT_REGION_CHOICE == "auto"
    assert REGION_CHOICES["by-name"] == "Pair regions with the same name (sky ↔ sky)"
    assert REGION_CHOICES["whole"] == "Whole reference styles the selection"


def test_auto_sends_every_photo_region_when_one_name_is_shared() -> None:
    plan = plan_regions("auto", ["sky", "water", "city"], ["city", "sky", "trees"])
    assert plan == RegionPlan(("sky", "water", "city"), ("water",), selection=False, engine_mode="given")


def test_auto_without_a_shared_name_lets_the_engine_find_regions() -> None:
    for photo, reference in ((["sky"], ["ground"]), ([], ["sky"]), (["sky"], []), ([], [])):
        assert plan_regions("auto", photo, reference) == RegionPlan((), (), selection=False, engine_mode="auto")


def test_by_name_sends_every_photo_region_when_one_name_is_shared() -> None:
    plan = plan_regions("by-name", iter(["sky", "water"]), iter(["sky"]))  # any iterables
    assert plan == RegionPlan(("sky", "water"), ("water",), selection=False, engine_mode="given")


def test_by_name_without_a_shared_name_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidMasksError) as raised:
        plan_regions("by-name", ["sky", "water"], ["ground"])
    message = str(raised.value)
    assert isinstance(raised.value, PhotoStyleClientError)  # hosts already report these
    assert "No region has the same name in both images" in message
    assert "the photo's: sky, water; the reference's: ground" in message
    assert "same names" in message and "Automatic" in message
    with pytest.raises(InvalidMasksError, match="the photo's: none; the reference's: none"):
        plan_regions("by-name", [], [])


def test_whole_sends_only_the_selection() -> None:
    plan = plan_regions("whole", ["sky"], ["sky"])
    assert plan == RegionPlan((), (), selection=True, engine_mode="given")


def test_a_name_is_sent_once_in_first_seen_order() -> None:
    assert plan_regions("by-name", ["sky", "city", "sky"], ["sky"]).names == ("sky", "city")


def test_an_unknown_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Unknown region mode 'channels'; use one of auto, by-name, whole"):
        plan_regions("channels", ["sky"], ["sky"])


def test_automatic_region_names() -> None:
    assert is_auto_region("auto: 1") and is_auto_region("auto: 12")
    assert not is_auto_region("sky") and not is_auto_region("auto") and not is_auto_region("Auto: 1")


def mask(width: int, height: int, channels: int = 1, sample_type: str = "uint8") -> Image:
    sample_bytes = 2 if sample_type == "uint16" else 1
    return Image(width, height, channels, sample_type, bytes(width * height * channels * sample_bytes))


def test_found_regions_must_fit_the_images_sent() -> None:
    fine = Region("auto: 1", mask(40, 30), mask(50, 20))
    check_found_regions([fine], (40, 30), (50, 20))
    check_found_regions([fine], (40, 30), None)  # the reference's size is not known (a file sent as it is)
    check_found_regions([], (40, 30), (50, 20))
    wrong_masks = ((mask(30, 40), mask(50, 20)), (mask(40, 30), mask(50, 21)), (mask(40, 30, 3), mask(50, 20)),
                   (mask(40, 30, 1, "uint16"), mask(50, 20)))
    for content_mask, style_mask in wrong_masks:
        wrong = Region("auto: 2", content_mask, style_mask)
        with pytest.raises(DaemonError, match="region 'auto: 2' with masks that do not fit"):
            check_found_regions([fine, wrong], (40, 30), (50, 20))
