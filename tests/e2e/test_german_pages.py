"""The sign-in, account and home pages in German on a phone (390 px): German words, no overflow.

German words run longer than English ones; a page must still fit a phone's width without
scrolling sideways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from homelog import homes
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits_the_screen, screenshot


def test_german_sign_in_account_and_home_fit_a_phone(german_phone, user, make_user, make_source):
    page = german_phone
    meter = make_source(user, "Strom")
    home = homes.create_home(user, "Stadtwohnung", "Europe/Berlin", [meter.id])
    partner = make_user("mia.musterfrau@example.com", name="Mia Musterfrau")
    homes.accept_invitation(partner, homes.invite(home, partner.email, "editor"))
    homes.invite(home, "tom.beispiel@example.com", "viewer")

    page.goto("/login")
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    fits_the_screen(page)
    screenshot(page, "de-phone-sign-in")
    page.get_by_label("E-Mail").fill(user.email)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/")
    expect(page.get_by_text("Willkommen zurück, Olive Owner.")).to_be_visible()

    page.goto("/account")
    expect(page.get_by_role("heading", name="Dein Konto")).to_be_visible()
    expect(page.get_by_role("heading", name="Angemeldete Browser")).to_be_visible()
    fits_the_screen(page)
    screenshot(page, "de-phone-account")

    page.goto(f"/homes/{home.id}")
    expect(page.get_by_role("heading", name="Jemanden einladen")).to_be_visible()
    expect(page.get_by_text("Offene Einladungen")).to_be_visible()
    fits_the_screen(page)
    screenshot(page, "de-phone-home")


def test_the_german_user_search_shows_its_whole_placeholder_on_a_phone(german_phone, admin):
    page = german_phone
    page.goto("/login")
    page.get_by_label("E-Mail").fill(admin.email)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/")
    page.goto("/admin/users")
    search = page.locator("input#q")
    expect(search).to_have_attribute("placeholder", "E-Mail oder Name")
    room_left = search.evaluate(
        """input => {
            const style = getComputedStyle(input);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            const room = input.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return room - context.measureText(input.placeholder).width;
        }"""
    )
    assert room_left >= 0, f"the placeholder is cut off by {-room_left:.0f} px"
    fits_the_screen(page)


def test_long_german_metric_names_keep_the_dashboard_card_on_a_phone(
    german_phone, user, make_source, make_reading
):
    """German compounds in the comparison table's header break instead of widening the card."""
    meter = make_source(
        user,
        "Fernwärmeübergabestation Hinterhaus",
        metrics={"Wärmemengenzählerstand": "MWh", "Durchflussvolumen": "m³"},
    )
    now = datetime.now(UTC)
    for days in range(70, -1, -5):
        make_reading(
            meter,
            {"Wärmemengenzählerstand": 1234.5 + (70 - days), "Durchflussvolumen": 5678.9 + days},
            timestamp=now - timedelta(days=days),
        )
    page = german_phone
    page.goto("/login")
    page.get_by_label("E-Mail").fill(user.email)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/")
    expect(page.locator(".summary-table")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Wärmemengenzählerstand")).to_be_attached()
    fits_the_screen(page)
    screenshot(page, "de-phone-dashboard-long-metrics")
