"""Parsing a file: a survey of every line, then each line turned into a row or a problem.

The text is read line by line twice: once to count the lines (stopping at MAX_ROWS) and
decide the decimal mark and date order, once to parse them. No database access.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from homelog import timeutil
from homelog.csvsafe import unneutralise
from homelog.i18n import _, format_decimal
from homelog.importer.cells import (
    SHORT_YEAR_PIVOT,
    date_style,
    decimal_mark,
    number_parser,
    supported,
    to_datetime,
)
from homelog.importer.columns import NOTE, assign_columns, value_columns
from homelog.importer.csvfile import Layout, Unreadable, data_lines, read_layout
from homelog.importer.report import ImportOptions, ImportReport, Problem, Row
from homelog.readings import MAX_NOTE_LENGTH, MAX_YEAR, MIN_YEAR

MAX_ROWS = 500_000


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
        Unreadable: the file has more than MAX_ROWS lines, or a line cannot be read.
    """
    survey = _Survey()
    for _line, row in data_lines(text, layout):
        survey.lines += 1
        if survey.lines > MAX_ROWS:
            raise Unreadable(
                _(
                    "The file has more than %(count)s lines; split it up.",
                    count=format_decimal(MAX_ROWS),
                )
            )
        if survey.lines <= 5000:
            _tally_decimal(survey, row, number_columns)
        _tally_date(survey, row[0])
    return survey


def _tally_decimal(survey: _Survey, row: list[str], number_columns: Sequence[int]) -> None:
    for index in number_columns:
        if index < len(row):
            mark = decimal_mark(row[index].strip())
            if mark == ",":
                survey.comma += 1
            elif mark == ".":
                survey.point += 1


def _tally_date(survey: _Survey, cell: str) -> None:
    style, parsed = date_style(cell)
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
            _("Dates with slashes are read as month/day/year, as chosen.")
            if report.date_order == "mdy"
            else _("Dates with slashes are read as day/month/year, as chosen.")
        )
    elif day_first and not month_first:
        report.date_order = "dmy"
        report.notes.append(
            _("Dates with slashes are read as day/month/year (some days are above 12).")
        )
    elif month_first and not day_first:
        report.date_order = "mdy"
        report.notes.append(
            _("Dates with slashes are read as month/day/year (some days are above 12).")
        )
    elif day_first and month_first:
        report.date_order = "dmy" if day_first >= month_first else "mdy"
        counts = {"day_first": day_first, "month_first": month_first}
        report.notes.append(
            _(
                "Dates with slashes contradict each other (%(day_first)s look like day/month, "
                "%(month_first)s like month/day); read as day/month/year. Check the date order.",
                **counts,
            )
            if report.date_order == "dmy"
            else _(
                "Dates with slashes contradict each other (%(day_first)s look like day/month, "
                "%(month_first)s like month/day); read as month/day/year. Check the date order.",
                **counts,
            )
        )
    else:
        report.date_order = "mdy"
        report.notes.append(
            _(
                "Every date with slashes could be month/day or day/month; "
                "read as month/day/year. Choose day/month if that is wrong."
            )
        )


def _describe_reading(survey: _Survey, report: ImportReport, zone: ZoneInfo) -> None:
    """Set the decimal mark and the date formats of the report, with notes in words."""
    report.decimal = "," if survey.comma > survey.point else "."
    if report.decimal == ",":
        report.notes.append(_("Numbers are read with a decimal comma (1234,5)."))
    short = bool(survey.short_years)
    labels = {
        "iso": "ISO 8601",
        "dotted": _("DD.MM.YY") if short else _("DD.MM.YYYY"),
        "slashed": (
            (_("MM/DD/YY") if short else _("MM/DD/YYYY"))
            if report.date_order == "mdy"
            else (_("DD/MM/YY") if short else _("DD/MM/YYYY"))
        ),
    }
    report.date_format = ", ".join(
        labels[s] for s in ("iso", "dotted", "slashed") if s in survey.styles
    )
    if survey.short_years:
        last = SHORT_YEAR_PIVOT - 1
        report.notes.append(
            _(
                "Two-digit years are read as 2000–20%(last)s (00–%(last)s) "
                "and 19%(pivot)s–1999 (%(pivot)s–99).",
                last=f"{last:02d}",
                pivot=f"{SHORT_YEAR_PIVOT:02d}",
            )
        )
    report.notes.append(_("Times without an offset are in %(zone)s.", zone=zone.key))


