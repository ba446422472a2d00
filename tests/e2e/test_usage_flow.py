"""Browser flow: the usage chart and table follow the readings without a page reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from homelog import timeutil
from tests.conftest import PASSWORD
from tests.e2e.conftest import htmx_settled, screenshot, sign_in, source_page_ready


def test_chart_updates_when_a_reading_is_added(page, user, make_source, make_reading):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    source = make_source(user, "Electricity", metrics={"import": "kWh"})
    make_reading(source, {"import": 1000.0}, timestamp=now - timedelta(days=40))
    make_reading(source, {"import": 1100.0}, timestamp=now - timedelta(days=3))
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{source.id}")
    source_page_ready(page)
    panel = page.locator("#usage-panel")
    expect(panel.locator("svg.chart-wide")).to_be_visible()
    month = timeutil.to_local(now, timeutil.zone(user.timezone)).strftime("%b %Y")
    this_month = panel.locator(".usage-table tbody tr", has=page.locator(f"th:text-is('{month}')"))
    before = this_month.inner_text()
    page.evaluate("window.__samePage = true")

    form = page.locator("#add-reading")
    form.get_by_label("import").fill("1400")
    local_now = timeutil.input_value(now - timedelta(hours=1), timeutil.zone(user.timezone))
    form.get_by_label("Time").fill(local_now)
    form.get_by_role("button", name="Save reading").click()
    expect(this_month).not_to_have_text(before)
    assert page.evaluate("window.__samePage === true"), "the page was reloaded"

    # Switch the chart to days without a reload: one row per day.
    htmx_settled(page)
    panel.get_by_role("link", name="Day", exact=True).click()
    expect(page.locator("#usage-panel .usage-table thead th").first).to_have_text("Day")
    assert page.evaluate("window.__samePage === true")
    screenshot(page, "usage-days")
