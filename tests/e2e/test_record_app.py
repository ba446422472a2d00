"""The Record app in real Chromium at phone size: installable, offline, outbox and sync.

Offline is the browser's own (`context.set_offline`): the service worker and IndexedDB do
the work, as on a phone in a cellar.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from homelog.extensions import db
from homelog.models import Location, LocationMember, Reading
from homelog.record import routes as record_routes
from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, sign_in


@pytest.fixture
def phone(phone_page):
    """Return a phone-size page that fails the test on a JavaScript error or CSP violation."""
    errors: list[str] = []
    phone_page.on("pageerror", lambda exc: errors.append(str(exc)))
    phone_page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield phone_page
    assert not errors, errors


def open_record(page) -> None:
    """Open the Record screen and wait until the service worker controls it and it has synced."""
    page.goto("/record")
    expect(page.locator("#app-version")).to_contain_text("App version")
    expect(page.locator("#loading")).to_be_hidden()


def form_of(page, name: str):
    return page.get_by_role("form", name=name)


def record(page, name: str, values: dict[str, str]) -> None:
    """Type values into a source's form and tap Save."""
    form = form_of(page, name)
    for metric, value in values.items():
        form.get_by_label(metric).fill(value)
    form.get_by_role("button", name="Save").click()


def readings_of(source) -> list[Reading]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reading).where(Reading.data_source_id == source.id).order_by(Reading.timestamp)
        )
    )


def share(owner, member, sources, role: str) -> None:
    """Put sources in a home of owner's shared with member in role."""
    home = Location(owner_id=owner.id, name=f"{role} home")
    db.session.add(home)
    db.session.flush()
    for source in sources:
        source.location_id = home.id
    db.session.add(LocationMember(location_id=home.id, user_id=member.id, role=role))
    db.session.commit()


def test_manifest_and_service_worker_pass_chromiums_installability_checks(
    browser, live_server, tmp_path, make_user, make_source
):
    user = make_user()
    make_source(user, "Electricity")
    # A profile on disk: Chromium never offers to install from an incognito-like context.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=live_server,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        sign_in(page, user.email, PASSWORD)
        # The navigation leads to the Record screen.
        page.get_by_role("link", name="Record").click()
        page.wait_for_url("**/record")
        open_record(page)
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest["errors"]
        assert json.loads(manifest["data"])["display"] == "standalone"
    finally:
        context.close()


def test_record_screen_opens_offline_after_a_reload_and_after_reopening(
    phone, make_user, make_source, make_reading
):
    user = make_user()
    meter = make_source(user, "Electricity", metrics={"import": "kWh", "export": "kWh"})
    make_reading(meter, {"import": 1234.5, "export": 17.0})
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    expect(form_of(phone, "Electricity").get_by_text("Last: 1234.5 kWh")).to_be_visible()
    context = phone.context
    context.set_offline(True)
    phone.reload()
    expect(form_of(phone, "Electricity").get_by_text("Last: 1234.5 kWh")).to_be_visible()
    expect(phone.get_by_text("Offline: readings are kept on this phone")).to_be_visible()

    phone.close()
    again = context.new_page()
    again.goto("/record")
    expect(form_of(again, "Electricity").get_by_label("export")).to_be_visible()
    expect(form_of(again, "Electricity").get_by_text("Last: 17 kWh")).to_be_visible()
    number = form_of(again, "Electricity").get_by_label("import")
    assert number.get_attribute("inputmode") == "decimal"
