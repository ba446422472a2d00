"""The Record app in real Chromium at phone size: installable, offline, outbox and sync.

Offline is the browser's own (`context.set_offline`): the service worker and IndexedDB do
the work, as on a phone in a cellar.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from homelog.extensions import db
from homelog.models import Home, HomeMember, Reading
from homelog.record import routes as record_routes
from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, docs_screenshot, screenshot, sign_in


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
    home = Home(owner_id=owner.id, name=f"{role} home")
    db.session.add(home)
    db.session.flush()
    for source in sources:
        source.location_id = home.id
    db.session.add(HomeMember(location_id=home.id, user_id=member.id, role=role))
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
        # The navigation leads to the Record screen (on a phone, through the folded menu).
        menu = page.locator("details.nav-menu")
        menu.locator("summary").click()
        menu.get_by_role("link", name="Record").click()
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
    expect(form_of(phone, "Electricity").get_by_text("Last: 1,234.5 kWh")).to_be_visible()
    screenshot(phone, "record-online")
    context = phone.context
    context.set_offline(True)
    phone.reload()
    expect(form_of(phone, "Electricity").get_by_text("Last: 1,234.5 kWh")).to_be_visible()
    expect(phone.get_by_text("Offline: readings are kept on this phone")).to_be_visible()

    phone.close()
    again = context.new_page()
    again.goto("/record")
    expect(form_of(again, "Electricity").get_by_label("export")).to_be_visible()
    expect(form_of(again, "Electricity").get_by_text("Last: 17 kWh")).to_be_visible()
    number = form_of(again, "Electricity").get_by_label("import")
    assert number.get_attribute("inputmode") == "decimal"


def test_readings_typed_offline_reach_the_server_once_stamped_when_typed(
    phone, make_user, make_source, make_reading
):
    owner, partner = make_user(), make_user()
    electricity = make_source(owner, "Electricity")
    make_reading(electricity, {"import": 990.0}, timestamp=datetime(2026, 2, 1, tzinfo=UTC))
    water = make_source(partner, "Water", metrics={"cold": "m³"})
    share(owner, partner, [electricity], "editor")
    sign_in(phone, partner.email, PASSWORD)
    open_record(phone)
    expect(form_of(phone, "Electricity").get_by_text("Last: 990 kWh")).to_be_visible()

    phone.context.set_offline(True)
    typed = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=n) for n in range(3)]
    phone.clock.set_fixed_time(typed[0])
    record(phone, "Electricity", {"import": "1000"})
    expect(form_of(phone, "Electricity").get_by_text("Kept on this phone")).to_be_visible()
    phone.clock.set_fixed_time(typed[1])
    record(phone, "Water", {"cold": "55,5"})
    phone.clock.set_fixed_time(typed[2])
    record(phone, "Electricity", {"import": "1001.25"})
    expect(phone.locator("#outbox-count")).to_have_text("3")
    expect(phone.locator("#outbox-list > li")).to_have_count(3)
    expect(form_of(phone, "Electricity").get_by_text("Last: 1,001.25 kWh")).to_be_visible()
    expect(phone.get_by_text("Offline: readings are kept on this phone")).to_be_visible()
    screenshot(phone, "record-offline-outbox")
    docs_screenshot(phone, "record-offline-phone")
    assert readings_of(electricity)[-1].values == {"import": 990.0}  # nothing sent yet

    phone.context.set_offline(False)
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    expect(phone.locator("#results-list > li", has_text="saved")).to_have_count(3)
    sent = readings_of(electricity)[1:] + readings_of(water)
    assert [(r.timestamp, r.values, r.created_by_id) for r in sent] == [
        (typed[0], {"import": 1000.0}, partner.id),
        (typed[2], {"import": 1001.25}, partner.id),
        (typed[1], {"cold": 55.5}, partner.id),
    ]


def lose_the_next_answer(page) -> list[dict]:
    """Let the next upload reach the server but lose its answer; return what was sent."""
    lost: list[dict] = []

    def handle(route):
        route.fetch()  # the server stores the batch...
        lost.append(route.request.post_data_json)
        route.abort()  # ...and its answer never arrives

    page.route("**/api/sync/readings", handle, times=1)
    return lost


def test_a_batch_whose_answer_is_lost_is_sent_again_without_duplicates(
    phone, make_user, make_source
):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    lost = lose_the_next_answer(phone)
    record(phone, "Electricity", {"import": "1500"})
    expect(form_of(phone, "Electricity").get_by_text("Kept on this phone:")).to_be_visible()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    assert len(lost) == 1 and len(readings_of(meter)) == 1

    phone.reload()  # opening the app sends what waits
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    expect(phone.locator("#results-list > li", has_text="already there")).to_have_count(1)
    stored = readings_of(meter)
    assert [(str(r.id), r.values) for r in stored] == [
        (lost[0]["readings"][0]["id"], {"import": 1500.0})
    ]


def test_a_conflict_is_shown_and_resolved(phone, make_user, make_source):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    lose_the_next_answer(phone)
    record(phone, "Electricity", {"import": "1500"})
    expect(form_of(phone, "Electricity").get_by_text("Kept on this phone:")).to_be_visible()
    expect(phone.locator("#outbox-count")).to_have_text("1")

    # The server has 1500; the phone, never told, corrects the waiting reading to 1550.
    item = phone.locator("#outbox-list > li")
    item.get_by_role("button", name="Edit").click()
    item.get_by_label("import").fill("1550")
    item.get_by_role("button", name="Save changes").click()
    expect(item.get_by_text("conflict", exact=True)).to_be_visible()
    expect(item.get_by_text("On the server: import 1,500 kWh")).to_be_visible()
    screenshot(phone, "record-conflict")

    item.get_by_role("button", name="Keep mine").click()
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    expect(phone.locator("#results-list > li", has_text="saved")).to_have_count(1)
    assert [r.values for r in readings_of(meter)] == [{"import": 1550.0}]


def test_the_servers_copy_can_win_a_conflict(phone, make_user, make_source):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    lose_the_next_answer(phone)
    record(phone, "Electricity", {"import": "1500"})
    expect(form_of(phone, "Electricity").get_by_text("Kept on this phone:")).to_be_visible()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    item = phone.locator("#outbox-list > li")
    item.get_by_role("button", name="Edit").click()
    item.get_by_label("import").fill("1550")
    item.get_by_role("button", name="Save changes").click()
    item.get_by_role("button", name="Keep the server's").click()
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    expect(form_of(phone, "Electricity").get_by_text("Last: 1,500 kWh")).to_be_visible()
    assert [r.values for r in readings_of(meter)] == [{"import": 1500.0}]


def test_a_source_shared_as_viewer_offers_no_entry(phone, make_user, make_source):
    owner, viewer = make_user(), make_user()
    make_source(viewer, "Heat")
    garage = make_source(owner, "Garage meter")
    share(owner, viewer, [garage], "viewer")
    sign_in(phone, viewer.email, PASSWORD)
    open_record(phone)
    expect(form_of(phone, "Heat")).to_be_visible()
    expect(phone.locator("#view-only-list")).to_have_text("Garage meter")
    expect(form_of(phone, "Garage meter")).to_have_count(0)
    expect(phone.get_by_role("textbox")).to_have_count(1)  # Heat's import field only


def test_a_new_app_version_is_announced_and_picked_up(phone, make_user, make_source, monkeypatch):
    user = make_user()
    make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    first = record_routes.shell_version()
    expect(phone.locator("#app-version")).to_have_text(f"App version {first}")

    # A deploy changes a shell file, hence the worker's version.
    monkeypatch.setattr(record_routes, "shell_version", lambda: "0123456789ab")
    phone.reload()
    banner = phone.get_by_text("A new version is ready")
    expect(banner).to_be_visible()
    expect(phone.locator("#app-version")).to_have_text(f"App version {first}")  # not yet
    banner.get_by_role("button", name="reload").click()
    expect(phone.locator("#app-version")).to_have_text("App version 0123456789ab")
    expect(phone.get_by_text("A new version is ready")).to_be_hidden()
    assert phone.evaluate("() => caches.keys()") == ["homelog-shell-0123456789ab"]


def test_a_session_that_expired_offline_keeps_the_outbox_until_signing_in(
    phone, make_user, make_source
):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    phone.context.set_offline(True)
    record(phone, "Electricity", {"import": "42"})
    phone.context.clear_cookies()  # the session ends while the phone is away
    phone.context.set_offline(False)

    expect(phone.get_by_text("You are signed out: 1 reading(s) wait on this phone")).to_be_visible()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    assert readings_of(meter) == []

    phone.get_by_role("link", name="Sign in").click()
    phone.get_by_label("Email").fill(user.email)
    phone.get_by_label("Password", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url("**/record")
    expect(phone.locator("#results-list > li", has_text="saved")).to_have_count(1)
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    assert [r.values for r in readings_of(meter)] == [{"import": 42.0}]


def test_a_lower_meter_value_is_questioned_offline_and_saved_as_confirmed(
    phone, make_user, make_source, make_reading
):
    user = make_user()
    meter = make_source(user, "Electricity")
    make_reading(meter, {"import": 500.0}, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    phone.context.set_offline(True)
    phone.reload()
    form = form_of(phone, "Electricity")
    record(phone, "Electricity", {"import": "499,5"})
    expect(form.get_by_text("Lower than the last reading (import 499.5 < 500)")).to_be_visible()
    expect(phone.locator("#outbox-badge")).to_be_hidden()  # nothing kept yet
    form.get_by_role("button", name="Save anyway").click()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    phone.context.set_offline(False)
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    newest = readings_of(meter)[-1]
    assert (newest.values, newest.confirmed) == ({"import": 499.5}, True)


def test_a_refused_reading_shows_why_and_can_be_fixed(phone, make_user, make_source):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    phone.context.set_offline(True)
    record(phone, "Electricity", {"import": "1e400"})  # not a number a meter shows
    expect(form_of(phone, "Electricity").get_by_text("Enter a number")).to_be_visible()
    record(phone, "Electricity", {"import": "12"})
    # Meanwhile the meter's metric is renamed on the server: the waiting value no longer fits.
    meter.metrics = {"peak": "kWh"}
    db.session.commit()
    phone.context.set_offline(False)
    item = phone.locator("#outbox-list > li")
    expect(item.get_by_text("refused", exact=True)).to_be_visible()
    expect(item.locator(".item-reason")).to_contain_text("Edit it and save to send again.")
    # Fixed: the value goes under the new metric name and is sent again.
    item.get_by_role("button", name="Edit").click()
    item.get_by_label("peak").fill("12")
    item.get_by_role("button", name="Save changes").click()
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    assert [r.values for r in readings_of(meter)] == [{"peak": 12.0}]


def test_a_waiting_reading_can_be_deleted_before_it_is_sent(phone, make_user, make_source):
    user = make_user()
    meter = make_source(user, "Electricity")
    sign_in(phone, user.email, PASSWORD)
    open_record(phone)
    phone.context.set_offline(True)
    record(phone, "Electricity", {"import": "12"})
    record(phone, "Electricity", {"import": "13"})
    expect(phone.locator("#outbox-count")).to_have_text("2")
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.locator("#outbox-list > li", has_text="import 12 kWh").get_by_role(
        "button", name="Delete"
    ).click()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    phone.context.set_offline(False)
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    assert [r.values for r in readings_of(meter)] == [{"import": 13.0}]


def test_readings_wait_for_their_author_when_someone_else_signs_in(phone, make_user, make_source):
    olive, pat = make_user(), make_user()
    meter = make_source(olive, "Electricity")
    share(olive, pat, [meter], "editor")  # Pat could write it: the reading must still wait
    sign_in(phone, olive.email, PASSWORD)
    open_record(phone)
    phone.context.set_offline(True)
    record(phone, "Electricity", {"import": "7"})
    phone.context.clear_cookies()
    phone.context.set_offline(False)

    sign_in(phone, pat.email, PASSWORD)
    phone.goto("/record")
    expect(phone.get_by_text("1 reading(s) typed under another account wait")).to_be_visible()
    expect(phone.locator("#outbox-badge")).to_be_hidden()
    expect(form_of(phone, "Electricity")).to_be_visible()  # Pat's own view, as an editor
    assert readings_of(meter) == []

    phone.context.clear_cookies()
    sign_in(phone, olive.email, PASSWORD)
    phone.goto("/record")
    expect(phone.locator("#results-list > li", has_text="saved")).to_have_count(1)
    stored = readings_of(meter)
    assert [(r.values, r.created_by_id) for r in stored] == [({"import": 7.0}, olive.id)]


def test_signing_out_forgets_the_meters_on_this_phone(phone, make_user, make_source):
    olive = make_user()
    make_source(olive, "Electricity")
    sign_in(phone, olive.email, PASSWORD)
    open_record(phone)
    expect(form_of(phone, "Electricity")).to_be_visible()
    phone.goto("/account")
    menu = phone.locator("details.nav-menu")
    menu.locator("summary").click()
    menu.get_by_role("button", name="Sign out").click()
    expect(phone.get_by_text("You are signed out.")).to_be_visible()
    phone.wait_for_load_state("networkidle")

    # The next person to open the Record screen offline on this phone sees no meters.
    phone.context.set_offline(True)
    phone.goto("/record")
    expect(phone.locator("#loading")).to_be_hidden()
    expect(form_of(phone, "Electricity")).to_have_count(0)


def test_the_record_screen_speaks_the_accounts_language_also_offline(
    phone, make_user, make_source, make_reading
):
    user = make_user()
    user.locale = "de"
    db.session.commit()
    meter = make_source(user, "Strom", metrics={"import": "kWh"})
    make_reading(meter, {"import": 1234.5})
    sign_in(phone, user.email, PASSWORD)
    phone.goto("/record")
    expect(phone.locator("#app-version")).to_contain_text("App-Version")
    form = form_of(phone, "Strom")
    expect(form.get_by_text("Zuletzt: 1.234,5 kWh")).to_be_visible()
    phone.context.set_offline(True)
    phone.reload()
    expect(form.get_by_text("Zuletzt: 1.234,5 kWh")).to_be_visible()
    # "1.234" is read as 1,234 (one mark is the decimal separator): lower, so it asks first,
    # naming the value as read beside the one before.
    form.get_by_label("import").fill("1.234")
    form.get_by_role("button", name="Speichern").click()
    expect(
        form.get_by_text("Niedriger als die letzte Ablesung (import 1,234 < 1.234,5)")
    ).to_be_visible()
    expect(form.get_by_role("button", name="Trotzdem speichern")).to_be_visible()
    phone.context.set_offline(False)


def test_the_german_outbox_keeps_its_button_label_and_each_value_with_its_unit_on_one_line(
    phone, make_user, make_source
):
    """At 390 px "Jetzt senden" stayed on two lines beside the heading, and "55 %" broke."""
    user = make_user()
    user.locale = "de"
    db.session.commit()
    make_source(
        user, "Wohnzimmer", kind="sensor", metrics={"Temperatur": "°C", "Luftfeuchtigkeit": "%"}
    )
    sign_in(phone, user.email, PASSWORD)
    phone.goto("/record")
    expect(phone.locator("#app-version")).to_contain_text("App-Version")
    phone.context.set_offline(True)
    form = form_of(phone, "Wohnzimmer")
    form.get_by_label("Temperatur").fill("21,5")
    form.get_by_label("Luftfeuchtigkeit").fill("55")
    form.get_by_role("button", name="Speichern").click()
    send = phone.get_by_role("button", name="Jetzt senden")
    expect(send).to_be_visible()
    label_lines = send.evaluate(
        """button => {
            const range = document.createRange();
            range.selectNodeContents(button);
            return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
        }"""
    )
    assert label_lines == 1
    item = phone.locator("#outbox-list li").first
    assert "Temperatur 21,5\u00a0°C, Luftfeuchtigkeit 55\u00a0%" in item.text_content()
    assert "Zuletzt: 55\u00a0%" in form.text_content()
    screenshot(phone, "de-phone-record-outbox")
    phone.context.set_offline(False)
