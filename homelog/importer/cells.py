"""One cell of a file: dates in the styles homelog reads, and numbers with either decimal mark."""

from __future__ import annotations

import math
import re
from datetime import datetime

from homelog.readings import MAX_ABS_VALUE, MAX_YEAR, MIN_YEAR

#: Two-digit years below this are 20xx, the others 19xx (as POSIX strptime's %y).
SHORT_YEAR_PIVOT = 69

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


def looks_numeric(cell: str) -> bool:
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


def decimal_mark(cell: str) -> str | None:
    """Return the decimal mark a number cell shows ("," or "."), or None when it shows none."""
    if _COMMA_DECIMAL.match(cell) or _POINT_THOUSANDS.match(cell):
        return ","
    if _POINT_DECIMAL.match(cell) or _COMMA_THOUSANDS.match(cell):
        return "."
    return None


def date_style(cell: str):
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


def to_datetime(style: str, parsed, date_order: str) -> datetime:
    """Return the naive or aware datetime a matched date cell stands for (ValueError if none)."""
    if style == "iso":
        return parsed
    if style == "dotted":
        day, month, year = int(parsed[1]), int(parsed[2]), _year(parsed[3])
        return datetime(year, month, day, *_clock(parsed[4], parsed[5], parsed[6]))
    first, second, year = int(parsed[1]), int(parsed[3]), _year(parsed[4])
    month, day = (first, second) if date_order == "mdy" else (second, first)
    return datetime(year, month, day, *_clock(parsed[5], parsed[6], parsed[7], parsed[8]))


def supported(moment: datetime) -> bool:
    """Return True when moment lies in the years homelog stores readings for."""
    return MIN_YEAR <= moment.year <= MAX_YEAR


def number_parser(decimal: str):
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
