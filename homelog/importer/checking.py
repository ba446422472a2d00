"""Checking parsed rows against stored readings: duplicates, conflicts, meter drops; preview."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from homelog.extensions import db
from homelog.i18n import _, format_number_in_text
from homelog.importer.columns import recalled
from homelog.importer.parsing import Parsed, parse
from homelog.importer.report import ImportOptions, ImportReport, Problem, Row
from homelog.models import DataSource, MeterEvent, Reading
from homelog.usage.meter import is_rollover, register_sizes
from homelog.usage_db.inputs import source_zone


def _same_values(a: Mapping[str, object], b: Mapping[str, float]) -> bool:
    if a.keys() != b.keys():
        return False
    try:
        return all(float(a[key]) == b[key] for key in b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _describe(values: Mapping[str, object]) -> str:
    return ", ".join(
        f"{key} {format_number_in_text(value)}"
        if isinstance(value, int | float)
        else f"{key} {value}"
        for key, value in values.items()
    )


def _check_against_stored(source: DataSource, parsed: Parsed, options: ImportOptions) -> None:
    """Sort parsed rows into the report: duplicates, conflicts, meter drops, rows to import."""
    report, candidates = parsed.report, parsed.candidates
    if not candidates:
        return
    start = min(row.timestamp for row in candidates)
    end = max(row.timestamp for row in candidates)
    stored = _stored_between(source, start, end)
    fresh: list[Row] = []
    first_line: dict[datetime, Row] = {}
    for row in candidates:
        problem = _repeated(row, stored.get(row.timestamp), first_line.get(row.timestamp))
        if problem is not None:
            report.already_stored += problem.stored
            report.add(problem)
            continue
        first_line[row.timestamp] = row
        fresh.append(row)
    if source.kind == "meter" and fresh:
        fresh = _check_meter_order(source, fresh, stored, start, report, options)
    report.rows = fresh
    report.settle()


def _stored_between(source: DataSource, start: datetime, end: datetime) -> dict[datetime, list]:
    """Return {timestamp: [values, ...]} of source's readings from start to end."""
    stored: dict[datetime, list[dict]] = defaultdict(list)
    # Streamed: a range of a large source can hold many readings.
    for timestamp, values in db.session.execute(
        select(Reading.timestamp, Reading.values)
        .where(
            Reading.data_source_id == source.id,
            Reading.timestamp >= start,
            Reading.timestamp <= end,
        )
        .execution_options(yield_per=5000)
    ):
        stored[timestamp].append(values or {})
    return stored


def _repeated(row: Row, earlier: list[dict] | None, twin: Row | None) -> Problem | None:
    """Return why row repeats a stored reading (earlier) or a line above (twin), or None."""
    if earlier:
        if any(_same_values(values, row.values) for values in earlier):
            return Problem(
                row.line, "duplicate", _("Already stored (same time and values)."), stored=True
            )
        return Problem(
            row.line,
            "conflict",
            _(
                "A reading at this time is stored with other values (%(values)s).",
                values=_describe(earlier[0]),
            ),
        )
    if twin is None:
        return None
    if twin.values == row.values:
        return Problem(row.line, "duplicate", _("Repeats line %(line)s.", line=twin.line))
    return Problem(
        row.line,
        "conflict",
        _("Line %(line)s has the same time, other values.", line=twin.line),
    )


def _check_meter_order(
    source: DataSource,
    fresh: list[Row],
    stored: Mapping[datetime, list[dict]],
    start: datetime,
    report: ImportReport,
    options: ImportOptions,
) -> list[Row]:
    """Flag rows whose value is below the reading before them (stored or imported).

    As in usage: a recorded meter swap restarts the comparison at the new meter's first
    values, and a register that wraps round (homelog.usage.meter.is_rollover) is no drop.
    """
    last, sizes, events = _meter_history(source, fresh, stored, start)
    kept: list[Row] = []
    for _when, kind, _order, item in events:
        if kind == 0:
            new_start, rollover_at = item
            last = _numbers(new_start)
            sizes = register_sizes(sizes, rollover_at)
            continue
        if kind == 1:
            last.update(_numbers(item))
            continue
        row = item
        if _keeps(row, _lower(row, last, sizes), report, options):
            last.update(row.values)
            kept.append(row)
    kept.sort(key=lambda row: row.line)
    return kept


