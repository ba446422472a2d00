"""Browser flow: an invitation to a home accepted on a phone's dashboard."""

from __future__ import annotations

from playwright.sync_api import expect

from homelog import homes
from tests.conftest import PASSWORD
from tests.e2e.conftest import docs_screenshot, fits_the_screen, screenshot, sign_in


def test_an_invitation_is_accepted_on_the_phone_dashboard(
    phone_page, page, user, make_user, make_source
):
    partner = make_user("partner@example.com", name="Pat Partner")
    home = homes.create_home(user, "Farmhouse", "Europe/Vienna")
    make_source(user, "Power", location_id=home.id)
    homes.invite(home, "someone.else@example.com", "viewer", user)
    homes.invite(home, "partner@example.com", "editor", user)

    sign_in(page, partner.email, PASSWORD)
    expect(page.locator("#invitations")).to_contain_text("“Farmhouse”")
    screenshot(page, "invitation-dashboard-desktop")
    page.context.clear_cookies()

    sign_in(phone_page, partner.email, PASSWORD)
    invitations = phone_page.locator("#invitations")
    expect(invitations).to_contain_text("invites you to “Farmhouse” as editor")
    expect(phone_page.get_by_role("link", name="Power")).to_have_count(0)
    accept = invitations.get_by_role("button", name="Accept")
    box = accept.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= 390  # a thumb's target, on screen
    fits_the_screen(phone_page)
    screenshot(phone_page, "invitation-dashboard-390")
    accept.click()
    expect(phone_page.get_by_role("heading", name="Farmhouse")).to_be_visible()
    phone_page.goto("/")
    expect(phone_page.locator("#invitations")).to_have_count(0)
    expect(phone_page.get_by_role("link", name="Power").first).to_be_visible()

    # The owner's home page: the member, and the invitation still waiting.
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/homes/{home.id}")
    expect(page.locator(".members").first).to_contain_text("Pat Partner")
    expect(page.locator(".invitations")).to_contain_text("someone.else@example.com")
    screenshot(page, "home-members-desktop")
    docs_screenshot(page, "home-sharing")
    phone_page.context.clear_cookies()
    sign_in(phone_page, user.email, PASSWORD)
    phone_page.goto(f"/homes/{home.id}")
    fits_the_screen(phone_page)
    screenshot(phone_page, "home-members-390")
