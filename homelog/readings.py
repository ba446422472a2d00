"""Readings of a source: validation, create/update/delete with undo, meter checks.

Free of request objects: pages, the JSON API and the CLI call the same functions. Bad input
raises `homelog.errors.ValidationFailed`; keys are "timestamp", "note", "id", "cursor",
"values" (the whole mapping) and "values.<metric>" (one metric's number).

Values rule: a reading gives a number for **every** metric of its source by default
(`require_all=True`): a blank field in the form is a mistake to point out, not a silent gap.
Callers that merge partial input (an API PATCH) or import sparse data may pass
`require_all=False`, which still demands at least one value. Keys must be the source's metric
names; numbers must be finite, at most MAX_ABS_VALUE in size, and text numbers are parsed like
a person types them (decimal comma or point, see `homelog.numbers.parse_number`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.exc import IntegrityError

from homelog import timeutil
from homelog.errors import Conflict, ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource, MeterEvent, MetricList, Reading, User
from homelog.numbers import parse_number
from homelog.usage.meter import is_rollover, register_sizes

MAX_NOTE_LENGTH = 500
# No household meter or sensor gets near this; larger numbers are typos or junk.
MAX_ABS_VALUE = 1e15
MIN_YEAR, MAX_YEAR = timeutil.MIN_YEAR, timeutil.MAX_YEAR


def clean_value(value: object) -> float:
    """Return value as a finite float; text is parsed as a person types it.

    Raises:
        ValueError: with a message fit for the user.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(_("Enter a number."))
    if isinstance(value, str):
        number = parse_number(value)
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(_("That number is too large.")) from None
    else:
        raise ValueError(_("Enter a number."))
    if not math.isfinite(number):
        raise ValueError(_("Enter a finite number."))
    if abs(number) > MAX_ABS_VALUE:
        raise ValueError(_("That number is too large."))
    return number


def format_value(value: object) -> str:
    """Return a stored value as the shortest text that reads back to it (for edit forms)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return "" if value is None else str(value)


def clean_values(
    source: DataSource, values: object, *, require_all: bool = True
) -> dict[str, float]:
    """Validate values ({metric: number}) against source's metrics and return them as floats.

    Raises:
        ValidationFailed: unknown metric, missing metric, or a value that is not a number.
    """
    if not isinstance(values, Mapping):
        raise ValidationFailed({"values": [_("Give the values as {metric: number}.")]})
    errors: dict[str, list[str]] = {}
    metrics = source.metric_names
    unknown = [str(key) for key in values if key not in metrics]
    if unknown:
        errors["values"] = [
            _(
                "Not a metric of this source: %(unknown)s. Use %(metrics)s.",
                unknown=", ".join(_("“%(name)s”", name=k[:40]) for k in unknown[:5]),
                metrics=", ".join(_("“%(name)s”", name=m) for m in metrics),
            )
        ]
    cleaned: dict[str, float] = {}
    for metric in metrics:
        if metric not in values:
            if require_all:
                errors[f"values.{metric}"] = [_("Enter a number.")]
            continue
        try:
            cleaned[metric] = clean_value(values[metric])
        except ValueError as error:
            errors[f"values.{metric}"] = [str(error)]
    if not cleaned and not errors:
        errors["values"] = [_("Enter at least one value.")]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def clean_timestamp(timestamp: object) -> datetime:
    """Return timestamp (an aware datetime) in UTC.

    Raises:
        ValidationFailed: not a datetime, without a timezone, or outside the supported range
            (homelog.timeutil).
    """
    if not isinstance(timestamp, datetime):
        raise ValidationFailed({"timestamp": [_("Enter a date and time.")]})
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValidationFailed({"timestamp": [_("Give the time with its timezone.")]})
    try:
        return timeutil.check_time(timestamp).astimezone(UTC)
    except ValueError as error:
        raise ValidationFailed({"timestamp": [str(error)]}) from None


def clean_note(note: object) -> str | None:
    """Return the note stripped (None when empty).

    Raises:
        ValidationFailed: not text, or longer than MAX_NOTE_LENGTH.
    """
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValidationFailed({"note": [_("Enter the note as text.")]})
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationFailed(
            {"note": [_("Use at most %(count)s characters.", count=MAX_NOTE_LENGTH)]}
        )
    return note or None


def parse_reading_id(reading_id: object) -> uuid.UUID | None:
    """Return reading_id as a UUID, or None when it is not one."""
    if isinstance(reading_id, uuid.UUID):
        return reading_id
    if not isinstance(reading_id, str) or len(reading_id) > 64:
        return None
    try:
        return uuid.UUID(reading_id)
    except ValueError:
        return None


def _collect(*checks) -> tuple[list, dict[str, list[str]]]:
    """Run each (function, args, kwargs) check and merge their ValidationFailed errors."""
    results, errors = [], {}
    for function, args, kwargs in checks:
        try:
            results.append(function(*args, **kwargs))
        except ValidationFailed as error:
            results.append(None)
            for key, messages in error.errors.items():
                errors.setdefault(key, []).extend(messages)
    return results, errors


def get_reading(source: DataSource, reading_id: object) -> Reading | None:
    """Return source's reading with reading_id, or None (also for junk ids or other sources)."""
    wanted = parse_reading_id(reading_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(Reading).where(Reading.id == wanted, Reading.data_source_id == source.id)
    )


