"""Reading the file: its text, its lines and records, and its layout from the first lines."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from homelog.csvsafe import unneutralise
from homelog.errors import ValidationFailed
from homelog.i18n import _, _l, format_decimal
from homelog.importer.cells import date_style

MAX_IMPORT_BYTES = 16 * 1024 * 1024
TOO_LARGE = _l("The file is larger than %(size)s MB.", size=MAX_IMPORT_BYTES // (1024 * 1024))
NOT_TEXT = _l("This is not a text (CSV) file: it holds NUL characters.")

_LINE_END = re.compile(r"\r\n|\r|\n")


class Unreadable(Exception):
    """The file as a whole cannot be read; the message says why, in words for the user."""


def decode(data: bytes) -> str:
    """Return an uploaded file as text: UTF-8 (with or without BOM), else Windows-1252.

    Raises:
        ValidationFailed: the file is too large or binary.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": [str(TOO_LARGE)]})
    if b"\x00" in data:
        raise ValidationFailed({"file": [str(NOT_TEXT)]})
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
        Unreadable: a line cannot be read as CSV (a field over the csv module's limit).
    """
    reader = csv.reader(_lines(text), delimiter=separator)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field limit" in str(error):
                raise Unreadable(
                    _(
                        "Line %(line)s has a field longer than %(limit)s characters: "
                        "this is not a file of readings.",
                        line=reader.line_num,
                        limit=format_decimal(csv.field_size_limit()),
                    )
                ) from None
            raise Unreadable(
                _(
                    "Line %(line)s cannot be read as CSV (%(error)s).",
                    line=reader.line_num,
                    error=error,
                )
            ) from None
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


def header_key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").split()).casefold()


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
        words = "\x1f".join(header_key(cell) for cell in self.header)
        return hashlib.sha256(words.encode()).hexdigest()


def read_layout(text: str) -> Layout:
    """Return the layout of text, reading only its first lines.

    Raises:
        Unreadable: the file is empty or a first line cannot be read.
    """
    first_lines = list(islice((line for line in _lines(text) if line.strip()), 50))
    if not first_lines:
        raise Unreadable(_("The file is empty."))
    separator = _sniff_separator(first_lines[:20])
    records = _records(text, separator)
    first = next(records, None)
    if first is None:
        raise Unreadable(_("The file has no line with anything in it but separators and blanks."))
    row = first[1]
    has_header = date_style(row[0])[0] is None
    sample = [fields for _, fields in islice(records, 20)]
    if not has_header:
        sample.insert(0, row)
    headings = [unneutralise(cell) for cell in row] if has_header else []
    return Layout(separator, has_header, headings, max(len(row), 2), sample)


def data_lines(text: str, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """Yield the data lines of text (the header left out)."""
    records = _records(text, layout.separator)
    if layout.has_header:
        next(records, None)
    return records
