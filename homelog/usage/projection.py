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
    measured_usage: dict[str, float] = {}
    parts: dict[str, list[tuple[PeriodUsage, float, float]]] = {}
    rates: dict[str, float | None] = {}
    last_year_ok = True
    last_year: dict[str, dict[date, PeriodUsage]] = {}
    for metric in metrics:
        rows = report.metrics[metric].periods
        last_year[metric] = {p.period.first_day: p for p in rows[:split]}
        plan = tariffs.get(metric)
        usage, seconds, todo = 0.0, 0.0, []
        for day in rows[split:]:
            start, end = day.period.start.timestamp(), day.period.end.timestamp()
            if day.measured_usage is None or day.measured_start is None:
                todo.append((day, start, end))
                continue
            low, high = day.measured_start.timestamp(), day.measured_end.timestamp()
            usage += day.measured_usage
            seconds += high - low
            if plan is not None:
                measured_cost = (
                    None
                    if measured_cost is None or day.measured_cost is None
                    else measured_cost + day.measured_cost.total
                )
            if low > start:
                todo.append((day, start, low))
            if high < end:
                todo.append((day, high, end))
        measured_usage[metric] = usage
        rates[metric] = usage / seconds if seconds > 0 else None
        parts[metric] = todo
        for day, _, _ in todo:
            before = last_year[metric].get(add_years(day.period.first_day, -1))
            if before is None or not before.complete:
                last_year_ok = False
    method = "last-year" if last_year_ok else "run-rate"

    projected_cost: Decimal | None = ZERO
    projected_usage: dict[str, float | None] = {}
    for metric in metrics:
        plan = tariffs.get(metric)
        total = 0.0
        for day, low, high in parts[metric]:
            length = day.period.end.timestamp() - day.period.start.timestamp()
            if method == "last-year":
                before = last_year[metric][add_years(day.period.first_day, -1)]
                used = before.usage * (high - low) / length
            elif rates[metric] is not None:
                used = rates[metric] * (high - low)
            else:
                total = None
                break
            total += used
            if plan is not None and projected_cost is not None:
                tariff = plan.tariff_at(datetime.fromtimestamp(low, zone))
                standing = plan.standing(low, high)
                projected_cost = (
                    None
                    if tariff is None or standing is None
                    else projected_cost + to_decimal(used) * tariff.unit_price + standing
                )
        projected_usage[metric] = total
        if total is None and plan is not None:
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
        measured_usage=measured_usage,
        projected_usage=projected_usage,
    )
