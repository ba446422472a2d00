"""What a new household meets in its first hour: sign-in over http, the first password, the
password hints, prices, the dashboard's groups, Share…, and no talk of an app that is not there."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from homelog import homes
from homelog.extensions import db
from homelog.models import HomeMember, Tariff
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
WARNING = "Signing in cannot work at this address"


# ---- Secure cookies over plain http ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secure", "base_url", "warned"),
    [
        (True, "http://192.168.1.20:8000", True),
        (True, "http://homeserver.local", True),
        (True, "https://192.168.1.20", False),
        (True, "http://127.0.0.1:8000", False),  # browsers keep Secure cookies on loopback
        (True, "http://[::1]:8000", False),
        (True, "http://localhost:8000", False),
        (False, "http://192.168.1.20:8000", False),
    ],
)
def test_sign_in_page_warns_when_its_cookie_cannot_come_back(
    app, client, user, monkeypatch, secure, base_url, warned
):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", secure)
    page = client.get("/login", base_url=base_url).get_data(as_text=True)
    assert (WARNING in page) is warned
    if warned:
        assert "SESSION_COOKIE_SECURE=0" in page and "HTTPS" in page


def test_sign_in_over_https_behind_a_trusted_proxy_is_not_warned(app, client, user, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_proto=1, x_host=1))
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "homeserver.local"}
    page = client.get("/login", base_url="http://127.0.0.1:8000", headers=headers)
    assert WARNING not in page.get_data(as_text=True)
    plain = client.get(
        "/login", base_url="http://127.0.0.1:8000", headers={"X-Forwarded-Host": "h"}
    )
    assert WARNING in plain.get_data(as_text=True)


def test_first_run_page_warns_too(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    page = client.get("/setup", base_url="http://192.168.1.20:8000").get_data(as_text=True)
    assert WARNING in page


# ---- Passwords ------------------------------------------------------------------------------


def test_a_new_accounts_first_password_leads_to_the_dashboard_with_a_welcome(
    client, auth, make_user
):
    make_user("partner@example.com", name="Pat", must_change_password=True)
    auth.login(email="partner@example.com")
    asked = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Please choose a new password" in asked
    assert "Welcome back" not in asked  # never here before
    new = "pats own long passphrase"
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302 and response.location == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Welcome to homelog, Pat." in page
    assert "Other devices were signed out" not in page


def test_every_mistake_of_a_new_password_is_said_at_once(logged_in):
    response = logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm": "shorter"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The passwords differ." in page
    assert "Use at least 10 characters." in page


def test_a_later_password_change_stays_on_the_account_page(logged_in):
    new = "another long passphrase"
    response = logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302 and response.location == "/account"
    assert "Other devices were signed out" in logged_in.get("/account").get_data(as_text=True)


def test_a_short_password_is_explained_once(logged_in, client):
    response = logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("10 characters") == 1, page
    assert "At least 10 characters." in logged_in.get("/account/password").get_data(as_text=True)


def test_first_run_explains_a_short_password_once(client):
    page = client.post(
        "/setup",
        data={
            "email": "first@example.com",
            "password": "short",
            "confirm": "short",
            "timezone": "Europe/Berlin",
        },
    ).get_data(as_text=True)
    assert page.count("10 characters") == 1, page


def test_first_run_timezone_field_asks_the_browser_until_the_form_was_sent(client):
    page = client.get("/setup").get_data(as_text=True)
    assert re.search(r'<input[^>]*data-browser-timezone[^>]*name="timezone"', page) or re.search(
        r'<input[^>]*name="timezone"[^>]*data-browser-timezone', page
    )
    assert "js/timezone.js" in page
    sent = client.post("/setup", data={"email": "x", "timezone": "Asia/Tokyo"})
    assert "data-browser-timezone" not in sent.get_data(as_text=True)


# ---- Prices, dashboard ----------------------------------------------------------------------


def test_prices_show_money_with_cents_and_keep_amounts_whole(logged_in, user, make_source):
    source = make_source(user, "Electricity", metrics={"day": "kWh"})
    db.session.add(
        Tariff(
            data_source_id=source.id,
            metric="day",
            effective_from=date(2026, 8, 4),
            unit_price=Decimal("0.4"),
            standing_charge=Decimal("0"),
        )
    )
    db.session.add(
        Tariff(
            data_source_id=source.id,
            metric="day",
            effective_from=date(2026, 1, 1),
            unit_price=Decimal("0.2815"),
            standing_charge=Decimal("1234.5"),
        )
    )
    db.session.commit()
    page = logged_in.get(f"/sources/{source.id}/tariffs").get_data(as_text=True)
    cells = re.findall(r'<td data-label="(?:Per unit|Per day)" class="num">([^<]*)</td>', page)
    # A no-break space keeps the currency with its number.
    assert sorted(cells) == sorted(["0.40\xa0€", "0.00\xa0€", "0.2815\xa0€", "1,234.50\xa0€"])
    assert '<td data-label="From" class="from">2026-08-04</td>' in page


def test_sources_outside_homes_have_a_friendly_group_name(logged_in, user, make_source):
    home = homes.create_home(user, "Cabin", "Europe/Berlin")
    make_source(user, "Cabin power", location_id=home.id)
    make_source(user, "Bike odometer")
    page = logged_in.get("/").get_data(as_text=True)
    assert "Your other meters and sensors" in page and "Not in a home" not in page


# ---- Share… on a source ---------------------------------------------------------------------


def test_share_on_a_source_without_a_home_offers_a_home_with_it_ticked(
    logged_in, user, make_source, make_user
):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    other = make_source(user, "Gas", metrics={"volume": "m³"})
    page = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert f'href="/homes/new?source={source.id}">Share…</a>' in page
    form = logged_in.get(f"/homes/new?source={source.id}").get_data(as_text=True)
    assert re.search(rf'<input[^>]*checked[^>]*value="{source.id}"', form) or re.search(
        rf'<input[^>]*value="{source.id}"[^>]*checked', form
    )
    assert not re.search(rf'<input[^>]*value="{other.id}"[^>]*checked', form)
    assert "create a home with this source in it" in form
    # Someone else's source is not ticked (it is not even offered), nor is junk.
    theirs = make_source(make_user("neighbour@example.com"), "Their meter")
    for junk in (theirs.id, "abc", ""):
        form = logged_in.get(f"/homes/new?source={junk}")
        assert form.status_code == 200 and "checked" not in form.get_data(as_text=True)


def test_share_on_a_source_in_a_home_leads_to_its_people(logged_in, user, make_source):
    home = homes.create_home(user, "Farmhouse", "Europe/Vienna")
    source = make_source(user, "Power", location_id=home.id)
    page = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert f'href="/homes/{home.id}#members-title">Share…</a>' in page
    assert 'id="members-title"' in logged_in.get(f"/homes/{home.id}").get_data(as_text=True)


def test_only_the_owner_is_offered_share(client, auth, user, make_user, make_source):
    home = homes.create_home(user, "Farmhouse", "Europe/Vienna")
    source = make_source(user, "Power", location_id=home.id)
    partner = make_user("partner@example.com")
    db.session.add(HomeMember(location_id=home.id, user_id=partner.id, role="editor"))
    db.session.commit()
    auth.login(email="partner@example.com")
    page = client.get(f"/sources/{source.id}").get_data(as_text=True)
    assert "Power" in page and "Share…" not in page


# ---- Words --------------------------------------------------------------------------------


def test_no_page_or_doc_speaks_of_a_phone_app():
    """homelog has no phone app of its own: pages and docs must not send people looking."""
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    pattern = re.compile(r"\b(phone|mobile|android|ios|iphone)\s+app", re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in files
        for match in pattern.finditer(path.read_text())
    ]
    assert not found, found
