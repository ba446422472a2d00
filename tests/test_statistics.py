"""Planner statistics after bulk writes: an import or a restore leaves them fresh.

PostgreSQL plans from row estimates that only ANALYZE (or autovacuum, when it runs) updates.
After a large import into a fresh table a page of readings sorted every reading of the source
instead of walking the index, so imports and restores analyse a table they grew a lot.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from homelog import backup, bulk, importer
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
