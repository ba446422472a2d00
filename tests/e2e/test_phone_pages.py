"""Browser flows at phone size (390x844) and on the desktop: menus that fold, the add-reading
form first, short reading rows, messages that stay, Share…, prices, sign-in over plain http."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from homelog import homes
from homelog.extensions import db
from homelog.models import MeterEvent, Tariff
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    fits_the_screen,
    htmx_settled,
    screenshot,
    sign_in,
    source_page_ready,
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(params=["desktop", "phone"])
def any_page(request):
    """Return the desktop page, then the phone page (each test runs at both sizes)."""
    return request.getfixturevalue("page" if request.param == "desktop" else "phone_page")


def _size(page) -> str:
    return "phone" if page.viewport_size["width"] < 600 else "desktop"


@pytest.fixture
def meter(user, make_source, make_reading):
    """Return a two-register meter in a home, with 30 weekly readings (one with a note)."""
    home = homes.create_home(user, "Home", "Europe/Berlin")
    source = make_source(
        user, "Electricity", metrics={"day": "kWh", "night": "kWh"}, location_id=home.id
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(30):
        make_reading(
            source,
            {"day": 12000.5 + i * 15.25, "night": 8000 + i * 9.5},
            timestamp=now - timedelta(days=(30 - i) * 7),
            note="after the holidays" if i == 28 else None,
        )
    return source


def _view(page, name: str) -> None:
    """Save what the screen shows (not the whole page) under tests/e2e/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _summaries_loaded(page) -> None:
    """Wait until every dashboard card has loaded its usage summary."""
    expect(page.locator('.usage-summary[hx-trigger="load"]')).to_have_count(0)
    htmx_settled(page)


def _line_count(locator) -> int:
    """Return how many lines of text a table row takes (its visible cells' distinct tops)."""
    return locator.evaluate(
        """row => {
            const tops = [];
            for (const cell of row.querySelectorAll("td")) {
                const box = cell.getBoundingClientRect();
                if (box.height === 0) continue;
                if (!tops.some(top => Math.abs(top - box.top) < 8)) tops.push(box.top);
            }
            return tops.length;
        }"""
    )


def _one_line(locator) -> bool:
    """Tell whether an element's text sits on one line (no wrap inside it)."""
    return locator.evaluate(
        """el => {
            const range = document.createRange();
            range.selectNodeContents(el);
            // On one line every piece of text overlaps every other vertically.
            const rects = [...range.getClientRects()].filter(r => r.width > 0);
            const lowestTop = Math.max(...rects.map(r => r.top));
            const highestBottom = Math.min(...rects.map(r => r.bottom));
            return rects.length > 0 && lowestTop < highestBottom;
        }"""
    )


# ---- 7. Phone pages -------------------------------------------------------------------------


def test_source_page_on_a_phone(phone_page, user, meter):
    page = phone_page
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{meter.id}")
    source_page_ready(page)

    # The add-reading form comes before the usage panel, wholly in the first screen.
    form = page.locator("#add-reading").bounding_box()
    usage = page.locator("#usage-panel").bounding_box()
    assert form["y"] < usage["y"]
    assert form["y"] + form["height"] <= PHONE["height"], form
    screenshot(page, "phone-source-page")
    _view(page, "phone-source-first-screen")

    # The source's actions wait in a menu.
    head = page.locator(".page-head")
    expect(head.get_by_role("link", name="Edit", exact=True)).to_be_hidden()
    head.get_by_text("More").click()
    expect(head.get_by_role("link", name="Edit", exact=True)).to_be_visible()
    expect(head.get_by_role("link", name="Share…")).to_be_visible()
    _view(page, "phone-source-menu-open")
    page.keyboard.press("Escape")
    expect(head.get_by_role("link", name="Edit", exact=True)).to_be_hidden()
    head.get_by_text("More").click()
    page.locator("#usage-title").click()  # a tap elsewhere closes the menu too
    expect(head.get_by_role("link", name="Edit", exact=True)).to_be_hidden()

    # A reading takes one or two lines; values keep their units.
    rows = page.locator("#readings-body tr.reading-row")
    expect(rows).to_have_count(25)
    for i in range(rows.count()):
        assert _line_count(rows.nth(i)) <= 2, rows.nth(i).inner_text()
    cells = page.locator("#readings-body td.num .cell")
    for i in range(6):
        assert _one_line(cells.nth(i)), cells.nth(i).inner_text()
    fits_the_screen(page)
    page.locator("section.readings").screenshot(path=str(ARTIFACTS / "phone-readings.png"))

    # Adding a reading still works from the top of the page.
    page.locator("#add-reading").get_by_label("day").fill("12500")
    page.locator("#add-reading").get_by_label("night").fill("8300")
    page.get_by_role("button", name="Save reading").click()
    expect(page.get_by_text("Reading saved.")).to_be_visible()
    expect(rows.first).to_contain_text("12,500")


