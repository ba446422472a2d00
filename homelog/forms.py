"""Form fields and validators shared by every HTML blueprint."""

from __future__ import annotations

import math

from wtforms import StringField
from wtforms.validators import ValidationError

from homelog import timeutil
from homelog.i18n import _l

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


class TimezoneField(StringField):
    """A text input backed by a datalist of IANA names; only known names are accepted."""

    def pre_validate(self, form) -> None:
        self.data = (self.data or "").strip()
        if not timeutil.is_valid_timezone(self.data):
            raise ValidationError(_l("Choose a timezone from the list, like Europe/Berlin."))


def strip_filter(value):
    """Trim surrounding whitespace from text input."""
    return value.strip() if isinstance(value, str) else value
