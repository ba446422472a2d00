"""The readings usage needs: one streaming query ordered by (timestamp, id).

Only the readings that matter are read: from a few readings before the first period (so a
typo right before the range is still recognised as suspect, and the register can be
interpolated at the first boundary) to the first reading at or after the last period's end.
On PostgreSQL a meter's usage reads even less: the readings beside each boundary and each
break (`reduced_rows`), a few hundred index probes instead of every reading in the range;
breaks are kept by a trigger-fed stale list (migration 0006, `refresh_breaks`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from sqlalchemy import DateTime, Text, cast, func, select, tuple_, type_coerce
from sqlalchemy import text as text_sql

from homelog.extensions import db
from homelog.models import DataSource, Reading

#: Readings read before the range, so a bad reading at its start is judged against earlier ones.
CONTEXT_READINGS = 8
#: Advisory lock class of a source's breaks recompute (the other key is the source id).
BREAKS_LOCK = 7301


def reading_window(source: DataSource, start: datetime | None, end: datetime | None):
    """Return the (low, high) timestamps bounding the readings needed for [start, end]."""
    base = select(Reading.timestamp).where(Reading.data_source_id == source.id)
    low = high = None
    if start is not None:
        # The CONTEXT_READINGS-th reading before start (fewer when there are fewer).
        before = (
            base.where(Reading.timestamp < start)
            .order_by(Reading.timestamp.desc(), Reading.id.desc())
            .limit(CONTEXT_READINGS)
            .subquery()
        )
        low = db.session.scalar(select(func.min(before.c.timestamp)))
        if low is None:
            low = start
    if end is not None:
        high = db.session.scalar(
            base.where(Reading.timestamp >= end).order_by(Reading.timestamp, Reading.id).limit(1)
        )
        if high is None:
            high = end
    return low, high


def stream_readings(
    source: DataSource,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    batch: int = 2000,
    from_key: tuple[datetime, uuid.UUID] | None = None,
) -> Iterator[tuple]:
    """Yield (timestamp, {metric: value}, confirmed, id) of source in time order.

    Covers [start, end] plus the readings just outside it that interpolation needs; with
    from_key, only from that (timestamp, id) on. On PostgreSQL the numbers are taken out of
    the JSON in SQL (no JSON decoding in Python).
    """
    low, high = reading_window(source, start, end)
    names = source.metric_names
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Plain columns, no per-row Python conversions: PostgreSQL hands back aware
        # timestamps, the numbers come out of the JSON in SQL and the id as text (turned back
        # into a UUID only for the few suspect readings).
        columns = [
            type_coerce(Reading.timestamp, DateTime(timezone=True)),
            Reading.confirmed,
            cast(Reading.id, Text),
        ]
        columns += [Reading.values[name].as_float() for name in names]
    else:
        columns = [Reading.timestamp, Reading.confirmed, Reading.id, Reading.values]
    query = select(*columns).where(Reading.data_source_id == source.id)
    if low is not None:
        query = query.where(Reading.timestamp >= low)
    if high is not None:
        query = query.where(Reading.timestamp <= high)
    if from_key is not None:
        query = query.where(tuple_(Reading.timestamp, Reading.id) >= tuple_(*from_key))
    # A server-side cursor fetched in batches; Core rows, not ORM entities.
    query = query.order_by(Reading.timestamp, Reading.id).execution_options(yield_per=batch)
    result = db.session.connection().execute(query)
    if postgres:
        for row in result:
            values = {
                name: value for name, value in zip(names, row[3:], strict=True) if value is not None
            }
            yield row[0], values, row[1], row[2]
    else:
        for timestamp, confirmed, reading_id, values in result:
            yield timestamp, values or {}, confirmed, reading_id


def count_readings(source: DataSource, limit: int) -> int:
    """Return how many readings source has, counting no further than limit."""
    found = select(Reading.id).where(Reading.data_source_id == source.id).limit(limit).subquery()
    return db.session.scalar(select(func.count()).select_from(found)) or 0


def reduced_rows(
    source: DataSource,
    start: datetime,
    end: datetime,
    instants: Sequence[datetime],
    line_instants: Sequence[datetime] = (),
) -> list[tuple] | None:
    """Return the meter readings usage over [start, end] needs, or None on SQLite or when stale.

    PostgreSQL only. Between two breaks (readings whose metrics differ from the reading
    before, or some value is lower: `ReadingBreak`) every metric rises, so usage needs only:
    the first and last readings, the one just before and the one at or after each instant
    the engine reads the register at (period boundaries, price changes, swaps), and each
    break with the reading before it. An unkept reading lies on a rising stretch between two
    kept ones: it changes no interpolated value, no gap, no rollover, and a drop below the
    previous reading — suspect or not — always falls on a kept break. So the engine on these
    rows finds the same first suspect reading as on every reading; after it the list can be
    shorter (later readings are compared with the last accepted one), which is why callers
    stream every reading from the first suspect on (`meter_report`). line_instants add the first
    reading at or after each (for the chart's line). One query: about 2 index probes per
    instant, never a scan of the range. None while the source's breaks are out of date
    (after one attempt to bring them up to date).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    low, high = reading_window(source, start, end)
    sql, params = reduced_query(source, low, high, instants, line_instants)
    found = db.session.connection().execute(text_sql(sql), params).all()
    if found and found[0][-1]:
        refresh_breaks(source.id)
        found = db.session.connection().execute(text_sql(sql), params).all()
        if found and found[0][-1]:
            return None
    names = source.metric_names
    rows = []
    for row in found:
        if row[0] is None:  # only the "stale" flag: no readings in the range
            continue
        values_of = {
            name: value for name, value in zip(names, row[3:-1], strict=True) if value is not None
        }
        rows.append((row[0], values_of, row[1], row[2]))
    return rows


def reduced_query(
    source: DataSource,
    low: datetime,
    high: datetime,
    instants: Sequence[datetime],
    line_instants: Sequence[datetime] = (),
) -> tuple[str, dict]:
    """Return the SQL (and its parameters) that picks the readings reduced_rows needs.

    Its last column is True when the source's breaks are out of date for [low, high].
    """
    names = source.metric_names
    before = sorted(set(instants))
    params: dict[str, object] = {
        "source": source.id,
        "low": low,
        "high": high,
        "before": before,
        "after": sorted(set(before) | set(line_instants)),
    }
    values = []
    for index, name in enumerate(names):
        params[f"m{index}"] = name
        values.append(f"CAST(p.v ->> :m{index} AS double precision)")
    # Every branch is an index probe on (data_source_id, timestamp, id), LIMIT 1 or 2.
    columns = 'r."timestamp" AS t, r.id, r.confirmed AS c, r."values" AS v'
    mine = 'r.data_source_id = :source AND r."timestamp" >= :low AND r."timestamp" <= :high'
    sql = f"""
        WITH picked AS (
            (SELECT {columns} FROM readings r WHERE {mine}
             ORDER BY r."timestamp", r.id LIMIT 1)
            UNION ALL
            (SELECT {columns} FROM readings r WHERE {mine}
             ORDER BY r."timestamp" DESC, r.id DESC LIMIT 1)
            UNION ALL
            SELECT x.* FROM unnest(CAST(:before AS timestamptz[])) AS b(at),
            LATERAL (SELECT {columns} FROM readings r WHERE {mine} AND r."timestamp" < b.at
                     ORDER BY r."timestamp" DESC, r.id DESC LIMIT 1) AS x
            UNION ALL
            SELECT x.* FROM unnest(CAST(:after AS timestamptz[])) AS a(at),
            LATERAL (SELECT {columns} FROM readings r WHERE {mine} AND r."timestamp" >= a.at
                     ORDER BY r."timestamp", r.id LIMIT 1) AS x
            UNION ALL
            -- Each break and the reading before it.
            SELECT x.* FROM reading_breaks k,
            LATERAL (SELECT {columns} FROM readings r WHERE {mine}
                     AND (r."timestamp", r.id) <= (k."timestamp", k.reading_id)
                     ORDER BY r."timestamp" DESC, r.id DESC LIMIT 2) AS x
            WHERE k.data_source_id = :source AND k."timestamp" >= :low
              AND k."timestamp" <= :high
        ),
        stale AS (
            SELECT EXISTS (SELECT 1 FROM reading_breaks_stale s
                           WHERE s.data_source_id = :source AND s.since <= :high) AS stale
        )
        SELECT p.t, p.c, CAST(p.id AS text) AS k, {", ".join(values)}, stale.stale
        FROM stale LEFT JOIN (SELECT DISTINCT ON (t, id) * FROM picked ORDER BY t, id) AS p
        ON true
        ORDER BY p.t, p.id
    """
    return sql, params


def refresh_breaks(source_id: int) -> None:
    """Recompute a source's breaks from its oldest stale instant on, and commit (PostgreSQL).

    Runs in a connection of its own, so a GET request's session writes nothing. Skips work
    another request is doing (advisory lock) and stale rows a writer still holds (they stay
    for the next time): every row it deletes was locked before its readings were read.
    """
    with db.engine.connect() as conn, conn.begin():
        if not conn.scalar(
            text_sql("SELECT pg_try_advisory_xact_lock(:lock, :source)"),
            {"lock": BREAKS_LOCK, "source": source_id},
        ):
            return
        stale = conn.execute(
            text_sql(
                "SELECT id, since FROM reading_breaks_stale WHERE data_source_id = :source "
                "FOR UPDATE SKIP LOCKED"
            ),
            {"source": source_id},
        ).all()
        if not stale:
            return
        since = min(row.since for row in stale)
        readings = conn.execute(
            text_sql("""
            SELECT "timestamp", id, "values" FROM readings
            WHERE data_source_id = :source AND "timestamp" >= coalesce(
                (SELECT max("timestamp") FROM readings
                 WHERE data_source_id = :source AND "timestamp" < :since), :since)
            ORDER BY "timestamp", id
        """).execution_options(yield_per=5000),
            {"source": source_id, "since": since},
        )
        times, ids = [], []
        previous = None
        for timestamp, reading_id, values in readings:
            values = values or {}
            if previous is not None and timestamp >= since and is_break(previous, values):
                times.append(timestamp)
                ids.append(reading_id)
            previous = values
        conn.execute(
            text_sql(
                "DELETE FROM reading_breaks"
                ' WHERE data_source_id = :source AND "timestamp" >= :since'
            ),
            {"source": source_id, "since": since},
        )
        if ids:
            conn.execute(
                text_sql("""
                INSERT INTO reading_breaks (data_source_id, "timestamp", reading_id)
                SELECT :source, t, i FROM unnest(CAST(:times AS timestamptz[]),
                                                 CAST(:ids AS uuid[])) AS b(t, i)
            """),
                {"source": source_id, "times": times, "ids": ids},
            )
        conn.execute(
            text_sql("DELETE FROM reading_breaks_stale WHERE id = ANY(:ids)"),
            {"ids": [row.id for row in stale]},
        )


def is_break(previous: Mapping[str, object], values: Mapping[str, object]) -> bool:
    """Return True unless values has the same metrics as previous and none is lower."""
    if previous.keys() != values.keys():
        return True
    try:
        return any(value < previous[name] for name, value in values.items())
    except TypeError:  # a None or a non-number: never seen from the app, so keep it
        return True
