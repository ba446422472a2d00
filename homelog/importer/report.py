"""What a preview and an import report: rows to import, problem lines, how the file was read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from homelog.i18n import _l

#: Problem lines a report lists (the first ones by line); the rest are counted.
MAX_LISTED_PROBLEMS = 1000
SEPARATORS = {",": _l("comma"), ";": _l("semicolon"), "\t": _l("tab")}
DATE_ORDERS = ("auto", "mdy", "dmy")


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
        return str(SEPARATORS.get(self.separator, self.separator))
