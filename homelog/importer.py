"""CSV import of readings: parse, preview every problem line, then store all valid rows at once.

Free of request objects: the source page, the JSON API and the CLI call the same functions.

The layout a file may have:
- the first column is the date and time; every further column one metric (matched to the
  source's metric names case-insensitively, units in headers like "import (kWh)" tolerated)
  or the reading's note (a column headed "note"); columns can be mapped by hand instead;
- separator `,` `;` or tab (sniffed), decimal point or comma (decided for the whole file);
- dates as ISO 8601 (an offset is honoured), `DD.MM.YYYY HH:MM`, or `MM/DD/YYYY HH:MM`
  (`DD/MM/YYYY` when the file shows that order; the whole file decides, and the report says
  which order was taken). A time without offset is in the source's timezone.

`preview` reports what would be imported and each problem line with its number and reason;
`import_csv` does the same and stores every valid row in one transaction (all or nothing),
with one bulk INSERT and its change-feed entries. Duplicates of stored readings (same source,
time and values) are recognised, so importing a file twice adds nothing the second time.
"""

from __future__ import annotations

import csv
import math
import re
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update

from homelog import bulk, sync
from homelog.consumption import source_zone
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import (
    DataSource,
    ImportUpload,
    MeterEvent,
    Reading,
    User,
    utcnow,
    uuid7,
)
from homelog.readings import MAX_ABS_VALUE, MAX_NOTE_LENGTH, MAX_YEAR, MIN_YEAR
from homelog.usage.meter import is_rollover, register_sizes

#: Column target of the reading's note.
NOTE = "__note__"
NOTE_HEADERS = ("note", "notes", "reading note", "comment")
MAX_IMPORT_BYTES = 16 * 1024 * 1024
MAX_ROWS = 500_000
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
DATE_ORDERS = ("auto", "mdy", "dmy")
UPLOAD_MAX_AGE = timedelta(days=1)

_DOTTED = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"
)
_SLASHED = re.compile(
    r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?$"
)
_UNIT_SUFFIX = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_COMMA_DECIMAL = re.compile(r"^[-+]?\d*,\d+$")
_POINT_DECIMAL = re.compile(r"^[-+]?\d*\.\d+$")
_POINT_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_COMMA_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


# ---- What a preview and an import report ----------------------------------------------------


@dataclass(slots=True)
class Problem:
    """A line of the file that is not imported as it is, and why."""

    line: int
    code: str  # date | number | columns | empty | duplicate | conflict | lower | note
    reason: str
    skipped: bool = True


@dataclass(slots=True)
class Row:
    """A line that will be imported."""

    line: int
    timestamp: datetime  # UTC
    values: dict[str, float]
    note: str | None = None
    confirmed: bool = False


@dataclass(slots=True)
class Column:
    """A column of the file and what it holds: a metric name, NOTE, or None (ignored)."""

    index: int
    header: str
    target: str | None


@dataclass(slots=True)
class ImportOptions:
    """Choices the user can make in the preview.

    mapping: {column index (1 = the first after the date): metric name, NOTE or "" to
        ignore}; columns not in it are matched by their header.
    date_order: "mdy" or "dmy" for dates written with slashes; "auto" decides by the file.
    accept_lower: import meter values below the previous one as confirmed (a register that
        wrapped round further than usage assumes, a real correction) instead of skipping
        them. A replaced meter is recorded as a swap: its values are then no drop.
    """

    mapping: dict[int, str] = field(default_factory=dict)
    date_order: str = "auto"
    accept_lower: bool = False


