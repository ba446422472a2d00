"""Meter usage: a continuous register from raw readings, then usage over periods.

One pass over readings ordered by time (any iterable, e.g. a streaming database query)
computes the register at every period boundary: O(readings + boundaries), constant memory
per metric beyond the results.

Rules (docs/usage.md has the worked example):

- The register at an instant between two readings is linearly interpolated; at a reading it
  is the reading. Before the first or after the last reading it is unknown (None).
- Usage over [start, end) = register(end) − register(start), per metric. It is given only
  when both ends lie within the readings (`complete`); otherwise `measured_usage` covers the
  part of the period between the first and last reading (e.g. "this month so far").
- `estimated`: an end of the period was interpolated between readings further apart than
  `max_gap` (default 2 days), and the nearest of them is more than a fifth of the period away
  (about six days for a month), so the split of usage across that gap is a guess that
  matters. Weekly readings make daily bars estimates, not monthly ones; monthly readings
  taken within a few days of the 1st leave months solid.
- A swap (meter replaced) is a known point of the register: the old meter's final value at
  the swap instant; readings from that instant on are the new meter's, continued from there.
- A rollover (a register that wraps, e.g. to 0 after 99999.9: `rollover_at` 100000) is a
  drop whose forward distance (value + rollover_at − previous) is at most `rollover_share`
  (default 10%) of the register's range; the register counts on across it. A larger forward
  distance looks more like a typo (60000 → 6000 would be 46000 units in one step), so it
  is suspect until confirmed.
- Any other drop below the previous accepted reading makes the reading `suspect`: it is left
  out of usage and reported. A reading marked confirmed is taken as a rollover when the
  register has one, else as it is, drop included (a meter that really ran backwards); a
  replaced meter should be recorded as a swap instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from homelog.usage.periods import Period
from homelog.usage.tariffs import Cost, TariffPlan

INF = math.inf
# A boundary interpolated across a long gap marks its period estimated when the nearest
# reading is further from it than this share of the period.
NEAR_SHARE = 0.2

#: A reading as the engine takes it: (timestamp, {metric: value}[, confirmed[, key]]).
#: `key` (e.g. the reading's id) is echoed back in SuspectReading.
Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class MeterSwap:
    """A meter replaced at `at`: the old one's final and the new one's first register values.

    Metrics missing from both mappings are not affected by the swap. `rollover_at` sets the
    new meter's register size per metric when it differs from the old one.
    """

    at: datetime
    old_final: Mapping[str, float]
    new_start: Mapping[str, float]
    rollover_at: Mapping[str, float] | None = None


# A drop is a rollover, not a suspect reading, when the usage it implies is at most this share
# of the register's range (see MeterConfig).
ROLLOVER_SHARE = 0.1


def is_rollover(
    value: float, before: float, size: float | None, share: float = ROLLOVER_SHARE
) -> bool:
    """Return True when value after before is a register of `size` wrapping round, not a drop.

    size is the value the register wraps to 0 at (None or 0: it does not wrap); the forward
    distance value + size - before must be at most `share` of the range.
    """
    return bool(size) and value < before and value + size - before <= size * share


def register_sizes(
    sizes: Mapping[str, float | None], changes: Mapping | None
) -> dict[str, float | None]:
    """Return sizes ({metric: size}) with a source's or a swap's stored sizes applied.

    A stored size that is 0, empty or not a number means the register does not wrap (None).
    """
    updated = dict(sizes)
    for metric, size in (changes or {}).items():
        updated[metric] = float(size) if isinstance(size, int | float) and size > 0 else None
    return updated


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """How to read one source's registers: rollover sizes, swaps and the long-gap threshold.

    `rollover_at[metric]` is the value the register wraps to 0 at (100000 for a five-digit
    register showing up to 99999 or 99999.9). A drop is taken as a rollover without asking
    when the usage it implies is at most `rollover_share` of that range.
    """

    rollover_at: Mapping[str, float] = field(default_factory=dict)
    swaps: Sequence[MeterSwap] = ()
    max_gap: timedelta = timedelta(days=2)
    rollover_share: float = ROLLOVER_SHARE


@dataclass(frozen=True, slots=True)
class SuspectReading:
    """A reading below the previous accepted one with no swap or rollover to explain it."""

    metric: str
    timestamp: datetime
    value: float
    previous_timestamp: datetime
    previous_value: float
    key: Any = None


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """Usage of one metric over one period.

    `usage` is None unless the readings cover the whole period (`complete`). `measured_start`
    and `measured_end` bound the part the readings cover, and `measured_usage` is the usage
    there (equal to `usage` when complete). Costs follow the same rule.
    """

    period: Period
    usage: float | None
    complete: bool
    estimated: bool
    measured_start: datetime | None = None
    measured_end: datetime | None = None
    measured_usage: float | None = None
    cost: Cost | None = None
    measured_cost: Cost | None = None


@dataclass(frozen=True, slots=True)
class MetricUsage:
    """One metric's usage per period, its reading span and its suspect readings."""

    metric: str
    periods: list[PeriodUsage]
    first_reading: datetime | None
    last_reading: datetime | None
    suspects: list[SuspectReading]


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Usage per metric over the periods asked for."""

    metrics: dict[str, MetricUsage]

    @property
    def suspects(self) -> list[SuspectReading]:
        """Return every metric's suspect readings, in time order."""
        found = [s for m in self.metrics.values() for s in m.suspects]
        return sorted(found, key=lambda s: s.timestamp)


