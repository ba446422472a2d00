"""Timezone helpers: users type local times, the database keeps UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Return every IANA timezone name, sorted (for the searchable picker)."""
    return tuple(sorted(n for n in available_timezones() if "/" in n or n == "UTC"))


def is_valid_timezone(name: str) -> bool:
    """Return True when name is a known IANA timezone."""
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(name: str | None) -> ZoneInfo:
    """Return the ZoneInfo for name, UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach tz to a naive local time and return it in UTC.

    Raises:
        ValueError: the local time does not exist (skipped by a daylight-saving change).
    Ambiguous times (the repeated hour in autumn) resolve to the first occurrence.
    """
    aware = naive.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks skip that hour."
        )
    return utc


LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """Parse a date-time typed by a user (no offset means tz) and return it in UTC.

    Raises:
        ValueError: with a message fit to show the user.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("Enter a date and time.")
    if len(text) > 40:
        raise ValueError("That date and time is too long.")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
        for fmt in LOCAL_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError("Enter a date and time like 2026-03-31 18:45.") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return localize(parsed, tz)


def to_local(value: datetime, tz: ZoneInfo) -> datetime:
    """Return an aware datetime converted to tz."""
    return value.astimezone(tz)


def input_value(value: datetime, tz: ZoneInfo) -> str:
    """Format value for an <input type="datetime-local"> in tz."""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def time_ago(value: datetime, now: datetime | None = None) -> str:
    """Return a short human phrase for how long ago value was ("3 hours ago")."""
    now = now or datetime.now(UTC)
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = seconds // size
            phrase = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {phrase}" if future else f"{phrase} ago"
    return "just now"  # pragma: no cover
