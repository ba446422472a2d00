"""The dashboard and a source page in German on a phone (390 px): German texts, nothing wider
than the screen. Screenshots land in tests/e2e/artifacts/ (german-*.png)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from homelog import homes
from homelog.extensions import db
from homelog.models import Tariff
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits_the_screen, screenshot, source_page_ready


@pytest.fixture
def home(user, make_source, make_reading):
    """Return a home with a two-register meter (readings, a price) and a sensor."""
    place = homes.create_home(user, "Zuhause", "Europe/Berlin")
    meter = make_source(user, "Strom", metrics={"Tag": "kWh", "Nacht": "kWh"}, location_id=place.id)
    sensor = make_source(
        user, "Wohnzimmer", kind="sensor", metrics={"Temperatur": "°C"}, location_id=place.id
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(20):
        when = now - timedelta(days=(20 - i) * 14)
        make_reading(meter, {"Tag": 12000.5 + i * 30.25, "Nacht": 8000 + i * 19.5}, timestamp=when)
        make_reading(sensor, {"Temperatur": 19.5 + (i % 4)}, timestamp=when)
    db.session.add(
        Tariff(
            data_source_id=meter.id,
            metric="Tag",
            effective_from=date(2020, 1, 1),
            unit_price=Decimal("0.32"),
            standing_charge=Decimal("0.40"),
        )
    )
    db.session.commit()
    return meter


def _sign_in(page) -> None:
    """Sign in through the real form (by field names: its labels may be German)."""
    page.goto("/login")
    page.locator("input[name=email]").fill("owner@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/")


def test_dashboard_in_german_fits_a_phone(german_phone, home):
    page = german_phone
    _sign_in(page)
    expect(page.get_by_role("heading", name="Deine Zähler und Sensoren")).to_be_visible()
    expect(page.locator("#home-usage h2")).to_have_text("Kosten des ganzen Haushalts")
    expect(page.locator("#home-usage[aria-busy]")).to_have_count(0)
    expect(page.locator(f"#usage-summary-{home.id} table")).to_be_visible()
    expect(page.get_by_role("link", name="+ Ablesung").first).to_be_visible()
    fits_the_screen(page)
    screenshot(page, "german-dashboard-phone")


def test_source_page_in_german_fits_a_phone(german_phone, home):
    page = german_phone
    _sign_in(page)
    page.goto(f"/sources/{home.id}")
    source_page_ready(page)
    expect(page.locator("#usage-title")).to_have_text("Verbrauch und Kosten")
    expect(page.get_by_role("button", name="Ablesung speichern")).to_be_visible()
    expect(page.locator("#readings-title")).to_contain_text("Ablesungen")
    fits_the_screen(page)
    screenshot(page, "german-source-phone")
