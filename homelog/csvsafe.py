"""CSV cells that are safe to open in a spreadsheet, and the text they came from.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (OWASP: CSV injection), so every CSV homelog writes puts a `'` before such a cell of
text; numbers are left alone, so a negative value stays a number. The CSV import takes the
quote off again, so an exported file imports as the text that was typed. Kept apart from
homelog.export and homelog.importer because both use it.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def _needs_quote(text: str) -> bool:
    """Return True when text, after any quotes that lead it, starts like a formula.

    Counting the leading quotes makes the quote reversible: a typed "'=x" is written "''=x".
    """
    bare = text.lstrip("'")
    return bare[:1] in FORMULA_STARTS and _NUMBER.fullmatch(bare) is None


def neutralise(cell: str) -> str:
    """Return a CSV cell a spreadsheet shows as text: a quote before a formula's start."""
    return "'" + cell if _needs_quote(cell) else cell


def unneutralise(text: str) -> str:
    """Return the text neutralise was given for a cell it wrote (other text unchanged)."""
    return text[1:] if text[:1] == "'" and _needs_quote(text[1:]) else text
