"""RFC 3339 event times, normalised to UTC with microseconds.

The normalised form ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` has a fixed width, so
comparing two normalised times as strings orders them in time; the fold and the
Lua script rely on that.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def normalize_time(value: str) -> str:
    """Return ``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    A time without an offset is taken as UTC; a fraction is truncated (not
    rounded) to microseconds so that two spellings of one instant agree.
    Raises ``ValueError`` for anything that is not an RFC 3339 date-time or that
    falls outside years 1-9999 once shifted to UTC.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError("not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM])")
    frac, offset = m.group(7, 8)
    frac6 = (frac or "")[:6].ljust(6, "0")
    # The regex fixed the layout; fromisoformat (C) checks the ranges: month 13,
    # February 30 and hour 24 fail here.
    base = f"{value[:10]}T{value[11:19]}"
    try:
        dt = datetime.fromisoformat(base)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {exc}") from None
    if offset is None or offset in ("Z", "z", "+00:00", "-00:00"):
        return f"{base}.{frac6}Z"
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {offset} out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    tz = timezone(delta if offset[0] == "+" else -delta)
    try:
        dt = dt.replace(tzinfo=tz).astimezone(UTC)
    except OverflowError:
        raise ValueError("date-time out of range once shifted to UTC") from None
    # strftime's %Y does not pad years below 1000, so format the fields.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{frac6}Z"
    )


def format_time(moment: datetime) -> str:
    """An aware ``datetime`` in the normalised form (microseconds kept)."""
    dt = moment.astimezone(UTC)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond:06d}Z"
    )


def retention_floor(as_of: str, days: int | None) -> str:
    """The retention cutoff for a graph read as of ``as_of`` (a normalised
    time): edges whose lastSeen is not after it are hidden. ``""`` (hides
    nothing) when retention is off (``days`` is None)."""
    if days is None:
        return ""
    moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    try:
        return format_time(moment - timedelta(days=days))
    except OverflowError:
        return ""  # before year 1: nothing is that old
