"""CSV export of a source's readings, in exactly the layout homelog.importer reads.

Columns: `timestamp` (ISO 8601 with the offset, in the source's timezone), one column per
metric headed "name (unit)", and `note`; comma-separated, decimal point. An export therefore
imports cleanly into a new source with the same metrics. Rows are streamed from the database
in chunks, so a source with millions of readings never sits in memory.

Every CSV homelog writes passes its cells through `neutralise`, so text a person typed (a
note, a metric's name or unit) that starts like a formula stays text when the file is opened
in a spreadsheet; `unneutralise` gives the typed text back on import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import select

from homelog import timeutil
from homelog.csvsafe import FORMULA_STARTS, neutralise, unneutralise  # noqa: F401
from homelog.extensions import db
from homelog.importer import NOTE, NOTE_HEADERS, match_column
from homelog.models import DataSource, Reading
from homelog.readings import format_value
from homelog.usage_db.inputs import source_zone

CHUNK_ROWS = 2000


def _row(cells: list[str]) -> list[str]:
    return [neutralise(cell) for cell in cells]


def header(source: DataSource) -> list[str]:
    """Return the header line of source's export."""
    metrics = source.metrics
    columns = ["timestamp"]
    columns += [f"{name} ({unit})" if unit else name for name, unit in metrics.items()]
    # The note column's title must not read as a metric's name.
    columns.append(
        next((title for title in NOTE_HEADERS if match_column(title, metrics) == NOTE), "comment")
    )
    return columns


def filename(source: DataSource, first: date | None = None, last: date | None = None) -> str:
    """Return a file name for source's export of the days first to last (ASCII, no spaces)."""
    stem = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in source.name)
    stem = "-".join(part for part in stem.split("-") if part) or f"source-{source.id}"
    span = ""
    if first is not None or last is not None:
        span = (
            f"-{first.isoformat() if first else 'start'}-to-{last.isoformat() if last else 'now'}"
        )
    return f"{stem.lower()}{span}.csv"


def iter_csv(
    source: DataSource, start: datetime | None = None, end: datetime | None = None
) -> Iterator[str]:
    """Return an iterator of source's readings as CSV text in chunks, oldest first.

    start is inclusive and end exclusive (aware datetimes); None means unbounded. Everything
    about the source is read now: a streamed response iterates after its view returned, when
    the source object may no longer be attached to a session.
    """
    zone = source_zone(source)
    names = source.metric_names
    first_line = header(source)
    query = select(Reading.timestamp, Reading.values, Reading.note).where(
        Reading.data_source_id == source.id
    )
    if start is not None:
        query = query.where(Reading.timestamp >= timeutil.clamp(start))
    if end is not None:
        query = query.where(Reading.timestamp < timeutil.clamp(end))
    query = query.order_by(Reading.timestamp, Reading.id).execution_options(yield_per=CHUNK_ROWS)

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_row(first_line))
        pending = 0
        for timestamp, values, note in db.session.execute(query):
            values = values or {}
            writer.writerow(
                _row(
                    [timestamp.astimezone(zone).isoformat()]
                    + [format_value(values.get(name)) for name in names]
                    + [note or ""]
                )
            )
            pending += 1
            if pending >= CHUNK_ROWS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                pending = 0
        yield buffer.getvalue()

    return chunks()