def create_reading(
    source: DataSource,
    user: User | None,
    timestamp: datetime,
    values: Mapping[str, object],
    note: str | None = None,
    reading_id: uuid.UUID | str | None = None,
    *,
    require_all: bool = True,
    confirmed: bool = False,
) -> Reading:
    """Validate and commit a new reading of source.

    A client may choose reading_id (a UUID) so a retried upload never duplicates anything:
    when a reading with that id already exists in this source with the same timestamp, values
    and note, that stored reading is returned unchanged (compare its created_at, or call
    get_reading first, to tell a replay from a creation). confirmed: the user accepted a
    meter value below the previous one (usage then counts it instead of leaving it out).

    Raises:
        ValidationFailed: invalid timestamp, values, note or id.
        Conflict: reading_id is taken by a different reading (`current` holds it when it is
            in this source).
    """
    ts, clean, clean_n, wanted_id = clean_new_reading(
        source, timestamp, values, note, reading_id, require_all=require_all
    )
    if wanted_id is not None:
        existing = db.session.get(Reading, wanted_id)
        if existing is not None:
            if existing.data_source_id != source.id:
                raise Conflict(_("A reading with this id already exists."))
            if (
                existing.timestamp == ts
                and existing.values == clean
                and (existing.note or None) == clean_n
                and bool(existing.confirmed) == bool(confirmed)
            ):
                return existing
            raise Conflict(_("A different reading with this id already exists."), current=existing)
    reading = Reading(
        data_source_id=source.id,
        timestamp=ts,
        values=clean,
        note=clean_n,
        created_by_id=user.id if user is not None else None,
        confirmed=confirmed,
    )
    if wanted_id is not None:
        reading.id = wanted_id
    db.session.add(reading)
    try:
        commit_keeping_loaded()
    except IntegrityError:
        # Another request stored the same id first (a retried upload racing itself).
        db.session.rollback()
        if wanted_id is None or db.session.get(Reading, wanted_id) is None:
            raise
        return create_reading(source, user, ts, clean, clean_n, wanted_id, confirmed=confirmed)
    return reading