@dataclass(frozen=True, slots=True)
class MeterValue:
    """A metric's value at an instant.

    `value` is what the meter in place showed (after rollover, as displayed); `register` is
    the continuous register usage is computed from. `estimated` is True unless a reading (or
    a swap) is at that very instant; `gap` is then the time between the surrounding readings.
    """

    instant: datetime
    value: float | None
    register: float | None
    estimated: bool
    gap: timedelta | None = None


class _Track:
    """One metric's register as readings stream in, and its values at the boundaries."""

    __slots__ = (
        "metric",
        "bounds",
        "count",
        "index",
        "next_bound",
        "values",
        "gaps",
        "nears",
        "bases",
        "wraps",
        "check_drops",
        "wrap",
        "offset",
        "base",
        "prev_raw",
        "pt",
        "pv",
        "prev_row",
        "first_t",
        "first_v",
        "suspects",
        "share",
    )

    def __init__(
        self,
        metric: str,
        bounds: list[float],
        wrap: float | None,
        check_drops: bool,
        share: float = 0.1,
    ):
        self.metric = metric
        self.bounds = bounds
        self.count = len(bounds)
        self.index = 0
        self.next_bound = bounds[0] if bounds else INF
        self.values: list[float | None] = [None] * self.count
        # Per boundary: 0.0 when a reading is at it, else the span of the surrounding readings.
        self.gaps: list[float] = [0.0] * self.count
        # Per boundary: how far the nearest reading is (0.0 when one is at it).
        self.nears: list[float] = [0.0] * self.count
        self.bases: list[float] = [0.0] * self.count
        self.wraps: list[float | None] = [None] * self.count
        self.check_drops = check_drops
        self.share = share
        self.wrap = wrap or None
        self.offset = 0.0  # corrected register = raw value + offset
        self.base = 0.0  # offset from swaps only: the meter shows (register - base) % wrap
        self.prev_raw = -INF
        self.pt: float | None = None
        self.pv = 0.0
        self.prev_row: Row | None = None
        self.first_t: float | None = None
        self.first_v = 0.0
        self.suspects: list[SuspectReading] = []

    def add(self, t: float, raw: float, confirmed: bool, row: Row | None) -> None:
        """Take one raw reading (or a swap's final value) at POSIX time t."""
        if raw < self.prev_raw and self.check_drops:
            wrap = self.wrap
            if wrap and (confirmed or is_rollover(raw, self.prev_raw, wrap, self.share)):
                self.offset += wrap
            elif not confirmed:
                self._suspect(raw, row)
                return
        value = raw + self.offset
        if t >= self.next_bound:
            self._reach(t, value)
        if self.pt is None:
            self.first_t, self.first_v = t, value
        self.pt, self.pv, self.prev_raw, self.prev_row = t, value, raw, row

    def _reach(self, t: float, value: float) -> None:
        """Fill every boundary up to t, interpolating from the previous point."""
        bounds, values, gaps, nears = self.bounds, self.values, self.gaps, self.nears
        pt, pv = self.pt, self.pv
        index, bound = self.index, self.next_bound
        while bound <= t:
            if bound == t:
                values[index] = value
            elif pt is not None:
                values[index] = pv + (value - pv) * ((bound - pt) / (t - pt))
                gaps[index] = t - pt
                nears[index] = min(bound - pt, t - bound)
            self.bases[index] = self.base
            self.wraps[index] = self.wrap
            index += 1
            bound = bounds[index] if index < self.count else INF
        self.index, self.next_bound = index, bound

    def swap(self, t: float, old_final: float, new_start: float, new_wrap: float | None) -> None:
        """Record a meter swap: a known final value, then the new meter's count from new_start."""
        self.add(t, old_final, True, None)
        self.offset = self.pv - new_start
        self.base = self.offset
        self.prev_raw = new_start
        self.prev_row = None
        if new_wrap is not None:
            self.wrap = new_wrap or None

    def _suspect(self, raw: float, row: Row | None) -> None:
        prev_row = self.prev_row
        self.suspects.append(
            SuspectReading(
                metric=self.metric,
                timestamp=row[0] if row is not None else _utc(self.pt),
                value=raw,
                previous_timestamp=prev_row[0] if prev_row is not None else _utc(self.pt),
                previous_value=self.prev_raw,
                key=row[3] if row is not None and len(row) > 3 else None,
            )
        )

    def value_at(self, instant: float, index: Mapping[float, int]) -> float | None:
        """Return the register at a boundary or at the first or last reading."""
        position = index.get(instant)
        if position is not None:
            return self.values[position]
        if instant == self.first_t:
            return self.first_v
        if instant == self.pt:
            return self.pv
        return None


