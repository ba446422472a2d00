"""Consumption, sensor statistics and costs: pure domain code, no Flask and no database.

Every function takes readings as an iterable of (timestamp, {metric: value}[, confirmed[,
key]]) in time order (a streaming query works) and computes all periods in one pass.
docs/usage.md states the semantics with a worked example.
"""

from homelog.usage.meter import (
    MeterConfig,
    MeterSwap,
    MeterValue,
    MetricUsage,
    PeriodUsage,
    SuspectReading,
    UsageReport,
    meter_usage,
    meter_value_at,
    meter_values_at,
)
from homelog.usage.periods import (
    PERIOD_KINDS,
    Period,
    cycle_start,
    iter_periods,
    local_midnight,
    period_containing,
    period_of,
    periods_between,
)
from homelog.usage.projection import YearProjection, project_year
from homelog.usage.sensor import SensorStats, sensor_stats, sensor_values_at
from homelog.usage.tariffs import Cost, Tariff, TariffPlan, money

__all__ = [
    "PERIOD_KINDS",
    "Cost",
    "MeterConfig",
    "MeterSwap",
    "MeterValue",
    "MetricUsage",
    "Period",
    "PeriodUsage",
    "SensorStats",
    "SuspectReading",
    "Tariff",
    "TariffPlan",
    "UsageReport",
    "YearProjection",
    "cycle_start",
    "iter_periods",
    "local_midnight",
    "meter_usage",
    "meter_value_at",
    "meter_values_at",
    "money",
    "period_containing",
    "period_of",
    "periods_between",
    "project_year",
    "sensor_stats",
    "sensor_values_at",
]
