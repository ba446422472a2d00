"""Planner statistics after bulk writes: an import or a restore leaves them fresh.

PostgreSQL plans from row estimates that only ANALYZE (or autovacuum, when it runs) updates.
After a large import into a fresh table a page of readings sorted every reading of the source
instead of walking the index, so imports and restores analyse a table they grew a lot.
"""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from homelog import backup, bulk, importer, pgdirect, sync
from homelog.extensions import db

POSTGRESQL = os.environ.get("HOMELOG_TEST_BACKEND") == "postgresql"


@pytest.mark.parametrize(
    ("estimate", "added", "expected"),
    [
        (-1, 1, True),  # never analysed
        (0, 1, True),
        (1_000, 100, True),
        (1_000, 99, False),
        (10_000_000, 1_000, False),  # a sync-sized write into a large table
        (10_000_000, 1_000_000, True),
        (500, 0, False),
    ],
)
def test_a_table_is_analysed_when_a_write_grows_it_by_a_tenth(estimate, added, expected):
    assert bulk.needs_analyze(estimate, added) is expected


def _estimate() -> float:
    with db.engine.connect() as connection:
        return connection.scalar(
            sa.text("SELECT reltuples FROM pg_class WHERE relname = 'readings'")
        )


def _analyse() -> None:
    with db.engine.begin() as connection:
        connection.execute(sa.text("ANALYZE readings"))


def _csv(rows: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = ["timestamp,import"]
    lines += [f"{(start + timedelta(hours=n)).isoformat()},{n}" for n in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not POSTGRESQL, reason="planner statistics are PostgreSQL's")
def test_an_import_leaves_the_readings_statistics_fresh(app, user, make_source):
    source = make_source(user)
    _analyse()  # the table is empty: the estimate starts at 0
    assert _estimate() == 0
    report = importer.import_csv(source, user, _csv(300))
    assert report.created == 300
    assert _estimate() == 300


@pytest.mark.skipif(not POSTGRESQL, reason="planner statistics are PostgreSQL's")
def test_a_restore_leaves_the_readings_statistics_fresh(app, user, make_user, make_source):
    source = make_source(user)
    importer.import_csv(source, user, _csv(200))
    text = "".join(backup.iter_backup(user))
    empty = make_user("empty@example.com")
    _analyse()  # counts the 200 readings imported above
    before = _estimate()
    assert backup.restore(empty, io.StringIO(text))["readings"] == 200
    assert _estimate() == before + 200


def _sync(user, sources, per_source: int) -> None:
    """Send per_source readings of each source through the sync API's batches of 1,000."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = [
        sync.ReadingInput(
            id=uuid.uuid4(),
            data_source_id=source.id,
            timestamp=start + timedelta(minutes=15 * n),
            values={"import": float(n)},
        )
        for source in sources
        for n in range(per_source)
    ]
    for first in range(0, len(items), sync.MAX_BATCH):
        results = sync.save_readings(user, items[first : first + sync.MAX_BATCH])
        assert {result.status for result in results} == {"created"}


def _list_plan(source_id: int) -> str:
    """Return PostgreSQL's plan of the API's readings list (first page of 100)."""
    request = pgdirect.json_page_request(source_id, limit=100)
    statement = pgdirect._json_page_statement(request.shape, request.limit)
    compiled = statement.compile(dialect=db.engine.dialect)
    params = {**compiled.params, **request.params}
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN " + compiled.string, params)
        return "\n".join(row[0] for row in rows)


@pytest.mark.skipif(not POSTGRESQL, reason="planner statistics are PostgreSQL's")
def test_the_readings_list_walks_the_index_right_after_a_large_sync(app, user, make_source):
    sources = [make_source(user, f"Meter {n}") for n in range(10)]
    _analyse()  # the table is empty: the estimate starts at 0
    _sync(user, sources, 1_000)  # 10,000 readings in 10 batches, no ANALYZE by hand
    plan = _list_plan(sources[0].id)
    assert "ix_readings_source_timestamp" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.skipif(not POSTGRESQL, reason="planner statistics are PostgreSQL's")
def test_small_sync_batches_leave_the_statistics_alone_until_they_add_up(
    app, user, make_source, monkeypatch
):
    source = make_source(user)
    _sync(user, [source], 1_000)
    _analyse()
    assert _estimate() == 1_000
    checked = []
    real = bulk.refresh_statistics
    monkeypatch.setattr(
        bulk, "refresh_statistics", lambda *args: checked.append(args[2]) or real(*args)
    )
    start = datetime(2026, 6, 1, tzinfo=UTC)
    small = [
        sync.ReadingInput(uuid.uuid4(), source.id, start + timedelta(minutes=n), {"import": 1.0})
        for n in range(sync.BATCH_TO_CHECK_STATISTICS - 1)
    ]
    sync.save_readings(user, small)
    assert checked == []  # no statement for a small batch
    assert _estimate() == 1_000