def _utc(instant: float | None) -> datetime:
    return datetime.fromtimestamp(instant or 0.0, UTC)


def run_registers(
    readings: Iterable[Row],
    bounds: list[float],
    metrics: Sequence[str],
    config: MeterConfig,
    check_drops: bool = True,
) -> dict[str, _Track]:
    """Stream readings once and fill every metric's register at each sorted boundary."""
    tracks = {
        m: _Track(m, bounds, config.rollover_at.get(m), check_drops, config.rollover_share)
        for m in metrics
    }
    order = list(tracks.values())
    swaps = sorted(config.swaps, key=lambda s: s.at)
    swap_times = [s.at.timestamp() for s in swaps]
    swap_index = 0
    next_swap = swap_times[0] if swap_times else INF
    last_t = -INF

    def apply_swaps_until(t: float) -> None:
        nonlocal swap_index, next_swap
        while swap_index < len(swaps) and swap_times[swap_index] <= t:
            swap = swaps[swap_index]
            for metric, track in tracks.items():
                if metric in swap.old_final and metric in swap.new_start:
                    wrap = swap.rollover_at.get(metric) if swap.rollover_at is not None else None
                    track.swap(
                        next_swap,
                        float(swap.old_final[metric]),
                        float(swap.new_start[metric]),
                        wrap,
                    )
            swap_index += 1
            next_swap = swap_times[swap_index] if swap_index < len(swaps) else INF

    for row in readings:
        t = row[0].timestamp()
        if t < last_t:
            raise ValueError("readings must be ordered by time")
        last_t = t
        if t >= next_swap:
            apply_swaps_until(t)
        values = row[1]
        confirmed = len(row) > 2 and bool(row[2])
        for track in order:
            raw = values.get(track.metric)
            if raw is not None:
                track.add(t, float(raw), confirmed, row)
    apply_swaps_until(INF)
    return tracks


def _bounds_of(periods: Sequence[Period], extra: Iterable[float] = ()) -> list[float]:
    instants = {p.start.timestamp() for p in periods}
    instants.update(p.end.timestamp() for p in periods)
    instants.update(extra)
    return sorted(instants)


