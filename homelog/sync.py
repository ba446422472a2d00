"""Offline sync: batch upload of readings with client-chosen ids.

`save_readings` stores up to a batch of readings in one transaction with
`INSERT ... ON CONFLICT (id) DO NOTHING` (PostgreSQL and SQLite both have it), so a resent
batch, or two identical batches at once, leave exactly one copy of each reading; each item is
reported as created, unchanged (the same id with the same content exists), conflict (the id
holds different content) or invalid. On PostgreSQL the readings, and then their change-feed
rows, go in as one statement each over column arrays (`unnest`): the parameters are a few
arrays, not 9,000 values for SQLAlchemy and psycopg to handle one by one.

What a client fetches back is the change feed (homelog.feed).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from homelog import bulk, changes
from homelog import readings as readings_domain
from homelog.datasources import visible_to, writable_sources
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import (
    DataSource,
    Reading,
    User,
    utcnow,
)

MAX_BATCH = 1000
#: A batch that creates at least this many readings checks whether the readings table's
#: planner statistics need refreshing (bulk.refresh_statistics: one statement, and ANALYZE
#: when the table grew by a tenth since it was last analysed). Without it, 10,000 readings
#: synced into a table analysed when it was small left the readings list sorting every
#: reading of a source (11.8 ms a page instead of ~0.1) where autovacuum does not run.
#: Smaller batches skip the check; their rows are counted by the next large batch's.
BATCH_TO_CHECK_STATISTICS = 100
VIEW_ONLY = (
    "You can see this source's readings but not add to them: ask its owner to make you an editor."
)


@dataclass(slots=True)
class ReadingInput:
    """One reading of a batch, parsed: a client id and an aware timestamp."""

    id: uuid.UUID
    data_source_id: int
    timestamp: datetime
    values: dict
    note: str | None = None
    confirmed: bool = False  # a lower meter value the user checked (usage counts it)


@dataclass(slots=True)
class ItemResult:
    """What happened to one item of a batch."""

    id: uuid.UUID | None
    status: str  # created | unchanged | conflict | invalid
    reason: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    reading: Reading | None = None


def same_content(
    reading,
    data_source_id: int,
    timestamp: datetime,
    values: dict,
    note: str | None,
    confirmed: bool = False,
) -> bool:
    """Return True when reading (a Reading or a row of its columns) holds exactly this content."""
    return (
        reading.data_source_id == data_source_id
        and reading.timestamp == timestamp
        and reading.values == values
        and (reading.note or None) == (note or None)
        and bool(reading.confirmed) == bool(confirmed)
    )


# A batch of readings in one statement on PostgreSQL, over arrays (as homelog.changes records
# their changes): the statement's text never changes, so it is parsed and planned once.
_PG_INSERT_READINGS = """
    INSERT INTO readings (id, data_source_id, "timestamp", "values", note, confirmed,
                          created_by_id, created_at, updated_at)
    SELECT id, data_source_id, "timestamp", "values", note, confirmed,
           %(created_by_id)b, %(now)b, %(now)b
    FROM unnest(%(ids)b::uuid[], %(data_source_ids)b::integer[],
                %(timestamps)b::timestamptz[], %(values)b::json[],
                %(notes)b::varchar[], %(confirmed)b::boolean[])
        AS reading(id, data_source_id, "timestamp", "values", note, confirmed)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
"""


def _insert_new(
    connection: Connection, rows: list[dict], created_by_id: int, now: datetime
) -> set[uuid.UUID]:
    """Insert the rows whose id is free, in the order given; return the ids inserted."""
    if connection.dialect.name == "postgresql":
        return set(
            connection.exec_driver_sql(
                _PG_INSERT_READINGS,
                {
                    "created_by_id": created_by_id,
                    "now": now,
                    "ids": [row["id"] for row in rows],
                    "data_source_ids": [row["data_source_id"] for row in rows],
                    "timestamps": [row["timestamp"] for row in rows],
                    "values": [json.dumps(row["values"]) for row in rows],
                    "notes": [row["note"] for row in rows],
                    "confirmed": [row["confirmed"] for row in rows],
                },
            ).scalars()
        )
    table = Reading.__table__
    # Rows as executemany parameters, not one .values(rows) statement: SQLAlchemy batches
    # them ("insertmanyvalues") with a cached compiled statement.
    return set(
        connection.execute(
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(table.c.id),
            [
                {**row, "created_by_id": created_by_id, "created_at": now, "updated_at": now}
                for row in rows
            ],
        ).scalars()
    )


def _stored(connection: Connection, ids: list[uuid.UUID]) -> dict:
    """Return {id: row} of the stored readings among ids, with their source's owner_id."""
    if not ids:
        return {}
    table = Reading.__table__
    query = select(
        table.c.id,
        table.c.data_source_id,
        table.c.timestamp,
        table.c["values"],
        table.c.note,
        table.c.confirmed,
        DataSource.owner_id,
    ).join(DataSource, DataSource.id == table.c.data_source_id)
    if connection.dialect.name == "postgresql":
        # One array parameter: the statement stays the same for any number of ids.
        query = query.where(
            table.c.id == any_(bindparam("ids", ids, type_=postgresql.ARRAY(table.c.id.type)))
        )
    else:
        query = query.where(table.c.id.in_(ids))
    return {row.id: row for row in connection.execute(query)}


