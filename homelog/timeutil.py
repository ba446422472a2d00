"""Timezone helpers: users type local times, the database keeps UTC; the supported range.

Every time homelog takes (forms, JSON, query strings, CSV import, restore) lies between
1900-01-01T00:00:00Z and 2999-12-31T23:59:59.999999Z, and every date between 1900-01-01 and
2999-12-31 (docs/api.md says why). check_time, check_day and to_utc apply that rule; times
outside it would overflow Python's datetime (years 1 to 9999) when shifted by an offset or a
period, so nothing else needs to guard against that.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from homelog.i18n import _, ngettext

MIN_YEAR, MAX_YEAR = 1900, 2999
EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
END = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)  # the first instant past the range
FIRST_DAY, LAST_DAY = date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31)
#: The range rule in English; range_message() words it in the reader's language.
RANGE_MESSAGE = f"Enter a date between the years {MIN_YEAR} and {MAX_YEAR}."


def range_message() -> str:
    """Return the range rule in the reader's language (English outside a request)."""
    return _(
        "Enter a date between the years %(first)s and %(last)s.", first=MIN_YEAR, last=MAX_YEAR
    )


def check_time(moment: datetime) -> datetime:
    """Return moment when it lies in the supported range (an aware time as an instant in UTC).

    A naive time (a local time not yet placed in a timezone) is judged by its year.

    Raises:
        ValueError: with range_message().
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise ValueError(range_message())
        return moment
    # Comparing aware times subtracts their offsets exactly: no overflow, even at year 1.
    if not EARLIEST <= moment < END:
        raise ValueError(range_message())
    return moment


def check_day(day: date) -> date:
    """Return day when it lies in the supported range.

    Raises:
        ValueError: with range_message().
    """
    if isinstance(day, datetime):
        day = day.date()
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(range_message())
    return day


def clamp(moment: datetime) -> datetime:
    """Return an aware bound of a filter moved into the range (the start of the first day of
    the range in a timezone east of UTC is before EARLIEST, yet means "from the first")."""
    return min(max(moment, EARLIEST), END).astimezone(UTC)


def to_utc(moment: datetime, tz: ZoneInfo) -> datetime:
    """Return moment in UTC, a naive one taken as a local time in tz, within the range.

    Raises:
        ValueError: outside the range (range_message()), or a local time the clocks skip.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        return check_time(localize(check_time(moment.replace(tzinfo=None)), tz))
    return check_time(moment).astimezone(UTC)


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
            _(
                "%(time)s does not exist in %(zone)s: the clocks skip that hour.",
                time=f"{naive:%Y-%m-%d %H:%M}",
                zone=tz.key,
            )
        )
    return utc


LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """Parse a date-time typed by a user (no offset means tz) and return it in UTC.

    Raises:
        ValueError: with a message fit to show the user (also outside the supported range).
    """
    text = (text or "").strip()
    if not text:
        raise ValueError(_("Enter a date and time."))
    if len(text) > 40:
        raise ValueError(_("That date and time is too long."))
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
            raise ValueError(_("Enter a date and time like 2026-03-31 18:45.")) from None
    return to_utc(parsed, tz)


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
        return _("just now")
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            return _time_phrase(unit, seconds // size, future)
    return _("just now")  # pragma: no cover


def _time_phrase(unit: str, count: int, future: bool) -> str:
    """Return "3 hours ago" or "in 3 hours" for unit, each a whole sentence to translate."""
    if unit == "year":
        if future:
            return ngettext("in %(num)d year", "in %(num)d years", count)
        return ngettext("%(num)d year ago", "%(num)d years ago", count)
    if unit == "month":
        if future:
            return ngettext("in %(num)d month", "in %(num)d months", count)
        return ngettext("%(num)d month ago", "%(num)d months ago", count)
    if unit == "week":
        if future:
            return ngettext("in %(num)d week", "in %(num)d weeks", count)
        return ngettext("%(num)d week ago", "%(num)d weeks ago", count)
    if unit == "day":
        if future:
            return ngettext("in %(num)d day", "in %(num)d days", count)
        return ngettext("%(num)d day ago", "%(num)d days ago", count)
    if unit == "hour":
        if future:
            return ngettext("in %(num)d hour", "in %(num)d hours", count)
        return ngettext("%(num)d hour ago", "%(num)d hours ago", count)
    if future:
        return ngettext("in %(num)d minute", "in %(num)d minutes", count)
    return ngettext("%(num)d minute ago", "%(num)d minutes ago", count)
