"""Form of a source's reading reminder."""

from __future__ import annotations

from wtforms import Field, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from homelog.forms import DomainForm
from homelog.i18n import _l
from homelog.reminders import WEEKDAYS


class ReminderForm(DomainForm):
    """How often the source should be read."""

    every = SelectField(
        _l("Remind me"),
        choices=[
            SelectChoice("", _l("Never")),
            SelectChoice("day", _l("Every day")),
            SelectChoice("week", _l("Every week")),
            SelectChoice("month", _l("Every month")),
        ],
        validate_choice=False,
    )
    weekday = SelectField(
        _l("On"),
        choices=[SelectChoice(str(i), name) for i, name in enumerate(WEEKDAYS)],
        default="0",
        validate_choice=False,
    )
    month_day = IntegerField(_l("On day"), validators=[Optional()], default=1)

    def day(self) -> object:
        """Return the day that goes with the chosen frequency."""
        return self.weekday.data if self.every.data == "week" else self.month_day.data

    def field_for(self, key: str) -> Field | None:
        """Return the field of key: "every", or the day field of the chosen frequency."""
        if key == "every":
            return self.every
        return self.weekday if self.every.data == "week" else self.month_day
