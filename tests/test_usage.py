"""Usage, costs and sensor statistics (homelog.usage): explicit cases and properties.

Pure domain code: no app, no database. The property tests compare the streaming engine
with a plain oracle written here (the true consumption as a line through known points).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from homelog.usage import (
    MeterConfig,
    MeterSwap,
    Period,
    Tariff,
    TariffPlan,
    cycle_start,
    meter_usage,
    meter_value_at,
    meter_values_at,
    money,
    period_containing,
    periods_between,
    project_year,
    sensor_stats,
    sensor_values_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def utc(*args: int) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int) -> datetime:
    """Return local wall time in tz as an aware UTC datetime."""
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def hourly(start: datetime, hours: int, per_hour: float = 1.0, first: float = 0.0):
    """Return hourly readings of a register rising per_hour every hour."""
    return [(start + k * HOUR, {"import": first + k * per_hour}) for k in range(hours + 1)]


def usages(report, metric: str = "import") -> list[float | None]:
    """Return the usage of each period of one metric."""
    return [p.usage for p in report.metrics[metric].periods]


# --- Periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (BERLIN, date(2026, 3, 30), 24),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
        (NEW_YORK, date(2026, 11, 2), 24),
    ],
)
def test_a_day_lasts_23_or_25_hours_on_a_clock_change(tz, day, hours):
    period = period_containing("day", day, tz)
    assert period.duration == timedelta(hours=hours)
    assert period.start == local(tz, day.year, day.month, day.day)
    assert period.first_day == period.last_day == day


def test_periods_are_local_calendar_periods_in_utc():
    # 23:30 UTC on Mar 31 is already Apr 1 in Berlin.
    instant = utc(2026, 3, 31, 23, 30)
    assert period_containing("day", instant, BERLIN).first_day == date(2026, 4, 1)
    month = period_containing("month", instant, BERLIN)
    assert (month.start, month.end) == (utc(2026, 3, 31, 22), utc(2026, 4, 30, 22))
    week = period_containing("week", date(2026, 3, 29), BERLIN)  # a Sunday
    assert week.first_day == date(2026, 3, 23) and week.last_day == date(2026, 3, 29)
    assert week.duration == timedelta(hours=7 * 24 - 1)
    year = period_containing("year", instant, "America/New_York")
    assert year.start == utc(2026, 1, 1, 5) and year.end == utc(2027, 1, 1, 5)
    assert all(
        p.start.tzinfo is UTC
        for p in periods_between("day", date(2026, 1, 1), date(2026, 2, 1), BERLIN)
    )


def test_a_billing_cycle_on_the_31st_starts_on_the_last_day_of_shorter_months():
    cycles = periods_between("cycle", date(2027, 12, 31), date(2028, 6, 1), BERLIN, cycle_day=31)
    assert [c.first_day for c in cycles] == [
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
        date(2028, 5, 31),
    ]
    # Each cycle ends the day before the next one starts: no gap, no overlap.
    assert [c.last_day for c in cycles[:3]] == [
        date(2028, 1, 30),
        date(2028, 2, 28),
        date(2028, 3, 30),
    ]
    for before, after in zip(cycles, cycles[1:], strict=False):
        assert before.end == after.start
    assert cycle_start(2027, 2, 31) == date(2027, 2, 28)
    # A day before the clamped start belongs to the previous month's cycle.
    assert period_containing("cycle", date(2028, 3, 30), BERLIN, 31).first_day == date(2028, 2, 29)


def test_a_billing_cycle_on_the_17th():
    cycle = period_containing("cycle", date(2026, 3, 5), BERLIN, cycle_day=17)
    assert (cycle.first_day, cycle.last_day) == (date(2026, 2, 17), date(2026, 3, 16))
    assert cycle.start == local(BERLIN, 2026, 2, 17)


def test_a_day_starts_after_a_skipped_midnight():
    # Chile moved its clocks from 24:00 to 01:00 on 2022-09-10: Sep 11 starts at 01:00.
    santiago = ZoneInfo("America/Santiago")
    day = period_containing("day", date(2022, 9, 11), santiago)
    assert day.start == utc(2022, 9, 11, 4)
    assert day.duration == timedelta(hours=23)


def test_period_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown period kind"):
        periods_between("fortnight", date(2026, 1, 1), date(2026, 2, 1), BERLIN)
    with pytest.raises(ValueError, match="from 1 to 31"):
        periods_between("cycle", date(2026, 1, 1), date(2026, 2, 1), BERLIN, cycle_day=0)
    with pytest.raises(ValueError, match="naive"):
        period_containing("day", datetime(2026, 1, 1, 12), BERLIN)


# --- Meter usage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "days", "expected"),
    [
        (BERLIN, (date(2026, 3, 28), date(2026, 3, 31)), [24, 23, 24]),
        (BERLIN, (date(2026, 10, 24), date(2026, 10, 27)), [24, 25, 24]),
        (NEW_YORK, (date(2026, 3, 7), date(2026, 3, 10)), [24, 23, 24]),
        (NEW_YORK, (date(2026, 10, 31), date(2026, 11, 3)), [24, 25, 24]),
    ],
)
def test_daily_usage_follows_the_local_clock_across_dst(tz, days, expected):
    readings = hourly(local(tz, days[0].year, days[0].month, days[0].day) - 5 * DAY, 24 * 12)
    report = meter_usage(readings, periods_between("day", *days, tz), ["import"])
    assert usages(report) == pytest.approx(expected)
    assert not any(p.estimated for p in report.metrics["import"].periods)


def test_usage_is_interpolated_and_only_complete_periods_have_a_value():
    readings = [(utc(2026, 1, 1, 12), {"import": 100.0}), (utc(2026, 1, 3, 12), {"import": 148.0})]
    days = periods_between("day", date(2025, 12, 31), date(2026, 1, 5), "UTC")
    rows = meter_usage(readings, days, ["import"]).metrics["import"].periods
    assert [r.usage for r in rows] == [None, None, pytest.approx(24.0), None, None]
    assert [r.complete for r in rows] == [False, False, True, False, False]
    # Before the first and after the last reading: nothing measured, not zero.
    assert rows[0].measured_usage is None and rows[4].measured_usage is None
    # The edge days report the part the readings cover.
    assert rows[1].measured_usage == pytest.approx(12.0)
    assert (rows[1].measured_start, rows[1].measured_end) == (utc(2026, 1, 1, 12), utc(2026, 1, 2))
    assert rows[3].measured_usage == pytest.approx(12.0)


def test_usage_across_a_long_gap_is_spread_evenly_and_marked_estimated():
    readings = [
        (utc(2026, 1, 1), {"import": 0.0}),
        (utc(2026, 1, 2), {"import": 10.0}),
        (utc(2026, 1, 12), {"import": 110.0}),
        (utc(2026, 1, 13), {"import": 120.0}),
    ]
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 13), "UTC")
    rows = meter_usage(readings, days, ["import"]).metrics["import"].periods
    assert [r.usage for r in rows] == pytest.approx([10.0] * 12)
    assert [r.estimated for r in rows] == [False] + [True] * 10 + [False]
    # The whole gap measured between two real readings is exact, not estimated.
    whole = meter_usage(readings, [Period(utc(2026, 1, 2), utc(2026, 1, 12))], ["import"])
    assert not whole.metrics["import"].periods[0].estimated
    # The threshold is configurable.
    lenient = meter_usage(readings, days, ["import"], MeterConfig(max_gap=timedelta(days=11)))
    assert not any(r.estimated for r in lenient.metrics["import"].periods)


def test_a_meter_swap_continues_usage_without_a_spike():
    readings = [
        (utc(2026, 1, 1), {"import": 1000.0}),
        (utc(2026, 1, 2), {"import": 1010.0}),
        (utc(2026, 1, 3), {"import": 3.0}),  # the new meter
        (utc(2026, 1, 4), {"import": 13.0}),
    ]
    swap = MeterSwap(utc(2026, 1, 2, 12), old_final={"import": 1015.0}, new_start={"import": 1.0})
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 4), "UTC")
    report = meter_usage(readings, days, ["import"], MeterConfig(swaps=[swap]))
    # Jan 2: 5 on the old meter until noon, 2 on the new one after.
    assert usages(report) == pytest.approx([10.0, 7.0, 10.0])
    assert report.suspects == []
    # Without the swap record the new meter's first reading is a suspect drop.
    plain = meter_usage(readings, days, ["import"])
    assert [s.value for s in plain.suspects] == [3.0, 13.0]
    # What the meters showed: the old one before the swap, the new one after.
    at = meter_values_at(
        readings, [utc(2026, 1, 2, 6), utc(2026, 1, 2, 18)], ["import"], MeterConfig(swaps=[swap])
    )["import"]
    assert [v.value for v in at] == pytest.approx([1012.5, 2.0])
    assert all(v.estimated for v in at)


def test_a_register_rolling_over_at_99999_counts_on():
    readings = [
        (utc(2026, 1, 1), {"import": 99_980.0}),
        (utc(2026, 1, 2), {"import": 99_995.0}),
        (utc(2026, 1, 3), {"import": 5.0}),
        (utc(2026, 1, 4), {"import": 25.0}),
    ]
    config = MeterConfig(rollover_at={"import": 100_000})
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 4), "UTC")
    report = meter_usage(readings, days, ["import"], config)
    assert usages(report) == pytest.approx([15.0, 10.0, 20.0])
    assert report.suspects == []
    # Half-way through Jan 2 the register passed 99999 → 0: the meter showed 0.
    shown = meter_value_at(readings, utc(2026, 1, 2, 12), ["import"], config)["import"]
    assert shown.value == 0.0
    assert shown.register == pytest.approx(100_000.0)
    late = meter_value_at(readings, utc(2026, 1, 2, 18), ["import"], config)["import"]
    assert late.value == pytest.approx(2.5)


def test_a_drop_too_large_for_a_rollover_is_suspect_until_confirmed():
    # 60000 → 6000 is a digit dropped, not 46000 kWh in a day: more than 10% of the range.
    readings = [
        (utc(2026, 1, 1), {"import": 60_000.0}),
        (utc(2026, 1, 2), {"import": 6_000.0}, False, "typo"),
        (utc(2026, 1, 3), {"import": 60_020.0}),
    ]
    config = MeterConfig(rollover_at={"import": 100_000})
    whole = [Period(utc(2026, 1, 1), utc(2026, 1, 3))]
    report = meter_usage(readings, whole, ["import"], config)
    assert usages(report) == pytest.approx([20.0])
    assert [s.key for s in report.suspects] == ["typo"]
    # Confirmed, a drop on a register that wraps is a rollover.
    confirmed = [
        readings[0],
        (utc(2026, 1, 2), {"import": 6_000.0}, True, "typo"),
        (utc(2026, 1, 3), {"import": 6_020.0}),
    ]
    report = meter_usage(confirmed, whole, ["import"], config)
    assert usages(report) == pytest.approx([46_020.0])
    assert report.suspects == []
    # The share of the range taken as a rollover without asking is configurable.
    lenient = MeterConfig(rollover_at={"import": 100_000}, rollover_share=0.5)
    report = meter_usage(readings, whole, ["import"], lenient)
    assert report.suspects == []


def test_a_suspect_reading_is_excluded_and_reported():
    readings = [
        (utc(2026, 1, 1), {"import": 100.0}, False, "r1"),
        (utc(2026, 1, 2), {"import": 110.0}, False, "r2"),
        (utc(2026, 1, 3), {"import": 11.0}, False, "r3"),  # typo for 111
        (utc(2026, 1, 4), {"import": 120.0}, False, "r4"),
    ]
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 4), "UTC")
    report = meter_usage(readings, days, ["import"])
    assert usages(report) == pytest.approx([10.0, 5.0, 5.0])
    [suspect] = report.suspects
    assert (suspect.key, suspect.value, suspect.previous_value) == ("r3", 11.0, 110.0)
    assert suspect.timestamp == utc(2026, 1, 3)
    assert suspect.previous_timestamp == utc(2026, 1, 2)
    # Confirmed by the user (the register really went down): taken as it is.
    readings[2] = (utc(2026, 1, 3), {"import": 11.0}, True, "r3")
    confirmed = meter_usage(readings, days, ["import"])
    assert usages(confirmed) == pytest.approx([10.0, -99.0, 109.0])
    assert confirmed.suspects == []


def test_metrics_are_independent_and_missing_values_are_skipped():
    readings = [
        (utc(2026, 1, 1), {"day": 10.0, "night": 5.0}),
        (utc(2026, 1, 2), {"day": 20.0, "night": None}),
        (utc(2026, 1, 3), {"day": 30.0}),
        (utc(2026, 1, 4), {"day": 40.0, "night": 35.0}),
    ]
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 4), "UTC")
    report = meter_usage(readings, days, ["day", "night"])
    assert usages(report, "day") == pytest.approx([10.0, 10.0, 10.0])
    assert usages(report, "night") == pytest.approx([10.0, 10.0, 10.0])
    assert [p.estimated for p in report.metrics["night"].periods] == [True, True, True]


def test_readings_out_of_order_are_refused():
    readings = [(utc(2026, 1, 2), {"import": 1.0}), (utc(2026, 1, 1), {"import": 2.0})]
    with pytest.raises(ValueError, match="ordered by time"):
        meter_usage(readings, [Period(utc(2026, 1, 1), utc(2026, 1, 3))], ["import"])


def test_value_at_any_instant():
    readings = [(utc(2026, 3, 30, 8), {"import": 1200.0}), (utc(2026, 4, 1, 8), {"import": 1248.0})]
    values = meter_values_at(
        readings,
        [local(BERLIN, 2026, 3, 31), utc(2026, 3, 30, 8), utc(2026, 3, 1), utc(2026, 5, 1)],
        ["import"],
    )["import"]
    move_out, at_reading, before, after = values
    assert move_out.value == pytest.approx(1200.0 + 48 * (14 / 48))  # 22:00 UTC on Mar 30
    assert move_out.estimated and move_out.gap == timedelta(days=2)
    assert at_reading.value == 1200.0 and not at_reading.estimated
    assert before.value is None and after.value is None


# --- Costs ---------------------------------------------------------------------------------


def test_a_price_change_mid_month_prices_each_part_of_the_month():
    start = local(BERLIN, 2026, 1, 1)
    readings = [(start + k * HOUR, {"import": k * 0.5}) for k in range(24 * 40)]
    plan = TariffPlan(
        [
            Tariff(date(2025, 1, 1), Decimal("0.30"), Decimal("0.50")),
            Tariff(date(2026, 1, 16), Decimal("0.40"), Decimal("0.60")),
        ],
        BERLIN,
    )
    [january] = (
        meter_usage(
            readings,
            periods_between("month", date(2026, 1, 1), date(2026, 2, 1), BERLIN),
            ["import"],
            tariffs={"import": plan},
        )
        .metrics["import"]
        .periods
    )
    assert january.usage == pytest.approx(31 * 12)
    assert january.cost.energy == pytest.approx(
        Decimal(15 * 12) * Decimal("0.30") + Decimal(16 * 12) * Decimal("0.40")
    )
    assert january.cost.standing == Decimal("15") * Decimal("0.50") + 16 * Decimal("0.60")
    assert money(january.cost.total) == Decimal("147.90")  # 54 + 76.80 + 7.50 + 9.60


def test_a_new_price_never_changes_earlier_periods():
    start = local(BERLIN, 2026, 3, 1)
    readings = [(start + k * HOUR, {"import": k * 0.25}) for k in range(24 * 62)]
    months = periods_between("month", date(2026, 3, 1), date(2026, 5, 1), BERLIN)
    old = [Tariff(date(2026, 1, 1), Decimal("0.31"), Decimal("0.41"))]
    before = meter_usage(readings, months, ["import"], tariffs={"import": TariffPlan(old, BERLIN)})
    after = meter_usage(
        readings,
        months,
        ["import"],
        tariffs={
            "import": TariffPlan(
                old + [Tariff(date(2026, 4, 10), Decimal("0.50"), Decimal("0.70"))], BERLIN
            )
        },
    )
    march_before, april_before = before.metrics["import"].periods
    march_after, april_after = after.metrics["import"].periods
    assert march_after.cost == march_before.cost
    assert april_after.cost.total > april_before.cost.total
    # March has 31 days, one of them 23 hours long: 31 standing charges all the same.
    assert march_before.cost.standing == 31 * Decimal("0.41")


def test_no_cost_before_the_first_tariff():
    readings = hourly(utc(2026, 1, 1), 24 * 5)
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 5), "UTC")
    plan = TariffPlan([Tariff(date(2026, 1, 3), Decimal("0.3"))], "UTC")
    rows = meter_usage(readings, days, ["import"], tariffs={"import": plan})
    assert [p.cost is None for p in rows.metrics["import"].periods] == [True, True, False, False]


def test_two_tariffs_on_one_day_are_refused():
    with pytest.raises(ValueError, match="same day"):
        TariffPlan(
            [Tariff(date(2026, 1, 1), Decimal(1)), Tariff(date(2026, 1, 1), Decimal(2))], BERLIN
        )


def test_the_year_projection_against_monthly_advances():
    plan = TariffPlan([Tariff(date(2024, 1, 1), Decimal("0.30"), Decimal("0.50"))], BERLIN)
    start = local(BERLIN, 2025, 1, 1)
    # 10 kWh a day all of 2025, then 12 a day in 2026 until the end of March.
    readings, value, day = [], 0.0, start
    while day < local(BERLIN, 2026, 4, 1) + HOUR:
        readings.append((day, {"import": value}))
        value += 10.0 if day < local(BERLIN, 2026, 1, 1) else 12.0
        day = local(BERLIN, *(day.astimezone(BERLIN).date() + DAY).timetuple()[:3])
    result = project_year(
        readings,
        ["import"],
        {"import": plan},
        BERLIN,
        date(2026, 1, 1),
        monthly_advance=Decimal("100"),
    )
    assert result.method == "last-year"
    assert result.measured_usage["import"] == pytest.approx(90 * 12)
    assert result.projected_usage["import"] == pytest.approx(275 * 10)
    expected = Decimal(90 * 12 + 275 * 10) * Decimal("0.30") + 365 * Decimal("0.50")
    assert result.total_cost == pytest.approx(expected)
    assert result.balance == pytest.approx(Decimal(1200) - expected)
    # Without last year's readings: the rate measured so far this year.
    this_year = [r for r in readings if r[0] >= local(BERLIN, 2026, 1, 1)]
    run_rate = project_year(
        this_year,
        ["import"],
        {"import": plan},
        BERLIN,
        date(2026, 1, 1),
        monthly_advance=Decimal("100"),
    )
    assert run_rate.method == "run-rate"
    assert run_rate.projected_usage["import"] == pytest.approx(275 * 12, rel=1e-3)


# --- Sensors -------------------------------------------------------------------------------


def test_sensor_average_is_weighted_by_time():
    readings = [
        (utc(2026, 1, 1, 0), {"temperature": 10.0}),
        (utc(2026, 1, 1, 1), {"temperature": 10.0}),
        (utc(2026, 1, 1, 10), {"temperature": 20.0}),
        # Many readings in one hour must not outweigh the other nine.
        *[(utc(2026, 1, 1, 10, m), {"temperature": 20.0}) for m in range(1, 60)],
    ]
    [day] = sensor_stats(
        readings, periods_between("day", date(2026, 1, 1), date(2026, 1, 2), "UTC"), ["temperature"]
    )["temperature"]
    # 10 for an hour, then a straight line from 10 to 20 over nine hours, then 20 for 59 min.
    expected = (10 * 60 + 15 * 540 + 20 * 59) / (60 + 540 + 59)
    assert day.average == pytest.approx(expected)
    assert (day.minimum, day.maximum, day.count) == (10.0, 20.0, 62)
    assert not day.complete


def test_sensor_stats_per_period_interpolate_at_the_edges():
    readings = [
        (utc(2026, 1, 1, 12), {"t": 0.0}),
        (utc(2026, 1, 2, 12), {"t": 24.0}),
        (utc(2026, 1, 5, 12), {"t": 24.0}),
    ]
    days = periods_between("day", date(2026, 1, 1), date(2026, 1, 7), "UTC")
    stats = sensor_stats(readings, days, ["t"])["t"]
    assert (stats[1].minimum, stats[1].maximum) == (pytest.approx(12.0), 24.0)
    assert stats[1].average == pytest.approx((18 * 12 + 24 * 12) / 24)  # ramp, then flat
    assert stats[1].complete and stats[1].count == 1
    assert stats[2].estimated and stats[2].average == pytest.approx(24.0)
    assert stats[5].average is None and stats[5].count == 0
    at = sensor_values_at(readings, [utc(2026, 1, 2)], ["t"])["t"][0]
    assert at.value == pytest.approx(12.0) and at.estimated


# --- Properties ----------------------------------------------------------------------------

BASE = utc(2026, 2, 20)  # spans both spring-forward days (Mar 8 New York, Mar 29 Berlin)
WRAP = 1000.0


@st.composite
def histories(draw, rollover: bool | None = None):
    """Draw a meter history: the true consumption and what the meters showed.

    Returns (true points [(posix, consumption)], readings, config). Values are whole numbers
    so the meter's display (consumption modulo the register size) is exact.
    """
    count = draw(st.integers(2, 30))
    minutes = sorted(draw(st.sets(st.integers(0, 60 * 24 * 60), min_size=count, max_size=count)))
    steps = draw(st.lists(st.integers(0, 100), min_size=count, max_size=count))
    wrap = (
        (WRAP if draw(st.booleans()) else None)
        if rollover is None
        else (WRAP if rollover else None)
    )
    swap_after = draw(st.sets(st.integers(0, count - 2), max_size=3))
    consumption, truth = 0, []
    for k, minute in enumerate(minutes):
        consumption += steps[k] if k else 0
        truth.append((minute * 60, consumption, "reading"))
        if k in swap_after:
            # A swap half a minute later. Steps stay within 10% of the register's range,
            # the most a rollover is taken for without asking.
            share = draw(st.integers(0, 100))
            truth.append((minute * 60 + 30, consumption + share, "swap"))
            consumption += share
    limit = int(wrap) if wrap else 5000
    base = truth[0][1] - draw(st.integers(0, limit - 1))
    readings, swaps = [], []
    for seconds, value, kind in truth:
        when = BASE + timedelta(seconds=seconds)
        if kind == "swap":
            new_start = draw(st.integers(0, limit - 1))
            old_final = value - base
            swaps.append(
                MeterSwap(
                    when,
                    {"m": float(old_final % wrap if wrap else old_final)},
                    {"m": float(new_start)},
                )
            )
            base = value - new_start
        else:
            shown = value - base
            readings.append((when, {"m": float(shown % wrap if wrap else shown)}))
    config = MeterConfig(rollover_at={"m": wrap} if wrap else {}, swaps=swaps)
    return [(s, float(v)) for s, v, _ in truth], readings, config


def true_value(truth: list[tuple[float, float]], instant: datetime) -> float | None:
    """Return the true consumption at instant: the line through the known points."""
    seconds = (instant - BASE).total_seconds()
    times = [t for t, _ in truth]
    if seconds < times[0] or seconds > times[-1]:
        return None
    k = bisect_left(times, seconds)
    if times[k] == seconds:
        return truth[k][1]
    (t0, v0), (t1, v1) = truth[k - 1], truth[k]
    return v0 + (v1 - v0) * (seconds - t0) / (t1 - t0)


def close(a: float | None, b: float | None) -> bool:
    """Return True when both are None or both are numbers within float noise."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@PROPERTIES
