"""Whole-account backup as one JSON file, and its restore into an empty account.

The file holds the account's settings, homes (with their members), sources with their usage
settings, reading reminders, tariffs and meter swaps, and every reading. It is one JSON
document, written so that each reading sits on a line of its own after `"readings": [`:

    {"format": "homelog-backup", "version": 1, ..., "sources": [...],
    "readings": [
    {"id": "...", "source": 3, "timestamp": "...", "values": {...}, ...},
    ...
    ]}

so both ends stream: the backup is written from a server-side cursor in chunks, and the
restore reads it line by line, inserting readings in batches (any JSON reformatting of the
file is read too, in memory). The restore is one transaction: all or nothing. Ids are not
kept for homes and sources (new rows get new ids); readings keep theirs unless this server
already has the id (a copy of the account), where they get new ones. People are referred to
by email: a reading's recorder and a home's members are matched to accounts on this server.
Free of request objects and database-agnostic: a backup from PostgreSQL restores on SQLite
and back.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select

from homelog import bulk, sync, timeutil
from homelog.datasources import clean_metrics
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import (
    KINDS,
    DataSource,
    Location,
    LocationMember,
    MeterEvent,
    Reading,
    Tariff,
    User,
    utcnow,
    uuid7,
)
from homelog.readings import MAX_ABS_VALUE, MAX_NOTE_LENGTH
from homelog.reminders import clean_schedule

FORMAT = "homelog-backup"
VERSION = 1
CHUNK = 2000
READINGS_LINE = '"readings": ['


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---- Backup --------------------------------------------------------------------------------


def _location_members(location_ids: list[int]) -> dict[int, list[dict]]:
    """Return {location id: [{"email", "role"}]} of the homes' members."""
    rows = (
        db.session.execute(
            select(LocationMember.location_id, User.email, LocationMember.role)
            .join(User, User.id == LocationMember.user_id)
            .where(LocationMember.location_id.in_(location_ids))
            .order_by(LocationMember.location_id, User.email)
        )
        if location_ids
        else []
    )
    members: dict[int, list[dict]] = {}
    for location_id, email, role in rows:
        members.setdefault(location_id, []).append({"email": email, "role": role})
    return members


def _source_document(source: DataSource, emails: dict[int, str]) -> dict:
    tariffs = db.session.scalars(
        select(Tariff)
        .where(Tariff.data_source_id == source.id)
        .order_by(Tariff.metric, Tariff.effective_from)
    )
    swaps = db.session.scalars(
        select(MeterEvent).where(MeterEvent.data_source_id == source.id).order_by(MeterEvent.at)
    )
    document = {
        "id": source.id,
        "location": source.location_id,
        "name": source.name,
        "description": source.description,
        "kind": source.kind,
        "metrics": source.metric_list,
        "rollover_at": source.rollover_at or {},
        "cycle_day": source.cycle_day,
        "monthly_advance": str(source.monthly_advance)
        if source.monthly_advance is not None
        else None,
        "billing_year_start": _iso(source.billing_year_start),
        "max_gap_hours": source.max_gap_hours,
        "created_at": _iso(source.created_at),
        "updated_at": _iso(source.updated_at),
        "tariffs": [
            {
                "metric": t.metric,
                "effective_from": _iso(t.effective_from),
                "unit_price": str(t.unit_price),
                "standing_charge": str(t.standing_charge),
            }
            for t in tariffs
        ],
        "swaps": [
            {
                "at": _iso(e.at),
                "old_final": e.old_final,
                "new_start": e.new_start,
                "rollover_at": e.rollover_at,
                "note": e.note,
                "created_by": emails.get(e.created_by_id) if e.created_by_id else None,
            }
            for e in swaps
        ],
    }
    if source.reminder_every:
        document["reminder"] = {"every": source.reminder_every, "day": source.reminder_day}
    return document


