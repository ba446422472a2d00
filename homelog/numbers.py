"""Numbers as people type them: decimal point or comma, spaces between digit groups.

Pure (no Flask, no database): readings, the API and the CSV import parse text numbers with
the same rule, whichever face the text came through.
"""

from __future__ import annotations

import math

MAX_NUMBER_LENGTH = 30


def parse_number(text: str) -> float:
    """Parse a number typed by a person: decimal point or comma, spaces allowed.

    Raises:
        ValueError: with a message fit to show the user.
    """
    text = (text or "").strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not text:
        raise ValueError("Enter a number.")
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError("That number is too long.")
    if "," in text:
        if "." in text or text.count(",") > 1:
            raise ValueError("Use one decimal separator, like 1234.5 or 1234,5.")
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Enter a number, like 1234.5.") from None
    if not math.isfinite(value):
        raise ValueError("Enter a finite number.")
    return value