@given(
    history=histories(),
    tz=st.sampled_from([BERLIN, NEW_YORK]),
    kind=st.sampled_from(["day", "week", "month"]),
)
def test_usage_equals_the_true_consumption(history, tz, kind):
    truth, readings, config = history
    periods = periods_between(kind, BASE - 3 * DAY, BASE + 65 * DAY, tz)
    report = meter_usage(readings, periods, ["m"], config)
    assert report.suspects == []
    for row in report.metrics["m"].periods:
        start, end = true_value(truth, row.period.start), true_value(truth, row.period.end)
        expected = end - start if start is not None and end is not None else None
        assert close(row.usage, expected), (row, expected)


@PROPERTIES
@given(history=histories(), data=st.data())
def test_usage_over_any_split_adds_up_to_the_whole(history, data):
    truth, readings, config = history
    first, last = int(truth[0][0]), int(truth[-1][0])
    cuts = sorted(data.draw(st.sets(st.integers(first, last), min_size=2, max_size=12)))
    instants = [BASE + timedelta(seconds=c) for c in cuts]
    parts = [Period(a, b) for a, b in zip(instants, instants[1:], strict=False)]
    whole = Period(instants[0], instants[-1])
    split = usages(meter_usage(readings, parts, ["m"], config), "m")
    [total] = usages(meter_usage(readings, [whole], ["m"], config), "m")
    assert all(u is not None for u in split)
    assert math.isclose(sum(split), total, rel_tol=1e-9, abs_tol=1e-6)


