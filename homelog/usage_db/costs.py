"""Money over a home and a year: a home's meters' costs per month, and a billing year.

`home_costs` runs one usage pass per meter (thirteen months and the two year-to-date spans
together); `projection` projects a meter's billing year against its monthly advance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from homelog.models import DataSource
from homelog.usage import (
    Cost,
    Period,
    TariffPlan,
    UsageReport,
    YearProjection,
    period_containing,
    project_year,
)
from homelog.usage.projection import add_years
from homelog.usage_db.comparison import comparison_spans
from homelog.usage_db.inputs import currency_of, meter_config, source_zone, tariff_plans
from homelog.usage_db.query import meter_report
from homelog.usage_db.stream import stream_readings

#: Months the whole-home view shows: this one and the twelve before.
HOME_MONTHS = 13


@dataclass
class HomeCosts:
    """A home's meters' costs per month, the year so far against last year, and the balance.

    `costs[source_id][i]` is the cost of month i (the measured part, flagged in `partial`,
    when the readings cover the month only in part; None with no readings or no price).
    """

    currency: str
    months: list[date]
    sources: list[DataSource] = field(default_factory=list)
    unpriced: list[DataSource] = field(default_factory=list)
    costs: dict[int, list[Decimal | None]] = field(default_factory=dict)
    partial: dict[int, list[bool]] = field(default_factory=dict)
    year: int = 0
    year_to_date: Decimal | None = None
    last_year_to_date: Decimal | None = None
    #: Sources whose readings cover this year or last year's same days only in part.
    incomplete: list[DataSource] = field(default_factory=list)
    projections: list[tuple[DataSource, YearProjection]] = field(default_factory=list)

    def month_total(self, index: int) -> Decimal | None:
        """Return month index's cost over every source that has one."""
        found = [c[index] for c in self.costs.values() if c[index] is not None]
        return sum(found, Decimal(0)) if found else None

    def month_partial(self, index: int) -> bool:
        """Return True when some source's figure for month index is a measured part."""
        return any(flags[index] for flags in self.partial.values())

    @property
    def change(self) -> float | None:
        """Return the year so far's change against last year's same days (None if unsure)."""
        if self.incomplete or not self.last_year_to_date or self.year_to_date is None:
            return None
        return float(self.year_to_date / self.last_year_to_date) - 1

    @property
    def balance(self) -> Decimal | None:
        """Return the billing years' projected balances added up (None if none is known)."""
        found = [p.balance for _, p in self.projections if p.balance is not None]
        return sum(found, Decimal(0)) if found else None

    @property
    def has_costs(self) -> bool:
        """Return True when some month has a cost."""
        return any(c is not None for costs in self.costs.values() for c in costs)


def _add_cost(total: Decimal | None, cost: Cost | None) -> Decimal | None:
    return None if total is None or cost is None else total + cost.total


def home_costs(sources: Sequence[DataSource], now: datetime | None = None) -> HomeCosts:
    """Return the meters' costs per month, the year so far against last year, and balances.

    One usage pass per meter (thirteen months and the two year-to-date spans together), and
    one more for a meter with a billing year. Sources in another currency than the first
    meter's are left out of the sums (listed as unpriced).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    meters = [s for s in sources if s.kind == "meter"]
    currency = currency_of(meters[0]) if meters else "EUR"
    result = HomeCosts(currency, [])
    for source in meters:
        months = _months_up_to(now, source_zone(source))
        if not result.months:
            result.months = [m.first_day for m in months]
            result.year = months[-1].first_day.year
        plans = tariff_plans(source)
        if not plans or currency_of(source) != currency:
            result.unpriced.append(source)
            continue
        _add_meter(result, source, months, plans, now)
        if source.billing_year_start is not None:
            found = projection(source, now)
            if found is not None:
                result.projections.append((source, found))
    return result


def _months_up_to(now: datetime, zone: ZoneInfo) -> list[Period]:
    """Return the HOME_MONTHS calendar months ending with the one containing now, oldest first."""
    months = [period_containing("month", now, zone)]
    while len(months) < HOME_MONTHS:
        months.insert(0, period_containing("month", months[0].start - timedelta(seconds=1), zone))
    return months


def _add_meter(
    result: HomeCosts,
    source: DataSource,
    months: list[Period],
    plans: Mapping[str, TariffPlan],
    now: datetime,
) -> None:
    """Add a priced meter's monthly costs and year-to-date figures to result (one usage pass)."""
    spans, _, _ = comparison_spans(source, now)
    wanted = [*months, spans["year_to_date"], spans["last_year_to_date"]]
    report = meter_report(source, wanted, meter_config(source), plans)
    priced = [m for m in source.metric_names if m in plans]
    costs, partial = _month_costs(report, priced, len(months))
    ytd, last_ytd, complete = _years_to_date(report, priced)
    result.sources.append(source)
    result.costs[source.id] = costs
    result.partial[source.id] = partial
    if ytd is not None:
        result.year_to_date = (result.year_to_date or Decimal(0)) + ytd
    if last_ytd is not None:
        result.last_year_to_date = (result.last_year_to_date or Decimal(0)) + last_ytd
    if not complete and (ytd is not None or last_ytd is not None):
        result.incomplete.append(source)


def _month_costs(
    report: UsageReport, priced: Sequence[str], count: int
) -> tuple[list[Decimal | None], list[bool]]:
    """Return the first count periods' costs over the priced metrics, and which are a part.

    A month the readings cover only in part counts its measured part's cost.
    """
    costs: list[Decimal | None] = []
    partial: list[bool] = []
    for index in range(count):
        total: Decimal | None = Decimal(0)
        whole = True
        for metric in priced:
            item = report.metrics[metric].periods[index]
            whole = whole and item.complete
            total = _add_cost(total, item.cost if item.complete else item.measured_cost)
        costs.append(total)
        partial.append(total is not None and not whole)
    return costs, partial


def _years_to_date(
    report: UsageReport, priced: Sequence[str]
) -> tuple[Decimal | None, Decimal | None, bool]:
    """Return the cost of this year to date and of last year's same days (the last two
    periods), and whether the readings cover both completely."""
    ytd: Decimal | None = Decimal(0)
    last_ytd: Decimal | None = Decimal(0)
    complete = True
    for metric in priced:
        now_item, before = report.metrics[metric].periods[-2:]
        ytd = _add_cost(ytd, now_item.measured_cost)
        last_ytd = _add_cost(last_ytd, before.measured_cost)
        complete = complete and now_item.complete and before.complete
    return ytd, last_ytd, complete


def billing_year_containing(first_start: date, today: date) -> date:
    """Return the start of the billing year (yearly from first_start) that contains today.

    Counted in one step, not year by year: first_start may lie centuries away.
    """
    start = add_years(first_start, today.year - first_start.year)
    return start if start <= today else add_years(first_start, today.year - first_start.year - 1)


def projection(source: DataSource, now: datetime | None = None) -> YearProjection | None:
    """Project the billing year's cost against the monthly advance (None when not set up)."""
    if source.kind != "meter" or source.billing_year_start is None:
        return None
    zone = source_zone(source)
    now = now or datetime.now(UTC)
    today = now.astimezone(zone).date()
    year_start = billing_year_containing(source.billing_year_start, today)
    plans = tariff_plans(source)
    begin = datetime.combine(add_years(year_start, -1), datetime.min.time(), tzinfo=zone)
    rows = stream_readings(source, begin.astimezone(UTC), now)
    return project_year(
        rows,
        source.metric_names,
        plans,
        zone,
        year_start,
        Decimal(source.monthly_advance or 0),
        meter_config(source),
        as_of=now,
    )
