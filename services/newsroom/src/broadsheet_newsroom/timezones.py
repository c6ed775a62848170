"""Publish at is entered and shown in the editor's time zone and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# What a datetime-local input sends and shows (minutes; seconds are optional).
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def valid_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone this machine knows, else None."""
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def to_utc(local: str, zone: str) -> datetime:
    """A datetime-local value in ``zone`` as an aware UTC datetime; ValueError if malformed.

    A wall time the zone skips (spring forward) or repeats (fall back) takes the first reading
    (``fold=0``), as zoneinfo does.
    """
    naive = datetime.fromisoformat(local.strip())
    if naive.tzinfo is not None:
        raise ValueError("a local time has no offset")
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def to_local(value: str | datetime | None, zone: str) -> str:
    """A UTC instant (ISO text or datetime) as a datetime-local value in ``zone``; "" if none."""
    if not value:
        return ""
    instant = parse_instant(value) if isinstance(value, str) else value
    return instant.astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT)


def shown(value: str | datetime | None, zone: str) -> str:
    """A UTC instant as a person reads it in ``zone``, with the zone's name."""
    if not value:
        return ""
    instant = parse_instant(value) if isinstance(value, str) else value
    local = instant.astimezone(ZoneInfo(zone))
    abbreviation = local.tzname()
    # "CET (Europe/Paris)", but "UTC", not "UTC (UTC)".
    named = abbreviation if abbreviation == zone else f"{abbreviation} ({zone})"
    return f"{local.strftime('%d %b %Y, %H:%M')} {named}"