@PROPERTIES
@given(history=histories(rollover=False), data=st.data())
def test_a_reading_on_the_line_changes_nothing(history, data):
    truth, readings, config = history
    k = data.draw(st.integers(0, len(readings) - 2))
    (t0, r0), (t1, r1) = readings[k], readings[k + 1]
    # Between two readings with no swap in between, a reading on the line adds nothing.
    assume(not any(t0 <= s.at <= t1 for s in config.swaps))
    share = data.draw(st.floats(0.01, 0.99))
    at = t0 + (t1 - t0) * share
    share = (at - t0) / (t1 - t0)
    extra = (at, {"m": r0["m"] + (r1["m"] - r0["m"]) * share})
    denser = readings[: k + 1] + [extra] + readings[k + 1 :]
    periods = periods_between("day", BASE - DAY, BASE + 62 * DAY, BERLIN)
    plain = usages(meter_usage(readings, periods, ["m"], config), "m")
    dense = usages(meter_usage(denser, periods, ["m"], config), "m")
    assert all(close(a, b) for a, b in zip(plain, dense, strict=True))


@PROPERTIES
@given(history=histories(rollover=False), data=st.data())
def test_a_suspect_drop_changes_nothing_and_is_reported(history, data):
    truth, readings, config = history
    k = data.draw(st.integers(0, len(readings) - 2))
    (t0, r0), (t1, _) = readings[k], readings[k + 1]
    assume(not any(t0 <= s.at <= t1 for s in config.swaps))
    typo = (t0 + (t1 - t0) / 2, {"m": r0["m"] - data.draw(st.integers(1, 5000))}, False, "x")
    periods = periods_between("week", BASE - DAY, BASE + 62 * DAY, NEW_YORK)
    plain = meter_usage(readings, periods, ["m"], config)
    with_typo = meter_usage(readings[: k + 1] + [typo] + readings[k + 1 :], periods, ["m"], config)
    assert usages(with_typo, "m") == usages(plain, "m")
    assert [s.key for s in with_typo.suspects] == ["x"]