def iter_backup(user: User) -> Iterator[str]:
    """Return an iterator of user's whole account as JSON text, in chunks (see module doc).

    Everything but the readings is read now; the readings are streamed as the iterator is
    consumed (a server-side cursor on PostgreSQL), so no account is too large.
    """
    locations = list(
        db.session.scalars(
            select(Location).where(Location.owner_id == user.id).order_by(Location.id)
        )
    )
    sources = list(
        db.session.scalars(
            select(DataSource).where(DataSource.owner_id == user.id).order_by(DataSource.id)
        )
    )
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    members = _location_members([location.id for location in locations])
    head = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "account": {
            "email": user.email,
            "name": user.name,
            "timezone": user.timezone,
            "currency": user.currency,
        },
        "locations": [
            {
                "id": loc.id,
                "name": loc.name,
                "timezone": loc.timezone,
                "created_at": _iso(loc.created_at),
                "members": members.get(loc.id, []),
            }
            for loc in locations
        ],
        "sources": [_source_document(source, emails) for source in sources],
    }
    opening = _dumps(head)[:-1] + ",\n" + READINGS_LINE + "\n"
    source_ids = [source.id for source in sources]
    query = (
        select(
            Reading.id,
            Reading.data_source_id,
            Reading.timestamp,
            Reading.values,
            Reading.note,
            Reading.confirmed,
            Reading.created_by_id,
            Reading.created_at,
            Reading.updated_at,
        )
        .where(Reading.data_source_id.in_(source_ids))
        .order_by(Reading.data_source_id, Reading.timestamp, Reading.id)
        .execution_options(yield_per=CHUNK)
    )

    def chunks() -> Iterator[str]:
        yield opening
        if not source_ids:
            yield "]}\n"
            return
        lines: list[str] = []
        first = True
        for row in db.session.execute(query):
            line = _dumps(
                {
                    "id": str(row.id),
                    "source": row.data_source_id,
                    "timestamp": row.timestamp.isoformat(),
                    "values": row.values,
                    "note": row.note,
                    "confirmed": row.confirmed,
                    "created_by": emails.get(row.created_by_id) if row.created_by_id else None,
                    "created_at": _iso(row.created_at),
                    "updated_at": _iso(row.updated_at),
                }
            )
            lines.append(line if first else ",\n" + line)
            first = False
            if len(lines) >= CHUNK:
                yield "".join(lines)
                lines = []
        lines.append("\n]}\n")
        yield "".join(lines)

    return chunks()


def filename(user: User, today: date | None = None) -> str:
    """Return the backup's download name, like homelog-backup-2026-03-31.json."""
    today = today or utcnow().astimezone(timeutil.zone(user.timezone)).date()
    return f"homelog-backup-{today.isoformat()}.json"


# ---- Restore -------------------------------------------------------------------------------


class _Bad(Exception):
    """A value of the backup is wrong: the restore stops with this message."""


def _split(lines: Iterable[str]) -> tuple[dict, Iterator[tuple[int, dict]]]:
    """Return the backup's head and an iterator of (line number, reading).

    Reads the streaming layout line by line; any other layout is parsed as a whole.
    """
    lines = iter(lines)
    head_lines: list[str] = []
    for number, line in enumerate(lines, start=1):
        # Only the layout this module writes (no indentation) streams; others are read whole.
        if line.rstrip("\r\n") == READINGS_LINE:
            text = "".join(head_lines).rstrip().rstrip(",") + "}"
            try:
                head = json.loads(text)
            except ValueError:
                raise _Bad("This is not a homelog backup (JSON expected).") from None
            return head, _reading_lines(lines, number)
        head_lines.append(line)
        if number == 1 and not line.lstrip().startswith("{"):
            raise _Bad("This is not a homelog backup (JSON expected).")
    try:
        document = json.loads("".join(head_lines))
    except ValueError:
        raise _Bad("This is not a homelog backup (JSON expected).") from None
    if not isinstance(document, dict):
        raise _Bad("This is not a homelog backup.")
    readings = document.pop("readings", [])
    if not isinstance(readings, list):
        raise _Bad("“readings” must be a list.")
    return document, ((0, item) for item in readings)


