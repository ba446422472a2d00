"""Browser flows: a meter with two metrics, readings added, edited and deleted in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    docs_screenshot,
    fits_the_screen,
    htmx_settled,
    screenshot,
    sign_in,
    source_page_ready,
)


def _mark_page(page) -> None:
    page.evaluate("window.__samePage = true")


def _assert_same_page(page) -> None:
    assert page.evaluate("window.__samePage === true"), "the page was reloaded"


def _add_reading(page, imported: str, exported: str, when: str, note: str = "") -> None:
    htmx_settled(page)  # the form a save redrew has its focus and behaviour before we type
    form = page.locator("#add-reading")
    form.get_by_label("import").fill(imported)
    form.get_by_label("export").fill(exported)
    form.get_by_label("Time").fill(when)
    if note:
        form.get_by_label("Note (optional)").fill(note)
    form.get_by_role("button", name="Save reading").click()


def test_meter_with_two_metrics_and_readings(page, user):
    sign_in(page, user.email, PASSWORD)
    page.get_by_role("link", name="+ New source").click()
    page.get_by_label("Name", exact=True).fill("Electricity")
    page.get_by_label("Meter (a register").check()
    page.locator(".metric-row").nth(0).get_by_label("Metric name").fill("import")
    page.locator(".metric-row").nth(0).get_by_label("Unit").fill("kWh")
    _mark_page(page)
    page.get_by_role("button", name="+ Add metric").click()
    expect(page.locator(".metric-row")).to_have_count(2)
    htmx_settled(page)
    _assert_same_page(page)
    page.locator(".metric-row").nth(1).get_by_label("Metric name").fill("export")
    page.locator(".metric-row").nth(1).get_by_label("Unit").fill("kWh")
    page.get_by_role("button", name="Create source").click()
    expect(page.get_by_role("heading", name="Electricity")).to_be_visible()
    source_page_ready(page)

    # Three readings, each appearing in the table without a page reload, newest first.
    _mark_page(page)
    _add_reading(page, "1000,5", "10", "2026-03-01T08:00")
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(1)
    _add_reading(page, "1100.25", "12", "2026-03-03T08:00", note="after the holidays")
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(2)
    _add_reading(page, "1050", "11", "2026-03-02T08:00")  # backdated: lands in the middle
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(3)
    _assert_same_page(page)
    times = page.locator("#readings-body tr.reading-row time").all_inner_texts()
    assert times == ["2026-03-03 08:00", "2026-03-02 08:00", "2026-03-01 08:00"]
    expect(page.locator("#readings-body")).to_contain_text("1,000.5")  # decimal comma accepted

    # A value lower than the previous reading is flagged, then saved only when confirmed.
    _add_reading(page, "900", "13", "2026-03-04T08:00")
    expect(page.get_by_text("Lower than the previous reading.")).to_be_visible()
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(3)
    htmx_settled(page)
    page.get_by_role("button", name="Save anyway: the value is right").click()
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(4)

    # Edit one in place.
    htmx_settled(page)
    row = page.locator("#readings-body tr", has_text="2026-03-02 08:00")
    row.get_by_role("link", name="Edit").click()
    editing = page.locator("#readings-body tr.editing")
    expect(editing).to_be_visible()
    htmx_settled(page)
    editing.get_by_label("import").fill("1060")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator("#readings-body tr", has_text="2026-03-02 08:00")).to_contain_text("1,060")
    _assert_same_page(page)

    # Delete one, with an undo; undo brings it back, deleting again removes it.
    htmx_settled(page)
    row = page.locator("#readings-body tr", has_text="2026-03-04 08:00")
    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_text("is deleted")).to_be_visible()
    htmx_settled(page)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(4)
    htmx_settled(page)
    page.locator("#readings-body tr", has_text="2026-03-04 08:00").get_by_role(
        "link", name="Delete"
    ).click()
    expect(page.get_by_text("is deleted")).to_be_visible()
    _assert_same_page(page)
    page.reload()
    expect(page.locator("#readings-body tr.reading-row")).to_have_count(3)

    docs_screenshot(page, "source-page")


def test_paging_through_sixty_readings(page, user, make_source, make_reading):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(60):
        # Pairs share a timestamp: paging must still show each reading exactly once.
        make_reading(source, {"volume": float(i)}, timestamp=start + timedelta(hours=i // 2))
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{source.id}")
    source_page_ready(page)
    _mark_page(page)
    rows = page.locator("#readings-body tr.reading-row")
    clicks = 0
    while page.get_by_role("link", name="Load older readings").count():
        before = rows.count()
        page.get_by_role("link", name="Load older readings").click()
        expect(rows).not_to_have_count(before)
        htmx_settled(page)
        clicks += 1
    _assert_same_page(page)
    assert clicks >= 2
    values = [
        float(v.split()[0])
        for v in page.locator("#readings-body tr.reading-row td.num").all_inner_texts()
    ]
    assert sorted(values) == [float(i) for i in range(60)]


def test_source_page_on_phone(phone_page, user, make_source, make_reading):
    source = make_source(user, "Heating", metrics={"heat": "MWh", "water": "m³"})
    for i in range(5):
        make_reading(
            source,
            {"heat": 10.0 + i, "water": 100.0 + i},
            timestamp=datetime(2026, 2, 1 + i, 7, tzinfo=UTC),
        )
    sign_in(phone_page, user.email, PASSWORD)
    phone_page.goto(f"/sources/{source.id}")
    source_page_ready(phone_page)
    expect(phone_page.get_by_role("button", name="Save reading")).to_be_visible()
    fits_the_screen(phone_page)
    screenshot(phone_page, "source-phone")
    docs_screenshot(phone_page, "source-page-phone")