@st.composite
def tariff_plans(draw):
    """Draw 1-4 tariffs with effective dates around the readings."""
    days = sorted(draw(st.sets(st.integers(-5, 60), min_size=1, max_size=4)))
    return [
        Tariff(
            BASE.date() + timedelta(days=d),
            Decimal(draw(st.integers(0, 90))) / 100,
            Decimal(draw(st.integers(0, 120))) / 100,
        )
        for d in days
    ]


def straightforward_cost(truth, tariffs, period: Period, tz: ZoneInfo) -> Decimal | None:
    """Cost of a calendar period, local day by local day, each at that day's tariff."""
    total = Decimal(0)
    day = period.first_day
    while day <= period.last_day:
        in_force = [t for t in tariffs if t.effective_from <= day]
        if not in_force:
            return None
        tariff = in_force[-1]
        start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
        after = day + DAY
        end = datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC)
        first, last = true_value(truth, start), true_value(truth, end)
        if first is None or last is None:
            return None
        total += Decimal(repr(last - first)) * tariff.unit_price + tariff.standing_charge
        day = after
    return total


@PROPERTIES
@given(
    history=histories(),
    tariffs=tariff_plans(),
    tz=st.sampled_from([BERLIN, NEW_YORK]),
    kind=st.sampled_from(["day", "week", "cycle"]),
    data=st.data(),
)
def test_costs_equal_a_day_by_day_calculation(history, tariffs, tz, kind, data):
    truth, readings, config = history
    cycle_day = data.draw(st.integers(1, 31))
    periods = periods_between(kind, BASE - 3 * DAY, BASE + 65 * DAY, tz, cycle_day)
    plan = TariffPlan(tariffs, tz)
    rows = meter_usage(readings, periods, ["m"], config, {"m": plan}).metrics["m"].periods
    for row in rows:
        expected = straightforward_cost(truth, tariffs, row.period, tz)
        if expected is None:
            assert row.cost is None
        else:
            assert abs(row.cost.total - expected) < Decimal("1e-6"), (row, expected)
    # A tariff added later changes nothing that ended before it took effect.
    later = BASE.date() + timedelta(days=data.draw(st.integers(-5, 61)))
    if all(t.effective_from != later for t in tariffs):
        more = TariffPlan([*tariffs, Tariff(later, Decimal("9.99"), Decimal("9.99"))], tz)
        again = meter_usage(readings, periods, ["m"], config, {"m": more}).metrics["m"].periods
        cut = datetime(later.year, later.month, later.day, tzinfo=tz).astimezone(UTC)
        for before, after in zip(rows, again, strict=True):
            if before.period.end <= cut:
                assert after.cost == before.cost