@dataclass
class ImportReport:
    """What a file holds for a source: rows to import, problem lines, and how it was read."""

    separator: str = ","
    decimal: str = "."
    date_format: str = ""
    date_order: str | None = None  # "mdy" | "dmy" when dates use slashes
    has_header: bool = True
    columns: list[Column] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the file as a whole cannot be imported
    lines: int = 0  # data lines read (blank lines not counted)
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    created: int | None = None  # set once imported
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        """Return True when the file could be read (it may still hold problem lines)."""
        return not self.errors

    @property
    def to_import(self) -> int:
        """Return how many readings the import stores (or stored)."""
        return len(self.rows)

    @property
    def skipped(self) -> int:
        """Return how many lines are left out."""
        return sum(1 for problem in self.problems if problem.skipped)

    def counts(self) -> dict[str, int]:
        """Return how many problem lines there are per code."""
        found: dict[str, int] = defaultdict(int)
        for problem in self.problems:
            found[problem.code] += 1
        return dict(found)

    @property
    def separator_name(self) -> str:
        """Return the separator as a word."""
        return SEPARATORS.get(self.separator, self.separator)


# ---- Reading the file ------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """Return an uploaded file as text: UTF-8 (with or without BOM), else Windows-1252.

    Raises:
        ValidationFailed: the file is too large or binary.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed(
            {"file": [f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."]}
        )
    if b"\x00" in data[:4096]:
        raise ValidationFailed({"file": ["This is not a text (CSV) file."]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _sniff_separator(lines: Sequence[str]) -> str:
    """Return the separator that splits the first lines into the same number of fields."""
    best, best_score = ",", -1
    for candidate in ("\t", ";", ","):
        counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        if not counts or counts[0] < 2:
            continue
        score = sum(1 for count in counts if count == counts[0])
        if score > best_score:  # ties go to the earlier candidate (tab, then semicolon)
            best, best_score = candidate, score
    return best


def _header_key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").split()).casefold()


def match_column(header: str, metrics: Mapping[str, str]) -> str | None:
    """Return the metric (or NOTE) a column header names, or None."""
    key = _header_key(header)
    if not key:
        return None
    bare = _header_key(_UNIT_SUFFIX.sub("", header))
    for name, unit in metrics.items():
        folded = _header_key(name)
        unit_key = _header_key(unit)
        if key == folded or bare == folded:
            return name
        if unit_key and key in (f"{folded} {unit_key}", f"{folded} in {unit_key}"):
            return name
    if key in NOTE_HEADERS or bare in NOTE_HEADERS:
        return NOTE
    return None


def _date_style(cell: str):
    """Return (style, parsed) of a date cell: style iso | dotted | slashed, or (None, None)."""
    cell = cell.strip()
    if not cell:
        return None, None
    if cell[:4].isdigit() and len(cell) >= 8 and cell[4] == "-":
        try:
            text = cell[:-1] + "+00:00" if cell.endswith(("Z", "z")) else cell
            return "iso", datetime.fromisoformat(text)
        except ValueError:
            return None, None
    if (match := _DOTTED.match(cell)) is not None:
        return "dotted", match
    if (match := _SLASHED.match(cell)) is not None:
        return "slashed", match
    return None, None


def _clock(
    hour: str | None, minute: str | None, second: str | None, meridiem: str | None = None
) -> tuple[int, int, int]:
    h, m, s = int(hour or 0), int(minute or 0), int(second or 0)
    if meridiem:
        if not 1 <= h <= 12:
            raise ValueError
        h = h % 12 + (12 if meridiem.lower() == "pm" else 0)
    return h, m, s


def _to_datetime(style: str, parsed, date_order: str) -> datetime:
    """Return the naive or aware datetime a matched date cell stands for (ValueError if none)."""
    if style == "iso":
        return parsed
    if style == "dotted":
        day, month, year = int(parsed[1]), int(parsed[2]), int(parsed[3])
        return datetime(year, month, day, *_clock(parsed[4], parsed[5], parsed[6]))
    first, second, year = int(parsed[1]), int(parsed[3]), int(parsed[4])
    month, day = (first, second) if date_order == "mdy" else (second, first)
    return datetime(year, month, day, *_clock(parsed[5], parsed[6], parsed[7], parsed[8]))


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Return a local time in UTC (ValueError when the clocks skip it)."""
    aware = naive.replace(tzinfo=zone)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"does not exist in {zone.key} (the clocks skip that hour)")
    return utc


def _number_parser(decimal: str):
    """Return a function that parses one value cell (raising ValueError)."""

    def parse(cell: str) -> float:
        text = cell.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
        if decimal == ",":
            if "." in text:
                if not _POINT_THOUSANDS.match(text):
                    raise ValueError
                text = text.replace(".", "")
            text = text.replace(",", ".")
        elif "," in text:
            if not _COMMA_THOUSANDS.match(text):
                raise ValueError
            text = text.replace(",", "")
        if "_" in text or len(text) > 40:
            raise ValueError
        value = float(text)
        if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
            raise ValueError
        return value

    return parse


@dataclass
class _Parsed:
    report: ImportReport
    candidates: list[Row]


def parse(
    text: str, metrics: Mapping[str, str], zone: ZoneInfo, options: ImportOptions | None = None
) -> _Parsed:
    """Read text as CSV for a source with metrics ({name: unit}); no database access.

    Returns the report (layout, columns, notes, problems of single lines) and the rows that
    parsed, not yet checked against stored readings.
    """
    options = options or ImportOptions()
    report = ImportReport()
    lines = text.splitlines()
    first_lines = [line for line in lines[:50] if line.strip()]
    if not first_lines:
        report.errors.append("The file is empty.")
        return _Parsed(report, [])
    report.separator = _sniff_separator(first_lines[:20])
    records = [
        (number, row)
        for number, row in enumerate(csv.reader(lines, delimiter=report.separator), start=1)
        if any(cell.strip() for cell in row)
    ]
    if len(records) > MAX_ROWS + 1:
        report.errors.append(f"The file has more than {MAX_ROWS:,} lines; split it up.")
        return _Parsed(report, [])

    first_number, first_row = records[0]
    report.has_header = _date_style(first_row[0])[0] is None
    header = first_row if report.has_header else []
    data = records[1:] if report.has_header else records
    width = max(len(first_row), 2)
    metric_names = list(metrics)

    # Which column holds what: the user's mapping, else the header, else the metrics' order.
    for index in range(1, width):
        title = header[index].strip() if index < len(header) else ""
        if index in options.mapping:
            chosen = options.mapping[index]
            target = chosen if chosen in metrics or chosen == NOTE else None
        elif report.has_header:
            target = match_column(title, metrics)
        else:
            target = metric_names[index - 1] if index - 1 < len(metric_names) else None
        report.columns.append(Column(index, title or f"column {index + 1}", target))
    taken: dict[str, Column] = {}
    for column in report.columns:
        if column.target is None:
            continue
        if column.target in taken:
            what = "notes" if column.target == NOTE else f"“{column.target}”"
            report.errors.append(
                f"Columns “{taken[column.target].header}” and “{column.header}” both hold "
                f"{what}; choose one."
            )
        taken[column.target] = column
    value_columns = [(c.index, c.target) for c in report.columns if c.target in metrics]
    note_column = next((c.index for c in report.columns if c.target == NOTE), None)
    if not value_columns:
        report.errors.append(
            "No column matches a metric of this source ("
            + ", ".join(f"“{name}”" for name in metric_names)
            + "). Choose which column holds which metric."
        )
    if not report.has_header:
        report.notes.append(
            "The file has no header line: columns are taken in the order of the source's metrics."
        )
    ignored = [c.header for c in report.columns if c.target is None]
    if ignored and value_columns:
        report.notes.append("Ignored columns: " + ", ".join(f"“{h}”" for h in ignored) + ".")
    if report.errors:
        return _Parsed(report, [])
    if not data:
        report.errors.append("The file has a header but no data lines.")
        return _Parsed(report, [])

    # Decimal separator: decided for the whole file by the cells that show it.
    comma = point = 0
    for _, row in data[:5000]:
        for index, _target in value_columns:
            if index < len(row):
                cell = row[index].strip()
                if _COMMA_DECIMAL.match(cell) or _POINT_THOUSANDS.match(cell):
                    comma += 1
                elif _POINT_DECIMAL.match(cell) or _COMMA_THOUSANDS.match(cell):
                    point += 1
    report.decimal = "," if comma > point else "."
    if report.decimal == ",":
        report.notes.append("Numbers are read with a decimal comma (1234,5).")

    # Dates: each cell's style; the order of slashed dates is decided by the whole file.
    styles = [_date_style(row[0]) for _, row in data]
    month_first = day_first = 0
    for style, parsed in styles:
        if style == "slashed":
            first, second = int(parsed[1]), int(parsed[3])
            if first > 12 >= second:
                day_first += 1
            elif second > 12 >= first:
                month_first += 1
    seen_styles = {style for style, _ in styles if style}
    if "slashed" in seen_styles:
        if options.date_order in ("mdy", "dmy"):
            report.date_order = options.date_order
            report.notes.append(
                "Dates with slashes are read as "
                + ("month/day/year" if report.date_order == "mdy" else "day/month/year")
                + ", as chosen."
            )
        elif day_first and not month_first:
            report.date_order = "dmy"
            report.notes.append(
                "Dates with slashes are read as day/month/year (some days are above 12)."
            )
        elif month_first and not day_first:
            report.date_order = "mdy"
            report.notes.append(
                "Dates with slashes are read as month/day/year (some days are above 12)."
            )
        elif day_first and month_first:
            report.date_order = "dmy" if day_first >= month_first else "mdy"
            report.notes.append(
                f"Dates with slashes contradict each other ({day_first} look like day/month, "
                f"{month_first} like month/day); read as "
                + ("day/month/year" if report.date_order == "dmy" else "month/day/year")
                + ". Check the date order."
            )
        else:
            report.date_order = "mdy"
            report.notes.append(
                "Every date with slashes could be month/day or day/month; "
                "read as month/day/year. Choose day/month if that is wrong."
            )
    labels = {
        "iso": "ISO 8601",
        "dotted": "DD.MM.YYYY",
        "slashed": "MM/DD/YYYY" if report.date_order == "mdy" else "DD/MM/YYYY",
    }
    report.date_format = ", ".join(
        labels[s] for s in ("iso", "dotted", "slashed") if s in seen_styles
    )
    report.notes.append(f"Times without an offset are in {zone.key}.")

    number = _number_parser(report.decimal)
    candidates: list[Row] = []
    for (line, row), (style, parsed) in zip(data, styles, strict=True):
        report.lines += 1
        cell = row[0].strip()
        if style is None:
            report.problems.append(Problem(line, "date", f"“{cell[:40]}” is not a date."))
            continue
        try:
            moment = _to_datetime(style, parsed, report.date_order or "mdy")
            moment = _localize(moment, zone) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError) as error:
            detail = str(error) if "exist" in str(error) else "is not a valid date"
            report.problems.append(Problem(line, "date", f"“{cell[:40]}” {detail}."))
            continue
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            report.problems.append(
                Problem(line, "date", f"“{cell[:40]}” is outside the years {MIN_YEAR}–{MAX_YEAR}.")
            )
            continue
        if len(row) > width:
            report.problems.append(
                Problem(line, "columns", f"The line has {len(row)} fields, the file {width}.")
            )
            continue
        values: dict[str, float] = {}
        bad: list[str] = []
        for index, metric in value_columns:
            raw = row[index].strip() if index < len(row) else ""
            if not raw:
                continue
            try:
                values[metric] = number(raw)
            except (ValueError, OverflowError):
                bad.append(f"“{raw[:30]}” ({metric}) is not a number")
        if bad:
            report.problems.append(Problem(line, "number", "; ".join(bad) + "."))
            continue
        if not values:
            report.problems.append(Problem(line, "empty", "The line has no values."))
            continue
        note = None
        if note_column is not None and note_column < len(row):
            note = row[note_column].strip() or None
            if note is not None and len(note) > MAX_NOTE_LENGTH:
                report.problems.append(
                    Problem(line, "note", f"The note is longer than {MAX_NOTE_LENGTH} characters.")
                )
                continue
        candidates.append(Row(line, moment, values, note))
    return _Parsed(report, candidates)


# ---- Checking against stored readings --------------------------------------------------------


def _same_values(a: Mapping[str, object], b: Mapping[str, float]) -> bool:
    if a.keys() != b.keys():
        return False
    try:
        return all(float(a[key]) == b[key] for key in b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _describe(values: Mapping[str, object]) -> str:
    return ", ".join(
        f"{key} {value:g}" if isinstance(value, int | float) else f"{key} {value}"
        for key, value in values.items()
    )


def _check_against_stored(source: DataSource, parsed: _Parsed, options: ImportOptions) -> None:
    """Sort parsed rows into the report: duplicates, conflicts, meter drops, rows to import."""
    report, candidates = parsed.report, parsed.candidates
    if not candidates:
        return
    start = min(row.timestamp for row in candidates)
    end = max(row.timestamp for row in candidates)
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

    fresh: list[Row] = []
    first_line: dict[datetime, Row] = {}
    for row in candidates:
        earlier = stored.get(row.timestamp)
        if earlier:
            if any(_same_values(values, row.values) for values in earlier):
                report.problems.append(
                    Problem(row.line, "duplicate", "Already stored (same time and values).")
                )
            else:
                report.problems.append(
                    Problem(
                        row.line,
                        "conflict",
                        "A reading at this time is stored with other "
                        f"values ({_describe(earlier[0])}).",
                    )
                )
            continue
        twin = first_line.get(row.timestamp)
        if twin is not None:
            if twin.values == row.values:
                report.problems.append(Problem(row.line, "duplicate", f"Repeats line {twin.line}."))
            else:
                report.problems.append(
                    Problem(
                        row.line, "conflict", f"Line {twin.line} has the same time, other values."
                    )
                )
            continue
        first_line[row.timestamp] = row
        fresh.append(row)

    if source.kind == "meter" and fresh:
        fresh = _check_meter_order(source, fresh, stored, start, report, options)
    report.rows = fresh
    report.problems.sort(key=lambda problem: problem.line)


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
    # Events in time order: a meter swap (0) resets the register, stored readings (1) and
    # new rows (2) move it on.
    events: list[tuple[datetime, int, int, object]] = [
        (at, 0, 0, (new_start or {}, rollover_at))
        for at, new_start, rollover_at in swaps
        if after is None or at > after
    ]
    events += [(ts, 1, 0, values) for ts, group in stored.items() for values in group]
    events += [(row.timestamp, 2, row.line, row) for row in fresh]
    events.sort(key=lambda event: event[:3])
    last: dict[str, float] = {
        k: float(v)
        for k, v in ((prior.values if prior else None) or {}).items()
        if isinstance(v, int | float)
    }
    kept: list[Row] = []
    for _, kind, _, item in events:
        if kind == 0:
            new_start, rollover_at = item
            last = {k: float(v) for k, v in new_start.items() if isinstance(v, int | float)}
            sizes = register_sizes(sizes, rollover_at)
            continue
        if kind == 1:
            last.update({k: float(v) for k, v in item.items() if isinstance(v, int | float)})
            continue
        row = item
        lower = {
            m: last[m]
            for m, v in row.values.items()
            if m in last and v < last[m] and not is_rollover(v, last[m], sizes.get(m))
        }
        if lower:
            what = ", ".join(
                f"{m} {row.values[m]:g} < {previous:g}" for m, previous in lower.items()
            )
            if not options.accept_lower:
                report.problems.append(
                    Problem(row.line, "lower", f"Lower than the previous meter value ({what}).")
                )
                continue
            row.confirmed = True
            report.problems.append(
                Problem(
                    row.line,
                    "lower",
                    f"Lower than the previous meter value ({what}); imported as confirmed.",
                    skipped=False,
                )
            )
        last.update(row.values)
        kept.append(row)
    kept.sort(key=lambda row: row.line)
    return kept


# ---- Preview and import ---------------------------------------------------------------------


def preview(source: DataSource, text: str, options: ImportOptions | None = None) -> ImportReport:
    """Return what importing text into source would do; nothing is written."""
    options = options or ImportOptions()
    parsed = parse(text, source.metrics, source_zone(source), options)
    if parsed.report.ok:
        _check_against_stored(source, parsed, options)
    return parsed.report


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
    A given upload is deleted in the same transaction.
    """
    options = options or ImportOptions()
    connection = db.session.connection()
    # A no-op UPDATE takes the source's row lock on PostgreSQL and the write lock on SQLite.
    connection.execute(
        update(DataSource.__table__)
        .where(DataSource.__table__.c.id == source.id)
        .values(id=DataSource.__table__.c.id)
    )
    report = preview(source, text, options)
    report.dry_run = False
    if not report.ok or not report.rows:
        db.session.rollback()
        report.created = 0
        return report
    now = utcnow()
    creator = user.id if user is not None else None
    changes: list[sync.Change] = []
    rows = []
    for row in report.rows:
        reading_id = uuid7()
        rows.append(
            {
                "id": reading_id,
                "data_source_id": source.id,
                "timestamp": row.timestamp,
                "values": row.values,
                "note": row.note,
                "confirmed": row.confirmed,
                "created_by_id": creator,
                "created_at": now,
                "updated_at": now,
            }
        )
        changes.append(sync.Change(sync.READING, str(reading_id), source.id))
    bulk.insert_rows(connection, Reading.__table__, rows)
    bulk.record_new(connection, source.owner_id, changes)
    if upload is not None:
        db.session.delete(upload)
    db.session.commit()
    report.created = len(report.rows)
    return report


# ---- Uploads between preview and confirmation -------------------------------------------------


def save_upload(user: User, source: DataSource, text: str, filename: str = "") -> ImportUpload:
    """Keep text for user's import into source and commit; return it (its id is secret).

    Deletes user's uploads older than UPLOAD_MAX_AGE on the way.
    """
    db.session.execute(
        delete(ImportUpload).where(
            ImportUpload.user_id == user.id, ImportUpload.created_at < utcnow() - UPLOAD_MAX_AGE
        )
    )
    upload = ImportUpload(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        data_source_id=source.id,
        filename=(filename or "")[:255],
        content=text,
    )
    db.session.add(upload)
    db.session.commit()
    return upload


def get_upload(user: User, source: DataSource, upload_id: object) -> ImportUpload | None:
    """Return user's upload for source with upload_id, or None (expired, or not theirs)."""
    if not isinstance(upload_id, str) or not 0 < len(upload_id) <= 64:
        return None
    upload = db.session.get(ImportUpload, upload_id)
    if (
        upload is None
        or upload.user_id != user.id
        or upload.data_source_id != source.id
        or upload.created_at < utcnow() - UPLOAD_MAX_AGE
    ):
        return None
    return upload


def parse_mapping(pairs: Mapping[str, str], metrics: Sequence[str]) -> dict[int, str]:
    """Return a column mapping from {"1": "import", "2": "note", "3": ""} form fields.

    Values that are neither a metric nor "note" mean "ignore the column".
    """
    mapping: dict[int, str] = {}
    for key, value in pairs.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            continue
        if not 0 < index < 1000:
            continue
        if value in metrics:
            mapping[index] = value
        elif value in ("note", NOTE):
            mapping[index] = NOTE
        else:
            mapping[index] = ""
    return mapping


__all__ = [
    "DATE_ORDERS",
    "MAX_IMPORT_BYTES",
    "NOTE",
    "Column",
    "ImportOptions",
    "ImportReport",
    "Problem",
    "Row",
    "decode",
    "get_upload",
    "import_csv",
    "match_column",
    "parse",
    "parse_mapping",
    "preview",
    "save_upload",
]
