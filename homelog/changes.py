"""Recording writes: every write of a source or a reading takes its owner's next change number.

Each path stores its rows the way that is fastest for it (the ORM's unit of work for forms
and the API, `INSERT ... ON CONFLICT` over arrays for a sync batch, COPY for an import or a
restore, one statement for the PostgreSQL fast path) and, in the same transaction, records
what it wrote here: `record` takes the owners' next change numbers (`sync_counters`, locked
until commit, owners in one order) and keeps each object's newest number or tombstone
(`sync_changes`). The ORM's writes are recorded by a flush hook, so a view cannot forget
it; the fast path's statement embeds `reading_change_sql`, the same rows in SQL.

What follows from the number needs nothing more: the change feed (homelog.feed) pages by
it, and a source's remembered reading count (datasources.remembered_reading_count) is
counted again when it moves. On PostgreSQL, statement triggers on `readings` (migration
0006) mark where a source's breaks must be recomputed, whatever wrote the rows.
docs/architecture.md ("How a reading is written") has the whole picture.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from homelog import bulk
from homelog.models import DataSource, Reading, SyncChange, SyncCounter, utcnow

SOURCE = "source"
READING = "reading"


@dataclass(frozen=True, slots=True)
class Change:
    """One object that was written or deleted."""

    kind: str
    object_id: str
    data_source_id: int | None
    deleted: bool = False


def reading_change(reading_id: object, data_source_id: int, deleted: bool = False) -> Change:
    """Return the change of a reading written (or deleted) in source data_source_id."""
    return Change(READING, str(reading_id), data_source_id, deleted)


def _insert(connection: Connection, table):
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _allocate(connection: Connection, owner_id: int, count: int) -> int:
    """Take count change numbers of owner and return the first; locks owner's counter."""
    table = SyncCounter.__table__
    statement = _insert(connection, table).values(owner_id=owner_id, value=count)
    # One round trip: create the counter or add to it (the row stays locked until commit).
    last = connection.execute(
        statement.on_conflict_do_update(
            index_elements=["owner_id"], set_={"value": table.c.value + statement.excluded.value}
        ).returning(table.c.value)
    ).scalar_one()
    return last - count + 1


# PostgreSQL takes many changes as one array per column: one statement whose text never
# changes (parsed and planned once per connection) instead of a statement per row
# (bench/sync_cpu.py measures it; figures in bench/README.md). The arrays go in binary (%b).
#: An object's change replaces its earlier one (the feed keeps the latest per object).
_PG_CHANGE_UPSERT = """
    ON CONFLICT (kind, object_id) DO UPDATE SET
        owner_id = excluded.owner_id, data_source_id = excluded.data_source_id,
        seq = excluded.seq, deleted = excluded.deleted, changed_at = excluded.changed_at
"""
_PG_RECORD_CHANGES = (
    """
    INSERT INTO sync_changes (kind, object_id, owner_id, data_source_id, seq, deleted, changed_at)
    SELECT kind, object_id, %(owner_id)b, data_source_id, seq, deleted, %(now)b
    FROM unnest(%(kinds)b::varchar[], %(object_ids)b::varchar[],
                %(data_source_ids)b::integer[], %(seqs)b::bigint[], %(deleted)b::boolean[])
        AS change(kind, object_id, data_source_id, seq, deleted)
"""
    + _PG_CHANGE_UPSERT
)


def reading_change_sql(inserted: str, owner_id: str, now: str) -> str:
    """Return the SQL of `record` for a reading just inserted, as two CTEs (PostgreSQL).

    inserted names a CTE holding the new row (`INSERT INTO readings ... RETURNING *`), empty
    when nothing was inserted; owner_id and now are the statement's parameters for the
    source's owner and the time. `counter` takes the owner's next number (and locks its row
    until the statement's transaction ends); `change` stores the feed row, exactly as
    `record` would. For statements that store a reading in one round trip (homelog.pgdirect).
    """
    return f"""
    counter AS (
        INSERT INTO sync_counters (owner_id, value) SELECT {owner_id}, 1 FROM {inserted}
        ON CONFLICT (owner_id) DO UPDATE SET value = sync_counters.value + excluded.value
        RETURNING value
    ), change AS (
        INSERT INTO sync_changes (kind, object_id, owner_id, data_source_id, seq, deleted,
                                  changed_at)
        SELECT '{READING}', {inserted}.id::text, {owner_id}, {inserted}.data_source_id,
               counter.value, false, {now}
        FROM {inserted}, counter
        {_PG_CHANGE_UPSERT}
    )"""


