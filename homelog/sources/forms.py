"""Forms for sources (with their metric rows) and readings (one number input per metric).

The forms parse what the browser sends; the rules live in homelog.datasources and
homelog.readings, whose ValidationFailed errors are put beside the matching fields here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)

from homelog import timeutil
from homelog.datasources import KIND_LABELS
from homelog.errors import ValidationFailed
from homelog.forms import DomainForm, input_number, strip_filter
from homelog.i18n import _, _l
from homelog.models import DataSource, Reading
from homelog.readings import format_value

# Bounds the work a hand-made request can cause; the domain says "at most 20 metrics".
MAX_METRIC_ROWS = 40

#: The kind choices as the form shows them (in the reader's language), by kind.
KIND_CHOICES = {
    "meter": _l("Meter (a register that counts up: usage is the difference)"),
    "sensor": _l("Sensor (instantaneous values: temperature, humidity, …)"),
}


class MetricForm(Form):
    """One metric row: name, unit and the name it had when the form was shown."""

    name = StringField(_l("Metric"), filters=[strip_filter])
    unit = StringField(_l("Unit"), filters=[strip_filter])
    # Empty for a new row; lets a changed name be told apart from a removed + added metric.
    original = HiddenField(filters=[strip_filter])


class SourceForm(DomainForm):
    """Name, description, kind and the metric rows of a source."""

    name = StringField(_l("Name"), filters=[strip_filter])
    description = TextAreaField(_l("Description"), filters=[strip_filter])
    kind = RadioField(
        _l("Kind"),
        choices=[
            SelectChoice(value, KIND_CHOICES.get(value, label))
            for value, label in KIND_LABELS.items()
        ],
        default="meter",
        validate_choice=False,
    )
    metrics = FieldList(FormField(MetricForm), min_entries=1, max_entries=MAX_METRIC_ROWS)
    confirm_remove = BooleanField(_l("Yes, remove the metric and delete its values"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_remove_confirmation = False

    @classmethod
    def for_source(cls, source: DataSource) -> SourceForm:
        """Return the form filled from source (for the edit page)."""
        form = cls(
            data={
                "name": source.name,
                "description": source.description,
                "kind": source.kind,
                "metrics": [
                    {"name": name, "unit": unit, "original": name}
                    for name, unit in source.metric_list
                ],
            }
        )
        return form

    def metric_rows(self) -> list[MetricForm]:
        """Return the subforms of the rows that are not entirely blank."""
        return [
            entry.form
            for entry in self.metrics.entries
            if entry.form.name.data or entry.form.unit.data or entry.form.original.data
        ]

    def metric_pairs(self) -> list[tuple[str, str]]:
        """Return the (name, unit) pairs typed in, blank rows left out."""
        return [(row.name.data or "", row.unit.data or "") for row in self.metric_rows()]

    def renames(self, source: DataSource) -> dict[str, str]:
        """Return {old name: new name} for rows of existing metrics whose name changed."""
        existing = set(source.metric_names)
        return {
            row.original.data: row.name.data
            for row in self.metric_rows()
            if row.original.data in existing
            and row.name.data
            and row.name.data != row.original.data
        }

    def add_row(self) -> MetricForm | None:
        """Append an empty metric row and return it (None when there are too many)."""
        if len(self.metrics.entries) >= MAX_METRIC_ROWS:
            return None
        return self.metrics.append_entry().form

    def remove_row(self, index: str) -> None:
        """Drop the row whose index (the number in its field names) is index."""
        name = f"{self.metrics.name}-{index}"
        self.metrics.entries = [e for e in self.metrics.entries if e.name != name]
        if not self.metrics.entries:
            self.metrics.append_entry()

    def apply_errors(self, error: ValidationFailed) -> None:
        """Show the domain's messages; a metric with values to remove asks to confirm it."""
        errors = dict(error.errors)
        if errors.pop("confirm_remove", None) is not None:
            self.needs_remove_confirmation = True
        super().apply_errors(ValidationFailed(errors, error.detail))

    def field_for(self, key: str) -> Field | None:
        """Return the field of key: "name", "kind", or "metrics.<row>.name" / ".unit"."""
        parts = key.split(".")
        if parts[0] == "metrics" and len(parts) == 3 and parts[1].isdigit():
            rows = self.metric_rows()
            index = int(parts[1])
            return getattr(rows[index], parts[2], None) if index < len(rows) else None
        return self._fields.get(key) if key in ("name", "description", "kind") else None


#: How far ahead a typed time may be: a phone's clock or timezone may differ from the account's,
#: but a reading days ahead is a mistyped date (it would mark every later reading as lower).
FUTURE_SLACK = timedelta(days=1)


class ReadingForm(DomainForm):
    """Time, note and the meter confirmation; the value fields are added per source."""

    timestamp = StringField(_l("Time"), filters=[strip_filter])
    note = TextAreaField(_l("Note (optional)"), filters=[strip_filter])
    confirm_lower = BooleanField(_l("Save anyway: the value is right"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lower: dict[str, float] = {}
        # The values as read from the text typed, shown beside `lower` in the reader's
        # number format: "9.790" is read as 9.79, and the warning shows "9,79" in German.
        self.entered: dict[str, float] = {}

    def value_fields(self):
        """Yield (metric name, unit, field) for each metric of the source, in order."""
        for index, (name, unit) in enumerate(self._metric_list):
            yield name, unit, getattr(self, f"value_{index}")

    def raw_values(self) -> dict[str, str]:
        """Return {metric: text typed} for the value fields."""
        return {name: field.data or "" for name, _, field in self.value_fields()}

    def parse_timestamp(self, tz: ZoneInfo, original: Reading | None = None) -> datetime | None:
        """Return the typed time in UTC, or None after putting the message beside the field.

        When editing, an unchanged field keeps the stored time (which may carry seconds the
        minute-precision input does not show).
        """
        text = self.timestamp.data or ""
        if original is not None and text == timeutil.input_value(original.timestamp, tz):
            return original.timestamp
        try:
            timestamp = timeutil.parse_local(text, tz)
        except ValueError as error:
            self.timestamp.errors = list(self.timestamp.errors) + [str(error)]
            return None
        if timestamp > datetime.now(UTC) + FUTURE_SLACK:
            self.timestamp.errors = list(self.timestamp.errors) + [
                _("That time is in the future: check the date.")
            ]
            return None
        return timestamp

    def field_for(self, key: str) -> Field | None:
        """Return the field of key: "values.<metric>", "timestamp" or "note"."""
        for name, _unit, field in self.value_fields():
            if key == f"values.{name}":
                return field
        return self._fields.get(key) if key in ("timestamp", "note") else None


def reading_form(source: DataSource, *, prefix: str = "", **kwargs) -> ReadingForm:
    """Return a reading form with one decimal text input per metric of source."""
    fields = {
        f"value_{index}": StringField(name, filters=[strip_filter])
        for index, (name, _unit) in enumerate(source.metric_list)
    }
    form_class = type("SourceReadingForm", (ReadingForm,), fields)
    form = form_class(prefix=prefix, **kwargs)
    form._metric_list = list(source.metric_list)
    return form


def reading_form_data(reading: Reading, tz: ZoneInfo) -> dict:
    """Return form data showing reading (for the edit form)."""
    data = {
        "timestamp": timeutil.input_value(reading.timestamp, tz),
        "note": reading.note or "",
    }
    for index, (name, _unit) in enumerate(reading.source.metric_list):
        value = (reading.values or {}).get(name)
        data[f"value_{index}"] = input_number(format_value(value)) if value is not None else ""
    return data
