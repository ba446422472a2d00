"""The dashboard's comparisons: this month so far against last month and last year.

Like for like: "so far" ends at the last reading this month (or now), and the year-ago spans
end at the same local date and time a year earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from homelog.extensions import db
from homelog.i18n import _, format_date
from homelog.models import DataSource, Reading
from homelog.usage import Period, period_containing
from homelog.usage.projection import add_years
from homelog.usage_db.inputs import source_zone
from homelog.usage_db.query import usage_over

#: The spans that end now: their readings cover them only "so far", never "partly".
SO_FAR = ("this_month", "year_to_date")


@dataclass(frozen=True)
class Span:
    """Usage and cost of one metric over one span: the measured part when the readings cover
    only part of it (complete is then False), so a month read from its 10th still shows."""

    period: Period
    usage: float | None
    complete: bool
    estimated: bool
    cost: Decimal | None
    #: The usage of the part the readings cover, even when they do not cover it all.
    measured: float | None = None


@dataclass(frozen=True)
class Line:
    """One figure of a comparison: a register (or the registers' total), its unit and cost.

    `cost` covers exactly `usage`: the register's own price and standing charge, or for the
    total every register's (None when some register has no price).
    """

    label: str | None
    usage: float | None
    unit: str
    cost: Decimal | None
    total: bool = False


@dataclass
class Comparison:
    """This month so far, last month, the same month last year, and year to date vs last year."""

    source: DataSource
    as_of: datetime | None
    currency: str
    labels: dict[str, str]
    metrics: dict[str, dict[str, Span]]
    costs: dict[str, Decimal | None]
    tariff_metrics: tuple[str, ...] = ()

    def change(self, metric: str, key: str, against: str) -> float | None:
        """Return the relative change of key against another span, e.g. +0.12 for 12% more.

        None unless the readings cover both spans completely: a part-covered year against a
        whole one is no comparison.
        """
        now, before = self.metrics[metric].get(key), self.metrics[metric].get(against)
        if now is None or before is None or now.usage is None or not before.usage:
            return None
        if not (now.complete and before.complete):
            return None
        return now.usage / before.usage - 1

    @property
    def names(self) -> list[str]:
        """Return the metrics compared, in the source's order."""
        return [m for m in self.source.metric_names if m in self.metrics]

    @property
    def common_unit(self) -> str | None:
        """Return the unit every register shares, or None when they differ."""
        units = {self.source.metrics[m] for m in self.names}
        return units.pop() if len(units) == 1 else None

    def total(self, key: str) -> float | None:
        """Return the registers' usage summed over span key (None if units differ or unknown)."""
        if self.common_unit is None:
            return None
        values = [self.metrics[m][key].usage for m in self.names]
        return None if any(v is None for v in values) else sum(values)

    def has(self, key: str) -> bool:
        """Return True when some register has a (measured) usage over span key."""
        return any(
            self.metrics[m][key].usage is not None or self.metrics[m][key].measured is not None
            for m in self.names
        )

    def complete(self, key: str) -> bool:
        """Return True when the readings cover span key for every register."""
        return all(self.metrics[m][key].complete for m in self.names)

    def partly(self, key: str) -> bool:
        """Return True when span key has ended and its figures are only the measured part."""
        return key not in SO_FAR and self.has(key) and not self.complete(key)

    def lines(self, key: str) -> list[Line]:
        """Return the figures of span key: each register labelled, then their total.

        One register: a single unlabelled line with the source's cost. Several: each with its
        own cost, then a total line (usage only when the units agree; cost only when every
        register has a price, so a cost always covers exactly the usage beside it).
        """
        names = self.names
        units = self.source.metrics
        if len(names) == 1:
            span = self.metrics[names[0]][key]
            return [Line(None, span.usage, units[names[0]], self.costs.get(key))]
        found = [
            Line(name, self.metrics[name][key].usage, units[name], self.metrics[name][key].cost)
            for name in names
        ]
        priced = set(self.tariff_metrics) == set(names)
        total_cost = self.costs.get(key) if priced else None
        if self.common_unit is not None or total_cost is not None:
            found.append(
                Line(_("Total"), self.total(key), self.common_unit or "", total_cost, total=True)
            )
        return found

    def total_change(self, key: str, against: str) -> float | None:
        """Return the relative change of the registers' total (or the one register's)."""
        names = self.names
        if len(names) == 1:
            return self.change(names[0], key, against)
        now, before = self.total(key), self.total(against)
        if now is None or not before or not (self.complete(key) and self.complete(against)):
            return None
        return now / before - 1

    def incomparable(self, key: str, against: str) -> bool:
        """Return True when both spans have figures but the readings cover one only in part."""
        return (
            self.has(key)
            and self.has(against)
            and not (self.complete(key) and self.complete(against))
        )


def compare(source: DataSource, now: datetime | None = None) -> Comparison:
    """Compare this month so far with last month and last year, and the year to date.

    "So far" ends at the last reading this month (or now), and the year-ago spans end at the
    same local date and time a year earlier, so the comparisons are like for like.
    """
    spans, labels, last = comparison_spans(source, now)
    keys = list(spans)
    usage = usage_over(source, [spans[k] for k in keys])
    metrics: dict[str, dict[str, Span]] = {}
    costs: dict[str, Decimal | None] = {k: None for k in keys}
    for metric, found in usage.meter.items():
        metrics[metric] = {}
        for key, item in zip(keys, found.periods, strict=True):
            measured = key in SO_FAR or item.usage is None
            value = item.measured_usage if measured else item.usage
            cost = item.measured_cost if measured else item.cost
            metrics[metric][key] = Span(
                item.period,
                value,
                item.complete,
                item.estimated,
                cost.total if cost is not None else None,
                item.measured_usage,
            )
    for index, key in enumerate(keys):
        total: Decimal | None = None
        for metric in usage.tariff_metrics:
            span = metrics[metric][keys[index]]
            if span.cost is None:
                total = None
                break
            total = (total or Decimal(0)) + span.cost
        costs[key] = total
    return Comparison(source, last, usage.currency, labels, metrics, costs, usage.tariff_metrics)


def comparison_spans(
    source: DataSource, now: datetime | None
) -> tuple[dict[str, Period], dict[str, str], datetime | None]:
    """Return compare's spans, their labels and the source's last reading up to now."""
    zone = source_zone(source)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    month = period_containing("month", now, zone)
    previous = period_containing("month", month.start - timedelta(seconds=1), zone)
    a_year_ago = _shift_years(now, -1, zone)
    last_year_month = period_containing("month", a_year_ago, zone)
    last = db.session.scalar(
        select(func.max(Reading.timestamp)).where(
            Reading.data_source_id == source.id, Reading.timestamp <= now
        )
    )
    as_of = min(now, last) if last is not None and last > month.start else now
    so_far_end = max(as_of, month.start + timedelta(seconds=1))
    year_start = datetime.combine(
        date(month.first_day.year, 1, 1), datetime.min.time(), tzinfo=zone
    ).astimezone(UTC)
    spans = {
        "this_month": Period(month.start, so_far_end, month.first_day, None),
        "last_month": previous,
        "last_year_month": last_year_month,
        "last_year_month_to_date": Period(
            last_year_month.start, _shift_years(so_far_end, -1, zone), last_year_month.first_day
        ),
        "year_to_date": Period(year_start, so_far_end),
        "last_year_to_date": Period(
            _shift_years(year_start, -1, zone), _shift_years(so_far_end, -1, zone)
        ),
    }
    this_month = format_date(month.first_day, "yMMMM")  # "December 2026"
    year_ago_month = format_date(last_year_month.first_day, "yMMMM")
    year = month.first_day.year
    labels = {
        "this_month": _("%(month)s so far", month=this_month),
        "last_month": format_date(previous.first_day, "yMMMM"),
        "last_year_month": year_ago_month,
        "last_year_month_to_date": _("%(month)s, same days", month=year_ago_month),
        "year_to_date": _("%(year)s to date", year=year),
        "last_year_to_date": _("%(year)s, same days", year=year - 1),
    }
    return spans, labels, last


def _shift_years(instant: datetime, years: int, zone: ZoneInfo) -> datetime:
    """Return the same local date and time `years` later (Feb 29 → Feb 28), in UTC."""
    local = instant.astimezone(zone)
    day = add_years(local.date(), years)
    shifted = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)
    return shifted.astimezone(UTC)