# ---- Each line -------------------------------------------------------------------------------


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
                line,
                "columns",
                _(
                    "The line has %(fields)s fields, the file %(width)s.",
                    fields=len(row),
                    width=self.width,
                ),
            )
        values = self.values(line, row)
        if isinstance(values, Problem):
            return values
        note = self.note(row)
        if note is not None and len(note) > MAX_NOTE_LENGTH:
            return Problem(
                line,
                "note",
                _("The note is longer than %(limit)s characters.", limit=MAX_NOTE_LENGTH),
            )
        return Row(line, moment, values, note)

    def timestamp(self, line: int, raw: str) -> datetime | Problem:
        cell = raw.strip()[:40]
        style, parsed = date_style(raw)
        if style is None:
            return Problem(line, "date", _("“%(cell)s” is not a date.", cell=cell))
        outside = Problem(
            line,
            "date",
            _(
                "“%(cell)s” is outside the years %(first)s–%(last)s homelog supports.",
                cell=cell,
                first=MIN_YEAR,
                last=MAX_YEAR,
            ),
        )
        try:
            moment = to_datetime(style, parsed, self.date_order)
        except (ValueError, OverflowError):
            return Problem(line, "date", _("“%(cell)s” is not a valid date.", cell=cell))
        if not supported(moment):
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
                    _(
                        "“%(cell)s” does not exist in %(zone)s: the clocks skip that hour.",
                        cell=cell,
                        zone=self.zone.key,
                    ),
                )
        return moment if supported(moment) else outside

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
                bad.append(
                    _("“%(cell)s” (%(metric)s) is not a number", cell=raw[:30], metric=metric)
                )
        if bad:
            return Problem(line, "number", "; ".join(bad) + ".")
        if not values:
            return Problem(line, "empty", _("The line has no values."))
        return values

    def note(self, row: list[str]) -> str | None:
        if self.note_column is None or self.note_column >= len(row):
            return None
        return unneutralise(row[self.note_column].strip()) or None


@dataclass
class Parsed:
    report: ImportReport
    candidates: list[Row]


def parse(
    text: str, metrics: Mapping[str, str], zone: ZoneInfo, options: ImportOptions | None = None
) -> Parsed:
    """Read text as CSV for a source with metrics ({name: unit}); no database access.

    The text is read line by line twice (a survey that counts the lines and decides the
    decimal mark and date order, then the lines themselves); only the rows that parsed and
    the problem lines are kept. Returns the report (layout, columns, notes, problems of single
    lines) and the rows, not yet checked against stored readings.
    """
    options = options or ImportOptions()
    report = ImportReport()
    try:
        layout, survey = _read_shape(text, metrics, options, report)
    except Unreadable as error:
        report.errors.append(str(error))
        return Parsed(report, [])
    if not survey.lines:
        report.errors.append(_("The file has a header but no data lines."))
    _decide_date_order(survey, options, report)
    _describe_reading(survey, report, zone)
    if report.errors:
        return Parsed(report, [])
    reader = _line_reader(layout, metrics, report, zone)
    return Parsed(report, _read_lines(text, layout, reader, report))


def _read_shape(
    text: str, metrics: Mapping[str, str], options: ImportOptions, report: ImportReport
) -> tuple[Layout, _Survey]:
    """Return the file's layout and its survey; the columns are decided into the report.

    Raises:
        Unreadable: the file as a whole cannot be read.
    """
    layout = read_layout(text)
    report.separator, report.has_header = layout.separator, layout.has_header
    assign_columns(layout, metrics, options, report)
    number_columns = [index for index, _ in value_columns(report, metrics)] or [
        c.index for c in report.columns if c.target is None
    ]
    return layout, _survey(text, layout, number_columns)


def _line_reader(
    layout: Layout, metrics: Mapping[str, str], report: ImportReport, zone: ZoneInfo
) -> _LineReader:
    """Return the reader of each data line, as the survey and the columns decided."""
    return _LineReader(
        zone,
        report.date_order or "mdy",
        layout.width,
        value_columns(report, metrics),
        next((c.index for c in report.columns if c.target == NOTE), None),
        number_parser(report.decimal),
    )


def _read_lines(text: str, layout: Layout, reader: _LineReader, report: ImportReport) -> list[Row]:
    """Return the rows of every data line that parses; the others go into the report."""
    candidates: list[Row] = []
    for line, row in data_lines(text, layout):
        report.lines += 1
        outcome = reader.read(line, row)
        if isinstance(outcome, Problem):
            report.add(outcome)
        else:
            candidates.append(outcome)
    report.settle()
    return candidates
