"""API routes: readings due (the dashboard's list, for the phone) and a source's schedule."""

from __future__ import annotations

from homelog import reminders
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    dump,
    error_responses,
    operation,
)
from homelog.api.sources import source_or_404
from homelog.api.transfer_schemas import ReminderList, RemindersQuery, ScheduleIn, ScheduleOut
from homelog.models import DataSource

TAGS = ("reminders",)


def _reminder(item: reminders.Reminder) -> dict:
    return {
        "source_id": item.source.id,
        "source_name": item.source.name,
        "every": item.source.reminder_every,
        "day": item.source.reminder_day,
        "schedule": item.schedule,
        "status": item.status,
        "due_since": item.due_since,
        "days_overdue": item.days_overdue,
        "next_due": item.next_due,
        "last_reading_at": item.last_reading_at,
    }


def _schedule(source: DataSource) -> dict:
    return {
        "every": source.reminder_every,
        "day": source.reminder_day,
        "schedule": reminders.describe(source.reminder_every, source.reminder_day),
    }


@operation(
    "/reminders",
    tags=TAGS,
    query=RemindersQuery,
    responses={
        200: (ReminderList, "Overdue first (oldest), then due today."),
        **error_responses(*AUTH_ERRORS, 422),
    },
)
def list_reminders(query: RemindersQuery):
    """List the sources whose reading is due or overdue, as on the dashboard."""
    found = reminders.reminders_for(api_user(), include_upcoming=query.all)
    return dump(ReminderList, [_reminder(item) for item in found])


@operation(
    "/sources/<int:source_id>/reminder",
    tags=TAGS,
    responses={
        200: (ScheduleOut, "The schedule."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_reminder(source_id: int):
    """Show a source's reading schedule."""
    source = source_or_404(source_id)
    return dump(ScheduleOut, _schedule(source))


@operation(
    "/sources/<int:source_id>/reminder",
    ["PUT"],
    tags=TAGS,
    body=ScheduleIn,
    responses={
        200: (ScheduleOut, "The new schedule."),
        **error_responses(*AUTH_ERRORS, 403, 404, *BODY_ERRORS),
    },
)
def set_reminder(source_id: int, body: ScheduleIn):
    """Set a source's reading schedule (its owner only); `every: null` removes it."""
    source = source_or_404(source_id)
    reminders.set_schedule(source, body.every, body.day)
    return dump(ScheduleOut, _schedule(source))
