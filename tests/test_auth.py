"""Sign-in, first-run setup, sessions and the account page."""

from __future__ import annotations

import re

import pytest

from homelog.extensions import db
from homelog.models import User
from tests.conftest import PASSWORD


def test_first_visit_without_users_offers_setup(client):
    response = client.get("/", follow_redirects=True)
    assert response.request.path == "/setup"
    assert b"Create administrator" in response.data


def test_pages_have_an_icon_that_is_served(client, user):
    # Without one, every page view asked for /favicon.ico and got a 404.
    page = client.get("/login").get_data(as_text=True)
    href = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page).group(1)
    icon = client.get(href)
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml" and b"<svg" in icon.data


def test_setup_creates_first_admin_then_disappears(client, app):
    response = client.post(
        "/setup",
        data={
            "name": "Ada",
            "email": " Ada@Example.com ",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(db.select(User))
    assert user.email == "ada@example.com" and user.is_admin and user.timezone == "Europe/Berlin"
    assert client.get("/setup").status_code == 404
    assert (
        client.post(
            "/setup",
            data={
                "email": "eve@example.com",
                "password": PASSWORD,
                "confirm": PASSWORD,
                "timezone": "UTC",
            },
        ).status_code
        == 404
    )
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", b"Enter a valid email address"),
        ("password", "short", b"Use at least 10 characters."),
        ("password", "password123", b"too easy to guess"),
        ("confirm", "something else entirely", b"The passwords differ."),
        ("timezone", "Mars/Olympus", b"Choose a timezone from the list"),
    ],
)
def test_setup_validation_messages_keep_input(client, field, value, message):
    data = {
        "name": "Ada",
        "email": "ada@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "timezone": "UTC",
    }
    data[field] = value
    if field == "password":
        data["confirm"] = value
    response = client.post("/setup", data=data)
    assert response.status_code == 422
    assert message in response.data
    assert b'value="Ada"' in response.data


def test_setup_requires_csrf(client):
    response = client.post(
        "/setup",
        data={
            "email": "ada@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "timezone": "UTC",
        },
        csrf=False,
    )
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def test_login_logout(client, auth, user):
    assert client.get("/").status_code == 302
    response = auth.login()
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_login_wrong_password_is_rejected_without_saying_why(client, auth, user):
    response = auth.login(password="wrong password here")
    assert response.status_code == 401
    assert b"Email or password is wrong" in response.data
    assert b'value="owner@example.com"' in response.data


def test_login_is_case_insensitive_on_email(client, auth, user):
    assert auth.login(email="OWNER@example.COM").status_code == 302


def test_login_follows_only_local_next(client, user):
    data = {"email": user.email, "password": PASSWORD}
    assert client.post("/login?next=/account", data=data).location == "/account"
    client.post("/logout")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/login", query_string={"next": evil}, data=data)
        assert response.location == "/", evil
        client.post("/logout")


def test_inactive_user_cannot_sign_in(client, auth, make_user):
    make_user("gone@example.com", is_active=False)
    assert auth.login(email="gone@example.com").status_code == 401


def test_deactivation_ends_open_session(logged_in, user):
    assert logged_in.get("/").status_code == 200
    user.is_active = False
    db.session.commit()
    assert logged_in.get("/").status_code == 302


def test_remember_me_sets_cookie(client, auth, user):
    response = auth.login(remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0]
    session = [c for c in cookies if c.startswith("session=")]
    assert session and "HttpOnly" in session[0] and "SameSite=Lax" in session[0]


def test_htmx_request_with_expired_session_redirects_whole_page(client, user):
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/account?tab=1"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/account?tab%3D1"


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_account_page_saves_timezone(logged_in, user):
    page = logged_in.get("/account")
    assert page.status_code == 200 and b"Europe/Berlin" in page.data
    response = logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "America/New_York"}
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.timezone == "America/New_York" and user.name == "Olive"


def test_account_rejects_unknown_timezone(logged_in, user):
    response = logged_in.post(
        "/account/profile", data={"name": "Olive", "timezone": "Nowhere/City"}
    )
    assert response.status_code == 422 and b"Choose a timezone" in response.data
    db.session.refresh(user)
    assert user.timezone == "Europe/Berlin"


def test_change_password_signs_out_other_sessions(app, logged_in, user):
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    assert other.get("/").status_code == 200
    new = "another long passphrase"
    response = logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302
    assert logged_in.get("/").status_code == 200
    assert other.get("/").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "current_password": "wrong one indeed",
                "new_password": "another long passphrase",
                "confirm": "another long passphrase",
            },
            b"not your current password",
        ),
        (
            {"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
            b"at least 10 characters",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": "another long passphrase",
                "confirm": "different",
            },
            b"The passwords differ.",
        ),
    ],
)
def test_change_password_validation(logged_in, data, message):
    response = logged_in.post("/account/password", data=data)
    assert response.status_code == 422
    assert message in response.data


def test_temporary_password_must_be_changed_first(client, auth, make_user):
    make_user("temp@example.com", must_change_password=True)
    auth.login(email="temp@example.com")
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/account/password"


def test_account_lists_devices_and_revokes_one(app, logged_in, user, make_user):
    from homelog import tokens

    raw_phone, phone = tokens.issue_token(user, "Olive's phone")
    raw_tablet, _ = tokens.issue_token(user, "Kitchen tablet")
    stranger = make_user("stranger@example.com")
    _, theirs = tokens.issue_token(stranger, "Not yours")
    page = logged_in.get("/account")
    assert b"Olive&#39;s phone" in page.data and b"Kitchen tablet" in page.data
    assert b"Not yours" not in page.data
    assert raw_phone.encode() not in page.data  # a token is shown once, at sign-in, never again

    response = logged_in.post(f"/account/tokens/{phone.id}/revoke", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"is signed out" in response.data and b"hx-swap-oob" in response.data
    assert tokens.verify_token(raw_phone) is None
    assert tokens.verify_token(raw_tablet) is not None

    assert logged_in.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    assert logged_in.post("/account/tokens/junk/revoke").status_code == 404
    assert logged_in.post(f"/account/tokens/{phone.id}/revoke", csrf=False).status_code == 400


def test_password_change_signs_out_api_devices(logged_in, user):
    from homelog import tokens

    raw, _ = tokens.issue_token(user, "phone")
    new = "another long passphrase"
    logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert tokens.verify_token(raw) is None
