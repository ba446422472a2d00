"""CSV import of readings: parse, preview every problem line, then store all valid rows at once.

Free of request objects: the source page, the JSON API and the CLI call the same functions.

The layout a file may have:
- the first column is the date and time; every further column one metric (matched to the
  source's metric names case-insensitively, units in headers like "import (kWh)" tolerated)
  or the reading's note (a column headed "note"); columns can be mapped by hand instead;
- separator `,` `;` or tab (sniffed), decimal point or comma (decided for the whole file);
- dates as ISO 8601 (an offset is honoured), `DD.MM.YYYY HH:MM`, or `MM/DD/YYYY HH:MM`
  (`DD/MM/YYYY` when the file shows that order; the whole file decides, and the report says
  which order was taken); two-digit years too. A time without offset is in the source's
  timezone.

The text is never split into a list of lines: it is read line by line, once to count the
lines (stopping at MAX_ROWS) and decide the decimal mark and date order, once to parse them.

`preview` reports what would be imported and each problem line with its number and reason;
`import_csv` does the same and stores every valid row in one transaction (all or nothing),
with one bulk INSERT and its change-feed entries. Duplicates of stored readings (same source,
time and values) are recognised, so importing a file twice adds nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update

from homelog import bulk, changes, timeutil
from homelog.csvsafe import unneutralise
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import (
    DataSource,
    ImportLayout,
    ImportUpload,
    MeterEvent,
    Reading,
    User,
    utcnow,
    uuid7,
)
from homelog.readings import MAX_ABS_VALUE, MAX_NOTE_LENGTH, MAX_YEAR, MIN_YEAR
from homelog.usage.meter import is_rollover, register_sizes
from homelog.usage_db.inputs import source_zone

#: Column target of the reading's note.
NOTE = "__note__"
NOTE_HEADERS = ("note", "notes", "reading note", "comment")
MAX_IMPORT_BYTES = 16 * 1024 * 1024
MAX_ROWS = 500_000
#: Problem lines a report lists (the first ones by line); the rest are counted.
MAX_LISTED_PROBLEMS = 1000
#: Characters of uploads a person may keep waiting for confirmation (over every source); a
#: new upload deletes their oldest waiting ones beyond it.
UPLOAD_QUOTA = 2 * MAX_IMPORT_BYTES
UPLOAD_MAX_AGE = timedelta(days=1)
#: Rows written per INSERT batch, so an import never holds every row's parameters at once.
INSERT_BATCH = 5000
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
DATE_ORDERS = ("auto", "mdy", "dmy")
#: Two-digit years below this are 20xx, the others 19xx (as POSIX strptime's %y).
SHORT_YEAR_PIVOT = 69
TOO_LARGE = f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB."
NOT_TEXT = "This is not a text (CSV) file: it holds NUL characters."

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as secrets.token_urlsafe makes them
_LINE_END = re.compile(r"\r\n|\r|\n")
_DOTTED = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"
)
_SLASHED = re.compile(
    r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?$"
)
_UNIT_SUFFIX = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
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
    stored: bool = False  # the same reading is stored already: nothing to fix


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
    problems: list[Problem] = field(default_factory=list)  # the first MAX_LISTED_PROBLEMS
    created: int | None = None  # set once imported
    dry_run: bool = True
    already_stored: int = 0  # lines whose reading is stored already (same time and values)
    remembered: bool = False  # the columns were mapped as for the last file of this layout
    _counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _skipped: int = 0
    _found: list[Problem] = field(default_factory=list)  # listed problems of this step

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
        return self._skipped

    @property
    def problem_total(self) -> int:
        """Return how many problem lines there are, listed or not."""
        return sum(self._counts.values())

    @property
    def problems_left_out(self) -> int:
        """Return how many problem lines are counted but not listed."""
        return self.problem_total - len(self.problems)

    @property
    def nothing_new(self) -> bool:
        """Return True when every line of a readable file is stored already."""
        return self.ok and self.lines > 0 and self.already_stored == self.lines

    def add(self, problem: Problem) -> None:
        """Count a problem line, and list it among the first ones."""
        self._counts[problem.code] += 1
        self._skipped += problem.skipped
        if len(self._found) < MAX_LISTED_PROBLEMS:
            self._found.append(problem)

    def settle(self) -> None:
        """Merge the problems listed since the last call into the list, in line order."""
        merged = sorted(self.problems + self._found, key=lambda problem: problem.line)
        self.problems = merged[:MAX_LISTED_PROBLEMS]
        self._found = []

    def counts(self) -> dict[str, int]:
        """Return how many problem lines there are per code."""
        return dict(self._counts)

    @property
    def separator_name(self) -> str:
        """Return the separator as a word."""
        return SEPARATORS.get(self.separator, self.separator)


# ---- Reading the file ------------------------------------------------------------------------


class _Unreadable(Exception):
    """The file as a whole cannot be read; the message says why, in words for the user."""


def decode(data: bytes) -> str:
    """Return an uploaded file as text: UTF-8 (with or without BOM), else Windows-1252.

    Raises:
        ValidationFailed: the file is too large or binary.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": [TOO_LARGE]})
    if b"\x00" in data:
        raise ValidationFailed({"file": [NOT_TEXT]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def check_text(text: str) -> str:
    """Return pasted text if it can be a CSV file.

    Raises:
        ValidationFailed: the text is too large or holds NUL characters.
    """
    if len(text) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": [TOO_LARGE]})
    if "\x00" in text:
        raise ValidationFailed({"file": [NOT_TEXT]})
    return text


def _lines(text: str) -> Iterator[str]:
    """Yield the lines of text without their ends, one at a time (no list of every line)."""
    start = 0
    for end in _LINE_END.finditer(text):
        yield text[start : end.start()]
        start = end.end()
    if start < len(text):
        yield text[start:]


def _records(text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of each line that holds anything but blanks.

    Raises:
        _Unreadable: a line cannot be read as CSV (a field over the csv module's limit).
    """
    reader = csv.reader(_lines(text), delimiter=separator)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field limit" in str(error):
                raise _Unreadable(
                    f"Line {reader.line_num} has a field longer than "
                    f"{csv.field_size_limit():,} characters: this is not a file of readings."
                ) from None
            raise _Unreadable(f"Line {reader.line_num} cannot be read as CSV ({error}).") from None
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _sniff_separator(lines: Sequence[str]) -> str:
    """Return the separator that splits the first lines into the same number of fields."""
    best, best_score = ",", -1
    for candidate in ("\t", ";", ","):
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        except csv.Error:
            continue
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


@dataclass(slots=True)
class Layout:
    """The shape of a file, from its first lines: separator, header and number of columns."""

    separator: str
    has_header: bool
    header: list[str]
    width: int
    sample: list[list[str]]  # the first data lines, split

    @property
    def key(self) -> str:
        """Return a fingerprint of the column headings (the file's width without a header)."""
        if not self.has_header:
            return f"{self.width} columns without a header"
        words = "\x1f".join(_header_key(cell) for cell in self.header)
        return hashlib.sha256(words.encode()).hexdigest()


def read_layout(text: str) -> Layout:
    """Return the layout of text, reading only its first lines.

    Raises:
        _Unreadable: the file is empty or a first line cannot be read.
    """
    first_lines = list(islice((line for line in _lines(text) if line.strip()), 50))
    if not first_lines:
        raise _Unreadable("The file is empty.")
    separator = _sniff_separator(first_lines[:20])
    records = _records(text, separator)
    first = next(records, None)
    if first is None:
        raise _Unreadable("The file has no line with anything in it but separators and blanks.")
    row = first[1]
    has_header = _date_style(row[0])[0] is None
    sample = [fields for _, fields in islice(records, 20)]
    if not has_header:
        sample.insert(0, row)
    headings = [unneutralise(cell) for cell in row] if has_header else []
    return Layout(separator, has_header, headings, max(len(row), 2), sample)


def _data(text: str, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """Yield the data lines of text (the header left out)."""
    records = _records(text, layout.separator)
    if layout.has_header:
        next(records, None)
    return records


# ---- Columns ---------------------------------------------------------------------------------


def _looks_numeric(cell: str) -> bool:
    text = cell.strip().replace(" ", "").replace("\u00a0", "")
    return bool(
        text
        and (
            _NUMBER.match(text)
            or _COMMA_DECIMAL.match(text)
            or _POINT_THOUSANDS.match(text)
            or _COMMA_THOUSANDS.match(text)
        )
    )


def _column_target(
    index: int, title: str, layout: Layout, metrics: Mapping[str, str], options: ImportOptions
) -> str | None:
    """Return what column index holds: the user's mapping, else the header, else the order."""
    if index in options.mapping:
        chosen = options.mapping[index]
        return chosen if chosen in metrics or chosen == NOTE else None
    if layout.has_header:
        return match_column(title, metrics)
    names = list(metrics)
    return names[index - 1] if index - 1 < len(names) else None


def _only_number_column(layout: Layout, columns: list[Column]) -> Column | None:
    """Return the one unassigned column whose first cells are all numbers, if there is one."""
    numeric = []
    for column in columns:
        if column.target is not None:
            continue
        cells = [
            row[column.index].strip()
            for row in layout.sample
            if column.index < len(row) and row[column.index].strip()
        ]
        if cells and all(_looks_numeric(cell) for cell in cells):
            numeric.append(column)
    return numeric[0] if len(numeric) == 1 else None


def _columns(
    layout: Layout, metrics: Mapping[str, str], options: ImportOptions, report: ImportReport
) -> None:
    """Decide what each column holds and say so (or what is wrong) in the report."""
    for index in range(1, layout.width):
        title = layout.header[index].strip() if index < len(layout.header) else ""
        target = _column_target(index, title, layout, metrics, options)
        report.columns.append(Column(index, title or f"column {index + 1}", target))
    if len(metrics) == 1 and not options.mapping and not _value_columns(report, metrics):
        # One metric and one column of numbers: no need to ask which is which.
        only = _only_number_column(layout, report.columns)
        if only is not None:
            only.target = next(iter(metrics))
            report.notes.append(
                f"Column “{only.header}” is read as “{only.target}”, "
                "the source's only metric (its one column of numbers)."
            )
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
    if not _value_columns(report, metrics):
        report.errors.append(
            "No column matches a metric of this source ("
            + ", ".join(f"“{name}”" for name in metrics)
            + "). Choose which column holds which metric."
        )
    if not layout.has_header:
        report.notes.append(
            "The file has no header line: columns are taken in the order of the source's metrics."
        )
    ignored = [c.header for c in report.columns if c.target is None]
    if ignored and _value_columns(report, metrics):
        report.notes.append("Ignored columns: " + ", ".join(f"“{h}”" for h in ignored) + ".")


def _value_columns(report: ImportReport, metrics: Mapping[str, str]) -> list[tuple[int, str]]:
    return [(c.index, c.target) for c in report.columns if c.target in metrics]


# ---- A first pass over every line: count them, decide the decimal mark and the date order ------


@dataclass(slots=True)
class _Survey:
    lines: int = 0
    comma: int = 0
    point: int = 0
    day_first: int = 0
    month_first: int = 0
    short_years: int = 0
    styles: set[str] = field(default_factory=set)


def _survey(text: str, layout: Layout, number_columns: Sequence[int]) -> _Survey:
    """Read every data line once without keeping it, stopping at MAX_ROWS.

    Raises:
        _Unreadable: the file has more than MAX_ROWS lines, or a line cannot be read.
    """
    survey = _Survey()
    for _, row in _data(text, layout):
        survey.lines += 1
        if survey.lines > MAX_ROWS:
            raise _Unreadable(f"The file has more than {MAX_ROWS:,} lines; split it up.")
        if survey.lines <= 5000:
            _tally_decimal(survey, row, number_columns)
        _tally_date(survey, row[0])
    return survey


def _tally_decimal(survey: _Survey, row: list[str], number_columns: Sequence[int]) -> None:
    for index in number_columns:
        if index < len(row):
            cell = row[index].strip()
            if _COMMA_DECIMAL.match(cell) or _POINT_THOUSANDS.match(cell):
                survey.comma += 1
            elif _POINT_DECIMAL.match(cell) or _COMMA_THOUSANDS.match(cell):
                survey.point += 1


def _tally_date(survey: _Survey, cell: str) -> None:
    style, parsed = _date_style(cell)
    if style is None:
        return
    survey.styles.add(style)
    if style == "slashed":
        first, second = int(parsed[1]), int(parsed[3])
        if first > 12 >= second:
            survey.day_first += 1
        elif second > 12 >= first:
            survey.month_first += 1
        if len(parsed[4]) == 2:
            survey.short_years += 1
    elif style == "dotted" and len(parsed[3]) == 2:
        survey.short_years += 1


def _decide_date_order(survey: _Survey, options: ImportOptions, report: ImportReport) -> None:
    """Set the order of dates written with slashes, by the user's choice or the whole file."""
    if "slashed" not in survey.styles:
        return
    day_first, month_first = survey.day_first, survey.month_first
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


def _describe_reading(survey: _Survey, report: ImportReport, zone: ZoneInfo) -> None:
    """Set the decimal mark and the date formats of the report, with notes in words."""
    report.decimal = "," if survey.comma > survey.point else "."
    if report.decimal == ",":
        report.notes.append("Numbers are read with a decimal comma (1234,5).")
    year = "YY" if survey.short_years else "YYYY"
    labels = {
        "iso": "ISO 8601",
        "dotted": f"DD.MM.{year}",
        "slashed": f"MM/DD/{year}" if report.date_order == "mdy" else f"DD/MM/{year}",
    }
    report.date_format = ", ".join(
        labels[s] for s in ("iso", "dotted", "slashed") if s in survey.styles
    )
    if survey.short_years:
        last = SHORT_YEAR_PIVOT - 1
        report.notes.append(
            f"Two-digit years are read as 2000–20{last:02d} (00–{last:02d}) "
            f"and 19{SHORT_YEAR_PIVOT:02d}–1999 ({SHORT_YEAR_PIVOT:02d}–99)."
        )
    report.notes.append(f"Times without an offset are in {zone.key}.")


# ---- Each line -------------------------------------------------------------------------------


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


def _year(text: str) -> int:
    """Return a year written with four digits, or two (00-68 are 2000-2068, 69-99 1969-1999)."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < SHORT_YEAR_PIVOT else 1900
    return year


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
        day, month, year = int(parsed[1]), int(parsed[2]), _year(parsed[3])
        return datetime(year, month, day, *_clock(parsed[4], parsed[5], parsed[6]))
    first, second, year = int(parsed[1]), int(parsed[3]), _year(parsed[4])
    month, day = (first, second) if date_order == "mdy" else (second, first)
    return datetime(year, month, day, *_clock(parsed[5], parsed[6], parsed[7], parsed[8]))


def _supported(moment: datetime) -> bool:
    """Return True when moment lies in the years homelog stores readings for."""
    return MIN_YEAR <= moment.year <= MAX_YEAR


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


@dataclass(slots=True)
class _LineReader:
    """Turns one data line into a Row, or a Problem saying why it is left out."""

    zone: ZoneInfo
    date_order: str
    width: int
    value_columns: list[tuple[int, str]]
    note_column: int | None
    number: Callable[[str], float]

    def read(self, line: int, row: list[str]) -> Row | Problem:
        moment = self.timestamp(line, row[0])
        if isinstance(moment, Problem):
            return moment
        if len(row) > self.width:
            return Problem(
                line, "columns", f"The line has {len(row)} fields, the file {self.width}."
            )
        values = self.values(line, row)
        if isinstance(values, Problem):
            return values
        note = self.note(row)
        if note is not None and len(note) > MAX_NOTE_LENGTH:
            return Problem(line, "note", f"The note is longer than {MAX_NOTE_LENGTH} characters.")
        return Row(line, moment, values, note)

    def timestamp(self, line: int, raw: str) -> datetime | Problem:
        cell = raw.strip()[:40]
        style, parsed = _date_style(raw)
        if style is None:
            return Problem(line, "date", f"“{cell}” is not a date.")
        outside = Problem(
            line, "date", f"“{cell}” is outside the years {MIN_YEAR}–{MAX_YEAR} homelog supports."
        )
        try:
            moment = _to_datetime(style, parsed, self.date_order)
        except (ValueError, OverflowError):
            return Problem(line, "date", f"“{cell}” is not a valid date.")
        if not _supported(moment):
            return outside
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(UTC)
            except OverflowError:
                return outside
        else:
            try:
                moment = timeutil.localize(moment, self.zone)
            except OverflowError:
                return outside
            except ValueError:
                return Problem(
                    line,
                    "date",
                    f"“{cell}” does not exist in {self.zone.key}: the clocks skip that hour.",
                )
        return moment if _supported(moment) else outside

    def values(self, line: int, row: list[str]) -> dict[str, float] | Problem:
        values: dict[str, float] = {}
        bad: list[str] = []
        for index, metric in self.value_columns:
            raw = row[index].strip() if index < len(row) else ""
            if not raw:
                continue
            try:
                values[metric] = self.number(raw)
            except (ValueError, OverflowError):
                bad.append(f"“{raw[:30]}” ({metric}) is not a number")
        if bad:
            return Problem(line, "number", "; ".join(bad) + ".")
        if not values:
            return Problem(line, "empty", "The line has no values.")
        return values

    def note(self, row: list[str]) -> str | None:
        if self.note_column is None or self.note_column >= len(row):
            return None
        return unneutralise(row[self.note_column].strip()) or None


@dataclass
class _Parsed:
    report: ImportReport
    candidates: list[Row]


def parse(
    text: str, metrics: Mapping[str, str], zone: ZoneInfo, options: ImportOptions | None = None
) -> _Parsed:
    """Read text as CSV for a source with metrics ({name: unit}); no database access.

    The text is read line by line twice (a survey that counts the lines and decides the
    decimal mark and date order, then the lines themselves); only the rows that parsed and
    the problem lines are kept. Returns the report (layout, columns, notes, problems of single
    lines) and the rows, not yet checked against stored readings.
    """
    options = options or ImportOptions()
    report = ImportReport()
    try:
        layout = read_layout(text)
        report.separator, report.has_header = layout.separator, layout.has_header
        _columns(layout, metrics, options, report)
        value_columns = _value_columns(report, metrics)
        number_columns = [i for i, _ in value_columns] or [
            c.index for c in report.columns if c.target is None
        ]
        survey = _survey(text, layout, number_columns)
    except _Unreadable as error:
        report.errors.append(str(error))
        return _Parsed(report, [])
    if not survey.lines:
        report.errors.append("The file has a header but no data lines.")
    _decide_date_order(survey, options, report)
    _describe_reading(survey, report, zone)
    if report.errors:
        return _Parsed(report, [])
    reader = _LineReader(
        zone,
        report.date_order or "mdy",
        layout.width,
        value_columns,
        next((c.index for c in report.columns if c.target == NOTE), None),
        _number_parser(report.decimal),
    )
    candidates: list[Row] = []
    for line, row in _data(text, layout):
        report.lines += 1
        outcome = reader.read(line, row)
        if isinstance(outcome, Problem):
            report.add(outcome)
        else:
            candidates.append(outcome)
    report.settle()
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
                report.already_stored += 1
                report.add(
                    Problem(
                        row.line,
                        "duplicate",
                        "Already stored (same time and values).",
                        stored=True,
                    )
                )
            else:
                report.add(
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
                report.add(Problem(row.line, "duplicate", f"Repeats line {twin.line}."))
            else:
                report.add(
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
    report.settle()


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
                report.add(
                    Problem(row.line, "lower", f"Lower than the previous meter value ({what}).")
                )
                continue
            row.confirmed = True
            report.add(
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


def _recalled(source: DataSource, text: str, options: ImportOptions) -> tuple[ImportOptions, bool]:
    """Return options with the columns chosen for the last file of text's layout, if any.

    Only when no column was mapped in options: a mapping sent with the request wins.
    """
    if options.mapping:
        return options, False
    try:
        key = read_layout(text).key
    except _Unreadable:
        return options, False
    layout = db.session.scalar(
        select(ImportLayout).where(
            ImportLayout.data_source_id == source.id, ImportLayout.key == key
        )
    )
    if layout is None:
        return options, False
    mapping = parse_mapping(layout.mapping or {}, source.metric_names)
    order = options.date_order
    if order == "auto" and layout.date_order in DATE_ORDERS:
        order = layout.date_order
    return ImportOptions(mapping=mapping, date_order=order, accept_lower=options.accept_lower), True


def _remember(source: DataSource, text: str, options: ImportOptions, report: ImportReport) -> None:
    """Keep the columns chosen by hand for this source and the file's layout (not committed).

    Columns the headings match by themselves need no memory: a kept choice is then dropped.
    """
    layout = read_layout(text)
    targets = [c.target for c in report.columns]
    found = ImportReport()
    _columns(layout, source.metrics, ImportOptions(), found)
    by_hand = targets != [c.target for c in found.columns] or options.date_order != "auto"
    kept = db.session.scalar(
        select(ImportLayout).where(
            ImportLayout.data_source_id == source.id, ImportLayout.key == layout.key
        )
    )
    if not by_hand:
        if kept is not None:
            db.session.delete(kept)
        return
    if kept is None:
        kept = ImportLayout(data_source_id=source.id, key=layout.key)
        db.session.add(kept)
    kept.mapping = {
        str(c.index): "note" if c.target == NOTE else (c.target or "") for c in report.columns
    }
    kept.date_order = options.date_order if options.date_order != "auto" else None
    kept.updated_at = utcnow()


def preview(source: DataSource, text: str, options: ImportOptions | None = None) -> ImportReport:
    """Return what importing text into source would do; nothing is written.

    Without a column mapping in options, the columns chosen for the last file with the same
    headings (kept by import_csv) are used.
    """
    options, remembered = _recalled(source, text, options or ImportOptions())
    parsed = parse(text, source.metrics, source_zone(source), options)
    report = parsed.report
    if remembered:
        report.remembered = True
        report.notes.insert(0, "Columns as you chose them for the last file with these headings.")
    if report.ok:
        _check_against_stored(source, parsed, options)
    return report


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
    _remember(source, text, options, report)
    if upload is not None:
        db.session.delete(upload)
    db.session.commit()
    report.created = len(report.rows)
    bulk.refresh_statistics(db.engine, Reading.__table__, report.created)
    return report


# ---- Uploads between preview and confirmation -------------------------------------------------


def save_upload(user: User, source: DataSource, text: str, filename: str = "") -> ImportUpload:
    """Keep text for user's import into source and commit; return it (its id is secret).

    Deletes user's uploads older than UPLOAD_MAX_AGE, and their oldest ones beyond
    UPLOAD_QUOTA characters with this one.
    """
    db.session.execute(
        delete(ImportUpload).where(
            ImportUpload.user_id == user.id, ImportUpload.created_at < utcnow() - UPLOAD_MAX_AGE
        )
    )
    kept = len(text)
    waiting = db.session.execute(
        select(ImportUpload.id, ImportUpload.size)
        .where(ImportUpload.user_id == user.id)
        .order_by(ImportUpload.created_at.desc(), ImportUpload.id)
    ).all()
    over = []
    for upload_id, size in waiting:
        kept += size
        if kept > UPLOAD_QUOTA:
            over.append(upload_id)
    if over:
        db.session.execute(delete(ImportUpload).where(ImportUpload.id.in_(over)))
    upload = ImportUpload(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        data_source_id=source.id,
        filename="".join(ch for ch in filename or "" if ch.isprintable())[:255],
        content=text,
        size=len(text),
    )
    db.session.add(upload)
    db.session.commit()
    return upload


def get_upload(user: User, source: DataSource, upload_id: object) -> ImportUpload | None:
    """Return user's upload for source with upload_id, or None (expired, or not theirs)."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
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


def discard_upload(upload: ImportUpload) -> None:
    """Delete an upload the person cancelled, and commit."""
    db.session.delete(upload)
    db.session.commit()


def uploads_size(user: User) -> int:
    """Return the characters of user's uploads waiting for confirmation."""
    return db.session.scalar(
        select(func.coalesce(func.sum(ImportUpload.size), 0)).where(ImportUpload.user_id == user.id)
    )


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
