"""A source's usage and costs (meters) or statistics (sensors) per period, from the database.

`usage_for` reads the source's settings, tariffs and swaps, streams the readings that matter
(`homelog.usage_db.stream`) and hands them to the engine (`homelog.usage`) in one pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource, Reading
from homelog.usage import (
    PERIOD_KINDS,
    MeterConfig,
    MeterValue,
    MetricUsage,
    Period,
    SensorStats,
    SuspectReading,
    TariffPlan,
    UsageReport,
    iter_periods,
    meter_usage,
    meter_value_at,
    period_containing,
    sensor_stats,
    sensor_values_at,
)
from homelog.usage_db.inputs import currency_of, meter_config, source_zone, tariff_plans
from homelog.usage_db.stream import reduced_rows, stream_readings

#: The most periods one request may ask for (10 years of days fit).
MAX_PERIODS = 4000
DEFAULT_SPANS = {"day": 31, "week": 13, "month": 13, "year": 5, "cycle": 13}


@dataclass
class SourceUsage:
    """A source's usage (meters) or statistics (sensors) per period, per metric."""

    source: DataSource
    kind: str
    zone: ZoneInfo
    currency: str
    periods: list[Period]
    meter: dict[str, MetricUsage] = field(default_factory=dict)
    sensor: dict[str, list[SensorStats]] = field(default_factory=dict)
    tariff_metrics: tuple[str, ...] = ()
    #: A thinned copy of the readings for drawing them: {metric: [(timestamp, value)]}.
    line: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """Return the metric names, in the source's order."""
        return self.source.metric_names

    @property
    def suspects(self) -> list[SuspectReading]:
        """Return the readings left out of usage (meters), oldest first."""
        found = [s for m in self.meter.values() for s in m.suspects]
        return sorted(found, key=lambda s: s.timestamp)

    @property
    def has_costs(self) -> bool:
        """Return True when some metric has a tariff."""
        return bool(self.tariff_metrics)

    def period_costs(self) -> list[Decimal | None]:
        """Return each period's total cost over the metrics with tariffs (None if unknown)."""
        totals: list[Decimal | None] = []
        for index in range(len(self.periods)):
            total: Decimal | None = Decimal(0)
            for metric in self.tariff_metrics:
                cost = self.meter[metric].periods[index].cost
                total = None if cost is None or total is None else total + cost.total
            totals.append(total if self.tariff_metrics else None)
        return totals


def check_period_kind(kind: object) -> str:
    """Return kind if it is a period kind, else raise ValidationFailed (key "period")."""
    if kind not in PERIOD_KINDS:
        raise ValidationFailed(
            {"period": [_("Choose one of %(kinds)s.", kinds=", ".join(PERIOD_KINDS))]}
        )
    return str(kind)


def default_range(source: DataSource, kind: str, today: date | None = None) -> tuple[date, date]:
    """Return the local (start, end) dates shown when none are asked for: the recent periods."""
    zone = source_zone(source)
    today = today or datetime.now(UTC).astimezone(zone).date()
    current = period_containing(kind, today, zone, source.cycle_day or 1)
    end = current.last_day + timedelta(days=1)
    span = DEFAULT_SPANS[kind]
    if kind == "day":
        return end - timedelta(days=span), end
    if kind == "week":
        return end - timedelta(weeks=span), end
    if kind == "year":
        return date(end.year - span, 1, 1), end
    first = current.first_day
    month = first.month - (span - 1)
    year = first.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1), end


def usage_for(
    source: DataSource,
    kind: str,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    *,
    line_points: int = 0,
) -> SourceUsage:
    """Return source's usage and cost (meter) or min/avg/max (sensor) per calendar period.

    start and end are local dates (or aware instants); the whole calendar periods overlapping
    [start, end) are returned. Without them, the recent periods (DEFAULT_SPANS) are.
    line_points > 0 also keeps about that many readings (the first of each time slice) in
    `line`, from the same pass.

    Raises:
        ValidationFailed: unknown period kind, end not after start, or too many periods.
    """
    kind = check_period_kind(kind)
    zone = source_zone(source)
    if start is None or end is None:
        default_start, default_end = default_range(source, kind)
        end = default_end if end is None else end
        if start is None:
            start = default_start
            # No empty periods before the first reading.
            first = db.session.scalar(
                select(func.min(Reading.timestamp)).where(Reading.data_source_id == source.id)
            )
            first_day = first.astimezone(zone).date() if first is not None else None
            if (
                first_day is not None
                and not isinstance(end, datetime)
                and (default_start < first_day < end)
            ):
                start = first_day
    _check_range(start, end, zone)
    periods = list(limited_periods(kind, start, end, zone, source.cycle_day or 1))
    return _compute(source, kind, zone, periods, line_points)


def _check_range(start, end, zone) -> None:
    def instant(value):
        if isinstance(value, datetime):
            return value
        return datetime.combine(value, datetime.min.time(), tzinfo=zone)

    if instant(end) <= instant(start):
        raise ValidationFailed({"end": [_("The end must be after the start.")]})


def limited_periods(
    kind: str, start: date | datetime, end: date | datetime, zone: ZoneInfo, cycle_day: int
) -> Iterator[Period]:
    """Yield the calendar periods overlapping [start, end), refusing more than MAX_PERIODS.

    Raises:
        ValidationFailed: key "period", once the range holds more than MAX_PERIODS periods.
    """
    for count, period in enumerate(iter_periods(kind, start, end, zone, cycle_day)):
        if count >= MAX_PERIODS:
            raise ValidationFailed(
                {
                    "period": [
                        _(
                            "That is more than %(limit)s periods; choose a shorter range or a "
                            "longer period.",
                            limit=MAX_PERIODS,
                        )
                    ]
                }
            )
        yield period


