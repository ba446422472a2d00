"""Browser flows: first-run administrator, signing in and out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import fits_the_screen, screenshot, sign_in


def test_first_run_creates_admin_then_is_gone(page):
    page.goto("/")
    assert page.url.endswith("/setup")
    expect(page.get_by_role("heading", name="Welcome to homelog")).to_be_visible()
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_label("Timezone").fill("Europe/Berlin")
    screenshot(page, "setup")
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_text("Your administrator account is ready")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    response = page.goto("/setup")
    assert response.status == 404


def test_setup_errors_show_beside_fields(page):
    page.goto("/setup")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("short")
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_text("Use at least 10 characters.")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")


def test_sign_in_and_out(page, user):
    page.goto("/")
    assert "/login" in page.url
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password", exact=True).fill("wrong password entirely")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Email or password is wrong")).to_be_visible()
    sign_in(page, user.email, PASSWORD)
    expect(page.get_by_text("Welcome back")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_login_page_on_phone(phone_page, user):
    phone_page.goto("/login")
    expect(phone_page.get_by_role("button", name="Sign in")).to_be_visible()
    fits_the_screen(phone_page)
    screenshot(phone_page, "login-phone")


def test_another_browser_is_signed_out_from_the_account_page(
    request, browser, live_server, page, phone_page, user
):
    sign_in(page, user.email, PASSWORD)
    sign_in(phone_page, user.email, PASSWORD)
    phone_page.goto("/account")
    rows = phone_page.locator("#browsers-title ~ .table-wrap tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="This browser")).to_have_count(1)
    fits_the_screen(phone_page)
    screenshot(phone_page, "account-browsers-phone")
    page.goto("/account")
    screenshot(page, "account-browsers-desktop")

    # Sign out the desktop browser from the phone: its row goes, and so does its session.
    phone_page.once("dialog", lambda dialog: dialog.accept())
    rows.filter(has_not_text="This browser").get_by_role("button", name="Sign out").click()
    expect(phone_page.get_by_text("is signed out")).to_be_visible()
    expect(rows).to_have_count(1)
    page.goto("/account")
    assert "/login" in page.url


@pytest.mark.parametrize("path", ["/account/password", "/admin/users/new"])
def test_cancel_beside_the_save_button_is_a_button_on_a_phone(phone_page, admin, path):
    """A bare "Cancel" link sat against the button: a small target, easy to miss or mistap."""
    page = phone_page
    sign_in(page, admin.email, PASSWORD)
    page.goto(path)
    submit = page.locator("main form button[type=submit].primary").bounding_box()
    cancel = page.get_by_role("link", name="Cancel").bounding_box()
    assert cancel["height"] >= 32, cancel
    assert cancel["x"] - (submit["x"] + submit["width"]) >= 6, (submit, cancel)