@PROPERTIES
@given(history=histories(rollover=False))
def test_sensor_average_over_a_split_adds_up(history):
    truth, readings, _ = history
    readings = [(t, {"s": (v["m"] % 97) - 40}) for t, v in readings]
    first, last = readings[0][0], readings[-1][0]
    days = periods_between("day", first, last, BERLIN)
    stats = sensor_stats(readings, days, ["s"])["s"]
    [whole] = sensor_stats(readings, [Period(days[0].start, days[-1].end)], ["s"])["s"]
    covered = [
        (s, (s.measured_end - s.measured_start).total_seconds())
        for s in stats
        if s.average is not None
    ]
    seconds = sum(length for _, length in covered)
    if seconds > 0:
        weighted = sum(s.average * length for s, length in covered) / seconds
        assert math.isclose(weighted, whole.average, rel_tol=1e-9, abs_tol=1e-9)
    assert whole.minimum == min(s.minimum for s, _ in covered)
    assert whole.maximum == max(s.maximum for s, _ in covered)
    # Periods are half-open: a reading exactly at the last period's end belongs to the next one.
    inside = sum(1 for t, _ in readings if days[0].start <= t < days[-1].end)
    assert whole.count == sum(s.count for s in stats) == inside


def test_the_worked_example_in_the_docs():
    readings = [
        (local(BERLIN, 2025, 12, 27, 12), {"import": 10_400.0}),
        (local(BERLIN, 2026, 1, 6, 12), {"import": 10_500.0}),
        (local(BERLIN, 2026, 1, 9, 18), {"import": 1_060.0}, False, "typo"),
        (local(BERLIN, 2026, 1, 16, 12), {"import": 10_600.0}),
        (local(BERLIN, 2026, 2, 5, 12), {"import": 100.0}),
    ]
    config = MeterConfig(
        swaps=[MeterSwap(local(BERLIN, 2026, 1, 26, 12), {"import": 10_700.0}, {"import": 0.0})]
    )
    plan = TariffPlan(
        [
            Tariff(date(2025, 1, 1), Decimal("0.30"), Decimal("0.45")),
            Tariff(date(2026, 1, 16), Decimal("0.34"), Decimal("0.50")),
        ],
        BERLIN,
    )
    months = periods_between("month", date(2025, 12, 1), date(2026, 3, 1), BERLIN)
    report = meter_usage(readings, months, ["import"], config, {"import": plan})
    december, january, february = report.metrics["import"].periods
    # Both ends of January lie 4.5 days from a reading: solid, not estimated.
    assert january.usage == pytest.approx(310.0) and not january.estimated
    assert (money(january.cost.energy), money(january.cost.standing)) == (
        Decimal("99.40"),
        Decimal("14.75"),
    )
    assert money(january.cost.total) == Decimal("114.15")
    assert december.usage is None and december.measured_usage == pytest.approx(45.0)
    assert february.usage is None and february.measured_usage == pytest.approx(45.0)
    assert [s.key for s in report.suspects] == ["typo"]
    values = meter_values_at(
        readings,
        [local(BERLIN, 2026, 1, 1), local(BERLIN, 2026, 1, 31), local(BERLIN, 2026, 2, 1)],
        ["import"],
        config,
    )
    jan1, jan31, feb1 = values["import"]
    assert (jan1.value, jan31.value, feb1.value) == (10_445.0, 45.0, 55.0)
    assert feb1.register == 10_755.0 and jan31.estimated
    assert jan31.gap == timedelta(days=10)
    cycles = periods_between("cycle", date(2026, 1, 1), date(2026, 2, 5), BERLIN, 31)
    rows = meter_usage(readings, cycles, ["import"], config).metrics["import"].periods
    assert [(r.period.first_day, r.usage) for r in rows] == [
        (date(2025, 12, 31), pytest.approx(310.0)),
        (date(2026, 1, 31), None),
    ]
    unrecorded = meter_usage(readings, months, ["import"])
    assert [s.key for s in unrecorded.suspects] == ["typo", None]
    assert unrecorded.metrics["import"].periods[1].usage is None


