"""Consumption and costs of a source from the database: the usage engine fed by one query.

The arithmetic lives in `homelog.usage` (pure, documented in docs/usage.md); this module
loads what it needs — readings in one streaming query ordered by (timestamp, id), meter
swaps, tariffs and the source's settings — and manages tariffs, swaps and usage settings.
Free of request objects; bad input raises `homelog.errors.ValidationFailed`.

Only the readings that matter are read: from a few readings before the first period (so a
typo right before the range is still recognised as suspect, and the register can be
interpolated at the first boundary) to the first reading at or after the last period's end.
On PostgreSQL a meter's usage reads even less: the readings beside each boundary and each
break (`reduced_rows`), a few hundred index probes instead of every reading in the range;
breaks are kept by a trigger-fed stale list (migration 0006, `refresh_breaks`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import chain
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Text, cast, func, select, tuple_, type_coerce
from sqlalchemy import text as text_sql
from sqlalchemy.exc import IntegrityError

from homelog import i18n, timeutil
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import DataSource, MeterEvent, Reading, Tariff, User, parse_id
from homelog.readings import clean_value
from homelog.usage import (
    PERIOD_KINDS,
    Cost,
    MeterConfig,
    MeterSwap,
    MeterValue,
    MetricUsage,
    Period,
    SensorStats,
    SuspectReading,
    TariffPlan,
    UsageReport,
    YearProjection,
    iter_periods,
    meter_usage,
    meter_value_at,
    period_containing,
    project_year,
    sensor_stats,
    sensor_values_at,
)
from homelog.usage import Tariff as EngineTariff
from homelog.usage.projection import add_years

#: Readings read before the range, so a bad reading at its start is judged against earlier ones.
CONTEXT_READINGS = 8
#: The most periods one request may ask for (10 years of days fit).
MAX_PERIODS = 4000
MAX_PRICE = Decimal("999999.999999")
MAX_ADVANCE = Decimal("9999999999.99")
MAX_REGISTER = 1e15
MIN_DATE, MAX_DATE = timeutil.FIRST_DAY, timeutil.LAST_DAY
CURRENCIES = (
    "EUR",
    "USD",
    "GBP",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "CAD",
    "AUD",
    "NZD",
    "JPY",
)
DEFAULT_SPANS = {"day": 31, "week": 13, "month": 13, "year": 5, "cycle": 13}


# ---- Loading -------------------------------------------------------------------------------


def source_zone(source: DataSource) -> ZoneInfo:
    """Return the timezone periods of source are counted in: its home's, else its owner's."""
    if source.location is not None and source.location.timezone:
        return timeutil.zone(source.location.timezone)
    return timeutil.zone(source.owner.timezone if source.owner else "UTC")


def currency_of(source: DataSource) -> str:
    """Return the currency source's tariffs and costs are in (its owner's)."""
    return (source.owner.currency if source.owner else None) or "EUR"


def swaps_of(source: DataSource) -> list[MeterEvent]:
    """Return source's recorded meter swaps, oldest first."""
    return list(
        db.session.scalars(
            select(MeterEvent)
            .where(MeterEvent.data_source_id == source.id)
            .order_by(MeterEvent.at, MeterEvent.id)
        )
    )


def tariffs_of(source: DataSource) -> list[Tariff]:
    """Return source's tariffs ordered by metric (in the source's order), then date."""
    order = {name: index for index, name in enumerate(source.metric_names)}
    rows = db.session.scalars(select(Tariff).where(Tariff.data_source_id == source.id))
    return sorted(rows, key=lambda t: (order.get(t.metric, len(order)), t.effective_from))


def meter_config(source: DataSource, swaps: Sequence[MeterEvent] | None = None) -> MeterConfig:
    """Return the engine's view of source's registers: rollover sizes, swaps, gap threshold."""
    events = swaps_of(source) if swaps is None else swaps
    return MeterConfig(
        rollover_at={k: float(v) for k, v in (source.rollover_at or {}).items() if v},
        swaps=[
            MeterSwap(
                at=e.at,
                old_final=e.old_final or {},
                new_start=e.new_start or {},
                rollover_at=e.rollover_at,
            )
            for e in events
        ],
        max_gap=timedelta(hours=source.max_gap_hours or 48),
    )


