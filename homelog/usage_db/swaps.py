"""Meter swaps: the old meter's final values and the new one's start values at an instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select

from homelog import timeutil
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource, MeterEvent, User, parse_id
from homelog.usage_db.fields import check_register_values, commit_unique


def check_swap(
    source: DataSource,
    at: object,
    old_final: object,
    new_start: object,
    rollover_at: object,
    note: object,
) -> tuple:
    """Return a swap's (at in UTC, old finals, new starts, sizes or None, note), checked.

    Raises:
        ValidationFailed: keys "at", "old_final[.metric]", "new_start[.metric]",
            "rollover_at[.metric]", "note".
    """
    if source.kind != "meter":
        raise ValidationFailed({"at": [_("Only meters are replaced; sensors have no register.")]})
    errors: dict[str, list[str]] = {}
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        errors["at"] = [_("Enter a date and time.")]
        when = None
    elif not timeutil.EARLIEST <= at < timeutil.END:
        errors["at"] = [timeutil.range_message()]
        when = None
    else:
        when = at.astimezone(UTC)
    old = check_register_values(source, old_final, "old_final", errors)
    new = check_register_values(source, new_start, "new_start", errors)
    sizes = check_register_values(source, rollover_at, "rollover_at", errors, positive=True)
    if not any(k.startswith(("old_final", "new_start")) for k in errors):
        if not old and not new:
            errors["old_final"] = [_("Enter the old meter's final value of at least one metric.")]
        for metric in source.metric_names:
            if (metric in old) != (metric in new):
                missing = "new_start" if metric in old else "old_final"
                errors.setdefault(f"{missing}.{metric}", []).append(
                    _("Enter both the old meter's final value and the new meter's start value.")
                )
    clean_note = None
    if note is not None:
        if not isinstance(note, str) or len(note.strip()) > 500 or "\x00" in note:
            errors["note"] = [_("Use at most 500 characters of text.")]
        else:
            clean_note = note.strip() or None
    if errors:
        raise ValidationFailed(errors)
    return when, old, new, sizes or None, clean_note


def get_swap(source: DataSource, swap_id: object) -> MeterEvent | None:
    """Return source's swap with swap_id, or None (also for junk ids and other sources)."""
    wanted = parse_id(swap_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(MeterEvent).where(MeterEvent.id == wanted, MeterEvent.data_source_id == source.id)
    )


def create_swap(
    source: DataSource,
    user: User | None,
    at: datetime,
    old_final: Mapping,
    new_start: Mapping,
    rollover_at: Mapping | None = None,
    note: str | None = None,
) -> MeterEvent:
    """Record that source's meter was replaced at `at`, and commit.

    Raises:
        ValidationFailed: keys "at", "old_final[.metric]", "new_start[.metric]",
            "rollover_at[.metric]", "note"; also when a swap is already recorded at `at`.
    """
    when, old, new, sizes, clean_note = check_swap(
        source, at, old_final, new_start, rollover_at, note
    )
    event = MeterEvent(
        data_source_id=source.id,
        at=when,
        old_final=old,
        new_start=new,
        rollover_at=sizes,
        note=clean_note,
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(event)
    commit_unique("at", _("A meter swap is already recorded at that time."))
    return event


def update_swap(
    event: MeterEvent,
    at: datetime,
    old_final: Mapping,
    new_start: Mapping,
    rollover_at: Mapping | None = None,
    note: str | None = None,
) -> MeterEvent:
    """Change a recorded swap (all fields) and commit; raises like create_swap."""
    when, old, new, sizes, clean_note = check_swap(
        event.source, at, old_final, new_start, rollover_at, note
    )
    event.at, event.old_final, event.new_start = when, old, new
    event.rollover_at, event.note = sizes, clean_note
    commit_unique("at", _("A meter swap is already recorded at that time."))
    return event


def delete_swap(event: MeterEvent) -> None:
    """Delete a recorded swap and commit."""
    db.session.delete(event)
    db.session.commit()