def save_readings(user: User, items: Iterable[ReadingInput]) -> list[ItemResult]:
    """Store a batch of user's readings at most once each and commit; one result per item.

    Valid items are stored even when others are invalid. Safe to resend: items whose id
    already holds the same content are reported unchanged.
    """
    items = list(items)
    sources, view_only = _writable_sources(user, {item.data_source_id for item in items})
    results, clean = _check_items(items, sources, view_only)
    created = _store(user, sources, clean, results) if clean else 0
    db.session.commit()
    if created >= BATCH_TO_CHECK_STATISTICS:
        bulk.refresh_statistics(db.engine, Reading.__table__, created)
    return [result for result in results if result is not None]


def _writable_sources(user: User, wanted: set[int]) -> tuple[dict[int, DataSource], set[int]]:
    """Return {id: source} of the wanted sources user may write to, and the ids of those
    among the rest that user may only see (refused with the reason, not as unknown)."""
    if not wanted:
        return {}, set()
    query = writable_sources(user).where(DataSource.id.in_(wanted))
    sources = {source.id: source for source in db.session.scalars(query)}
    unwritable = wanted - sources.keys()
    if not unwritable:
        return sources, set()
    seen = select(DataSource.id).where(visible_to(user.id), DataSource.id.in_(unwritable))
    return sources, set(db.session.scalars(seen))


#: A clean row's content, as compared to tell a resend from a conflict.
_CONTENT = itemgetter("data_source_id", "timestamp", "values", "note", "confirmed")


def _check_items(
    items: list[ReadingInput], sources: dict[int, DataSource], view_only: set[int]
) -> tuple[list[ItemResult | None], dict[int, dict]]:
    """Return a result for each item already decided (invalid, or repeated in the batch), and
    {item index: row to insert} of the others."""
    results: list[ItemResult | None] = [None] * len(items)
    clean: dict[int, dict] = {}
    first_of: dict[uuid.UUID, int] = {}
    for index, item in enumerate(items):
        row = _clean_item(item, sources, view_only)
        if isinstance(row, ItemResult):
            results[index] = row
        elif item.id in first_of:
            # The same id twice in one batch: the first one counts, like a resend would.
            same = _CONTENT(clean[first_of[item.id]]) == _CONTENT(row)
            results[index] = (
                ItemResult(item.id, "unchanged")
                if same
                else ItemResult(item.id, "conflict", "The batch holds this id twice, differently.")
            )
        else:
            first_of[item.id] = index
            clean[index] = row
    return results, clean


def _clean_item(
    item: ReadingInput, sources: dict[int, DataSource], view_only: set[int]
) -> dict | ItemResult:
    """Return item as a row to insert, or its invalid result."""
    source = sources.get(item.data_source_id)
    if source is None:
        reason = VIEW_ONLY if item.data_source_id in view_only else "No such source."
        return ItemResult(item.id, "invalid", reason, {"data_source_id": [reason]})
    try:
        return {
            "id": item.id,
            "data_source_id": source.id,
            "timestamp": readings_domain.clean_timestamp(item.timestamp),
            "values": readings_domain.clean_values(source, item.values),
            "note": readings_domain.clean_note(item.note),
            "confirmed": bool(item.confirmed),
        }
    except ValidationFailed as error:
        return ItemResult(item.id, "invalid", error.detail, error.errors)


def _store(
    user: User,
    sources: dict[int, DataSource],
    clean: dict[int, dict],
    results: list[ItemResult | None],
) -> int:
    """Insert the clean rows whose id is free and record them; fill in every clean row's result.

    Returns how many readings were created.
    """
    # One insert order everywhere: no deadlocks.
    rows = sorted(clean.values(), key=itemgetter("id"))
    connection = db.session.connection()
    created = _insert_new(connection, rows, user.id, utcnow())
    # A reading's change number comes from its source's owner, who may not be the uploader
    # (an editor of a shared home).
    by_owner: dict[int, list[changes.Change]] = defaultdict(list)
    for row in rows:
        if row["id"] in created:
            owner_id = sources[row["data_source_id"]].owner_id
            by_owner[owner_id].append(changes.reading_change(row["id"], row["data_source_id"]))
    changes.record(connection, by_owner)
    existing = _stored(connection, [row["id"] for row in rows if row["id"] not in created])
    conflicts: dict[int, uuid.UUID] = {}
    for index, row in clean.items():
        result = _outcome(user, sources, row, created, existing)
        if result is None:
            conflicts[index] = row["id"]
        else:
            results[index] = result
    if conflicts:
        _report_conflicts(conflicts, results)
    return len(created)


def _outcome(
    user: User, sources: dict[int, DataSource], row: dict, created: set[uuid.UUID], existing: dict
) -> ItemResult | None:
    """Return what happened to a clean row, or None for a conflict that shows the stored one."""
    if row["id"] in created:
        return ItemResult(row["id"], "created")
    stored = existing.get(row["id"])
    if stored is None:  # pragma: no cover - deleted between the insert and this read
        return ItemResult(row["id"], "conflict", "Try again.")
    if stored.owner_id != user.id and stored.data_source_id not in sources:
        # Someone else's reading (not in a source this user may write to): say nothing of it.
        return ItemResult(row["id"], "conflict", "This id is already taken.")
    if same_content(stored, *_CONTENT(row)):
        return ItemResult(row["id"], "unchanged")
    return None


def _report_conflicts(conflicts: dict[int, uuid.UUID], results: list[ItemResult | None]) -> None:
    """Answer each conflict with the stored reading (only those few are loaded as objects)."""
    current = {
        reading.id: reading
        for reading in db.session.scalars(select(Reading).where(Reading.id.in_(conflicts.values())))
    }
    for index, reading_id in conflicts.items():
        results[index] = ItemResult(
            reading_id,
            "conflict",
            "A different reading with this id exists.",
            reading=current.get(reading_id),
        )