def clean_new_reading(
    source: MetricList,
    timestamp: datetime,
    values: Mapping[str, object],
    note: str | None,
    reading_id: uuid.UUID | str | None,
    *,
    require_all: bool = True,
) -> tuple[datetime, dict[str, float], str | None, uuid.UUID | None]:
    """Return a new reading's timestamp, values, note and id as they are stored.

    Raises:
        ValidationFailed: every problem with them at once.
    """
    (ts, clean, clean_n), errors = _collect(
        (clean_timestamp, (timestamp,), {}),
        (clean_values, (source, values), {"require_all": require_all}),
        (clean_note, (note,), {}),
    )
    wanted_id = None
    if reading_id is not None:
        wanted_id = parse_reading_id(reading_id)
        if wanted_id is None:
            errors.setdefault("id", []).append(_("Give the id as a UUID."))
    if errors:
        raise ValidationFailed(errors)
    return ts, clean, clean_n, wanted_id


def commit_keeping_loaded() -> None:
    """Commit without expiring the session's objects.

    The caller shows what it just wrote (the API answers with the new reading); after a plain
    commit every attribute read reloads its row, a round trip per object. Nothing here is
    computed by the database, so the objects already hold what was stored.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


_UNSET = object()


def update_reading(
    reading: Reading,
    *,
    timestamp: datetime | None = None,
    values: Mapping[str, object] | None = None,
    note: object = _UNSET,
    require_all: bool = True,
    confirmed: bool | None = None,
) -> Reading:
    """Change reading and commit; arguments not given keep their value (note=None clears it).

    values replaces the whole mapping; to change one metric, merge with reading.values first
    (or pass require_all=False to accept a subset, which then replaces the mapping).

    Raises:
        ValidationFailed: invalid timestamp, values or note.
    """
    source = reading.source
    checks = []
    if timestamp is not None:
        checks.append((clean_timestamp, (timestamp,), {}))
    if values is not None:
        checks.append((clean_values, (source, values), {"require_all": require_all}))
    if note is not _UNSET:
        checks.append((clean_note, (note,), {}))
    results, errors = _collect(*checks)
    if errors:
        raise ValidationFailed(errors)
    results = iter(results)
    if timestamp is not None:
        reading.timestamp = next(results)
    if values is not None:
        reading.values = next(results)  # a new dict: JSON columns do not track in-place edits
    if note is not _UNSET:
        reading.note = next(results)
    if confirmed is not None:
        reading.confirmed = confirmed
    db.session.commit()
    return reading


def snapshot(reading: Reading) -> dict:
    """Return a JSON-able copy of reading, enough to restore it (see restore_reading)."""
    return {
        "id": str(reading.id),
        "data_source_id": reading.data_source_id,
        "timestamp": reading.timestamp.isoformat(),
        "values": dict(reading.values or {}),
        "note": reading.note,
        "confirmed": bool(reading.confirmed),
        "created_by_id": reading.created_by_id,
    }


def delete_reading(reading: Reading) -> dict:
    """Delete reading, commit, and return its snapshot so the deletion can be undone."""
    saved = snapshot(reading)
    db.session.delete(reading)
    db.session.commit()
    return saved


def restore_reading(source: DataSource, saved: Mapping) -> Reading:
    """Re-create a deleted reading of source from its snapshot (same id): the undo of a delete.

    Raises:
        ValidationFailed: the snapshot is not of this source or no longer fits its metrics.
        Conflict: a different reading with that id exists meanwhile.
    """
    if saved.get("data_source_id") != source.id:
        raise ValidationFailed({"id": [_("This reading does not belong to this source.")]})
    try:
        timestamp = datetime.fromisoformat(str(saved.get("timestamp")))
    except ValueError:
        raise ValidationFailed({"timestamp": [_("Enter a date and time.")]}) from None
    creator_id = saved.get("created_by_id")
    reading = create_reading(
        source,
        None,
        timestamp,
        saved.get("values") or {},
        saved.get("note"),
        reading_id=saved.get("id"),
        require_all=False,
        confirmed=saved.get("confirmed") is True,
    )
    if (
        isinstance(creator_id, int)
        and reading.created_by_id is None
        and db.session.get(User, creator_id) is not None
    ):
        reading.created_by_id = creator_id
        db.session.commit()
    return reading


# ---- Meter checks ---------------------------------------------------------------------------


def previous_reading(
    source: DataSource, timestamp: datetime, exclude_id: uuid.UUID | str | None = None
) -> Reading | None:
    """Return source's newest reading strictly before timestamp (other than exclude_id)."""
    query = select(Reading).where(
        Reading.data_source_id == source.id, Reading.timestamp < clean_timestamp(timestamp)
    )
    excluded = parse_reading_id(exclude_id) if exclude_id is not None else None
    if excluded is not None:
        query = query.where(Reading.id != excluded)
    return db.session.scalar(query.order_by(Reading.timestamp.desc(), Reading.id.desc()).limit(1))


