"""Sensor statistics: minimum, time-weighted average and maximum per period.

Between two readings a sensor's value is taken to move linearly (the same line meters use),
so over each period, clipped to the span the readings cover:

- average = the integral of that line / the time covered (trapezoids), so a value held for
  ten hours weighs ten times one held for an hour, whatever the reading frequency;
- minimum and maximum = the extremes of the line, i.e. of the readings inside the period and
  the interpolated values where the period's edges cut a segment.

`complete` says the readings cover the whole period; `estimated` says a segment used in the
period spans more than `max_gap` between readings. One pass, O(readings + periods).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from homelog.usage.meter import MeterConfig, MeterValue, Row, run_registers
from homelog.usage.periods import Period


@dataclass(frozen=True, slots=True)
class SensorStats:
    """One metric's statistics over one period (None where no reading covers it)."""

    period: Period
    minimum: float | None
    average: float | None
    maximum: float | None
    count: int
    complete: bool
    estimated: bool
    measured_start: datetime | None = None
    measured_end: datetime | None = None


class _Accumulator:
    __slots__ = ("area", "covered", "low", "high", "count", "estimated", "lo_t", "hi_t")

    def __init__(self) -> None:
        self.area = 0.0
        self.covered = 0.0
        self.low = float("inf")
        self.high = float("-inf")
        self.count = 0
        self.estimated = False
        self.lo_t: float | None = None
        self.hi_t: float | None = None

    def see(self, t: float, value: float) -> None:
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        if self.lo_t is None or t < self.lo_t:
            self.lo_t = t
        if self.hi_t is None or t > self.hi_t:
            self.hi_t = t

    def result(self, period: Period, start: float, end: float) -> SensorStats:
        if self.lo_t is None or self.hi_t is None:
            return SensorStats(period, None, None, None, 0, False, False)
        average = self.area / self.covered if self.covered > 0 else (self.low + self.high) / 2
        return SensorStats(
            period=period,
            minimum=self.low,
            average=average,
            maximum=self.high,
            count=self.count,
            complete=self.lo_t <= start and self.hi_t >= end,
            estimated=self.estimated,
            measured_start=datetime.fromtimestamp(self.lo_t, UTC),
            measured_end=datetime.fromtimestamp(self.hi_t, UTC),
        )


class _SensorTrack:
    """One metric's statistics, period by period, as readings stream in."""

    __slots__ = ("periods", "starts", "ends", "k", "acc", "results", "pt", "pv", "max_gap")

    def __init__(self, periods: Sequence[Period], max_gap: float):
        self.periods = periods
        self.starts = [p.start.timestamp() for p in periods]
        self.ends = [p.end.timestamp() for p in periods]
        self.k = 0
        self.acc = _Accumulator()
        self.results: list[SensorStats] = []
        self.pt: float | None = None
        self.pv = 0.0
        self.max_gap = max_gap

    def _finish(self) -> None:
        k = self.k
        self.results.append(self.acc.result(self.periods[k], self.starts[k], self.ends[k]))
        self.acc = _Accumulator()
        self.k = k + 1

    def add(self, t: float, value: float) -> None:
        pt, pv = self.pt, self.pv
        starts, ends, n = self.starts, self.ends, len(self.periods)
        if pt is not None and t > pt:
            # Segment (pt, pv)-(t, value): add its part inside each period it crosses.
            long_gap = t - pt > self.max_gap
            slope = (value - pv) / (t - pt)
            k = self.k
            while k < n and starts[k] < t:
                a, b = max(starts[k], pt), min(ends[k], t)
                if a < b:
                    acc = self.acc
                    va, vb = pv + slope * (a - pt), pv + slope * (b - pt)
                    acc.area += (va + vb) * (b - a) / 2
                    acc.covered += b - a
                    acc.see(a, va)
                    acc.see(b, vb)
                    acc.estimated = acc.estimated or long_gap
                if ends[k] <= t:
                    self._finish()
                    k = self.k
                else:
                    break
        while self.k < n and ends[self.k] <= t:
            self._finish()
        k = self.k
        if k < n and starts[k] <= t:
            self.acc.count += 1
            self.acc.see(t, value)
        self.pt, self.pv = t, value

    def close(self) -> list[SensorStats]:
        while self.k < len(self.periods):
            self._finish()
        return self.results


def sensor_stats(
    readings: Iterable[Row],
    periods: Sequence[Period],
    metrics: Sequence[str],
    max_gap: timedelta = timedelta(days=2),
) -> dict[str, list[SensorStats]]:
    """Return each metric's min / time-weighted average / max per period.

    periods: in time order, not overlapping. readings: (timestamp, {metric: value}, ...)
    in time order; a missing or None value skips that metric for that reading.
    """
    for before, after in zip(periods, periods[1:], strict=False):
        if after.start < before.end:
            raise ValueError("periods must be in time order and must not overlap")
    gap = max_gap.total_seconds()
    tracks = {m: _SensorTrack(periods, gap) for m in metrics}
    order = list(tracks.items())
    last_t = float("-inf")
    for row in readings:
        t = row[0].timestamp()
        if t < last_t:
            raise ValueError("readings must be ordered by time")
        last_t = t
        values = row[1]
        for metric, track in order:
            raw = values.get(metric)
            if raw is not None:
                track.add(t, float(raw))
    return {metric: track.close() for metric, track in tracks.items()}


def sensor_values_at(
    readings: Iterable[Row], instants: Sequence[datetime], metrics: Sequence[str]
) -> dict[str, list[MeterValue]]:
    """Return each metric's linearly interpolated value at each instant (estimated if so)."""
    points = [i.timestamp() for i in instants]
    bounds = sorted(set(points))
    # The meter engine with drop checks off: a sensor may go down.
    tracks = run_registers(readings, bounds, metrics, MeterConfig(), check_drops=False)
    index = {b: k for k, b in enumerate(bounds)}
    result: dict[str, list[MeterValue]] = {}
    for metric, track in tracks.items():
        found = []
        for instant, point in zip(instants, points, strict=True):
            k = index[point]
            value, gap = track.values[k], track.gaps[k]
            found.append(
                MeterValue(
                    instant,
                    value,
                    value,
                    value is not None and gap > 0,
                    timedelta(seconds=gap) if value is not None and gap else None,
                )
            )
        result[metric] = found
    return result
