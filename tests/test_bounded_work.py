"""Bounded work: chart axes and usage periods stay small whatever values and ranges are stored.

Properties run over the whole range a reading may hold (±10^15, equal values, adjacent floats)
and beyond; the chart case that once never finished runs in a child process with its address
space capped (tests/capped.py), so a regression fails instead of taking the machine down.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from homelog import charts
from homelog.errors import ValidationFailed
from homelog.readings import MAX_ABS_VALUE
from homelog.usage import PERIOD_KINDS, meter_usage, periods_between, project_year
from homelog.usage.projection import add_years
from homelog.usage_db.costs import billing_year_containing
from homelog.usage_db.query import MAX_PERIODS, limited_periods
from tests.capped import MIB, run_capped
from tests.conftest import PASSWORD

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 1e15
NEAR_LIMIT = (999999999999999.75, 999999999999999.875)

finite = st.floats(allow_nan=False, allow_infinity=False)
allowed = st.floats(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE, allow_nan=False)
edges = st.sampled_from(
    [0.0, -0.0, LIMIT, -LIMIT, *NEAR_LIMIT, 5e-324, -5e-324, 1e-12, 2.2e-308, 1e300, -1e300]
)


def finishes(function, *args, lines: int = 200_000, **kwargs):
    """Return function(*args, **kwargs), failing once it has run `lines` lines of Python.

    A loop that never ends fails the test after a few thousand rounds instead of filling
    memory (a count of work done, not a timing).
    """
    ran = 0

    def trace(frame, event, arg):
        nonlocal ran
        if event == "line":
            ran += 1
            if ran > lines:
                raise AssertionError(f"{function.__name__} did not finish within {lines} lines")
        return trace

    before = sys.gettrace()
    sys.settrace(trace)
    try:
        return function(*args, **kwargs)
    finally:
        sys.settrace(before)


@st.composite
def close_pairs(draw):
    """Two values at most a few float steps apart (or equal)."""
    low = draw(st.one_of(allowed, edges, finite))
    high = low
    for _ in range(draw(st.integers(0, 3))):
        if math.isfinite(math.nextafter(high, math.inf)):
            high = math.nextafter(high, math.inf)
    return low, high


pairs = st.one_of(
    st.tuples(allowed, allowed), st.tuples(finite, finite), close_pairs(), st.tuples(edges, edges)
)


@PROPERTIES
@given(pairs, st.integers(1, 6))
@example(NEAR_LIMIT, 3)
@example(NEAR_LIMIT, 4)
@example((-NEAR_LIMIT[1], -NEAR_LIMIT[0]), 3)
@example((0.0, 1e-12), 4)
@example((LIMIT, LIMIT), 4)
def test_nice_ticks_are_few_ordered_and_cover_the_values(pair, count):
    low, high = min(pair), max(pair)
    ticks = finishes(charts.nice_ticks, low, high, count)
    assert 2 <= len(ticks) <= count + 3
    assert all(math.isfinite(t) for t in ticks)
    assert all(a < b for a, b in zip(ticks, ticks[1:], strict=False))
    slack = (ticks[-1] - ticks[0]) * 1e-6
    assert ticks[0] <= low + slack and ticks[-1] >= high - slack


def test_nice_ticks_are_unchanged_for_ordinary_values():
    assert finishes(charts.nice_ticks, 0, 10) == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert charts.nice_ticks(-3, 7) == [-5.0, -2.5, 0.0, 2.5, 5.0, 7.5]
    assert charts.nice_ticks(12.3, 97.1) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert charts.nice_ticks(5, 5) == [4.0, 6.0, 8.0, 10.0]
    assert charts.nice_ticks(0, 1e-12) == [0.0, 2.5e-13, 5e-13, 7.5e-13, 1e-12]


@PROPERTIES
@given(
    st.lists(st.one_of(allowed, edges.filter(lambda v: abs(v) <= LIMIT)), min_size=1, max_size=6),
    close_pairs().filter(lambda p: abs(p[0]) <= LIMIT and abs(p[1]) <= LIMIT),
    st.booleans(),
)
@example([NEAR_LIMIT[1] - NEAR_LIMIT[0]], NEAR_LIMIT, False)
def test_a_chart_of_any_allowed_values_finishes_with_few_ticks(values, line_pair, sensor):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    span = (start, start + timedelta(days=len(values)))
    series = [
        [charts.Value(v, low=v if sensor else None, high=v if sensor else None) for v in values]
    ]
    line = [(start + timedelta(hours=1), line_pair[0]), (start + timedelta(hours=2), line_pair[1])]
    chart = finishes(
        charts.bar_chart,
        [str(k) for k in range(len(values))],
        series,
        line=line,
        span=span,
        include_zero=not sensor,
        line_on_value_axis=sensor,
    )
    assert 2 <= len(chart.y_ticks) <= 7
    assert len(chart.line_ticks) <= 6
    assert len(chart.bars) <= len(values)


# ---- Periods, projections and billing years --------------------------------------------------

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))
zones = st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"])


@PROPERTIES
@given(
    st.sampled_from(PERIOD_KINDS),
    days,
    days,
    zones,
    st.integers(1, 31),
)
@example("day", date(1900, 1, 1), date(2999, 12, 31), "Pacific/Kiritimati", 31)
def test_a_usage_range_yields_at_most_the_period_limit(kind, start, end, zone, cycle_day):
    assume(start < end)
    counted = 0
    try:
        for _ in limited_periods(kind, start, end, ZoneInfo(zone), cycle_day):
            counted += 1
    except ValidationFailed as error:
        assert "periods" in error.errors["period"][0]
    assert counted <= MAX_PERIODS


@PROPERTIES
@given(days, st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
@example(date(1900, 1, 1), date(2999, 12, 31))
@example(date(2999, 12, 31), date(1900, 1, 1))
@example(date(2024, 2, 29), date(2028, 2, 29))
def test_the_billing_year_is_found_in_one_step(first_start, today):
    start = billing_year_containing(first_start, today)
    assert start <= today < add_years(start, 1)
    assert start == add_years(first_start, start.year - first_start.year)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(close_pairs().filter(lambda p: abs(p[0]) <= LIMIT and abs(p[1]) <= LIMIT), zones)
@example(NEAR_LIMIT, "UTC")
def test_the_year_projection_works_through_a_bounded_number_of_days(pair, zone):
    year_start = date(2025, 7, 1)
    readings = [
        (datetime(2025, 8, 1, tzinfo=UTC), {"import": pair[0]}),
        (datetime(2025, 8, 2, tzinfo=UTC), {"import": pair[1]}),
    ]
    projection = project_year(
        readings, ["import"], {}, zone, year_start, as_of=datetime(2025, 9, 1, tzinfo=UTC)
    )
    assert projection.measured_usage["import"] == pair[1] - pair[0]
    usage = meter_usage(
        readings, periods_between("day", year_start, add_years(year_start, 1), zone), ["import"]
    )
    assert len(usage.metrics["import"].periods) <= 366


# ---- The chart that never finished, in a capped child process --------------------------------

CHART_CHILD = """
URL, EMAIL, PASSWORD, WARM, SOURCE = {args!r}
HTMX = {{"HX-Request": "true"}}