def _upsert(connection: Connection, owner_id: int, first: int, changes: Sequence[Change]) -> None:
    now = utcnow()
    if connection.dialect.name == "postgresql":
        # One statement may not upsert a row twice: an object listed twice keeps its last
        # change (and number), as one statement per change would leave it.
        latest = {(c.kind, c.object_id): (first + offset, c) for offset, c in enumerate(changes)}
        connection.exec_driver_sql(
            _PG_RECORD_CHANGES,
            {
                "owner_id": owner_id,
                "now": now,
                "kinds": [c.kind for _, c in latest.values()],
                "object_ids": [c.object_id for _, c in latest.values()],
                "data_source_ids": [c.data_source_id for _, c in latest.values()],
                "seqs": [seq for seq, _ in latest.values()],
                "deleted": [c.deleted for _, c in latest.values()],
            },
        )
        return
    statement = _insert(connection, SyncChange.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "object_id"],
        set_={
            name: statement.excluded[name]
            for name in ("owner_id", "data_source_id", "seq", "deleted", "changed_at")
        },
    )
    connection.execute(statement, _rows(owner_id, first, changes, now))


def _rows(owner_id: int, first: int, changes: Sequence[Change], now) -> list[dict]:
    return [
        {
            "kind": change.kind,
            "object_id": change.object_id,
            "owner_id": owner_id,
            "data_source_id": change.data_source_id,
            "seq": first + offset,
            "deleted": change.deleted,
            "changed_at": now,
        }
        for offset, change in enumerate(changes)
    ]


def record(
    connection: Connection, by_owner: Mapping[int, Sequence[Change]], *, new: bool = False
) -> None:
    """Give each owner's changes that owner's next change numbers, in order, and store them.

    Runs in the caller's transaction: the owners' counters stay locked until it ends, taken
    in one order (by owner id) so two transactions never wait on each other's. new=True
    says the objects are new to the feed (fresh ids): their rows are inserted in bulk (COPY
    on PostgreSQL) instead of upserted, for large imports and restores.
    """
    for owner_id in sorted(by_owner):
        changes = by_owner[owner_id]
        if not changes:
            continue
        first = _allocate(connection, owner_id, len(changes))
        if new:
            rows = _rows(owner_id, first, changes, utcnow())
            bulk.insert_rows(connection, SyncChange.__table__, rows)
        else:
            _upsert(connection, owner_id, first, changes)


def insert_new_readings(connection: Connection, owner_id: int, rows: Sequence[dict]) -> None:
    """Insert readings with fresh ids into owner_id's sources and record them (import, restore).

    rows: the readings table's columns, every row with the same keys (homelog.bulk).
    """
    bulk.insert_rows(connection, Reading.__table__, rows)
    changes = [reading_change(row["id"], row["data_source_id"]) for row in rows]
    record(connection, {owner_id: changes}, new=True)


# ---- Writes through the ORM session ---------------------------------------------------------


def _owners(session: Session, connection: Connection, source_ids: set[int]) -> dict[int, int]:
    """Return {source id: owner id}; sources loaded in the session cost no query."""
    owners = {}
    for source_id in source_ids:
        loaded = session.identity_map.get(session.identity_key(DataSource, source_id))
        if loaded is not None and "owner_id" in loaded.__dict__:
            owners[source_id] = loaded.__dict__["owner_id"]
    unknown = source_ids - owners.keys()
    if unknown:
        owners.update(
            connection.execute(
                select(DataSource.id, DataSource.owner_id).where(DataSource.id.in_(unknown))
            ).all()
        )
    return owners


def _flushed(session: Session) -> list[tuple[object, bool]]:
    """Return the objects a flush wrote, each with whether it was deleted."""
    written = [(obj, False) for obj in session.new]
    written += [
        (obj, False) for obj in session.dirty if session.is_modified(obj, include_collections=False)
    ]
    return written + [(obj, True) for obj in session.deleted]


@event.listens_for(Session, "after_flush")
def _record_flushed(session: Session, _flush_context) -> None:
    """Record every source and reading a flush wrote or deleted (whoever wrote it)."""
    by_owner: dict[int, list[Change]] = defaultdict(list)
    readings: list[Change] = []
    deleted_sources: set[int] = set()
    for obj, deleted in _flushed(session):
        if isinstance(obj, DataSource):
            if deleted:
                deleted_sources.add(obj.id)
            by_owner[obj.owner_id].append(Change(SOURCE, str(obj.id), None, deleted))
        elif isinstance(obj, Reading):
            readings.append(reading_change(obj.id, obj.data_source_id, deleted))
    if not by_owner and not readings:
        return
    connection = session.connection()
    if readings:
        source_ids = {change.data_source_id for change in readings} - deleted_sources
        owners = _owners(session, connection, source_ids)
        for change in readings:
            # A reading whose source is gone is covered by the source's tombstone.
            if change.data_source_id in owners:
                by_owner[owners[change.data_source_id]].append(change)
    record(connection, by_owner)
