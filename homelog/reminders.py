"""Reading reminders: a schedule per source, and which sources are due or overdue.

A source may be read every day, every week on a weekday, or every month on a day (the 31st
means the month's last day in shorter months). Days are the source's local days (its home's
timezone, else its owner's). An occurrence is covered by any reading on or after its day, so
the first occurrence after the last reading's day is when the next reading is due:

- later than today: nothing to do (`next_due` says when);
- today: "due";
- before today: "overdue" since that day (`days_overdue`).

A source with a schedule and no readings at all is due today. Free of request objects.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from homelog import datasources
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, _l
from homelog.models import DataSource, User
from homelog.usage_db.inputs import source_zone

EVERY = ("day", "week", "month")
WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)


@dataclass
class Reminder:
    """Where a source with a schedule stands."""

    source: DataSource
    status: str  # "due" | "overdue" | "ok"
    due_since: date | None  # the occurrence not yet covered by a reading (due or overdue)
    next_due: date  # the next occurrence after today (for "ok"), else due_since
    last_reading_at: datetime | None
    today: date

    @property
    def days_overdue(self) -> int:
        """Return how many days the reading is late (0 when due today or not due)."""
        if self.status != "overdue" or self.due_since is None:
            return 0
        return (self.today - self.due_since).days

    @property
    def schedule(self) -> str:
        """Return the schedule in words."""
        return describe(self.source.reminder_every, self.source.reminder_day)


def _monthly(day: int) -> str:
    # One sentence per English ordinal suffix, so each language words its own ordinal.
    if 10 <= day % 100 <= 20 or day % 10 not in (1, 2, 3):
        return _("monthly on the %(day)sth", day=day)
    if day % 10 == 1:
        return _("monthly on the %(day)sst", day=day)
    if day % 10 == 2:
        return _("monthly on the %(day)snd", day=day)
    return _("monthly on the %(day)srd", day=day)


def describe(every: str | None, day: int | None) -> str:
    """Return a schedule in words ("every Monday", "monthly on the 15th", "no reminder")."""
    if every == "day":
        return _("every day")
    if every == "week" and day is not None and 0 <= day <= 6:
        return _("every %(weekday)s", weekday=WEEKDAYS[day])
    if every == "month" and day is not None:
        return _monthly(day) if day < 31 else _("monthly on the last day")
    return _("no reminder")


def clean_schedule(every: object, day: object) -> tuple[str | None, int | None]:
    """Return a valid (every, day) pair; every None (or "") means no reminder.

    Raises:
        ValidationFailed: keys "every" and "day".
    """
    if every in (None, "", "none"):
        return None, None
    if every not in EVERY:
        raise ValidationFailed({"every": [_("Choose daily, weekly or monthly.")]})
    if every == "day":
        return "day", None
    try:
        number = int(str(day).strip())
    except (TypeError, ValueError):
        number = None
    if every == "week":
        if number is None or not 0 <= number <= 6:
            raise ValidationFailed({"day": [_("Choose a weekday.")]})
        return "week", number
    if number is None or not 1 <= number <= 31:
        raise ValidationFailed({"day": [_("Enter a day of the month from 1 to 31.")]})
    return "month", number


def set_schedule(source: DataSource, every: object, day: object = None) -> DataSource:
    """Set (or clear, with every None) source's reading schedule and commit."""
    source.reminder_every, source.reminder_day = clean_schedule(every, day)
    db.session.commit()
    return source


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def first_after(every: str, day: int | None, after: date) -> date:
    """Return the first occurrence of the schedule strictly after the date after."""
    if every == "day":
        return after + timedelta(days=1)
    if every == "week":
        return after + timedelta(days=(day - after.weekday() - 1) % 7 + 1)
    candidate = _month_day(after.year, after.month, day)
    if candidate > after:
        return candidate
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    return _month_day(year, month, day)


def status_of(
    source: DataSource, last_reading_at: datetime | None, now: datetime | None = None
) -> Reminder | None:
    """Return where source's schedule stands at now (None without a schedule)."""
    every, day = source.reminder_every, source.reminder_day
    if every not in EVERY or (every != "day" and day is None):
        return None
    zone = source_zone(source)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if last_reading_at is None:
        return Reminder(source, "due", today, today, None, today)
    missed = first_after(every, day, last_reading_at.astimezone(zone).date())
    if missed > today:
        return Reminder(source, "ok", None, missed, last_reading_at, today)
    return Reminder(
        source, "due" if missed == today else "overdue", missed, missed, last_reading_at, today
    )


def reminders_for(
    user: User,
    now: datetime | None = None,
    *,
    include_upcoming: bool = False,
    sources: Sequence[DataSource] | None = None,
) -> list[Reminder]:
    """Return the reminders of the sources user sees: overdue first (oldest), then due.

    With include_upcoming, sources not due yet follow, soonest first.
    """
    if sources is None:
        sources = db.session.scalars(
            datasources.visible_sources(user).where(DataSource.reminder_every.is_not(None))
        ).all()
    scheduled = [source for source in sources if source.reminder_every]
    latest = datasources.latest_readings(scheduled)
    found = []
    for source in scheduled:
        reading = latest.get(source.id)
        reminder = status_of(source, reading.timestamp if reading else None, now)
        if reminder is not None and (include_upcoming or reminder.status != "ok"):
            found.append(reminder)
    rank = {"overdue": 0, "due": 1, "ok": 2}
    found.sort(key=lambda r: (rank[r.status], r.next_due, r.source.name.lower()))
    return found