def setup():
    from homelog import create_app
    from tests.conftest import CSRFClient, app_config

    app = create_app(app_config(URL))
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert client.post("/login", data={{"email": EMAIL, "password": PASSWORD}}).status_code == 302
    warm = client.get(f"/sources/{{WARM}}/usage", headers=HTMX)
    assert warm.status_code == 200
    return client

def measured(client):
    response = client.get(f"/sources/{{SOURCE}}/usage", headers=HTMX)
    charts = response.get_data(as_text=True).count("<svg")
    return {{"status": response.status_code, "charts": charts}}
"""


@pytest.mark.parametrize("values", [NEAR_LIMIT, tuple(-v for v in reversed(NEAR_LIMIT))])
def test_the_usage_chart_of_values_a_float_step_apart_finishes_in_bounded_memory(
    database_url, user, make_source, make_reading, values
):
    now = datetime.now(UTC)
    warm = make_source(user, "Warm-up")
    make_reading(warm, {"import": 10.0}, timestamp=now - timedelta(days=3))
    make_reading(warm, {"import": 12.5}, timestamp=now - timedelta(days=2))
    source = make_source(user, "Edge")
    make_reading(source, {"import": values[0]}, timestamp=now - timedelta(days=3))
    make_reading(source, {"import": values[1]}, timestamp=now - timedelta(days=2))
    script = CHART_CHILD.format(args=(database_url, user.email, PASSWORD, warm.id, source.id))
    outcome = run_capped(script, timeout=90)
    assert outcome.get("result") == {"status": 200, "charts": 2}, outcome
    assert outcome["growth"] < 64 * MIB
