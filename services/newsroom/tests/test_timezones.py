from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broadsheet_newsroom.timezones import shown, to_local, to_utc, valid_zone

pytestmark = pytest.mark.unit


def test_publish_at_is_read_in_the_editors_zone_and_stored_in_utc() -> None:
    # London is UTC+0 in winter, UTC+1 in summer; New York UTC-5 in winter.
    assert to_utc("2026-01-15T09:30", "Europe/London") == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert to_utc("2026-07-15T09:30", "Europe/London") == datetime(2026, 7, 15, 8, 30, tzinfo=UTC)
    assert to_utc("2026-01-15T09:30", "America/New_York") == datetime(
        2026, 1, 15, 14, 30, tzinfo=UTC
    )


def test_a_stored_time_is_shown_back_in_the_zone_with_its_name() -> None:
    stored = "2026-07-15T08:30:00Z"
    assert to_local(stored, "Europe/London") == "2026-07-15T09:30"
    assert to_local(stored, "Asia/Tokyo") == "2026-07-15T17:30"
    assert shown(stored, "Europe/London") == "15 Jul 2026, 09:30 BST (Europe/London)"
    assert to_local(None, "UTC") == ""
    assert shown(stored, "UTC") == "15 Jul 2026, 08:30 UTC"  # not "UTC (UTC)"
    assert shown("", "UTC") == ""


def test_the_round_trip_keeps_the_minute_across_a_clock_change() -> None:
    for local in ("2026-03-29T00:30", "2026-03-29T03:00", "2026-10-25T03:00"):
        assert to_local(to_utc(local, "Europe/London"), "Europe/London") == local


def test_malformed_times_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        to_utc("tomorrow", "Europe/London")
    with pytest.raises(ValueError, match="offset"):
        to_utc("2026-01-15T09:30+02:00", "Europe/London")
    assert valid_zone("Europe/Paris") == "Europe/Paris"
    for bad in ("", None, "Mars/Olympus", "../../etc/passwd", "x" * 100):
        assert valid_zone(bad) is None