def tariff_plans(source: DataSource, rows: Sequence[Tariff] | None = None) -> dict[str, TariffPlan]:
    """Return a tariff plan per metric that has tariffs."""
    rows = tariffs_of(source) if rows is None else rows
    grouped: dict[str, list[EngineTariff]] = {}
    for row in rows:
        grouped.setdefault(row.metric, []).append(
            EngineTariff(
                row.effective_from, Decimal(row.unit_price), Decimal(row.standing_charge or 0)
            )
        )
    zone = source_zone(source)
    return {metric: TariffPlan(items, zone) for metric, items in grouped.items()}


def _window(source: DataSource, start: datetime | None, end: datetime | None):
    """Return the (low, high) timestamps bounding the readings needed for [start, end]."""
    base = select(Reading.timestamp).where(Reading.data_source_id == source.id)
    low = high = None
    if start is not None:
        # The CONTEXT_READINGS-th reading before start (fewer when there are fewer).
        before = (
            base.where(Reading.timestamp < start)
            .order_by(Reading.timestamp.desc(), Reading.id.desc())
            .limit(CONTEXT_READINGS)
            .subquery()
        )
        low = db.session.scalar(select(func.min(before.c.timestamp)))
        if low is None:
            low = start
    if end is not None:
        high = db.session.scalar(
            base.where(Reading.timestamp >= end).order_by(Reading.timestamp, Reading.id).limit(1)
        )
        if high is None:
            high = end
    return low, high


def stream_readings(
    source: DataSource,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    batch: int = 2000,
    from_key: tuple[datetime, uuid.UUID] | None = None,
) -> Iterator[tuple]:
    """Yield (timestamp, {metric: value}, confirmed, id) of source in time order.

    Covers [start, end] plus the readings just outside it that interpolation needs; with
    from_key, only from that (timestamp, id) on. On PostgreSQL the numbers are taken out of
    the JSON in SQL (no JSON decoding in Python).
    """
    low, high = _window(source, start, end)
    names = source.metric_names
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Plain columns, no per-row Python conversions: PostgreSQL hands back aware
        # timestamps, the numbers come out of the JSON in SQL and the id as text (turned back
        # into a UUID only for the few suspect readings).
        columns = [
            type_coerce(Reading.timestamp, DateTime(timezone=True)),
            Reading.confirmed,
            cast(Reading.id, Text),
        ]
        columns += [Reading.values[name].as_float() for name in names]
    else:
        columns = [Reading.timestamp, Reading.confirmed, Reading.id, Reading.values]
    query = select(*columns).where(Reading.data_source_id == source.id)
    if low is not None:
        query = query.where(Reading.timestamp >= low)
    if high is not None:
        query = query.where(Reading.timestamp <= high)
    if from_key is not None:
        query = query.where(tuple_(Reading.timestamp, Reading.id) >= tuple_(*from_key))
    # A server-side cursor fetched in batches; Core rows, not ORM entities.
    query = query.order_by(Reading.timestamp, Reading.id).execution_options(yield_per=batch)
    result = db.session.connection().execute(query)
    if postgres:
        for row in result:
            values = {
                name: value for name, value in zip(names, row[3:], strict=True) if value is not None
            }
            yield row[0], values, row[1], row[2]
    else:
        for timestamp, confirmed, reading_id, values in result:
            yield timestamp, values or {}, confirmed, reading_id


def count_readings(source: DataSource, limit: int) -> int:
    """Return how many readings source has, counting no further than limit."""
    found = select(Reading.id).where(Reading.data_source_id == source.id).limit(limit).subquery()
    return db.session.scalar(select(func.count()).select_from(found)) or 0


#: Advisory lock class of a source's breaks recompute (the other key is the source id).
BREAKS_LOCK = 7301