def test_navigation_folds_into_a_menu_on_phones(phone_page, user, meter):
    page = phone_page
    sign_in(page, user.email, PASSWORD)
    _summaries_loaded(page)
    screenshot(page, "phone-dashboard")
    nav = page.locator("header.topbar")
    expect(nav.get_by_role("link", name="Account")).to_be_hidden()
    nav.get_by_text("Menu").click()
    expect(nav.get_by_role("link", name="Account")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    # The open menu is within the screen and covers the page below it.
    box = nav.locator(".nav-menu nav").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    _view(page, "phone-nav-open")
    nav.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def test_desktop_keeps_navigation_and_actions_in_view(page, user, meter):
    sign_in(page, user.email, PASSWORD)
    _summaries_loaded(page)
    screenshot(page, "desktop-dashboard")
    header = page.locator("header.topbar")
    expect(header.get_by_role("link", name="Account")).to_be_visible()
    expect(header.get_by_text("Menu")).to_be_hidden()
    page.goto(f"/sources/{meter.id}")
    source_page_ready(page)
    head = page.locator(".page-head")
    expect(head.get_by_role("link", name="Edit", exact=True)).to_be_visible()
    expect(head.get_by_role("link", name="Share…")).to_be_visible()
    expect(head.get_by_text("More")).to_be_hidden()
    rows = page.locator("#readings-body tr.reading-row")
    for i in range(5):
        assert _line_count(rows.nth(i)) == 1
    _view(page, "desktop-source-page")


# ---- 16.4 Messages stay ---------------------------------------------------------------------


def test_messages_stay_while_panels_load_and_go_when_the_person_acts(any_page, user):
    page = any_page
    sign_in(page, user.email, PASSWORD)
    # The dashboard loads each card's usage after opening: the welcome stays.
    _summaries_loaded(page)
    expect(page.get_by_text("Welcome back")).to_be_visible()

    page.goto("/sources/new")
    page.get_by_label("Name", exact=True).fill("Water")
    page.get_by_label("Meter (a register").check()
    page.locator(".metric-row").nth(0).get_by_label("Metric name").fill("volume")
    page.locator(".metric-row").nth(0).get_by_label("Unit").fill("m³")
    page.get_by_role("button", name="Create source").click()
    source_page_ready(page)  # the usage panel has loaded itself
    ready = page.get_by_text("“Water” is ready")
    expect(ready).to_be_visible()

    # Acting replaces it with the news of what was done.
    page.locator("#add-reading").get_by_label("volume").fill("12,5")
    page.get_by_role("button", name="Save reading").click()
    saved = page.get_by_text("Reading saved.")
    expect(saved).to_be_visible()
    expect(ready).to_have_count(0)
    htmx_settled(page)
    expect(page.locator("#usage-panel[aria-busy]")).to_have_count(0)
    expect(saved).to_be_visible()  # the usage panel reloaded after the save: still there

    # A message can be dismissed, and good news fades by itself after a while.
    page.get_by_role("button", name="Dismiss this message").click()
    expect(saved).to_have_count(0)
    page.locator("#add-reading").get_by_label("volume").fill("13")
    page.get_by_role("button", name="Save reading").click()
    expect(page.get_by_text("Reading saved.")).to_be_visible()
    expect(page.get_by_text("Reading saved.")).to_have_count(0, timeout=20_000)


def test_errors_stay_until_the_person_acts(any_page, user, make_source):
    page = any_page
    source = make_source(user, "Water", metrics={"volume": "m³"})
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{source.id}")
    source_page_ready(page)
    page.evaluate(
        "() => { const p = document.createElement('p'); p.className = 'flash flash-error';"
        " p.textContent = 'Something failed.'; document.getElementById('flashes').append(p);"
        " document.dispatchEvent(new Event('htmx:afterSettle')); }"
    )
    error = page.get_by_text("Something failed.")
    expect(error).to_be_visible()
    # A reload of the usage panel (no one asked) leaves it; a click on "Day" replaces it.
    page.evaluate("htmx.trigger(document.body, 'readings-changed')")
    htmx_settled(page)
    expect(page.locator("#usage-panel[aria-busy]")).to_have_count(0)
    expect(error).to_be_visible()
    page.locator("#usage-panel").get_by_role("link", name="Day", exact=True).click()
    expect(error).to_have_count(0)


# ---- 16.6 Share… ----------------------------------------------------------------------------


def test_share_from_a_source_lands_on_a_home_with_it(any_page, user, make_source):
    page = any_page
    source = make_source(user, "Water", metrics={"volume": "m³"})
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{source.id}")
    source_page_ready(page)
    head = page.locator(".page-head")
    if _size(page) == "phone":
        head.get_by_text("More").click()
    head.get_by_role("link", name="Share…").click()
    expect(page.get_by_role("heading", name="New home")).to_be_visible()
    expect(page.get_by_label("Water")).to_be_checked()
    page.get_by_label("Name", exact=True).fill("Flat")
    page.get_by_role("button", name="Create home").click()
    expect(page.get_by_role("heading", name="Invite someone")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Water")


# ---- 16.7 Prices, first-run timezone --------------------------------------------------------


def test_prices_keep_dates_amounts_and_buttons_on_one_line(any_page, user, make_source):
    page = any_page
    source = make_source(user, "Electricity", metrics={"day": "kWh", "night": "kWh"})
    db.session.add_all(
        [
            Tariff(
                data_source_id=source.id,
                metric="day",
                effective_from=date(2026, 8, 4),
                unit_price=Decimal("0.4"),
                standing_charge=Decimal("0"),
            ),
            Tariff(
                data_source_id=source.id,
                metric="night",
                effective_from=date(2026, 1, 1),
                unit_price=Decimal("0.2815"),
                standing_charge=Decimal("0.45"),
            ),
        ]
    )
    db.session.commit()
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{source.id}/tariffs")
    table = page.locator(".tariffs-table")
    expect(table).to_contain_text("0.40\xa0€")
    for i in range(2):
        row = table.locator("tbody tr").nth(i)
        for cell in ("td.from", "td.num >> nth=0", "td.num >> nth=1"):
            assert _one_line(row.locator(cell)), row.locator(cell).inner_text()
        edit = row.get_by_role("link", name="Edit").bounding_box()
        delete = row.get_by_role("button", name="Delete").bounding_box()
        assert abs(edit["y"] - delete["y"]) < 2, "Edit and Delete are stacked"
    fits_the_screen(page)
    page.set_viewport_size(PHONE if _size(page) == "phone" else DESKTOP)
    _view(page, f"{_size(page)}-prices")


def test_first_run_takes_the_browsers_timezone(browser, live_server, app):
    context = browser.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, timezone_id="America/New_York"
    )
    try:
        page = context.new_page()
        page.goto("/setup")
        expect(page.get_by_label("Timezone")).to_have_value("America/New_York")
        page.get_by_label("Your name").fill("Ada")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password", exact=True).fill("a long first passphrase")
        page.get_by_label("Repeat password").fill("a long first passphrase")
        page.get_by_role("button", name="Create administrator").click()
        expect(page.get_by_text("Your administrator account is ready")).to_be_visible()
    finally:
        context.close()
    from homelog.models import User

    db.session.expire_all()
    assert db.session.query(User).one().timezone == "America/New_York"


# ---- 15.8 Sign-in over plain http -----------------------------------------------------------


def test_sign_in_page_says_why_sign_in_cannot_work_over_http(
    browser, live_server, app, user, monkeypatch
):
    """Opened by a LAN name over http with production cookies: warned, and truly bounced."""
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_SECURE", True)
    port = live_server.rsplit(":", 1)[1]
    # A name that is not loopback to the browser (which keeps Secure cookies on localhost).
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP homeserver.test 127.0.0.1"]
    lan_browser = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
    if True:
        try:
            for viewport in (PHONE, DESKTOP):
                context = lan_browser.new_context(
                    base_url=f"http://homeserver.test:{port}", viewport=viewport
                )
                page = context.new_page()
                page.goto("/login")
                warning = page.get_by_role("alert")
                expect(warning).to_contain_text("Signing in cannot work at this address")
                expect(warning).to_contain_text("SESSION_COOKIE_SECURE=0")
                size = "phone" if viewport is PHONE else "desktop"
                _view(page, f"{size}-sign-in-http-warning")
                # And it is true: the browser drops the cookie, the form is refused as expired.
                page.get_by_label("Email").fill(user.email)
                page.get_by_label("Password", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_text("Your form expired")).to_be_visible()
                expect(page.get_by_text("Welcome back")).to_have_count(0)
                assert not [c for c in context.cookies() if c["name"] == "session"]
                context.close()
        finally:
            lan_browser.close()


def test_a_long_name_without_spaces_breaks_instead_of_widening_the_page(
    phone_page, user, make_source, make_reading
):
    """A meter number as the name (up to 100 characters, no space) stays on a phone screen."""
    page = phone_page
    name = "Heatpump-meter-1ESY1160123456789-basement-next-to-the-washing-machine"
    source = make_source(user, name.replace("-", ""), metrics={"import": "kWh"})
    make_reading(source, {"import": 100}, timestamp=datetime.now(UTC) - timedelta(days=1))
    sign_in(page, user.email, PASSWORD)
    pages = ("", "/edit", "/delete", "/import", "/reminder", "/tariffs", "/meter", "/usage")
    for path in ("/", *(f"/sources/{source.id}{tail}" for tail in pages)):
        page.goto(path)
        htmx_settled(page)
        fits_the_screen(page)


def test_a_long_note_keeps_every_readings_edit_and_delete_on_a_phone(
    phone_page, user, make_source, make_reading
):
    """A note ends in "…" on a phone; it once widened the table past the screen's edge,
    taking the Edit and Delete buttons of every reading with it."""
    page = phone_page
    water = make_source(user, "Water", metrics={"water": "m³"})
    now = datetime.now(UTC)
    note = "Read by the neighbour while we were away; the display was hard to read"
    make_reading(water, {"water": 12.5}, timestamp=now - timedelta(days=2))
    make_reading(water, {"water": 13.1}, timestamp=now - timedelta(days=1), note=note)
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{water.id}")
    source_page_ready(page)
    rows = page.locator("#readings-body tr.reading-row")
    expect(rows).to_have_count(2)
    for index in range(2):
        for name in ("Edit", "Delete"):
            box = rows.nth(index).get_by_role("link", name=name).bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"], (name, box)
    note_box = rows.first.locator("td.note").bounding_box()
    assert note_box["x"] + note_box["width"] <= PHONE["width"], note_box


def test_cards_that_open_with_a_paragraph_have_no_blank_line_on_top(phone_page, user, make_source):
    page = phone_page
    water = make_source(user, "Water", metrics={"water": "m³"})
    sign_in(page, user.email, PASSWORD)
    for path in (f"/sources/{water.id}/reminder", "/account/restore"):
        page.goto(path)
        gap = page.locator("main .card").first.evaluate(
            """card => {
                const padding = parseFloat(getComputedStyle(card).paddingTop);
                const first = card.firstElementChild.getBoundingClientRect().top;
                return first - card.getBoundingClientRect().top - card.clientTop - padding;
            }"""
        )
        assert gap <= 1, (path, gap)


def test_an_empty_cell_is_no_bare_label_on_a_phone(phone_page, user, make_source):
    """A swap recorded without a note: on a phone its stacked row has no empty "Note" line."""
    page = phone_page
    power = make_source(user, "Power", metrics={"import": "kWh"})
    db.session.add(
        MeterEvent(
            data_source_id=power.id,
            at=datetime(2026, 3, 1, 9, tzinfo=UTC),
            old_final={"import": 1500},
            new_start={"import": 0},
        )
    )
    db.session.commit()
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/sources/{power.id}/meter")
    row = page.locator(".swaps-table tbody tr").first
    expect(row.locator('td[data-label="When"]')).to_be_visible()
    expect(row.locator('td[data-label="Note"]')).to_be_hidden()
    fits_the_screen(page)
