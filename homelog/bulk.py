"""Bulk writes for imports and restores: many rows in one transaction, fast on both databases.

PostgreSQL gets `COPY ... FROM STDIN` (psycopg), tens of times faster than one INSERT per
row; SQLite gets a plain executemany, which is already fast there. Rows are dicts keyed by
column name, with Python values as the ORM would bind them (aware datetimes, UUIDs, dicts
for JSON columns).

Rows written here are not recorded in the change feed: readings go in through
homelog.changes.insert_new_readings, which records them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from homelog.models import UTCDateTime

#: A bulk write adding at least this share of the rows the planner believes a table holds
#: refreshes the table's statistics (refresh_statistics).
GROWTH_TO_ANALYZE = 0.1


def insert_rows(connection: Connection, table: sa.Table, rows: Sequence[dict]) -> None:
    """Insert rows into table within connection's transaction (every row has the same keys)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    from psycopg.types.json import Json

    names = list(rows[0])
    columns = [table.c[name] for name in names]
    json_at = [i for i, c in enumerate(columns) if isinstance(c.type, sa.JSON)]
    time_at = [i for i, c in enumerate(columns) if isinstance(c.type, UTCDateTime)]
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                record = [row[name] for name in names]
                for i in json_at:
                    if record[i] is not None:
                        record[i] = Json(record[i])
                for i in time_at:
                    if record[i] is not None:
                        if record[i].tzinfo is None:
                            raise ValueError("naive datetime given to a UTCDateTime column")
                        record[i] = record[i].astimezone(UTC)
                copy.write_row(record)
    finally:
        cursor.close()


def needs_analyze(estimated_rows: float, added: int) -> bool:
    """Return True when added rows make the planner's estimate of a table stale.

    PostgreSQL keeps -1 for a table never analysed; otherwise the estimate is its row count
    at the last ANALYZE (or VACUUM, or index build).
    """
    if added <= 0:
        return False
    return estimated_rows < 0 or added >= GROWTH_TO_ANALYZE * max(estimated_rows, 1.0)


def refresh_statistics(engine: Engine, table: sa.Table, added: int) -> None:
    """ANALYZE table on PostgreSQL after a bulk write that changed its size a lot.

    The planner chooses plans from row estimates. After a large import, restore or sync they
    stay stale until autovacuum analyses the table, and forever where autovacuum is off or has
    not run yet (a fresh server, a restore): a page of readings then sorted every reading of
    the source instead of walking the index. Called after the write's commit, in a
    transaction of its own; a table that grew by less than GROWTH_TO_ANALYZE is left alone,
    so imports into a large table do not analyse it each time. The growth is the larger of
    added and the rows changed since the last ANALYZE (PostgreSQL's own count, which also
    holds earlier writes too small to check), so many small writes add up.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        row = connection.execute(
            sa.text(
                "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_class c"
                " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
                " WHERE c.oid = CAST(:name AS regclass)"
            ),
            {"name": table.name},
        ).first()
        if row is None:
            return
        estimate, changed = row
        if estimate is not None and needs_analyze(float(estimate), max(added, changed or 0)):
            connection.execute(
                sa.text(f"ANALYZE {connection.dialect.identifier_preparer.quote(table.name)}")
            )