def reduced_rows(
    source: DataSource,
    start: datetime,
    end: datetime,
    instants: Sequence[datetime],
    line_instants: Sequence[datetime] = (),
) -> list[tuple] | None:
    """Return the meter readings usage over [start, end] needs, or None on SQLite or when stale.

    PostgreSQL only. Between two breaks (readings whose metrics differ from the reading
    before, or some value is lower: `ReadingBreak`) every metric rises, so usage needs only:
    the first and last readings, the one just before and the one at or after each instant
    the engine reads the register at (period boundaries, price changes, swaps), and each
    break with the reading before it. An unkept reading lies on a rising stretch between two
    kept ones: it changes no interpolated value, no gap, no rollover, and a drop below the
    previous reading — suspect or not — always falls on a kept break. So the engine on these
    rows finds the same first suspect reading as on every reading; after it the list can be
    shorter (later readings are compared with the last accepted one), which is why callers
    stream every reading from the first suspect on (`_meter_report`). line_instants add the first
    reading at or after each (for the chart's line). One query: about 2 index probes per
    instant, never a scan of the range. None while the source's breaks are out of date
    (after one attempt to bring them up to date).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    low, high = _window(source, start, end)
    sql, params = reduced_query(source, low, high, instants, line_instants)
    found = db.session.connection().execute(text_sql(sql), params).all()
    if found and found[0][-1]:
        refresh_breaks(source.id)
        found = db.session.connection().execute(text_sql(sql), params).all()
        if found and found[0][-1]:
            return None
    names = source.metric_names
    rows = []
    for row in found:
        if row[0] is None:  # only the "stale" flag: no readings in the range
            continue
        values_of = {
            name: value for name, value in zip(names, row[3:-1], strict=True) if value is not None
        }
        rows.append((row[0], values_of, row[1], row[2]))
    return rows


def reduced_query(
    source: DataSource,
    low: datetime,
    high: datetime,
    instants: Sequence[datetime],
    line_instants: Sequence[datetime] = (),
) -> tuple[str, dict]:
    """Return the SQL (and its parameters) that picks the readings reduced_rows needs.

    Its last column is True when the source's breaks are out of date for [low, high].
    """
    names = source.metric_names
    before = sorted(set(instants))
    params: dict[str, object] = {
        "source": source.id,
        "low": low,
        "high": high,
        "before": before,
        "after": sorted(set(before) | set(line_instants)),
    }
    values = []
    for index, name in enumerate(names):
        params[f"m{index}"] = name
        values.append(f"CAST(p.v ->> :m{index} AS double precision)")
    # Every branch is an index probe on (data_source_id, timestamp, id), LIMIT 1 or 2.
    columns = 'r."timestamp" AS t, r.id, r.confirmed AS c, r."values" AS v'
    mine = 'r.data_source_id = :source AND r."timestamp" >= :low AND r."timestamp" <= :high'
    sql = f"""
        WITH picked AS (
            (SELECT {columns} FROM readings r WHERE {mine}
             ORDER BY r."timestamp", r.id LIMIT 1)
            UNION ALL
            (SELECT {columns} FROM readings r WHERE {mine}
             ORDER BY r."timestamp" DESC, r.id DESC LIMIT 1)
            UNION ALL
            SELECT x.* FROM unnest(CAST(:before AS timestamptz[])) AS b(at),
            LATERAL (SELECT {columns} FROM readings r WHERE {mine} AND r."timestamp" < b.at
                     ORDER BY r."timestamp" DESC, r.id DESC LIMIT 1) AS x
            UNION ALL
            SELECT x.* FROM unnest(CAST(:after AS timestamptz[])) AS a(at),
            LATERAL (SELECT {columns} FROM readings r WHERE {mine} AND r."timestamp" >= a.at
                     ORDER BY r."timestamp", r.id LIMIT 1) AS x
            UNION ALL
            -- Each break and the reading before it.
            SELECT x.* FROM reading_breaks k,
            LATERAL (SELECT {columns} FROM readings r WHERE {mine}
                     AND (r."timestamp", r.id) <= (k."timestamp", k.reading_id)
                     ORDER BY r."timestamp" DESC, r.id DESC LIMIT 2) AS x
            WHERE k.data_source_id = :source AND k."timestamp" >= :low
              AND k."timestamp" <= :high
        ),
        stale AS (
            SELECT EXISTS (SELECT 1 FROM reading_breaks_stale s
                           WHERE s.data_source_id = :source AND s.since <= :high) AS stale
        )
        SELECT p.t, p.c, CAST(p.id AS text) AS k, {", ".join(values)}, stale.stale
        FROM stale LEFT JOIN (SELECT DISTINCT ON (t, id) * FROM picked ORDER BY t, id) AS p
        ON true
        ORDER BY p.t, p.id
    """
    return sql, params


def refresh_breaks(source_id: int) -> None:
    """Recompute a source's breaks from its oldest stale instant on, and commit (PostgreSQL).

    Runs in a connection of its own, so a GET request's session writes nothing. Skips work
    another request is doing (advisory lock) and stale rows a writer still holds (they stay
    for the next time): every row it deletes was locked before its readings were read.
    """
    with db.engine.connect() as conn, conn.begin():
        if not conn.scalar(
            text_sql("SELECT pg_try_advisory_xact_lock(:lock, :source)"),
            {"lock": BREAKS_LOCK, "source": source_id},
        ):
            return
        stale = conn.execute(
            text_sql(
                "SELECT id, since FROM reading_breaks_stale WHERE data_source_id = :source "
                "FOR UPDATE SKIP LOCKED"
            ),
            {"source": source_id},
        ).all()
        if not stale:
            return
        since = min(row.since for row in stale)
        readings = conn.execute(
            text_sql("""
            SELECT "timestamp", id, "values" FROM readings
            WHERE data_source_id = :source AND "timestamp" >= coalesce(
                (SELECT max("timestamp") FROM readings
                 WHERE data_source_id = :source AND "timestamp" < :since), :since)
            ORDER BY "timestamp", id
        """).execution_options(yield_per=5000),
            {"source": source_id, "since": since},
        )
        times, ids = [], []
        previous = None
        for timestamp, reading_id, values in readings:
            values = values or {}
            if previous is not None and timestamp >= since and is_break(previous, values):
                times.append(timestamp)
                ids.append(reading_id)
            previous = values
        conn.execute(
            text_sql(
                "DELETE FROM reading_breaks"
                ' WHERE data_source_id = :source AND "timestamp" >= :since'
            ),
            {"source": source_id, "since": since},
        )
        if ids:
            conn.execute(
                text_sql("""
                INSERT INTO reading_breaks (data_source_id, "timestamp", reading_id)
                SELECT :source, t, i FROM unnest(CAST(:times AS timestamptz[]),
                                                 CAST(:ids AS uuid[])) AS b(t, i)
            """),
                {"source": source_id, "times": times, "ids": ids},
            )
        conn.execute(
            text_sql("DELETE FROM reading_breaks_stale WHERE id = ANY(:ids)"),
            {"ids": [row.id for row in stale]},
        )


def is_break(previous: Mapping[str, object], values: Mapping[str, object]) -> bool:
    """Return True unless values has the same metrics as previous and none is lower."""
    if previous.keys() != values.keys():
        return True
    try:
        return any(value < previous[name] for name, value in values.items())
    except TypeError:  # a None or a non-number: never seen from the app, so keep it
        return True


def _uuid_keys(metrics: Mapping[str, MetricUsage]) -> None:
    """Give suspect readings their id as a UUID (the PostgreSQL stream reads it as text)."""
    for found in metrics.values():
        found.suspects[:] = [
            replace(s, key=uuid.UUID(s.key)) if isinstance(s.key, str) else s
            for s in found.suspects
        ]


# ---- Usage over periods --------------------------------------------------------------------


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


def period_label(kind: str, period: Period) -> str:
    """Return a short label for a calendar period ("2026-03", "2026-W13", ...)."""
    first = period.first_day
    if first is None:
        return f"{period.start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M}"
    if kind == "day":
        return first.isoformat()
    if kind == "week":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{first:%Y-%m}"
    if kind == "year":
        return str(first.year)
    return f"{first.isoformat()} – {period.last_day.isoformat()}"


def _day_month(day: date) -> str:
    return i18n.format_date(day, "MMMd")


def display_label(kind: str, period: Period) -> str:
    """Return a label people read for a period ("Nov 2026", "24–30 Nov", "Wed 2 Dec").

    In the reader's locale ("Nov. 2026", "24.–30. Nov." in German).
    """
    first, last = period.first_day, period.last_day
    if first is None or last is None:
        return period_label(kind, period)
    if kind == "day":
        return i18n.format_date(first, "MMMEd")
    if kind == "month":
        return i18n.format_date(first, "yMMM")
    if kind == "year":
        return str(first.year)
    text = i18n.format_date_interval(first, last, "MMMd")
    return text if kind == "week" else f"{text} {last.year}"


def month_axis_label(first: date, index: int) -> str:
    """Return a month's axis label: "Nov", with the year on January and on the first bar."""
    # Not on the first bar when January stands right beside it: the labels would collide.
    with_year = first.month == 1 or (index == 0 and first.month != 12)
    return i18n.format_date(first, "yMMM" if with_year else "MMM")


