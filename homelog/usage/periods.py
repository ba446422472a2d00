"""Calendar periods (day, week, month, year, billing cycle) in an IANA timezone.

A period is a half-open interval [start, end) of aware UTC instants whose bounds are local
midnights in the timezone, so a day lasts 23 or 25 hours on a daylight-saving change.

Billing cycles start on a chosen day of the month (1-31). In a month too short for that day,
the cycle starts on the month's last day instead: a cycle on the 31st starts on Jan 31, Feb 28
(29 in a leap year), Mar 31, Apr 30, ... and each cycle ends where the next one starts.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month", "year", "cycle"]
PERIOD_KINDS: tuple[str, ...] = ("day", "week", "month", "year", "cycle")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval [start, end) of aware UTC instants.

    `first_day` and `last_day` are the local calendar days a calendar period covers (both
    inclusive); an arbitrary period built by hand may leave them None.
    """

    start: datetime
    end: datetime
    first_day: date | None = None
    last_day: date | None = None

    @property
    def duration(self) -> timedelta:
        """Return how long the period lasts."""
        return self.end - self.start


def as_zone(tz: ZoneInfo | str) -> ZoneInfo:
    """Return tz as a ZoneInfo (accepts an IANA name)."""
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def local_midnight(day: date, tz: ZoneInfo | str) -> datetime:
    """Return the first instant of the local calendar day, in UTC.

    Where the clocks skip midnight (some zones change at 00:00), the day starts at the first
    instant after the gap: fold=0 on a missing time applies the offset from before the change.
    """
    return datetime.combine(day, time(0), tzinfo=as_zone(tz)).astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo | str) -> date:
    """Return the local calendar day an aware instant falls on."""
    _check_aware(instant)
    return instant.astimezone(as_zone(tz)).date()


def cycle_start(year: int, month: int, cycle_day: int) -> date:
    """Return the day a billing cycle starting on cycle_day begins in that month (clamped)."""
    _check_cycle_day(cycle_day)
    return date(year, month, min(cycle_day, calendar.monthrange(year, month)[1]))


def first_day_of(kind: str, day: date, cycle_day: int = 1) -> date:
    """Return the first local day of the period of this kind that contains day."""
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    if kind == "year":
        return date(day.year, 1, 1)
    if kind == "cycle":
        start = cycle_start(day.year, day.month, cycle_day)
        if day >= start:
            return start
        year, month = _previous_month(day.year, day.month)
        return cycle_start(year, month, cycle_day)
    raise ValueError(f"unknown period kind {kind!r}; use one of {', '.join(PERIOD_KINDS)}")


def next_first_day(kind: str, first_day: date, cycle_day: int = 1) -> date:
    """Return the first local day of the period after the one starting on first_day."""
    if kind == "day":
        return first_day + timedelta(days=1)
    if kind == "week":
        return first_day + timedelta(days=7)
    if kind == "month":
        year, month = _next_month(first_day.year, first_day.month)
        return date(year, month, 1)
    if kind == "year":
        return date(first_day.year + 1, 1, 1)
    if kind == "cycle":
        year, month = _next_month(first_day.year, first_day.month)
        return cycle_start(year, month, cycle_day)
    raise ValueError(f"unknown period kind {kind!r}; use one of {', '.join(PERIOD_KINDS)}")


def period_of(kind: str, first_day: date, tz: ZoneInfo | str, cycle_day: int = 1) -> Period:
    """Return the calendar period of this kind that starts on the local day first_day."""
    zone = as_zone(tz)
    after = next_first_day(kind, first_day, cycle_day)
    return Period(
        local_midnight(first_day, zone),
        local_midnight(after, zone),
        first_day,
        after - timedelta(days=1),
    )


def period_containing(
    kind: str, instant: datetime | date, tz: ZoneInfo | str, cycle_day: int = 1
) -> Period:
    """Return the calendar period of this kind containing instant (a date: that local day)."""
    zone = as_zone(tz)
    day = instant if _is_date(instant) else local_day(instant, zone)
    return period_of(kind, first_day_of(kind, day, cycle_day), zone, cycle_day)


def iter_periods(
    kind: str,
    start: datetime | date,
    end: datetime | date,
    tz: ZoneInfo | str,
    cycle_day: int = 1,
) -> Iterator[Period]:
    """Yield, in order, the calendar periods of this kind that overlap [start, end).

    A date stands for its local midnight. The first and last periods may reach outside the
    range: they are whole calendar periods.
    """
    zone = as_zone(tz)
    if kind == "cycle":
        _check_cycle_day(cycle_day)
    end_utc = local_midnight(end, zone) if _is_date(end) else _check_aware(end)
    first = first_day_of(kind, start if _is_date(start) else local_day(start, zone), cycle_day)
    period_start = local_midnight(first, zone)
    while period_start < end_utc:
        after = next_first_day(kind, first, cycle_day)
        period_end = local_midnight(after, zone)
        yield Period(period_start, period_end, first, after - timedelta(days=1))
        first, period_start = after, period_end


def periods_between(
    kind: str,
    start: datetime | date,
    end: datetime | date,
    tz: ZoneInfo | str,
    cycle_day: int = 1,
) -> list[Period]:
    """Return the calendar periods of this kind that overlap [start, end), in order."""
    return list(iter_periods(kind, start, end, tz, cycle_day))


def _is_date(value: datetime | date) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _check_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime was given where an aware one is needed")
    return value


def _check_cycle_day(cycle_day: int) -> None:
    if not 1 <= cycle_day <= 31:
        raise ValueError("a billing cycle starts on a day from 1 to 31")


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)
