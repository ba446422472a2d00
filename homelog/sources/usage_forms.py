"""Forms of the usage pages: a tariff, a meter swap, and a meter's usage settings.

Fields are plain text so the domain (homelog.usage_db) parses and checks every value the
same way for pages and API; its ValidationFailed messages land beside the matching field
(homelog.forms.DomainForm).
"""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from homelog.forms import DomainForm, input_number, strip_filter
from homelog.i18n import _, _l
from homelog.models import DataSource, Tariff
from homelog.readings import format_value


class TariffForm(DomainForm):
    """A price of one metric from a date on."""

    metric = SelectField(_l("Metric"), choices=[])
    effective_from = StringField(_l("Valid from"), filters=[strip_filter])
    unit_price = StringField(_l("Price per unit"), filters=[strip_filter])
    standing_charge = StringField(
        _l("Standing charge per day"), filters=[strip_filter], default="0"
    )


def tariff_form(source: DataSource, tariff: Tariff | None = None, **kwargs) -> TariffForm:
    """Return a tariff form offering source's metrics (filled from tariff when given)."""
    if tariff is not None and "formdata" not in kwargs:
        kwargs.setdefault(
            "data",
            {
                "metric": tariff.metric,
                "effective_from": tariff.effective_from.isoformat(),
                "unit_price": _plain(tariff.unit_price),
                "standing_charge": _plain(tariff.standing_charge),
            },
        )
    form = TariffForm(**kwargs)
    form.metric.choices = [
        SelectChoice(name, f"{name} ({unit})" if unit else name)
        for name, unit in source.metric_list
    ]
    return form


def _plain(value) -> str:
    """Return a stored decimal as short text (0.300000 → 0.3; None → "")."""
    return input_number(format(value.normalize(), "f")) if value is not None else ""


class SwapForm(DomainForm):
    """When a meter was replaced, with the old and new values per metric (added per source)."""

    at = StringField(_l("Replaced at"), filters=[strip_filter])
    note = StringField(_l("Note"), filters=[strip_filter])

    def values(self, group: str) -> dict[str, str]:
        """Return {metric: text} of one group of per-metric fields (blank ones left out)."""
        found = {}
        for index, name in enumerate(self._metric_names):
            text = self._fields[f"{group}_{index}"].data
            if text:
                found[name] = text
        return found

    def rows(self):
        """Yield (metric, unit, old field, new field, size field) per metric."""
        for index, (name, unit) in enumerate(self._metric_list):
            yield (
                name,
                unit,
                self._fields[f"old_final_{index}"],
                self._fields[f"new_start_{index}"],
                self._fields[f"rollover_at_{index}"],
            )


def swap_form(source: DataSource, **kwargs) -> SwapForm:
    """Return a swap form with old/new/size inputs for each of source's metrics."""
    fields = {}
    for index, (name, _unit) in enumerate(source.metric_list):
        fields[f"old_final_{index}"] = StringField(
            _("%(metric)s: old meter's final value", metric=name), filters=[strip_filter]
        )
        fields[f"new_start_{index}"] = StringField(
            _("%(metric)s: new meter's first value", metric=name), filters=[strip_filter]
        )
        fields[f"rollover_at_{index}"] = StringField(
            _("%(metric)s: new register size", metric=name), filters=[strip_filter]
        )
    form = type("SourceSwapForm", (SwapForm,), fields)(**kwargs)
    form._metric_list = list(source.metric_list)
    form._metric_names = source.metric_names
    return form


class SettingsForm(DomainForm):
    """How usage is counted and billed (register sizes are added per source)."""

    cycle_day = StringField(_l("Billing cycle starts on day"), filters=[strip_filter])
    max_gap_hours = StringField(
        _l("Mark usage as estimated across gaps longer than (hours)"), filters=[strip_filter]
    )
    monthly_advance = StringField(_l("Monthly advance payment"), filters=[strip_filter])
    billing_year_start = StringField(_l("Billing year starts on"), filters=[strip_filter])

    def sizes(self) -> dict[str, str]:
        """Return {metric: register size text} for the metrics with one."""
        return {
            name: self._fields[f"rollover_at_{index}"].data
            for index, name in enumerate(self._metric_names)
            if self._fields[f"rollover_at_{index}"].data
        }

    def size_fields(self):
        """Yield (metric, unit, field) per metric."""
        for index, (name, unit) in enumerate(self._metric_list):
            yield name, unit, self._fields[f"rollover_at_{index}"]


def settings_form(source: DataSource, **kwargs) -> SettingsForm:
    """Return the settings form of source, filled from its settings unless data is posted."""
    fields = {
        f"rollover_at_{index}": StringField(
            _("%(metric)s: register size", metric=name), filters=[strip_filter]
        )
        for index, (name, _unit) in enumerate(source.metric_list)
    }
    if "formdata" in kwargs and kwargs["formdata"] is None:
        sizes = source.rollover_at or {}
        data = {
            "cycle_day": str(source.cycle_day or 1),
            "max_gap_hours": str(source.max_gap_hours or 48),
            "monthly_advance": _plain(source.monthly_advance),
            "billing_year_start": (
                source.billing_year_start.isoformat() if source.billing_year_start else ""
            ),
        }
        for index, name in enumerate(source.metric_names):
            size = sizes.get(name)
            data[f"rollover_at_{index}"] = input_number(format_value(float(size))) if size else ""
        kwargs["data"] = data
    form = type("SourceSettingsForm", (SettingsForm,), fields)(**kwargs)
    form._metric_list = list(source.metric_list)
    form._metric_names = source.metric_names
    return form
