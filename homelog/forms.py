"""Form fields and validators shared by every HTML blueprint."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import ValidationError

from homelog import timeutil


class TimezoneField(StringField):
    """A text input backed by a datalist of IANA names; only known names are accepted."""

    def pre_validate(self, form) -> None:
        self.data = (self.data or "").strip()
        if not timeutil.is_valid_timezone(self.data):
            raise ValidationError("Choose a timezone from the list, like Europe/Berlin.")


def strip_filter(value):
    """Trim surrounding whitespace from text input."""
    return value.strip() if isinstance(value, str) else value