def swaps_until(source: DataSource, until: datetime) -> list[MeterEvent]:
    """Return source's meter swaps up to until (inclusive), oldest first.

    As in usage (homelog/usage/meter.py), a reading at a swap's instant is the new meter's.
    """
    return list(
        db.session.scalars(
            select(MeterEvent)
            .where(MeterEvent.data_source_id == source.id, MeterEvent.at <= until)
            .order_by(MeterEvent.at)
        )
    )


def lower_values(
    source: DataSource,
    values: Mapping[str, float],
    previous: Reading | None,
    swap: MeterEvent | None = None,
) -> dict[str, float]:
    """Return {metric: value before} where a meter's value is below the value before it.

    The value before is previous's or, when `swap` (a meter swap between previous and this
    reading) is given, the new meter's first value, as the CSV import compares them.
    """
    if source.kind != "meter" or previous is None:
        return {}
    earlier = (swap.new_start or {}) if swap is not None else (previous.values or {})
    return {
        metric: earlier[metric]
        for metric, value in values.items()
        if isinstance(earlier.get(metric), int | float) and value < earlier[metric]
    }


def explained_drop(
    source: DataSource,
    values: Mapping[str, float],
    timestamp: datetime,
    previous: Reading | None,
    swaps=None,
) -> dict[str, float]:
    """Return lower_values(...), compared across a meter swap recorded in between, without
    the metrics whose register wrapped round (as usage, homelog/usage/meter.py, takes them).

    swaps: source's swaps, oldest first, up to at least timestamp (later ones are ignored);
    without them they are read here. Either way they are needed only when the values
    dropped below previous's, so the usual case sends no statement. The cost: a reading
    that rose from the old meter's last value but is below a *higher* new meter's first
    value is not flagged here (the CSV import flags it).
    """
    lower = lower_values(source, values, previous)
    if not lower:
        return lower
    swaps = [
        swap
        for swap in (swaps_until(source, timestamp) if swaps is None else swaps)
        if swap.at <= timestamp
    ]
    between = [swap for swap in swaps if swap.at > previous.timestamp]
    if between:
        lower = lower_values(source, values, previous, between[-1])
    # A register that wraps round (a rollover within usage's share of its range) is counted
    # on by usage, so it is no drop either. A swap may set a new register size.
    sizes = register_sizes({}, source.rollover_at)
    for swap in swaps:
        sizes = register_sizes(sizes, swap.rollover_at)
    return {
        metric: before
        for metric, before in lower.items()
        if not is_rollover(values[metric], before, sizes.get(metric))
    }


def lower_than_previous(
    source: DataSource,
    timestamp: datetime,
    values: Mapping[str, float],
    exclude_id: uuid.UUID | str | None = None,
) -> dict[str, float]:
    """For a meter, return {metric: value before} for each value below the one before it.

    A meter's register only counts up, so a drop is a typo or a replaced meter: callers ask
    the user to confirm before saving. After a recorded swap the new meter's first values are
    the ones before. Sensors always return {}.
    """
    if source.kind != "meter":
        return {}
    previous = previous_reading(source, timestamp, exclude_id)  # checks timestamp
    return explained_drop(source, values, timestamp, previous)