def _meter_history(
    source: DataSource,
    fresh: list[Row],
    stored: Mapping[datetime, list[dict]],
    start: datetime,
) -> tuple[dict[str, float], dict, list[tuple[datetime, int, int, object]]]:
    """Return the meter values before start, the register sizes then, and the events since.

    Events in time order: a meter swap (0) resets the register, stored readings (1) and
    new rows (2) move it on.
    """
    prior = db.session.execute(
        select(Reading.timestamp, Reading.values)
        .where(Reading.data_source_id == source.id, Reading.timestamp < start)
        .order_by(Reading.timestamp.desc(), Reading.id.desc())
        .limit(1)
    ).first()
    swaps = db.session.execute(
        select(MeterEvent.at, MeterEvent.new_start, MeterEvent.rollover_at)
        .where(MeterEvent.data_source_id == source.id)
        .order_by(MeterEvent.at)
    ).all()
    # Register sizes as they stand after the stored reading before the import; a later swap
    # may change them.
    sizes = register_sizes({}, source.rollover_at)
    after = prior.timestamp if prior is not None else None
    for at, _new_start, rollover_at in swaps:
        if after is not None and at <= after:
            sizes = register_sizes(sizes, rollover_at)
    events: list[tuple[datetime, int, int, object]] = [
        (at, 0, 0, (new_start or {}, rollover_at))
        for at, new_start, rollover_at in swaps
        if after is None or at > after
    ]
    events += [(ts, 1, 0, values) for ts, group in stored.items() for values in group]
    events += [(row.timestamp, 2, row.line, row) for row in fresh]
    events.sort(key=lambda event: event[:3])
    return _numbers((prior.values if prior else None) or {}), sizes, events


def _numbers(values: Mapping[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


def _lower(row: Row, last: Mapping[str, float], sizes: Mapping) -> dict[str, float]:
    """Return {metric: previous value} of row's values below the previous meter value."""
    return {
        m: last[m]
        for m, v in row.values.items()
        if m in last and v < last[m] and not is_rollover(v, last[m], sizes.get(m))
    }


def _keeps(
    row: Row, lower: Mapping[str, float], report: ImportReport, options: ImportOptions
) -> bool:
    """Return True when row is imported; a drop is reported, and confirmed when accepted."""
    if not lower:
        return True
    what = ", ".join(
        f"{m} {format_number_in_text(row.values[m])} < {format_number_in_text(previous)}"
        for m, previous in lower.items()
    )
    if not options.accept_lower:
        report.add(
            Problem(
                row.line,
                "lower",
                _("Lower than the previous meter value (%(values)s).", values=what),
            )
        )
        return False
    row.confirmed = True
    report.add(
        Problem(
            row.line,
            "lower",
            _(
                "Lower than the previous meter value (%(values)s); imported as confirmed.",
                values=what,
            ),
            skipped=False,
        )
    )
    return True


def preview(source: DataSource, text: str, options: ImportOptions | None = None) -> ImportReport:
    """Return what importing text into source would do; nothing is written.

    Without a column mapping in options, the columns chosen for the last file with the same
    headings (kept by import_csv) are used.
    """
    options, remembered = recalled(source, text, options or ImportOptions())
    parsed = parse(text, source.metrics, source_zone(source), options)
    report = parsed.report
    if remembered:
        report.remembered = True
        report.notes.insert(
            0, _("Columns as you chose them for the last file with these headings.")
        )
    if report.ok:
        _check_against_stored(source, parsed, options)
    return report