def test_estimated_depends_on_the_gap_relative_to_the_period():
    # Weekly readings: the split of a week into days is a guess, a month's total barely is.
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    readings = [(start + timedelta(days=7 * i), {"import": 100.0 * i}) for i in range(20)]
    days = periods_between("day", date(2026, 1, 10), date(2026, 1, 13), "UTC")
    months = periods_between("month", date(2026, 2, 1), date(2026, 4, 1), "UTC")
    daily = meter_usage(readings, days, ["import"]).metrics["import"].periods
    monthly = meter_usage(readings, months, ["import"]).metrics["import"].periods
    assert all(p.estimated for p in daily)
    assert not any(p.estimated for p in monthly)
    assert sum(p.usage for p in monthly) == pytest.approx(100.0 / 7 * (28 + 31))


@pytest.mark.parametrize(
    ("day", "estimated"),
    [(1, False), (3, False), (5, False), (27, False), (9, True), (15, True), (20, True)],
)
def test_monthly_readings_near_the_first_leave_months_solid(day, estimated):
    # Read once a month on the same day: a month is a guess only when that day is far from
    # its edges (more than a fifth of the month, about six days).
    readings = [
        (datetime(2026 + (m - 1) // 12, (m - 1) % 12 + 1, day, 8, tzinfo=UTC), {"m": 30.0 * m})
        for m in range(1, 14)
    ]
    months = periods_between("month", date(2026, 3, 1), date(2026, 11, 1), "UTC")
    found = meter_usage(readings, months, ["m"]).metrics["m"].periods
    assert [p.estimated for p in found] == [estimated] * 8


def test_readings_every_two_weeks_leave_most_months_solid():
    start = datetime(2026, 1, 3, 18, tzinfo=UTC)
    readings = [(start + timedelta(days=14 * i), {"m": 10.0 * i}) for i in range(30)]
    months = periods_between("month", date(2026, 2, 1), date(2027, 1, 1), "UTC")
    found = meter_usage(readings, months, ["m"]).metrics["m"].periods
    assert sum(p.estimated for p in found) <= 3
    # Daily bars from the same readings stay estimates.
    days = periods_between("day", date(2026, 3, 5), date(2026, 3, 10), "UTC")
    assert all(p.estimated for p in meter_usage(readings, days, ["m"]).metrics["m"].periods)
