"""Numbers as people type them: decimal point or comma, spaces between digit groups.

Pure (no Flask, no database): readings, the API and the CSV import parse text numbers with
the same rule, whichever face the text came through.
"""

from __future__ import annotations

import math
import re

from homelog.i18n import _

MAX_NUMBER_LENGTH = 30


def parse_number(text: str) -> float:
    """Parse a number typed by a person: decimal point or comma, spaces allowed.

    Thousands may be grouped the English or the German way ("1,234.5", "1.234,5"): with
    both marks, the last is the decimal separator. A single comma or point is always the
    decimal separator ("1,5" and "1.5" are one and a half); several of the same mark group
    thousands ("1.234.567").

    Raises:
        ValueError: with a message fit to show the user.
    """
    text = (text or "").strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not text:
        raise ValueError(_("Enter a number."))
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError(_("That number is too long."))
    text = _without_grouping(text)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(_("Enter a number, like 1234.5.")) from None
    if not math.isfinite(value):
        raise ValueError(_("Enter a finite number."))
    return value


_GROUPED = {
    mark: re.compile(rf"[+-]?\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+(?:[{re.escape(point)}]\d+)?")
    for mark, point in ((",", "."), (".", ","))
}


def _without_grouping(text: str) -> str:
    """Return text with its thousands marks dropped and a decimal point.

    Raises:
        ValueError: the marks are mixed in a way that is not a number.
    """
    commas, points = text.count(","), text.count(".")
    if commas + points <= 1:
        return text.replace(",", ".")
    if commas and points:
        group = "," if text.rfind(",") < text.rfind(".") else "."
    elif commas > 1:
        group = ","
    else:
        group = "."
    if not _GROUPED[group].fullmatch(text):
        raise ValueError(_("Use one decimal separator, like 1234.5 or 1234,5."))
    point = "." if group == "," else ","
    return text.replace(group, "").replace(point, ".")
