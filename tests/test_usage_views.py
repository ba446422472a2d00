"""What the usage pages show: each register with its own cost and their total, stacked
register bars, the estimated mark explained, hints instead of empty charts and tables,
every sensor metric, friendly labels, honest year-over-year, and the whole home's costs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from homelog.extensions import db
from homelog.models import Home, Reading
from homelog.usage import money, period_containing
from homelog.usage_db.comparison import compare
from homelog.usage_db.costs import home_costs
from homelog.usage_db.labels import display_label
from homelog.usage_db.tariffs import create_tariff
from tests.conftest import BERLIN, berlin

HX = {"HX-Request": "true"}


def add(source, rows) -> None:
    for when, values in rows:
        db.session.add(Reading(data_source_id=source.id, timestamp=when, values=values))
    db.session.commit()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def panel(client, source, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    answer = client.get(f"/sources/{source.id}/usage?{params}", headers=HX)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


@pytest.fixture
def day_night(user, make_source):
    """Return a day/night meter read every day for 60 days up to now, both registers priced."""
    source = make_source(user, "Power", metrics={"day": "kWh", "night": "kWh"})
    now = datetime.now(UTC)
    add(
        source,
        [
            (now - timedelta(days=d), {"day": 5000 - 6.0 * d, "night": 3000 - 4.0 * d})
            for d in range(60, -1, -1)
        ],
    )
    create_tariff(source, "day", "2020-01-01", "0.40", "0.50")
    create_tariff(source, "night", "2020-01-01", "0.25", "0")
    return source


# ---- 1. Several registers ------------------------------------------------------------------


def test_the_dashboard_card_shows_each_register_their_total_and_the_cost_of_all(
    logged_in, day_night
):
    body = logged_in.get(f"/sources/{day_night.id}/usage/summary", headers=HX)
    html = body.get_data(as_text=True)
    head = text_of(html.split("<thead>", 1)[1].split("</thead>", 1)[0])
    assert head.split() == ["day", "night", "Total", "kWh", "Cost"]
    found = compare(day_night)
    last = text_of(re.search(r"<tr>\s*<th scope=\"row\"[^>]*>Last month.*?</tr>", html, re.S)[0])
    day, night = found.metrics["day"]["last_month"], found.metrics["night"]["last_month"]
    cost = day.cost + night.cost
    assert last.split() == [
        "Last",
        "month",
        f"{day.usage:,.1f}".rstrip("0").rstrip("."),
        f"{night.usage:,.1f}".rstrip("0").rstrip("."),
        f"{day.usage + night.usage:,.1f}".rstrip("0").rstrip("."),
        f"{money(cost):,}",
        "€",
    ]


def test_a_month_read_from_its_middle_shows_its_measured_part_marked_partly(
    logged_in, user, make_source
):
    """Readings from the 10th of last month on: "Last month" shows what they measured (as the
    monthly table does), marked "partly", not a bare dash."""
    water = make_source(user, "Water", metrics={"water": "m³"})
    last_month = compare(water).metrics["water"]["last_month"].period
    first = last_month.start + timedelta(days=9, hours=8)
    days = (datetime.now(UTC) - first).days
    add(water, [(first + timedelta(days=d), {"water": 100 + 0.5 * d}) for d in range(days + 1)])
    span = compare(water).metrics["water"]["last_month"]
    assert not span.complete and span.usage == span.measured and span.usage > 0
    shown = f"{span.usage:,.1f}".rstrip("0").rstrip(".")
    html = logged_in.get(f"/sources/{water.id}/usage/summary", headers=HX).get_data(as_text=True)
    row = text_of(re.search(r"<tr>\s*<th scope=\"row\"[^>]*>Last month.*?</tr>", html, re.S)[0])
    assert row.split() == ["Last", "month", "partly", shown, "m³"]
    boxes = text_of(panel(logged_in, water).split('<dl class="compare', 1)[1].split("</dl>")[0])
    label = compare(water).labels["last_month"]
    assert f"{label} partly {shown} m³" in boxes


def test_a_cost_covers_only_the_registers_beside_it(logged_in, user, make_source):
    source = make_source(user, "Power", metrics={"day": "kWh", "night": "kWh"})
    now = datetime.now(UTC)
    add(source, [(now - timedelta(days=d), {"day": 900 - d, "night": 400 - d}) for d in range(50)])
    create_tariff(source, "day", "2020-01-01", "1", "0")
    html = logged_in.get(f"/sources/{source.id}/usage/summary", headers=HX).get_data(as_text=True)
    assert "Cost of day" in text_of(html)
    boxes = panel(logged_in, source).split('<dl class="compare', 1)[1].split("</dl>", 1)[0]
    total = re.search(r'<li class="total">(.*?)</li>', boxes, re.S)[1]
    assert "€" not in total  # the total's usage includes night, which has no price
    lines = re.findall(r"<li>(.*?)</li>", boxes, re.S)
    assert any("day" in line and "€" in line for line in lines)
    assert any("night" in line and "€" not in line for line in lines)


def test_the_panel_boxes_label_every_register_and_add_them_up(logged_in, day_night):
    boxes = text_of(panel(logged_in, day_night).split('<dl class="compare', 1)[1].split("</dl>")[0])
    found = compare(day_night)
    total = found.total("last_month")
    assert total == pytest.approx(
        found.metrics["day"]["last_month"].usage + found.metrics["night"]["last_month"].usage
    )
    assert (
        "day" in boxes
        and "night" in boxes
        and f"Total {total:,.1f}".rstrip("0").rstrip(".") in boxes
    )


def test_the_chart_stacks_registers_of_one_unit_and_hides_the_readings_line(logged_in, day_night):
    html = panel(logged_in, day_night, period="week")
    wide = html.split('class="chart chart-wide"', 1)[1].split("</svg>", 1)[0]
    bars = re.findall(
        r'<rect class="bar s(\d)[^"]*"\s+x="([\d.]+)" y="([\d.]+)" '
        r'width="[\d.]+" height="([\d.]+)"',
        wide,
    )
    firsts = {x: (float(y), float(h)) for s, x, y, h in bars if s == "0"}
    seconds = {x: (float(y), float(h)) for s, x, y, h in bars if s == "1"}
    assert firsts and firsts.keys() == seconds.keys()  # one bar per period: stacked
    for x, (y, _) in firsts.items():
        night_y, night_h = seconds[x]
        assert night_y + night_h == pytest.approx(y, abs=0.05)  # night sits on top of day
    assert "reading-line" not in html and "Show the readings line" in html
    shown = panel(logged_in, day_night, period="week", line="1")
    assert "reading-line" in shown and "Hide the readings line" in shown
    assert "line=1" in re.search(r'<section id="usage-panel"[^>]*>', shown)[0]


# ---- 2. "Estimated" explained -----------------------------------------------------------------


def test_estimated_bars_and_badges_say_what_estimated_means(logged_in, user, make_source):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    now = datetime.now(UTC)
    # Read mid-month: the month edges are two weeks from any reading.
    add(source, [(now - timedelta(days=30 * k + 15), {"volume": 100.0 - 9 * k}) for k in range(6)])
    html = panel(logged_in, source, period="month")
    estimated = re.findall(r'<rect class="bar s0 estimated[^>]*><title>(.*?)</title>', html, re.S)
    assert estimated and all(
        "edge of this period lies far from any reading" in t for t in estimated
    )
    legend = html.split('<p class="legend">', 1)[1].split("</p>", 1)[0]
    assert re.search(r'<span title="Estimated: [^"]+">', legend)
    assert 'class="badge warn" title="Estimated: ' in html


# ---- 3. Sparse data ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["meter", "sensor"])
def test_an_empty_source_shows_a_hint_not_an_empty_chart_and_table(
    logged_in, user, make_source, kind
):
    source = make_source(
        user, "Empty", kind=kind, metrics={"value": "kWh" if kind == "meter" else "°C"}
    )
    html = panel(logged_in, source)
    assert "No readings yet." in html
    assert "<svg" not in html and "usage-table" not in html and "Download CSV" not in html
    page = logged_in.get(f"/sources/{source.id}/usage").get_data(as_text=True)
    assert "No readings yet." in page and "<svg" not in page


def test_a_meter_with_one_reading_says_the_next_one_brings_usage(
    logged_in, user, make_source, make_reading
):
    source = make_source(user, "Gas", metrics={"volume": "m³"})
    make_reading(source, {"volume": 10.0})
    html = panel(logged_in, source)
    assert "One reading so far." in html and "<svg" not in html
    assert (
        logged_in.get(f"/sources/{source.id}/usage/summary", headers=HX)
        .get_data(as_text=True)
        .count("<table")
        == 0
    )


def test_no_year_earlier_column_or_box_without_readings_a_year_earlier(logged_in, day_night):
    html = panel(logged_in, day_night, period="month")
    assert "a year earlier" not in html
    assert "same days" not in text_of(html.split('<dl class="compare', 1)[1].split("</dl>")[0])
    summary = logged_in.get(f"/sources/{day_night.id}/usage/summary", headers=HX)
    last_year = (datetime.now(UTC).astimezone(BERLIN) - timedelta(days=365)).strftime("%B %Y")
    assert last_year not in summary.get_data(as_text=True)


def test_sensor_statistics_only_where_readings_are(logged_in, user, make_source):
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    add(
        sensor,
        [
            (berlin(2026, 10, 5, 12), {"temperature": 12.0}),
            (berlin(2026, 10, 6, 12), {"temperature": 13.0}),
            (berlin(2026, 11, 18, 12), {"temperature": 9.333}),
        ],
    )
    html = panel(logged_in, sensor, period="week", start="2026-10-05", end="2026-11-23")
    body = html.split('<table class="usage-table">', 1)[1]
    rows = {
        text_of(label).strip(): text_of(rest).split()
        for label, rest in re.findall(r'<th scope="row"[^>]*>(.*?)</th>(.*?)</tr>', body, re.S)
    }
    assert rows["5–11 Oct"][0] == "12" and rows["5–11 Oct"][-1] == "13"
    for empty in ["12–18 Oct", "19–25 Oct", "26 Oct – 1 Nov", "2–8 Nov", "9–15 Nov"]:
        assert rows[empty] == ["—", "—", "—"], empty
    assert rows["16–22 Nov"][0] == "9.3" and "—" not in rows["16–22 Nov"]


def test_every_sensor_metric_is_charted_with_the_average_in_the_legend(
    logged_in, user, make_source
):
    sensor = make_source(
        user, "Bedroom", kind="sensor", metrics={"temperature": "°C", "humidity": "%"}
    )
    now = datetime.now(UTC)
    add(
        sensor,
        [
            (now - timedelta(hours=6 * k), {"temperature": 19.0 + k % 3, "humidity": 50.0 + k % 7})
            for k in range(40)
        ],
    )
    html = panel(logged_in, sensor)
    assert html.count('class="chart chart-wide"') == 2
    captions = re.findall(r'<figcaption class="chart-title">(.*?)</figcaption>', html)
    assert captions == ["temperature (°C)", "humidity (%)"]
    assert html.count('<span class="swatch mean"></span>average') == 2


def test_periods_have_friendly_labels(logged_in, day_night):
    weeks = text_of(
        panel(logged_in, day_night, period="week", start="2026-11-23", end="2026-12-07")
    )
    assert "23–29 Nov" in weeks and "30 Nov – 6 Dec" in weeks and "W48" not in weeks
    months = text_of(
        panel(logged_in, day_night, period="month", start="2026-10-01", end="2026-12-01")
    )
    assert "Oct 2026" in months and "Nov 2026" in months and "2026-10" not in months


def test_display_labels():
    periods = {
        kind: period_containing(kind, berlin(2026, 12, 30, 12), BERLIN)
        for kind in ("day", "week", "month", "year")
    }
    labels = {kind: display_label(kind, p) for kind, p in periods.items()}
    assert labels == {
        "day": "Wed 30 Dec",
        "week": "28 Dec – 3 Jan",
        "month": "Dec 2026",
        "year": "2026",
    }
    cycle = period_containing("cycle", berlin(2026, 12, 30, 12), BERLIN, 15)
    assert display_label("cycle", cycle) == "15 Dec – 14 Jan 2027"


def test_year_over_year_warns_instead_of_a_percentage_when_a_year_is_part_covered(
    user, make_source
):
    source = make_source(user, "Power", metrics={"import": "kWh"})
    # Read all of 2025, then nothing after April 2026.
    add(
        source,
        [(berlin(2025, 1, 1) + timedelta(days=d), {"import": 24.0 * d}) for d in range(0, 485, 3)],
    )
    found = compare(source, berlin(2026, 12, 2, 12))
    assert found.metrics["import"]["year_to_date"].usage is not None
    assert found.change("import", "year_to_date", "last_year_to_date") is None
    assert found.total_change("year_to_date", "last_year_to_date") is None
    assert found.incomparable("year_to_date", "last_year_to_date")
    full = compare(source, berlin(2026, 4, 20, 12))
    assert full.change("import", "year_to_date", "last_year_to_date") == pytest.approx(0, abs=0.02)


def test_the_panel_shows_the_warning_not_a_percentage(logged_in, user, make_source):
    source = make_source(user, "Power", metrics={"import": "kWh"})
    now = datetime.now(UTC)
    add(
        source,
        [(now - timedelta(days=d), {"import": 9000 - 24.0 * d}) for d in range(500, 200, -3)],
    )
    html = text_of(panel(logged_in, source))
    assert "vs last year" not in html
    if now.astimezone(BERLIN).timetuple().tm_yday > 201:  # some readings this year
        assert "No comparison: readings cover only part of" in html


# ---- 8. The whole home ------------------------------------------------------------------------


@pytest.fixture
def two_homes(user, make_user, make_source):
    """Return (home, cottage, stranger's meter): two homes with priced meters."""
    home = Home(owner_id=user.id, name="Lindenweg 4", timezone="Europe/Berlin")
    cottage = Home(owner_id=user.id, name="Cottage", timezone="Europe/Berlin")
    db.session.add_all([home, cottage])
    db.session.commit()
    now = datetime.now(UTC)
    made = {}
    for name, place, rate in [
        ("Power", home, 10.0),
        ("Water", home, 0.3),
        ("Boiler", cottage, 5.0),
    ]:
        source = make_source(user, name, metrics={"v": "kWh"}, location_id=place.id)
        add(source, [(now - timedelta(days=d), {"v": 10_000 - rate * d}) for d in range(0, 800, 5)])
        create_tariff(source, "v", "2020-01-01", "0.5", "0.1")
        made[name] = source
    made["Power"].monthly_advance = Decimal("100")
    made["Power"].billing_year_start = date(2026, 1, 1)
    db.session.commit()
    stranger = make_user("stranger@example.com")
    secret = make_source(stranger, "Secret meter", metrics={"v": "kWh"})
    add(secret, [(now - timedelta(days=d), {"v": 5000 - d}) for d in range(0, 60, 5)])
    create_tariff(secret, "v", "2020-01-01", "9", "0")
    return home, cottage, made


def test_the_dashboard_loads_the_whole_home_view_after_the_page(logged_in, two_homes):
    html = logged_in.get("/").get_data(as_text=True)
    loader = re.search(r'<section id="home-usage"[^>]*>', html, re.S)[0]
    assert 'hx-get="/usage/home"' in loader and 'hx-trigger="load' in loader
    assert '<table class="home-table"' not in html  # not computed for the first paint


def test_the_whole_home_view_stacks_costs_by_source_per_home(logged_in, two_homes):
    home, cottage, made = two_homes
    answer = logged_in.get("/usage/home", headers=HX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in html
    assert "Secret meter" not in html
    blocks = dict(
        re.findall(
            r'<div class="home-block" id="home-usage-(\d+)">'
            r'(.*?)(?=<div class="home-block"|</section>)',
            html,
            re.S,
        )
    )
    assert set(blocks) == {str(home.id), str(cottage.id)}
    lindenweg = blocks[str(home.id)]
    assert "<h3>Lindenweg 4</h3>" in lindenweg and "Boiler" not in lindenweg
    # The table: a row per month with each source's cost and their total.
    costs = home_costs([made["Power"], made["Water"]])
    last_month = len(costs.months) - 2
    label = f"{costs.months[last_month]:%b %Y}"
    row = re.search(rf"<th scope=\"row\">{label}</th>(.*?)</tr>", lindenweg, re.S)[1]
    power, water = (
        costs.costs[made["Power"].id][last_month],
        costs.costs[made["Water"].id][last_month],
    )
    assert text_of(row).split() == [
        f"{power.quantize(Decimal('0.01')):,}",
        "€",
        f"{water.quantize(Decimal('0.01')):,}",
        "€",
        f"{(power + water).quantize(Decimal('0.01')):,}",
        "€",
    ]
    # Stacked: each month's water bar sits on its power bar.
    wide = lindenweg.split('class="chart chart-wide"', 1)[1].split("</svg>", 1)[0]
    xs = {s: re.findall(rf'<rect class="bar s{s}[^"]*"\s+x="([\d.]+)"', wide) for s in "01"}
    assert xs["0"] and set(xs["1"]) <= set(xs["0"])
    assert "so far" in lindenweg and "Projected balance" in lindenweg
    balance = costs.balance
    assert balance is not None
    shown = f"{abs(balance).quantize(Decimal('0.01')):,} € {'back' if balance >= 0 else 'to pay'}"
    assert shown in text_of(lindenweg)
    page = logged_in.get("/usage/home")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)


def test_the_whole_home_year_so_far_against_last_year(user, make_source):
    source = make_source(user, "Power", metrics={"v": "kWh"})
    add(
        source,
        [(berlin(2025, 1, 1) + timedelta(days=d), {"v": 10.0 * d}) for d in range(0, 700, 2)],
    )
    create_tariff(source, "v", "2020-01-01", "1", "0")
    found = home_costs([source], berlin(2026, 6, 15, 12))
    assert found.year == 2026 and not found.incomplete
    assert found.change == pytest.approx(0, abs=0.01)
    assert found.year_to_date == pytest.approx(Decimal(10 * 165), rel=Decimal("0.01"))
    late = make_source(user, "Gas", metrics={"v": "kWh"})
    add(late, [(berlin(2026, 3, 1) + timedelta(days=d), {"v": 5.0 * d}) for d in range(0, 90, 2)])
    create_tariff(late, "v", "2020-01-01", "1", "0")
    mixed = home_costs([source, late], berlin(2026, 6, 15, 12))
    assert mixed.incomplete == [late] and mixed.change is None


def test_no_whole_home_view_without_meters(logged_in, user, make_source):
    make_source(user, "Cellar", kind="sensor", metrics={"t": "°C"})
    assert 'id="home-usage"' not in logged_in.get("/").get_data(as_text=True)


def test_the_panel_and_the_whole_home_cost_no_statement_per_period(logged_in, day_night):
    from tests.test_performance import counting_statements

    def statements(url: str) -> int:
        logged_in.get(url, headers=HX)  # warm: breaks brought up to date, session loaded
        with counting_statements() as found:
            assert logged_in.get(url, headers=HX).status_code == 200
        return len(found)

    base = f"/sources/{day_night.id}/usage?period="
    # Four months against four years of months, two weeks against 100 weeks: a statement or
    # so depends on where the readings lie, none on the number of periods.
    few = statements(base + "month&start=2026-06-01&end=2026-09-01")
    assert abs(statements(base + "month&start=2023-01-01&end=2026-12-01") - few) <= 1
    few = statements(base + "week&start=2026-11-01&end=2026-11-15")
    assert abs(statements(base + "week&start=2025-01-01&end=2026-12-01") - few) <= 1
    assert statements("/usage/home") <= 20


def test_registers_in_different_units_get_a_chart_each_and_no_usage_total(
    logged_in, user, make_source
):
    source = make_source(user, "Heat", metrics={"energy": "kWh", "flow": "m³"})
    now = datetime.now(UTC)
    add(
        source,
        [(now - timedelta(days=d), {"energy": 900 - 5 * d, "flow": 90 - d}) for d in range(60)],
    )
    create_tariff(source, "energy", "2020-01-01", "0.1", "0")
    create_tariff(source, "flow", "2020-01-01", "2", "0")
    html = panel(logged_in, source)
    assert html.count('class="chart chart-wide"') == 2
    boxes = html.split('<dl class="compare', 1)[1].split("</dl>", 1)[0]
    total = text_of(re.search(r'<li class="total">(.*?)</li>', boxes, re.S)[1])
    assert total.strip().startswith("Total cost") and "€" in total and "kWh" not in total
