"""Browser flows: an administrator creates a user and later deactivates them."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot, sign_in


def test_admin_creates_then_deactivates_a_user(page, browser, live_server, admin):
    sign_in(page, admin.email, PASSWORD)
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Email").fill("bob@example.com")
    page.get_by_label("Name").fill("Bob")
    page.get_by_label("Temporary password").fill("")  # let homelog generate one
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="User created")).to_be_visible()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) >= 10

    # Bob signs in with it in his own browser and must choose his own password first.
    bob_context = browser.new_context(base_url=live_server)
    bob = bob_context.new_page()
    bob.goto("/login")
    bob.get_by_label("Email").fill("bob@example.com")
    bob.get_by_label("Password", exact=True).fill(temporary)
    bob.get_by_role("button", name="Sign in").click()
    expect(bob.get_by_role("heading", name="Change password")).to_be_visible()
    bob.get_by_label("Current password").fill(temporary)
    bob.get_by_label("New password", exact=True).fill("bobs own long password")
    bob.get_by_label("Repeat new password").fill("bobs own long password")
    bob.get_by_role("button", name="Change password").click()
    expect(bob.get_by_text("Welcome to homelog, Bob.")).to_be_visible()
    assert bob.url.rstrip("/") == live_server  # the dashboard, not the account page

    # The admin deactivates Bob in place (htmx): the row changes without a page reload.
    page.get_by_role("link", name="Users", exact=True).click()
    row = page.locator("tr", has_text="bob@example.com")
    page.evaluate("window.__marker = 'same page'")
    row.get_by_role("button", name="Deactivate Bob").click()
    expect(row.get_by_text("deactivated")).to_be_visible()
    assert page.evaluate("window.__marker") == "same page", "the page was reloaded"
    screenshot(page, "admin-users")

    # Bob's open session has ended, and he cannot sign in again.
    bob.goto("/")
    assert "/login" in bob.url
    bob.get_by_label("Email").fill("bob@example.com")
    bob.get_by_label("Password", exact=True).fill("bobs own long password")
    bob.get_by_role("button", name="Sign in").click()
    expect(bob.get_by_text("Email or password is wrong")).to_be_visible()
    bob_context.close()
