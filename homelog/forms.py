"""Form fields, validators and the form base shared by every HTML blueprint."""

from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from homelog import i18n, timeutil
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _l


def input_number(text: str) -> str:
    """Return a number written for an edit form ("1234.5") with the reader's decimal mark.

    No thousands marks: "1234,5" in German reads back through parse_number unchanged.
    """
    return text.replace(".", i18n.decimal_symbol()) if text else text


class TimezoneField(StringField):
    """A text input backed by a datalist of IANA names; only known names are accepted."""

    def pre_validate(self, form) -> None:
        self.data = (self.data or "").strip()
        if not timeutil.is_valid_timezone(self.data):
            raise ValidationError(_l("Choose a timezone from the list, like Europe/Berlin."))


def strip_filter(value):
    """Trim surrounding whitespace from text input."""
    return value.strip() if isinstance(value, str) else value


class DomainForm(FlaskForm):
    """A form that shows a domain function's ValidationFailed messages beside its fields.

    The domain keys its messages by field: a field's name ("name"), or a path for a value
    per metric ("old_final.import": the field old_final_<index of import>). field_for finds
    the field of a key; messages without one go to other_errors, which the template shows
    above the fields they concern.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.other_errors: list[str] = []

    def field_for(self, key: str) -> Field | None:
        """Return the field a domain message with key belongs beside (None: no field)."""
        if key in self._fields:
            return self._fields[key]
        group, _, metric = key.partition(".")
        names = getattr(self, "_metric_names", [])
        if metric in names:
            return self._fields.get(f"{group}_{names.index(metric)}")
        return None

    def apply_errors(self, error: ValidationFailed) -> None:
        """Put each of error's messages beside its field, or in other_errors."""
        for key, messages in error.errors.items():
            field = self.field_for(key)
            if field is not None:
                field.errors = list(field.errors) + messages
            else:
                self.other_errors.extend(messages)

    def saved(self, save: Callable[[], object]) -> bool:
        """Validate the posted form and run save(); False when the form now shows why not.

        A ValidationFailed from save rolls the session back and puts its messages beside
        the fields (apply_errors).
        """
        if not self.validate_on_submit():
            return False
        try:
            save()
        except ValidationFailed as error:
            db.session.rollback()
            self.apply_errors(error)
            return False
        return True
