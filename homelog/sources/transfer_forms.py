"""Forms of the import/export page: a CSV to preview and import, and a range to export."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from homelog import importer, timeutil
from homelog.errors import ValidationFailed
from homelog.i18n import _, _l


class ImportForm(FlaskForm):
    """A CSV file or pasted text; on later rounds the kept upload and the user's choices."""

    file = FileField(_l("CSV file"))
    text = TextAreaField(_l("…or paste the lines"))
    upload = HiddenField()
    date_order = RadioField(
        _l("Dates with slashes are"),
        default="auto",
        choices=[
            SelectChoice("auto", _l("Decide by the file")),
            SelectChoice("mdy", _l("month/day/year")),
            SelectChoice("dmy", _l("day/month/year")),
        ],
        validate_choice=False,
    )
    accept_lower = BooleanField(
        _l(
            "Also import meter values lower than the one before "
            "(a register that wrapped round, a correction): they are "
            "marked confirmed. Record a replaced meter as a swap first"
        )
    )

    def content(self) -> tuple[str, str]:
        """Return (text, file name) of what was sent: the file, else the pasted text.

        Raises:
            ValidationFailed: nothing was sent, or it is not text (binary, NUL characters).
        """
        storage = self.file.data
        if storage is not None and getattr(storage, "filename", ""):
            data = storage.read(importer.MAX_IMPORT_BYTES + 1)
            if data:
                return importer.decode(data), storage.filename
        text = self.text.data or ""
        if text.strip():
            return importer.check_text(text), ""
        raise ValidationFailed({"file": [_("Choose a CSV file or paste its lines.")]})

    def options(self, formdata, metrics: list[str]) -> importer.ImportOptions:
        """Return the choices made in the preview (column mapping, date order, drops)."""
        mapping = importer.parse_mapping(
            {key[4:]: value for key, value in formdata.items() if key.startswith("map-")},
            metrics,
        )
        order = self.date_order.data if self.date_order.data in importer.DATE_ORDERS else "auto"
        return importer.ImportOptions(
            mapping=mapping, date_order=order, accept_lower=bool(self.accept_lower.data)
        )


class ExportForm(FlaskForm):
    """A date range to export (both ends optional, in the source's timezone)."""

    class Meta:
        csrf = False  # a GET that changes nothing

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To (inclusive)"), validators=[Optional()])

    def validate_start(self, field) -> None:
        """Refuse a day outside the supported range."""
        if field.data:
            try:
                timeutil.check_day(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_end(self, field) -> None:
        """Refuse a day outside the supported range or a range that ends before it starts."""
        self.validate_start(field)
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_("Choose a day on or after the first."))
