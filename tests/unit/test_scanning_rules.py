"""Integrated Scanning's pure rules: the ``scan-actions`` setting, who sees which action
where, the options a person may change, file names, and when a delivery is tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from printwarden.domain.scanning import (
    BACKOFF,
    RETRY_FOR,
    Destination,
    ScanError,
    file_stem,
    next_attempt,
    parse_settings,
    settings_json,
)

NOW = datetime(2026, 12, 6, 10, 15, 3, tzinfo=UTC)
EMAIL = {
    "name": "Scan to my email",
    "destination": "email",
    "defaults": {"format": "pdf", "resolution": 200},
    "editable": ["ocr", "file_name"],
}
STAFF = {"name": "Staff share", "destination": "folder", "folder": "staff",
         "groups": ["staff"], "devices": ["mfd-1"]}  # fmt: skip


def test_the_setting_round_trips_and_an_empty_one_offers_nothing() -> None:
    settings = parse_settings({"actions": [EMAIL, STAFF], "max_pages": 40})
    assert parse_settings(settings_json(settings)) == settings
    assert settings.max_pages == 40
    assert settings.find("Staff share").destination is Destination.FOLDER
    assert parse_settings(None).actions == ()


def test_actions_are_offered_by_group_and_device() -> None:
    settings = parse_settings({"actions": [EMAIL, STAFF]})
    assert [a.name for a in settings.offered(frozenset(), "mfd-1")] == ["Scan to my email"]
    staff = [a.name for a in settings.offered(frozenset({"staff"}), "mfd-1")]
    assert staff == ["Scan to my email", "Staff share"]
    assert [a.name for a in settings.offered(frozenset({"staff"}), "mfd-2")] == ["Scan to my email"]
    off = parse_settings({"actions": [{**EMAIL, "enabled": False}]})
    assert off.offered(frozenset(), "mfd-1") == []


def test_a_person_changes_only_what_the_action_lets_them() -> None:
    action = parse_settings({"actions": [EMAIL]}).find("Scan to my email")
    chosen = action.options({"ocr": True, "file_name": "Thesis"})
    assert (chosen.ocr, chosen.file_name, chosen.resolution) == (True, "Thesis", 200)
    with pytest.raises(ScanError, match="resolution"):
        action.options({"resolution": 600})
    with pytest.raises(ScanError, match="file_name"):
        action.options({"file_name": "../../etc/passwd"})


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"actions": [{**EMAIL, "destination": "ftp"}]}, "destination"),
        ({"actions": [{**EMAIL, "folder": "x"}]}, "folder"),
        ({"actions": [{**STAFF, "folder": ""}]}, "folder"),
        ({"actions": [EMAIL, EMAIL]}, "same name"),
        ({"actions": [{**EMAIL, "editable": ["price"]}]}, "editable"),
        ({"actions": [{**EMAIL, "defaults": {"format": "gif"}}]}, "format"),
        ({"actions": [{**EMAIL, "defaults": {"ocr": True, "format": "jpeg"}}]}, "OCR"),
        ({"actions": [], "max_pages": 0}, "max_pages"),
        ({"actions": [], "colour": True}, "unknown"),
        ([EMAIL], "object"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(raw: object, says: str) -> None:
    with pytest.raises(ScanError, match=says):
        parse_settings(raw)


def test_file_names_are_filled_in_and_safe() -> None:
    assert file_stem("Scan {date} {time}", NOW, "ann") == "Scan 2026-12-06 10-15-03"
    assert file_stem("{username}/x:y", NOW, "ann") == "ann_x_y"
    assert file_stem("...", NOW, "ann") == "Scan"


def test_deliveries_back_off_then_give_up() -> None:
    received = NOW
    first = next_attempt(received, 1, NOW)
    assert first == NOW + timedelta(seconds=BACKOFF[0])
    later = next_attempt(received, 30, NOW + timedelta(minutes=10))
    assert later == NOW + timedelta(minutes=10, seconds=BACKOFF[-1])
    assert next_attempt(received, 3, NOW + RETRY_FOR) is None