def meter_usage(
    readings: Iterable[Row],
    periods: Sequence[Period],
    metrics: Sequence[str],
    config: MeterConfig | None = None,
    tariffs: Mapping[str, TariffPlan] | None = None,
) -> UsageReport:
    """Return each metric's usage (and cost, where a tariff plan is given) per period.

    readings: (timestamp, {metric: value}[, confirmed[, key]]) in time order; a missing or
    None value skips that metric for that reading.
    """
    config = config or MeterConfig()
    tariffs = tariffs or {}
    for period in periods:
        if period.end <= period.start:
            raise ValueError("a period must end after it starts")
    extra = {t for plan in tariffs.values() for t in plan.change_instants()}
    bounds = _bounds_of(periods, extra)
    tracks = run_registers(readings, bounds, metrics, config)
    index = {b: i for i, b in enumerate(bounds)}
    max_gap = config.max_gap.total_seconds()
    report = {}
    for metric, track in tracks.items():
        plan = tariffs.get(metric)
        results = [_period_usage(period, track, index, max_gap, plan) for period in periods]
        report[metric] = MetricUsage(
            metric=metric,
            periods=results,
            first_reading=_utc(track.first_t) if track.first_t is not None else None,
            last_reading=_utc(track.pt) if track.pt is not None else None,
            suspects=track.suspects,
        )
    return UsageReport(report)


def _period_usage(
    period: Period,
    track: _Track,
    index: Mapping[float, int],
    max_gap: float,
    plan: TariffPlan | None,
) -> PeriodUsage:
    start, end = period.start.timestamp(), period.end.timestamp()
    first, last = track.first_t, track.pt
    if first is None or last is None or end <= first or start >= last:
        if first is not None and first == last and start <= first < end:
            # A single reading inside the period: known value, no span to measure.
            return PeriodUsage(period, None, False, False, _utc(first), _utc(first), None)
        return PeriodUsage(period, None, False, False)
    i, j = index[start], index[end]
    values, gaps, nears = track.values, track.gaps, track.nears
    from_t, to_t = max(start, first), min(end, last)
    from_v = values[i] if start >= first else track.first_v
    to_v = values[j] if end <= last else track.pv
    # A long gap matters relative to the period: three days between readings make a day's
    # usage a guess, but a reading three days from the 1st barely moves a month's.
    near = (end - start) * NEAR_SHARE

    def guessed(k: int) -> bool:
        return gaps[k] > max_gap and nears[k] > near

    estimated = (start >= first and guessed(i)) or (end <= last and guessed(j))
    complete = start >= first and end <= last
    measured = to_v - from_v

    def value_at(instant: float) -> float | None:
        return track.value_at(instant, index)

    measured_cost = plan.cost(from_t, to_t, value_at) if plan is not None else None
    return PeriodUsage(
        period=period,
        usage=measured if complete else None,
        complete=complete,
        estimated=estimated,
        measured_start=_utc(from_t),
        measured_end=_utc(to_t),
        measured_usage=measured,
        cost=measured_cost if complete else None,
        measured_cost=measured_cost,
    )


def meter_values_at(
    readings: Iterable[Row],
    instants: Sequence[datetime],
    metrics: Sequence[str],
    config: MeterConfig | None = None,
) -> dict[str, list[MeterValue]]:
    """Return each metric's value at each instant (None outside the readings' span)."""
    config = config or MeterConfig()
    points = [i.timestamp() for i in instants]
    bounds = sorted(set(points))
    tracks = run_registers(readings, bounds, metrics, config)
    index = {b: k for k, b in enumerate(bounds)}
    result = {}
    for metric, track in tracks.items():
        found = []
        for instant, point in zip(instants, points, strict=True):
            k = index[point]
            register = track.values[k]
            if register is None:
                found.append(MeterValue(instant, None, None, False))
                continue
            shown = register - track.bases[k]
            wrap = track.wraps[k]
            if wrap:
                shown %= wrap
            gap = track.gaps[k]
            found.append(
                MeterValue(
                    instant, shown, register, gap > 0, timedelta(seconds=gap) if gap else None
                )
            )
        result[metric] = found
    return result


def meter_value_at(
    readings: Iterable[Row],
    instant: datetime,
    metrics: Sequence[str],
    config: MeterConfig | None = None,
) -> dict[str, MeterValue]:
    """Return each metric's value at one instant, estimated when interpolated."""
    found = meter_values_at(readings, [instant], metrics, config)
    return {metric: values[0] for metric, values in found.items()}
