"""The billing year's projected cost against monthly advance payments.

Method (docs/usage.md):

1. The billing year runs from local midnight of `year_start` for one calendar year.
2. Measured: the cost of every part of the year the readings cover (exact, as for periods).
3. Projected: every other part of the year (days after the last reading, and days before the
   first one if readings started late), day by day. The usage of a projected day is the same
   calendar day's usage one year earlier when every projected day has one (`last-year`:
   follows the seasons); otherwise the average rate measured so far this year × the time
   (`run-rate`). A projected day is priced with the tariff in force that day, standing
   charge included.
4. Balance = 12 × the monthly advance − (measured + projected cost): positive means money
   back, negative means an amount to pay.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from homelog.usage.meter import MeterConfig, PeriodUsage, Row, meter_usage
from homelog.usage.periods import as_zone, local_midnight, periods_between
from homelog.usage.tariffs import ZERO, TariffPlan, to_decimal


@dataclass(frozen=True, slots=True)
class YearProjection:
    """A billing year's measured and projected cost, and the balance against advances.

    Money fields are None when a part of the year has no tariff or nothing to project from.
    """

    year_start: datetime
    year_end: datetime
    method: str
    measured_cost: Decimal | None
    projected_cost: Decimal | None
    total_cost: Decimal | None
    advances: Decimal
    balance: Decimal | None
    measured_usage: dict[str, float]
    projected_usage: dict[str, float | None]


def add_years(day: date, years: int) -> date:
    """Return the same calendar day `years` later (Feb 29 becomes Feb 28 when needed)."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def _until(readings: Iterable[Row], as_of: datetime | None) -> Iterator[Row]:
    for row in readings:
        if as_of is not None and row[0] > as_of:
            return
        yield row


def project_year(
    readings: Iterable[Row],
    metrics: Sequence[str],
    tariffs: Mapping[str, TariffPlan],
    tz: ZoneInfo | str,
    year_start: date,
    monthly_advance: Decimal = ZERO,
    config: MeterConfig | None = None,
    as_of: datetime | None = None,
) -> YearProjection:
    """Project the billing year starting on the local date year_start; see the module doc.

    readings: in time order, from a year before year_start (for the last-year method);
    readings after as_of are ignored.
    """
    zone = as_zone(tz)
    year_end_day = add_years(year_start, 1)
    last_year_days = periods_between("day", add_years(year_start, -1), year_start, zone)
    this_year_days = periods_between("day", year_start, year_end_day, zone)
    report = meter_usage(
        _until(readings, as_of), last_year_days + this_year_days, metrics, config, tariffs
    )
    split = len(last_year_days)
    measured_cost: Decimal | None = ZERO
    found: dict[str, _Measured] = {}
    for metric in metrics:
        rows = report.metrics[metric].periods
        found[metric], measured_cost = _measure(
            rows[:split], rows[split:], tariffs.get(metric) is not None, measured_cost
        )
    last_year_ok = all(m.last_year_covers() for m in found.values())
    method = "last-year" if last_year_ok else "run-rate"
    projected_cost: Decimal | None = ZERO
    projected_usage: dict[str, float | None] = {}
    for metric in metrics:
        plan = tariffs.get(metric)
        projected_usage[metric], projected_cost = _project(
            found[metric], method, plan, zone, projected_cost
        )
        if projected_usage[metric] is None and plan is not None:
            projected_cost = None
    total_cost = (
        measured_cost + projected_cost
        if measured_cost is not None and projected_cost is not None
        else None
    )
    advances = monthly_advance * 12
    return YearProjection(
        year_start=local_midnight(year_start, zone),
        year_end=local_midnight(year_end_day, zone),
        method=method,
        measured_cost=measured_cost,
        projected_cost=projected_cost,
        total_cost=total_cost,
        advances=advances,
        balance=advances - total_cost if total_cost is not None else None,
        measured_usage={metric: m.usage for metric, m in found.items()},
        projected_usage=projected_usage,
    )


@dataclass
class _Measured:
    """One metric over the billing year: what the readings cover, and the parts to project."""

    usage: float
    rate: float | None  # usage per second over the covered time (None: nothing covered)
    #: (day, start, end) in POSIX seconds: the parts of days the readings do not cover.
    todo: list[tuple[PeriodUsage, float, float]]
    last_year: dict[date, PeriodUsage]

    def before(self, day: PeriodUsage) -> PeriodUsage | None:
        """Return the same calendar day a year earlier."""
        return self.last_year.get(add_years(day.period.first_day, -1))

    def last_year_covers(self) -> bool:
        """Return True when every day to project has a complete day a year earlier."""
        for day, _, _ in self.todo:
            before = self.before(day)
            if before is None or not before.complete:
                return False
        return True


def _measure(
    last_year_days: Sequence[PeriodUsage],
    days: Sequence[PeriodUsage],
    priced: bool,
    cost: Decimal | None,
) -> tuple[_Measured, Decimal | None]:
    """Return one metric's measured part of the year, and cost with its measured cost added.

    cost stays None once a priced day's cost is unknown.
    """
    usage, seconds, todo = 0.0, 0.0, []
    for day in days:
        start, end = day.period.start.timestamp(), day.period.end.timestamp()
        if day.measured_usage is None or day.measured_start is None:
            todo.append((day, start, end))
            continue
        low, high = day.measured_start.timestamp(), day.measured_end.timestamp()
        usage += day.measured_usage
        seconds += high - low
        if priced:
            cost = (
                None
                if cost is None or day.measured_cost is None
                else cost + day.measured_cost.total
            )
        if low > start:
            todo.append((day, start, low))
        if high < end:
            todo.append((day, high, end))
    rate = usage / seconds if seconds > 0 else None
    last_year = {p.period.first_day: p for p in last_year_days}
    return _Measured(usage, rate, todo, last_year), cost


def _project(
    measured: _Measured,
    method: str,
    plan: TariffPlan | None,
    zone: ZoneInfo,
    cost: Decimal | None,
) -> tuple[float | None, Decimal | None]:
    """Return one metric's projected usage (None: nothing to project from), and cost with its
    projected cost added (priced with the tariff in force each day, standing charge included).
    """
    total = 0.0
    for day, low, high in measured.todo:
        if method == "last-year":
            length = day.period.end.timestamp() - day.period.start.timestamp()
            used = measured.before(day).usage * (high - low) / length
        elif measured.rate is not None:
            used = measured.rate * (high - low)
        else:
            return None, cost
        total += used
        if plan is not None and cost is not None:
            cost = _add_day_cost(cost, plan, zone, low, high, used)
    return total, cost


def _add_day_cost(
    cost: Decimal, plan: TariffPlan, zone: ZoneInfo, low: float, high: float, used: float
) -> Decimal | None:
    """Return cost plus the price of used over [low, high] (None when no tariff applies)."""
    tariff = plan.tariff_at(datetime.fromtimestamp(low, zone))
    standing = plan.standing(low, high)
    if tariff is None or standing is None:
        return None
    return cost + to_decimal(used) * tariff.unit_price + standing