def chart_label(kind: str, period: Period, index: int = 0) -> str:
    """Return a short axis label for a period ("Nov", "Jan 2027", "24 Nov", "2 Dec")."""
    first = period.first_day
    if first is None:
        return period_label(kind, period)
    if kind == "month":
        return month_axis_label(first, index)
    if kind == "year":
        return str(first.year)
    return _day_month(first)


def check_period_kind(kind: object) -> str:
    """Return kind if it is a period kind, else raise ValidationFailed (key "period")."""
    if kind not in PERIOD_KINDS:
        raise ValidationFailed({"period": [f"Choose one of {', '.join(PERIOD_KINDS)}."]})
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
        raise ValidationFailed({"end": ["The end must be after the start."]})


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
                        f"That is more than {MAX_PERIODS} periods; choose a shorter range or a "
                        "longer period."
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
    report = _meter_report(
        source, periods, config, plans, result if line_points > 0 else None, line_points
    )
    result.meter = report.metrics
    result.tariff_metrics = tuple(m for m in names if m in plans)
    return result


def _meter_report(
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
    rows = reduced_rows(source, low, high, _boundaries(periods, plans, config), slots)
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


def _boundaries(
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
    report = _meter_report(source, ordered, meter_config(source), plans)
    result.meter = report.metrics
    result.tariff_metrics = tuple(m for m in source.metric_names if m in plans)
    return result


def value_at(source: DataSource, instant: datetime) -> dict[str, MeterValue]:
    """Return each metric's value at instant, estimated when interpolated (None outside)."""
    if instant.tzinfo is None:
        raise ValidationFailed({"at": ["Give the time with its timezone."]})
    rows = stream_readings(source, instant, instant)
    if source.kind == "sensor":
        found = sensor_values_at(rows, [instant], source.metric_names)
        return {metric: values[0] for metric, values in found.items()}
    return meter_value_at(rows, instant, source.metric_names, meter_config(source))


# ---- Comparisons: dashboard and year over year ----------------------------------------------


@dataclass(frozen=True)
class Span:
    """Usage and cost of one metric over one span (measured part only when incomplete)."""

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
                Line("Total", self.total(key), self.common_unit or "", total_cost, total=True)
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
    spans, labels, last = _comparison_spans(source, now)
    keys = list(spans)
    usage = usage_over(source, [spans[k] for k in keys])
    metrics: dict[str, dict[str, Span]] = {}
    costs: dict[str, Decimal | None] = {k: None for k in keys}
    for metric, found in usage.meter.items():
        metrics[metric] = {}
        for key, item in zip(keys, found.periods, strict=True):
            measured = key == "this_month" or key == "year_to_date"
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


def _comparison_spans(
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
    labels = {
        "this_month": f"{month.first_day:%B %Y} so far",
        "last_month": f"{previous.first_day:%B %Y}",
        "last_year_month": f"{last_year_month.first_day:%B %Y}",
        "last_year_month_to_date": f"{last_year_month.first_day:%B %Y}, same days",
        "year_to_date": f"{month.first_day.year} to date",
        "last_year_to_date": f"{month.first_day.year - 1}, same days",
    }
    return spans, labels, last


# ---- The whole home -------------------------------------------------------------------------

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
        zone = source_zone(source)
        current = period_containing("month", now, zone)
        months = [current]
        while len(months) < HOME_MONTHS:
            months.insert(
                0, period_containing("month", months[0].start - timedelta(seconds=1), zone)
            )
        if not result.months:
            result.months = [m.first_day for m in months]
            result.year = current.first_day.year
        plans = tariff_plans(source)
        if not plans or currency_of(source) != currency:
            result.unpriced.append(source)
            continue
        spans, _, _ = _comparison_spans(source, now)
        wanted = [*months, spans["year_to_date"], spans["last_year_to_date"]]
        report = _meter_report(source, wanted, meter_config(source), plans)
        priced = [m for m in source.metric_names if m in plans]
        costs: list[Decimal | None] = []
        partial: list[bool] = []
        for index in range(len(months)):
            total: Decimal | None = Decimal(0)
            whole = True
            for metric in priced:
                item = report.metrics[metric].periods[index]
                whole = whole and item.complete
                total = _add_cost(total, item.cost if item.complete else item.measured_cost)
            costs.append(total)
            partial.append(total is not None and not whole)
        ytd: Decimal | None = Decimal(0)
        last_ytd: Decimal | None = Decimal(0)
        complete = True
        for metric in priced:
            now_item, before = report.metrics[metric].periods[-2:]
            ytd = _add_cost(ytd, now_item.measured_cost)
            last_ytd = _add_cost(last_ytd, before.measured_cost)
            complete = complete and now_item.complete and before.complete
        result.sources.append(source)
        result.costs[source.id] = costs
        result.partial[source.id] = partial
        if ytd is not None:
            result.year_to_date = (result.year_to_date or Decimal(0)) + ytd
        if last_ytd is not None:
            result.last_year_to_date = (result.last_year_to_date or Decimal(0)) + last_ytd
        if not complete and (ytd is not None or last_ytd is not None):
            result.incomplete.append(source)
        if source.billing_year_start is not None:
            found = projection(source, now)
            if found is not None:
                result.projections.append((source, found))
    return result


def _shift_years(instant: datetime, years: int, zone: ZoneInfo) -> datetime:
    """Return the same local date and time `years` later (Feb 29 → Feb 28), in UTC."""
    local = instant.astimezone(zone)
    day = add_years(local.date(), years)
    shifted = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)
    return shifted.astimezone(UTC)


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


# ---- Tariffs -------------------------------------------------------------------------------


def _decimal(
    value: object,
    key: str,
    errors: dict,
    *,
    low: Decimal,
    high: Decimal,
    places: int,
    required: bool = True,
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.setdefault(key, []).append("Enter an amount.")
        return None
    if isinstance(value, bool):
        errors.setdefault(key, []).append("Enter an amount, like 0.32.")
        return None
    try:
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            if "," in text and "." not in text:
                text = text.replace(",", ".")
            number = Decimal(text)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault(key, []).append("Enter an amount, like 0.32.")
        return None
    if not number.is_finite():
        errors.setdefault(key, []).append("Enter a finite amount.")
        return None
    if not low <= number <= high:
        errors.setdefault(key, []).append(f"Enter an amount from {low} to {high}.")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.setdefault(key, []).append(f"Use at most {places} decimal places.")
        return None
    return number


def _date(value: object, key: str, errors: dict, required: bool = True) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            value = None
        else:
            try:
                value = date.fromisoformat(text)
            except ValueError:
                errors.setdefault(key, []).append("Enter a date like 2026-03-31.")
                return None
    if value is None:
        if required:
            errors.setdefault(key, []).append("Enter a date.")
        return None
    if not isinstance(value, date):
        errors.setdefault(key, []).append("Enter a date like 2026-03-31.")
        return None
    if not MIN_DATE <= value <= MAX_DATE:
        errors.setdefault(key, []).append(timeutil.RANGE_MESSAGE)
        return None
    return value


def check_tariff(
    source: DataSource,
    metric: object,
    effective_from: object,
    unit_price: object,
    standing_charge: object,
) -> tuple:
    """Return a price's (metric, first day, unit price, standing charge) checked as typed in.

    Raises:
        ValidationFailed: keys "metric", "effective_from", "unit_price", "standing_charge".
    """
    errors: dict[str, list[str]] = {}
    if source.kind != "meter":
        raise ValidationFailed({"metric": ["Prices apply to meters only."]})
    if metric not in source.metric_names:
        errors["metric"] = ["Choose one of this source's metrics."]
    day = _date(effective_from, "effective_from", errors)
    price = _decimal(unit_price, "unit_price", errors, low=-MAX_PRICE, high=MAX_PRICE, places=6)
    standing = _decimal(
        standing_charge if standing_charge not in (None, "") else "0",
        "standing_charge",
        errors,
        low=Decimal(0),
        high=MAX_PRICE,
        places=6,
    )
    if errors:
        raise ValidationFailed(errors)
    return metric, day, price, standing


def _commit_unique(message_key: str, message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed({message_key: [message]}) from None


def get_tariff(source: DataSource, tariff_id: object) -> Tariff | None:
    """Return source's tariff with tariff_id, or None (also for junk ids and other sources)."""
    wanted = parse_id(tariff_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(Tariff).where(Tariff.id == wanted, Tariff.data_source_id == source.id)
    )


def create_tariff(
    source: DataSource,
    metric: str,
    effective_from: date | str,
    unit_price: object,
    standing_charge: object = 0,
) -> Tariff:
    """Add a price for one metric of a meter from a date on, and commit.

    Raises:
        ValidationFailed: keys "metric", "effective_from", "unit_price", "standing_charge";
            also when the metric already has a price starting that day.
    """
    metric, day, price, standing = check_tariff(
        source, metric, effective_from, unit_price, standing_charge
    )
    tariff = Tariff(
        data_source_id=source.id,
        metric=metric,
        effective_from=day,
        unit_price=price,
        standing_charge=standing,
    )
    db.session.add(tariff)
    _commit_unique("effective_from", f"“{metric}” already has a price starting on {day}.")
    return tariff


def update_tariff(
    tariff: Tariff,
    metric: str,
    effective_from: date | str,
    unit_price: object,
    standing_charge: object = 0,
) -> Tariff:
    """Change a tariff (all fields) and commit; raises ValidationFailed like create_tariff."""
    metric, day, price, standing = check_tariff(
        tariff.source, metric, effective_from, unit_price, standing_charge
    )
    tariff.metric, tariff.effective_from = metric, day
    tariff.unit_price, tariff.standing_charge = price, standing
    _commit_unique("effective_from", f"“{metric}” already has a price starting on {day}.")
    return tariff


def delete_tariff(tariff: Tariff) -> None:
    """Delete a tariff and commit."""
    db.session.delete(tariff)
    db.session.commit()


# ---- Meter swaps ---------------------------------------------------------------------------


def _register_values(
    source: DataSource, values: object, key: str, errors: dict, *, positive: bool = False
) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        errors.setdefault(key, []).append("Give the values as {metric: number}.")
        return {}
    cleaned: dict[str, float] = {}
    for metric, raw in values.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if metric not in source.metric_names:
            errors.setdefault(key, []).append(
                f"“{str(metric)[:40]}” is not a metric of this source."
            )
            continue
        try:
            number = clean_value(raw)
        except ValueError as error:
            errors.setdefault(f"{key}.{metric}", []).append(str(error))
            continue
        if number < 0 or (positive and number == 0):
            errors.setdefault(f"{key}.{metric}", []).append(
                "Enter a number above 0." if positive else "Enter 0 or more."
            )
            continue
        cleaned[metric] = number
    return cleaned


def check_swap(
    source: DataSource,
    at: object,
    old_final: object,
    new_start: object,
    rollover_at: object,
    note: object,
) -> tuple:
    """Return a swap's (at in UTC, old finals, new starts, sizes or None, note), checked.

    Raises:
        ValidationFailed: keys "at", "old_final[.metric]", "new_start[.metric]",
            "rollover_at[.metric]", "note".
    """
    if source.kind != "meter":
        raise ValidationFailed({"at": ["Only meters are replaced; sensors have no register."]})
    errors: dict[str, list[str]] = {}
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        errors["at"] = ["Enter a date and time."]
        when = None
    elif not timeutil.EARLIEST <= at < timeutil.END:
        errors["at"] = [timeutil.RANGE_MESSAGE]
        when = None
    else:
        when = at.astimezone(UTC)
    old = _register_values(source, old_final, "old_final", errors)
    new = _register_values(source, new_start, "new_start", errors)
    sizes = _register_values(source, rollover_at, "rollover_at", errors, positive=True)
    if not any(k.startswith(("old_final", "new_start")) for k in errors):
        if not old and not new:
            errors["old_final"] = ["Enter the old meter's final value of at least one metric."]
        for metric in source.metric_names:
            if (metric in old) != (metric in new):
                missing = "new_start" if metric in old else "old_final"
                errors.setdefault(f"{missing}.{metric}", []).append(
                    "Enter both the old meter's final value and the new meter's start value."
                )
    clean_note = None
    if note is not None:
        if not isinstance(note, str) or len(note.strip()) > 500 or "\x00" in note:
            errors["note"] = ["Use at most 500 characters of text."]
        else:
            clean_note = note.strip() or None
    if errors:
        raise ValidationFailed(errors)
    return when, old, new, sizes or None, clean_note


def get_swap(source: DataSource, swap_id: object) -> MeterEvent | None:
    """Return source's swap with swap_id, or None (also for junk ids and other sources)."""
    wanted = parse_id(swap_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(MeterEvent).where(MeterEvent.id == wanted, MeterEvent.data_source_id == source.id)
    )


def create_swap(
    source: DataSource,
    user: User | None,
    at: datetime,
    old_final: Mapping,
    new_start: Mapping,
    rollover_at: Mapping | None = None,
    note: str | None = None,
) -> MeterEvent:
    """Record that source's meter was replaced at `at`, and commit.

    Raises:
        ValidationFailed: keys "at", "old_final[.metric]", "new_start[.metric]",
            "rollover_at[.metric]", "note"; also when a swap is already recorded at `at`.
    """
    when, old, new, sizes, clean_note = check_swap(
        source, at, old_final, new_start, rollover_at, note
    )
    event = MeterEvent(
        data_source_id=source.id,
        at=when,
        old_final=old,
        new_start=new,
        rollover_at=sizes,
        note=clean_note,
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(event)
    _commit_unique("at", "A meter swap is already recorded at that time.")
    return event


def update_swap(
    event: MeterEvent,
    at: datetime,
    old_final: Mapping,
    new_start: Mapping,
    rollover_at: Mapping | None = None,
    note: str | None = None,
) -> MeterEvent:
    """Change a recorded swap (all fields) and commit; raises like create_swap."""
    when, old, new, sizes, clean_note = check_swap(
        event.source, at, old_final, new_start, rollover_at, note
    )
    event.at, event.old_final, event.new_start = when, old, new
    event.rollover_at, event.note = sizes, clean_note
    _commit_unique("at", "A meter swap is already recorded at that time.")
    return event


def delete_swap(event: MeterEvent) -> None:
    """Delete a recorded swap and commit."""
    db.session.delete(event)
    db.session.commit()


# ---- Usage settings of a source -------------------------------------------------------------


def update_settings(
    source: DataSource,
    *,
    rollover_at: Mapping | None = None,
    cycle_day: object = 1,
    monthly_advance: object = None,
    billing_year_start: object = None,
    max_gap_hours: object = 48,
) -> DataSource:
    """Set source's register sizes, billing cycle day, advance, billing year and gap; commit.

    Raises:
        ValidationFailed: keys "rollover_at[.metric]", "cycle_day", "monthly_advance",
            "billing_year_start", "max_gap_hours".
    """
    settings = clean_settings(
        source,
        rollover_at=rollover_at,
        cycle_day=cycle_day,
        monthly_advance=monthly_advance,
        billing_year_start=billing_year_start,
        max_gap_hours=max_gap_hours,
    )
    for name, value in settings.items():
        setattr(source, name, value)
    db.session.commit()
    return source


def clean_settings(
    source: DataSource,
    *,
    rollover_at: Mapping | None = None,
    cycle_day: object = 1,
    monthly_advance: object = None,
    billing_year_start: object = None,
    max_gap_hours: object = 48,
) -> dict:
    """Return source's usage settings checked as typed in: {field name: clean value}.

    Raises:
        ValidationFailed: as update_settings.
    """
    errors: dict[str, list[str]] = {}
    sizes = _register_values(source, rollover_at, "rollover_at", errors, positive=True)
    day = _int(cycle_day, "cycle_day", errors, 1, 31, "Enter a day of the month from 1 to 31.")
    gap = _int(
        max_gap_hours,
        "max_gap_hours",
        errors,
        1,
        24 * 366,
        "Enter a number of hours from 1 to 8784.",
    )
    advance = _decimal(
        monthly_advance,
        "monthly_advance",
        errors,
        low=Decimal(0),
        high=MAX_ADVANCE,
        places=2,
        required=False,
    )
    year_start = _date(billing_year_start, "billing_year_start", errors, required=False)
    if errors:
        raise ValidationFailed(errors)
    return {
        "rollover_at": sizes,
        "cycle_day": day,
        "max_gap_hours": gap,
        "monthly_advance": advance,
        "billing_year_start": year_start,
    }


def _int(value: object, key: str, errors: dict, low: int, high: int, message: str) -> int:
    try:
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        errors.setdefault(key, []).append(message)
        return low
    if not low <= number <= high:
        errors.setdefault(key, []).append(message)
    return number


# ---- Metric renames ------------------------------------------------------------------------


def rename_metrics(
    source: DataSource, rename_map: Mapping[str, str], removed: Sequence[str]
) -> None:
    """Move tariffs, swap values and register sizes to renamed metrics; drop removed ones.

    Called by homelog.datasources.update_source inside its transaction (it commits).
    """
    if not rename_map and not removed:
        return
    gone = set(removed)

    def rekey(values: Mapping | None) -> dict | None:
        if values is None:
            return None
        return {rename_map.get(k, k): v for k, v in values.items() if k not in gone}

    source.rollover_at = rekey(source.rollover_at) or {}
    for event in swaps_of(source):
        event.old_final = rekey(event.old_final)
        event.new_start = rekey(event.new_start)
        event.rollover_at = rekey(event.rollover_at) or None
    tariffs = list(db.session.scalars(select(Tariff).where(Tariff.data_source_id == source.id)))
    moving = [t for t in tariffs if t.metric in rename_map]
    for tariff in tariffs:
        if tariff.metric in gone:
            db.session.delete(tariff)
    # Two steps, so a swap of two names never meets the unique (source, metric, day) halfway.
    originals = {tariff.id: tariff.metric for tariff in moving}
    for tariff in moving:
        tariff.metric = f"~{tariff.id}"
    db.session.flush()
    for tariff in moving:
        tariff.metric = rename_map[originals[tariff.id]]
    db.session.flush()
