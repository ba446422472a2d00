"""Browser views of usage at desktop and phone size: registers, estimates, sparse data and
the whole home. Each test keeps screenshots under tests/e2e/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from homelog.extensions import db
from homelog.models import Home, Reading
from homelog.usage_db.settings import update_settings
from homelog.usage_db.tariffs import create_tariff
from tests.conftest import PASSWORD
from tests.e2e.conftest import docs_screenshot, fits_the_screen, htmx_settled, screenshot, sign_in

SIZES = {"desktop": "page", "phone": "phone_page"}


def add(source, rows) -> None:
    for when, values in rows:
        db.session.add(Reading(data_source_id=source.id, timestamp=when, values=values))
    db.session.commit()


def month_starts(count: int, day: int = 1, hour: int = 9) -> list[datetime]:
    """Return `day` of each of the last `count` months at `hour` UTC, oldest first, up to now."""
    now = datetime.now(UTC)
    found = []
    year, month = now.year, now.month
    while len(found) < count:
        when = datetime(year, month, day, hour, tzinfo=UTC)
        if when < now:
            found.insert(0, when)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found


@pytest.fixture
def home(user, make_source):
    """Return a home's sources: a day/night meter, a monthly water meter, a sensor, empties."""
    place = Home(owner_id=user.id, name="Lindenweg 4", timezone="Europe/Berlin")
    db.session.add(place)
    db.session.commit()
    power = make_source(
        user, "Electricity", metrics={"day": "kWh", "night": "kWh"}, location_id=place.id
    )
    readings = []
    start = month_starts(1)[0] - timedelta(days=420)
    for index in range(0, 430, 14):
        when = start + timedelta(days=index)
        if when < datetime.now(UTC):
            readings.append((when, {"day": 1000 + 3.8 * index, "night": 500 + 3.4 * index}))
    add(power, readings)
    create_tariff(power, "day", "2024-01-01", "0.34", "0.40")
    create_tariff(power, "night", "2024-01-01", "0.24", "0")
    update_settings(power, monthly_advance="80", billing_year_start="2026-03-01")
    water = make_source(user, "Water", metrics={"volume": "m³"}, location_id=place.id)
    add(water, [(t, {"volume": 100 + 9.5 * i}) for i, t in enumerate(month_starts(14, day=2))])
    create_tariff(water, "volume", "2024-01-01", "4.10", "0.30")
    gas = make_source(user, "Gas", metrics={"volume": "m³"}, location_id=place.id)
    attic = make_source(
        user, "Attic", kind="sensor", metrics={"temperature": "°C"}, location_id=place.id
    )
    climate = make_source(
        user,
        "Bedroom",
        kind="sensor",
        metrics={"temperature": "°C", "humidity": "%"},
        location_id=place.id,
    )
    now = datetime.now(UTC)
    add(
        climate,
        [
            (
                now - timedelta(hours=5 * k),
                {"temperature": 18 + (k % 5) * 0.7, "humidity": 50 + k % 9},
            )
            for k in range(0, 120)
        ],
    )
    return {"power": power, "water": water, "climate": climate, "gas": gas, "attic": attic}


def open_usage(page, source, query: str = "") -> None:
    page.goto(f"/sources/{source.id}/usage{query}")
    expect(page.locator("#usage-panel")).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_registers_on_the_dashboard_and_the_whole_home(request, user, home, size):
    page = request.getfixturevalue(SIZES[size])
    sign_in(page, user.email, PASSWORD)
    card = page.locator(f"#source-{home['power'].id}")
    expect(card.locator(".summary-table thead")).to_contain_text("night")
    expect(card.locator(".summary-table thead")).to_contain_text("Total")
    whole = page.locator("#home-usage")
    expect(whole.locator(".home-table")).to_be_visible()
    expect(whole.locator(".home-table thead")).to_contain_text("Electricity")
    expect(whole.locator(".home-table thead")).to_contain_text("Water")
    expect(whole).to_contain_text("Projected balance")
    expect(whole.locator("svg.chart rect.bar.s1").first).to_be_attached()
    htmx_settled(page)
    fits_the_screen(page)
    screenshot(page, f"usage-dashboard-{size}")
    if size == "desktop":
        docs_screenshot(page, "dashboard")
    whole.scroll_into_view_if_needed()
    whole.screenshot(path=str(screenshot(page, f"usage-home-{size}")))


@pytest.mark.parametrize("size", SIZES)
def test_a_two_register_meter_and_a_monthly_meter(request, user, home, size):
    page = request.getfixturevalue(SIZES[size])
    sign_in(page, user.email, PASSWORD)
    open_usage(page, home["power"])
    boxes = page.locator("#usage-panel .compare")
    expect(boxes).to_contain_text("night")
    expect(boxes.locator("li.total").first).to_contain_text("Total")
    chart = "svg.chart-wide" if size == "desktop" else "svg.chart-narrow"
    expect(page.locator(f"{chart} polyline.reading-line")).to_have_count(0)
    page.get_by_role("link", name="Show the readings line").click()
    expect(page.locator(f"{chart} polyline.reading-line")).to_have_count(1)
    fits_the_screen(page)
    screenshot(page, f"usage-two-registers-{size}")
    open_usage(page, home["water"])
    # Read on the 2nd of each month: every whole month is solid.
    expect(page.locator(f"{chart} rect.bar")).not_to_have_count(0)
    expect(page.locator(f"{chart} rect.bar.estimated")).to_have_count(0)
    fits_the_screen(page)
    screenshot(page, f"usage-monthly-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_empty_sources_and_a_two_metric_sensor(request, user, home, size):
    page = request.getfixturevalue(SIZES[size])
    sign_in(page, user.email, PASSWORD)
    for name in ("gas", "attic"):
        open_usage(page, home[name])
        expect(page.locator("#usage-panel .usage-empty")).to_contain_text("No readings yet.")
        expect(page.locator("#usage-panel svg")).to_have_count(0)
        expect(page.locator("#usage-panel table")).to_have_count(0)
        fits_the_screen(page)
        screenshot(page, f"usage-empty-{name}-{size}")
    open_usage(page, home["climate"], "?period=week")
    chart = "svg.chart-wide" if size == "desktop" else "svg.chart-narrow"
    expect(page.locator(f"#usage-panel {chart}")).to_have_count(2)
    expect(page.locator("#usage-panel .legend").nth(1)).to_contain_text("average")
    expect(page.locator("#usage-panel .chart-title").nth(1)).to_have_text("humidity (%)")
    fits_the_screen(page)
    screenshot(page, f"usage-sensor-{size}")


def test_a_wide_usage_table_becomes_labelled_lines_on_a_phone(phone_page, user, home):
    """A two-metric sensor's table has six figures a period: on a phone each period is a block
    of labelled lines, so humidity's maximum shows on the screen instead of off its edge."""
    page = phone_page
    sign_in(page, user.email, PASSWORD)
    open_usage(page, home["climate"], "?period=day")
    table = page.locator("#usage-panel table.usage-table")
    expect(table).to_have_class("usage-table stack")
    newest = table.locator("tbody tr").first
    cell = newest.locator('td[data-label="humidity max"]')
    expect(cell).to_be_visible()
    box = cell.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    fits_the_screen(page)
    screenshot(page, "usage-sensor-table-phone")
    open_usage(page, home["water"], "?period=month")  # one metric and its cost: a table still
    expect(page.locator("#usage-panel table.usage-table")).to_have_class("usage-table")
    fits_the_screen(page)