def _reading_lines(lines: Iterator[str], number: int) -> Iterator[tuple[int, dict]]:
    closed = False
    for line in lines:
        number += 1
        text = line.strip()
        if not text:
            continue
        if closed:
            raise _Bad(f"Line {number}: unexpected text after the end of the backup.")
        if text == ",":
            continue
        if text in ("]}", "]", "}"):
            closed = text == "]}" or closed
            continue
        try:
            yield number, json.loads(text[1:] if text.startswith(",") else text.rstrip(","))
        except ValueError:
            raise _Bad(f"Line {number}: not a reading (invalid JSON).") from None


def _text(value: Any, what: str, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _Bad(f"{what} must be text of at most {limit} characters.")
    return value.strip()


def _when(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _Bad(f"{what}: “{str(value)[:40]}” is not a date and time.") from None
    if moment.tzinfo is None:
        raise _Bad(f"{what}: the time has no offset.")
    return moment


def _day(value: Any, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _Bad(f"{what}: “{str(value)[:40]}” is not a date.") from None


def _decimal(value: Any, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"{what}: “{str(value)[:40]}” is not a number.") from None
    if not number.is_finite():
        raise _Bad(f"{what} must be a finite number.")
    return number


def _numbers(value: Any, names: set[str], what: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise _Bad(f"{what} must be {{metric: number}}.")
    cleaned = {}
    for key, number in value.items():
        if key not in names:
            raise _Bad(f"{what}: “{str(key)[:40]}” is not a metric of the source.")
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or abs(number) > MAX_ABS_VALUE
        ):
            raise _Bad(f"{what}: the value of “{key}” is not a number.")
        cleaned[key] = float(number)
    return cleaned


def is_empty(user: User) -> bool:
    """Return True when user has no homes and no sources (a restore needs that)."""
    owned = (
        db.session.scalar(
            select(func.count()).select_from(DataSource).where(DataSource.owner_id == user.id)
        )
        or 0
    )
    homes = (
        db.session.scalar(
            select(func.count()).select_from(Location).where(Location.owner_id == user.id)
        )
        or 0
    )
    return owned == 0 and homes == 0


def restore(user: User, lines: Iterable[str]) -> dict[str, int]:
    """Restore a backup (given as lines of text) into user's empty account and commit.

    Returns how many homes, sources, readings, tariffs and swaps were restored.

    Raises:
        ValidationFailed: key "file": the account is not empty, or the backup is invalid
            (nothing is restored then).
    """
    if not is_empty(user):
        raise ValidationFailed(
            {
                "file": [
                    "A backup restores into an empty account only: this one has homes or sources."
                ]
            }
        )
    try:
        counts = _restore(user, lines)
    except _Bad as error:
        db.session.rollback()
        raise ValidationFailed(
            {"file": [str(error)]}, detail="The backup cannot be restored."
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return counts


def _restore(user: User, lines: Iterable[str]) -> dict[str, int]:
    head, readings = _split(lines)
    if head.get("format") != FORMAT:
        raise _Bad("This is not a homelog backup.")
    if head.get("version") != VERSION:
        raise _Bad(
            f"This backup has version {head.get('version')}; this server reads version {VERSION}."
        )
    users_by_email = {
        email.casefold(): uid for uid, email in db.session.execute(select(User.id, User.email))
    }
    account = head.get("account") or {}
    original_email = str(account.get("email") or "").casefold()

    def person(email: Any) -> int | None:
        if not isinstance(email, str):
            return None
        if email.casefold() == original_email:
            return user.id
        return users_by_email.get(email.casefold())

    if timeutil.is_valid_timezone(account.get("timezone") or ""):
        user.timezone = account["timezone"]
    if isinstance(account.get("currency"), str) and len(account["currency"]) == 3:
        user.currency = account["currency"]

    counts = {"locations": 0, "sources": 0, "readings": 0, "tariffs": 0, "swaps": 0}
    location_ids: dict[Any, int] = {}
    for item in _list(head, "locations"):
        zone = item.get("timezone")
        location = Location(
            owner_id=user.id,
            name=_text(item.get("name"), "A home's name", 100),
            timezone=zone if timeutil.is_valid_timezone(zone or "") else "UTC",
        )
        if item.get("created_at"):
            location.created_at = _when(item["created_at"], "A home's creation time")
        db.session.add(location)
        db.session.flush()
        location_ids[item.get("id")] = location.id
        _restore_members(location, item.get("members") or [], person)
        counts["locations"] += 1

    sources: dict[Any, tuple[DataSource, set[str]]] = {}
    for item in _list(head, "sources"):
        source = _restore_source(user, item, location_ids, person, counts)
        sources[item.get("id")] = (source, set(source.metric_names))
        counts["sources"] += 1

    connection = db.session.connection()
    now = utcnow()
    batch: list[dict] = []
    seen: set[uuid.UUID] = set()

    def flush_batch() -> None:
        if not batch:
            return
        wanted = [row["id"] for row in batch]
        taken = set(db.session.scalars(select(Reading.id).where(Reading.id.in_(wanted))))
        for row in batch:
            if row["id"] in taken:
                row["id"] = uuid7()
        bulk.insert_rows(connection, Reading.__table__, batch)
        by_owner = [
            sync.Change(sync.READING, str(row["id"]), row["data_source_id"]) for row in batch
        ]
        bulk.record_new(connection, user.id, by_owner)
        counts["readings"] += len(batch)
        batch.clear()

    for number, item in readings:
        where = f"Line {number}" if number else "A reading"
        if not isinstance(item, dict):
            raise _Bad(f"{where}: not a reading.")
        found = sources.get(item.get("source"))
        if found is None:
            raise _Bad(f"{where}: its source is not in the backup.")
        source, names = found
        try:
            reading_id = uuid.UUID(str(item.get("id")))
        except ValueError:
            reading_id = uuid7()
        if reading_id in seen:
            raise _Bad(f"{where}: the id {reading_id} appears twice.")
        seen.add(reading_id)
        values = _numbers(item.get("values"), names, where)
        if not values:
            raise _Bad(f"{where}: a reading needs at least one value.")
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH):
            raise _Bad(f"{where}: the note must be text of at most {MAX_NOTE_LENGTH} characters.")
        batch.append(
            {
                "id": reading_id,
                "data_source_id": source.id,
                "timestamp": _when(item.get("timestamp"), where),
                "values": values,
                "note": note or None,
                "confirmed": item.get("confirmed") is True,
                "created_by_id": person(item.get("created_by")),
                "created_at": _when(item["created_at"], where) if item.get("created_at") else now,
                "updated_at": _when(item["updated_at"], where) if item.get("updated_at") else now,
            }
        )
        if len(batch) >= CHUNK:
            flush_batch()
    flush_batch()
    return counts


def _list(head: dict, key: str) -> list[dict]:
    items = head.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _Bad(f"“{key}” must be a list of objects.")
    return items


def _restore_members(location: Location, members: Any, person) -> None:
    if not isinstance(members, list):
        raise _Bad("A home's members must be a list.")
    for member in members:
        if not isinstance(member, dict):
            raise _Bad("A home's members must be a list of objects.")
        user_id = person(member.get("email"))
        if user_id is None or user_id == location.owner_id:
            continue  # that person has no account here: the owner can invite them again
        if member.get("role") not in ("viewer", "editor"):
            raise _Bad("A member's role must be viewer or editor.")
        db.session.add(
            LocationMember(location_id=location.id, user_id=user_id, role=member["role"])
        )


def _restore_source(
    user: User, item: dict, location_ids: dict, person, counts: dict[str, int]
) -> DataSource:
    name = _text(item.get("name"), "A source's name", 100)
    if item.get("kind") not in KINDS:
        raise _Bad(f"Source “{name}”: the kind must be meter or sensor.")
    try:
        metric_list = clean_metrics(item.get("metrics"))
    except ValidationFailed as error:
        messages = [m for ms in error.errors.values() for m in ms]
        raise _Bad(f"Source “{name}”: {' '.join(messages)}") from None
    names = {metric for metric, _ in metric_list}
    cycle_day = item.get("cycle_day", 1)
    gap = item.get("max_gap_hours", 48)
    if not isinstance(cycle_day, int) or not 1 <= cycle_day <= 31:
        raise _Bad(f"Source “{name}”: the billing cycle day must be 1 to 31.")
    if not isinstance(gap, int) or gap < 1:
        raise _Bad(f"Source “{name}”: max_gap_hours must be a positive whole number.")
    source = DataSource(
        owner_id=user.id,
        location_id=location_ids.get(item.get("location")),
        name=name,
        description=_text(
            item.get("description"), f"Source “{name}”: the description", 2000, required=False
        ),
        kind=item["kind"],
        metric_list=metric_list,
        rollover_at=_numbers(item.get("rollover_at") or {}, names, f"Source “{name}”: rollover_at"),
        cycle_day=cycle_day,
        max_gap_hours=gap,
        monthly_advance=_decimal(item.get("monthly_advance"), f"Source “{name}”: advance"),
        billing_year_start=_day(
            item.get("billing_year_start"), f"Source “{name}”: billing year start"
        ),
    )
    schedule = item.get("reminder") or {}
    try:
        source.reminder_every, source.reminder_day = clean_schedule(
            schedule.get("every") if isinstance(schedule, dict) else "?",
            schedule.get("day") if isinstance(schedule, dict) else None,
        )
    except ValidationFailed:
        raise _Bad(f"Source “{name}”: the reading reminder is invalid.") from None
    if item.get("created_at"):
        source.created_at = _when(item["created_at"], f"Source “{name}”")
    db.session.add(source)
    db.session.flush()
    for tariff in item.get("tariffs") or []:
        if not isinstance(tariff, dict) or tariff.get("metric") not in names:
            raise _Bad(f"Source “{name}”: a price is for an unknown metric.")
        day = _day(tariff.get("effective_from"), f"Source “{name}”: a price's first day")
        price = _decimal(tariff.get("unit_price"), f"Source “{name}”: a unit price")
        if day is None or price is None:
            raise _Bad(f"Source “{name}”: a price needs a first day and a unit price.")
        db.session.add(
            Tariff(
                data_source_id=source.id,
                metric=tariff["metric"],
                effective_from=day,
                unit_price=price,
                standing_charge=_decimal(
                    tariff.get("standing_charge"), f"Source “{name}”: a standing charge"
                )
                or Decimal(0),
            )
        )
        counts["tariffs"] += 1
    for swap in item.get("swaps") or []:
        if not isinstance(swap, dict):
            raise _Bad(f"Source “{name}”: a meter swap is not an object.")
        what = f"Source “{name}”: a meter swap"
        db.session.add(
            MeterEvent(
                data_source_id=source.id,
                at=_when(swap.get("at"), what),
                old_final=_numbers(swap.get("old_final"), names, what),
                new_start=_numbers(swap.get("new_start"), names, what),
                rollover_at=_numbers(swap["rollover_at"], names, what)
                if swap.get("rollover_at")
                else None,
                note=_text(swap.get("note"), what + "'s note", 500, required=False) or None,
                created_by_id=person(swap.get("created_by")),
            )
        )
        counts["swaps"] += 1
    db.session.flush()
    return source


__all__ = ["FORMAT", "VERSION", "filename", "is_empty", "iter_backup", "restore"]