def _thinned(rows, result: SourceUsage, points: int) -> Iterator[tuple]:
    """Pass rows through, keeping the first reading of each metric in each time slice."""
    low = result.periods[0].start.timestamp()
    high = result.periods[-1].end.timestamp()
    size = (high - low) / points
    lines: dict[str, list[tuple[datetime, float]]] = {m: [] for m in result.metrics}
    last: dict[str, int] = {}
    for row in rows:
        t = row[0].timestamp()
        if low <= t <= high:
            slot = int((t - low) // size)
            for metric, value in row[1].items():
                if metric in lines and last.get(metric) != slot and value is not None:
                    lines[metric].append((row[0], float(value)))
                    last[metric] = slot
        yield row
    result.line = lines


def _compute(
    source: DataSource, kind: str, zone: ZoneInfo, periods: list[Period], line_points: int = 0
) -> SourceUsage:
    result = SourceUsage(source, kind, zone, currency_of(source), periods)
    if not periods:
        return result
    names = source.metric_names
    if source.kind == "sensor":
        rows = stream_readings(source, periods[0].start, periods[-1].end)
        if line_points > 0:
            rows = _thinned(rows, result, line_points)
        gap = timedelta(hours=source.max_gap_hours or 48)
        result.sensor = sensor_stats(rows, periods, names, gap)
        return result
    plans = tariff_plans(source)
    config = meter_config(source)
    report = meter_report(
        source, periods, config, plans, result if line_points > 0 else None, line_points
    )
    result.meter = report.metrics
    result.tariff_metrics = tuple(m for m in names if m in plans)
    return result


def meter_report(
    source: DataSource,
    periods: Sequence[Period],
    config: MeterConfig,
    plans: Mapping[str, TariffPlan],
    line: SourceUsage | None = None,
    line_points: int = 0,
) -> UsageReport:
    """Run the engine over the reduced readings (PostgreSQL), else or on a suspect over all."""
    low = min(p.start for p in periods)
    high = max(p.end for p in periods)
    names = source.metric_names
    slots = []
    if line is not None:
        size = (high - low) / line_points
        slots = [low + size * k for k in range(line_points)]
    rows = reduced_rows(source, low, high, boundaries(periods, plans, config), slots)
    tail_from = None
    if rows is not None:
        report = meter_usage(
            _thinned(rows, line, line_points) if line is not None else rows,
            periods,
            names,
            config,
            plans,
        )
        if not report.suspects:
            return report
        # The first suspect reading is a kept break, the same one every reading would give,
        # and up to it the reduced rows leave the engine exactly where every reading would.
        # From it on later readings are compared with the last accepted one: read them all.
        first = min(report.suspects, key=lambda s: (s.timestamp, s.key))
        tail_from = (first.timestamp, first.key)
    if tail_from is None:
        rows = stream_readings(source, low, high)
    else:
        head = [row for row in rows if (row[0], row[3]) < tail_from]
        rows = chain(
            head,
            stream_readings(source, low, high, from_key=(tail_from[0], uuid.UUID(tail_from[1]))),
        )
    if line is not None:
        rows = _thinned(rows, line, line_points)
    report = meter_usage(rows, periods, names, config, plans)
    _uuid_keys(report.metrics)
    return report


def boundaries(
    periods: Sequence[Period], plans: Mapping[str, TariffPlan], config: MeterConfig
) -> list[datetime]:
    """Return every instant the engine reads the register at: period ends, tariff changes."""
    instants = {p.start for p in periods} | {p.end for p in periods}
    instants.update(
        datetime.fromtimestamp(t, UTC) for plan in plans.values() for t in plan.change_instants()
    )
    instants.update(s.at for s in config.swaps)
    return sorted(instants)


def usage_over(source: DataSource, periods: Sequence[Period]) -> SourceUsage:
    """Return a meter source's usage over arbitrary (hand-made) periods, in one pass."""
    zone = source_zone(source)
    ordered = list(periods)
    result = SourceUsage(source, "custom", zone, currency_of(source), ordered)
    if not ordered or source.kind != "meter":
        return result
    plans = tariff_plans(source)
    report = meter_report(source, ordered, meter_config(source), plans)
    result.meter = report.metrics
    result.tariff_metrics = tuple(m for m in source.metric_names if m in plans)
    return result


def value_at(source: DataSource, instant: datetime) -> dict[str, MeterValue]:
    """Return each metric's value at instant, estimated when interpolated (None outside)."""
    if instant.tzinfo is None:
        raise ValidationFailed({"at": [_("Give the time with its timezone.")]})
    rows = stream_readings(source, instant, instant)
    if source.kind == "sensor":
        found = sensor_values_at(rows, [instant], source.metric_names)
        return {metric: values[0] for metric, values in found.items()}
    return meter_value_at(rows, instant, source.metric_names, meter_config(source))


# ---- Comparisons: dashboard and year over year ----------------------------------------------


def _uuid_keys(metrics: Mapping[str, MetricUsage]) -> None:
    """Give suspect readings their id as a UUID (the PostgreSQL stream reads it as text)."""
    for found in metrics.values():
        found.suspects[:] = [
            replace(s, key=uuid.UUID(s.key)) if isinstance(s.key, str) else s
            for s in found.suspects
        ]


# ---- Usage over periods --------------------------------------------------------------------
