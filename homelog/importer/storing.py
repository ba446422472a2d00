"""Storing an import: every valid row in one transaction, one bulk INSERT per batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from homelog import bulk, changes
from homelog.extensions import db
from homelog.importer.checking import preview
from homelog.importer.columns import remember
from homelog.importer.report import ImportOptions, ImportReport, Row
from homelog.models import DataSource, ImportUpload, Reading, User, utcnow, uuid7

#: Rows written per INSERT batch, so an import never holds every row's parameters at once.
INSERT_BATCH = 5000


def _insert(source: DataSource, user: User | None, rows: Sequence[Row]) -> None:
    """Insert rows as readings with their change-feed entries, one batch at a time."""
    connection = db.session.connection()
    now = utcnow()
    creator = user.id if user is not None else None
    for start in range(0, len(rows), INSERT_BATCH):
        batch = [
            {
                "id": uuid7(),
                "data_source_id": source.id,
                "timestamp": row.timestamp,
                "values": row.values,
                "note": row.note,
                "confirmed": row.confirmed,
                "created_by_id": creator,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows[start : start + INSERT_BATCH]
        ]
        changes.insert_new_readings(connection, source.owner_id, batch)


def import_csv(
    source: DataSource,
    user: User | None,
    text: str,
    options: ImportOptions | None = None,
    upload: ImportUpload | None = None,
) -> ImportReport:
    """Import every valid row of text into source in one transaction and commit.

    The source's row is locked first, so two imports of the same file at once cannot both
    store it. Returns the report with `created` set (0 when nothing was left to import).
    A given upload is deleted in the same transaction, unless the file cannot be read (the
    person may still map its columns). Columns mapped by hand are remembered for the next
    file with the same headings.
    """
    options = options or ImportOptions()
    # A no-op UPDATE takes the source's row lock on PostgreSQL and the write lock on SQLite.
    db.session.connection().execute(
        update(DataSource.__table__)
        .where(DataSource.__table__.c.id == source.id)
        .values(id=DataSource.__table__.c.id)
    )
    report = preview(source, text, options)
    report.dry_run = False
    report.created = 0
    if not report.ok:
        db.session.rollback()
        return report
    _insert(source, user, report.rows)
    remember(source, text, options, report)
    if upload is not None:
        db.session.delete(upload)
    db.session.commit()
    report.created = len(report.rows)
    bulk.refresh_statistics(db.engine, Reading.__table__, report.created)
    return report
