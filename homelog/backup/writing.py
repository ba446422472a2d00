"""Write an account's backup: one JSON document, streamed in chunks (see homelog.backup)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from homelog import timeutil
from homelog.extensions import db
from homelog.models import (
    DataSource,
    Home,
    HomeMember,
    MeterEvent,
    Reading,
    Tariff,
    User,
    utcnow,
)

FORMAT = "homelog-backup"
VERSION = 1
CHUNK = 2000
READINGS_LINE = '"readings": ['


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _home_members(home_ids: list[int]) -> dict[int, list[dict]]:
    """Return {home id: [{"email", "role"}]} of the homes' members."""
    rows = (
        db.session.execute(
            select(HomeMember.location_id, User.email, HomeMember.role)
            .join(User, User.id == HomeMember.user_id)
            .where(HomeMember.location_id.in_(home_ids))
            .order_by(HomeMember.location_id, User.email)
        )
        if home_ids
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
    owned_homes = list(
        db.session.scalars(select(Home).where(Home.owner_id == user.id).order_by(Home.id))
    )
    sources = list(
        db.session.scalars(
            select(DataSource).where(DataSource.owner_id == user.id).order_by(DataSource.id)
        )
    )
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    members = _home_members([home.id for home in owned_homes])
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
        # The file calls homes "locations" (the table's name), as every file written before.
        "locations": [
            {
                "id": home.id,
                "name": home.name,
                "timezone": home.timezone,
                "created_at": _iso(home.created_at),
                "members": members.get(home.id, []),
            }
            for home in owned_homes
        ],
        "sources": [_source_document(source, emails) for source in sources],
    }
    opening = _dumps(head)[:-1] + ",\n" + READINGS_LINE + "\n"
    return _chunks(opening, [source.id for source in sources], emails)


def _chunks(opening: str, source_ids: list[int], emails: dict[int, str]) -> Iterator[str]:
    """Yield opening, then the readings of source_ids CHUNK lines at a time, then the end."""
    yield opening
    if not source_ids:
        yield "]}\n"
        return
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
    lines: list[str] = []
    first = True
    for row in db.session.execute(query):
        line = _dumps(_reading_document(row, emails))
        lines.append(line if first else ",\n" + line)
        first = False
        if len(lines) >= CHUNK:
            yield "".join(lines)
            lines = []
    lines.append("\n]}\n")
    yield "".join(lines)


def _reading_document(row: Any, emails: dict[int, str]) -> dict:
    return {
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


def filename(user: User, today: date | None = None) -> str:
    """Return the backup's download name, like homelog-backup-2026-03-31.json."""
    today = today or utcnow().astimezone(timeutil.zone(user.timezone)).date()
    return f"homelog-backup-{today.isoformat()}.json"
