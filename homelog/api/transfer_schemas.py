"""Schemas of the import/export and reminder routes of the JSON API (pydantic)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, RootModel

from homelog.api.schemas import Query, Request, Response

StrictInt = Annotated[int, Field(strict=True)]

CSV_BODY = {
    "text/csv": {
        "schema": {"type": "string", "maxLength": 16 * 1024 * 1024},
        "example": "date;import (kWh)\n31.03.2026 18:45;1234,5\n",
    },
}


class ImportQuery(Query):
    """How to read and whether to store an imported CSV."""

    dry_run: bool = Field(False, description="Only report what would be imported.")
    date_order: Literal["auto", "mdy", "dmy"] = Field(
        "auto", description="Order of dates written with slashes; `auto` decides by the file."
    )
    accept_lower: bool = Field(
        False,
        description="Import meter values below the previous one as confirmed drops "
        "(a register that wrapped round, a correction) instead of leaving them out. Record a "
        "replaced meter as a swap first: the new meter's values are then no drop.",
    )
    columns: str | None = Field(
        None,
        max_length=2000,
        description="What each column after the date holds, comma-separated in file order: "
        "a metric name, `note`, or nothing to ignore the column (`import,,note`). "
        "Default: matched by the header.",
        examples=["import,export"],
    )


class ImportColumnOut(Response):
    """A column of the file and what it was read as."""

    index: int = Field(description="1 is the first column after the date.")
    header: str
    target: str | None = Field(description="A metric name, `note`, or null (ignored).")


class ImportProblemOut(Response):
    """A line that is not imported as it is."""

    line: int = Field(description="Line number in the file (the header is line 1).")
    code: Literal["date", "number", "columns", "empty", "duplicate", "conflict", "lower", "note"]
    reason: str = Field(examples=["Lower than the previous meter value (import 90 < 110)."])
    skipped: bool = Field(description="False for a drop imported as confirmed.")


class ImportReportOut(Response):
    """What an import did (or, for a dry run, would do), line by line."""

    dry_run: bool
    created: int | None = Field(description="Readings stored; null for a dry run.")
    to_import: int = Field(description="Lines that are (or would be) imported.")
    lines: int = Field(description="Data lines read (blank lines not counted).")
    skipped: int
    already_stored: int = Field(
        description="Lines whose reading is stored already (same time and values); they are "
        "among the skipped lines and listed as `duplicate` problems."
    )
    problems_left_out: int = Field(
        description="Problem lines not listed: `problems` holds the first 1,000 by line."
    )
    separator: str = Field(examples=[";"])
    decimal: Literal[".", ","]
    date_format: str = Field(examples=["DD.MM.YYYY"])
    date_order: Literal["mdy", "dmy"] | None
    has_header: bool
    columns: list[ImportColumnOut]
    notes: list[str] = Field(description="How the file was read, in words.")
    problems: list[ImportProblemOut]


# ---- Reminders ------------------------------------------------------------------------------


class RemindersQuery(Query):
    """Which reminders to list."""

    all: bool = Field(False, description="Also list scheduled sources that are not due yet.")


class ReminderOut(Response):
    """A source whose reading is due (or, with `all`, scheduled)."""

    source_id: int
    source_name: str = Field(examples=["Electricity"])
    every: Literal["day", "week", "month"]
    day: int | None = Field(description="Weekday (0 = Monday) or day of the month (31 = last).")
    schedule: str = Field(examples=["every Monday"])
    status: Literal["due", "overdue", "ok"]
    due_since: date | None = Field(description="The day the missing reading was due.")
    days_overdue: int
    next_due: date = Field(description="The day the next reading is due (the source's days).")
    last_reading_at: datetime | None


class ReminderList(RootModel[list[ReminderOut]]):
    """Reminders, overdue first."""


class ScheduleOut(Response):
    """A source's reading schedule."""

    every: Literal["day", "week", "month"] | None = Field(description="Null: no reminder.")
    day: int | None
    schedule: str = Field(examples=["monthly on the 15th"])


class ScheduleIn(Request):
    """A reading schedule: `every` null removes the reminder."""

    read_only: ClassVar[frozenset[str]] = frozenset({"schedule"})

    every: Literal["day", "week", "month"] | None
    day: StrictInt | None = Field(
        None,
        ge=0,
        le=31,
        description="Weekday 0-6 (Monday = 0) for `week`, 1-31 for `month`; ignored for `day`.",
    )
