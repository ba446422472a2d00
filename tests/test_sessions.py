"""Browser sessions live on the server: signing out, a new password and deactivation end them,
they expire, and signing in gives a new CSRF token."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer

from homelog import accounts, sessions
from homelog.extensions import db
from homelog.models import UserSession, utcnow
from tests.conftest import PASSWORD


def copy_cookies(app, client, *names: str):
    """Return a new client holding copies of client's named cookies (as a thief would)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def test_a_copied_session_cookie_stops_working_after_sign_out(app, logged_in, user):
    thief = copy_cookies(app, logged_in, "session")
    assert thief.get("/account").status_code == 200
    assert logged_in.post("/logout").status_code == 302
    assert thief.get("/account").status_code == 302
    assert thief.get("/api/users/me").status_code == 401


def test_a_copied_remember_cookie_stops_working_after_sign_out(app, client, auth, user):
    assert auth.login(remember=True).status_code == 302
    thief = copy_cookies(app, client, "remember_token")
    assert thief.get("/account").status_code == 200  # restored from the remember-me cookie
    auth.logout()
    thief = copy_cookies(app, thief, "remember_token")  # a fresh browser with only that cookie
    assert thief.get("/account").status_code == 302


def test_sign_out_revokes_the_session_row(logged_in, user):
    assert len(sessions.user_sessions(user)) == 1
    logged_in.post("/logout")
    assert sessions.user_sessions(user) == []
    assert db.session.scalars(db.select(UserSession)).one().revoked_at is not None


def test_remembered_session_expires_on_the_server(app, client, auth, user):
    assert auth.login(remember=True).status_code == 302
    thief = copy_cookies(app, client, "remember_token")
    row = db.session.scalars(db.select(UserSession)).one()
    assert row.remember and row.expires_at - row.created_at == timedelta(days=30)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert thief.get("/account").status_code == 302
    assert client.get("/account").status_code == 302


def test_idle_session_expires_and_use_keeps_it_alive(app, logged_in, user):
    row = db.session.scalars(db.select(UserSession)).one()
    assert not row.remember and row.expires_at - row.created_at == sessions.IDLE_LIFETIME
    # Used an hour ago: this request moves the expiry on.
    row.last_seen_at = utcnow() - timedelta(hours=1)
    row.expires_at = utcnow() + sessions.IDLE_LIFETIME - timedelta(hours=1)
    db.session.commit()
    assert logged_in.get("/account").status_code == 200
    db.session.refresh(row)
    assert row.expires_at > utcnow() + sessions.IDLE_LIFETIME - timedelta(minutes=1)
    # Idle past its expiry: over.
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert logged_in.get("/account").status_code == 302


def test_deactivation_revokes_sessions(app, logged_in, user, admin):
    thief = copy_cookies(app, logged_in, "session")
    accounts.set_active(admin, user, False)
    assert sessions.user_sessions(user) == []
    accounts.set_active(admin, user, True)
    # Reactivating does not bring the old sessions back.
    assert thief.get("/account").status_code == 302
    assert logged_in.get("/account").status_code == 302


def test_password_change_revokes_other_sessions_and_renews_this_one(app, logged_in, user):
    other = app.test_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    thief = copy_cookies(app, logged_in, "session")
    new = "another long passphrase"
    response = logged_in.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302
    assert logged_in.get("/account").status_code == 200
    assert other.get("/account").status_code == 302
    assert thief.get("/account").status_code == 302  # the old cookie of this very browser too
    assert len(sessions.user_sessions(user)) == 1


def _csrf_token_for(app, raw: str) -> str:
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def test_csrf_token_is_new_after_sign_in(app, client, user):
    with client.session_transaction() as session:
        session["csrf_token"] = "planted-before-sign-in"
    planted = _csrf_token_for(app, "planted-before-sign-in")
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"X-CSRFToken": planted},
        csrf=False,
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session.get("csrf_token") != "planted-before-sign-in"
    # A token known before signing in (e.g. planted by someone else) no longer works.
    response = client.post(
        "/account/profile",
        data={"name": "Forged", "timezone": "UTC"},
        headers={"X-CSRFToken": planted},
        csrf=False,
    )
    assert response.status_code == 400
    assert client.get("/account").status_code == 200


def test_old_style_cookie_identities_are_refused(app, client, user):
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:0"
        session["_fresh"] = True
    assert client.get("/account").status_code == 302


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_account_lists_browsers_and_signs_one_out(app, client, user, make_user):
    laptop = app.test_client()
    laptop.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": FIREFOX},
    )
    client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers={"User-Agent": IPHONE}
    )
    stranger = make_user("stranger@example.com")
    sessions.start(stranger, user_agent="Stranger's browser")
    page = client.get("/account").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iPhone" in page
    assert "This browser" in page and "Stranger" not in page

    firefox = next(s for s in sessions.user_sessions(user) if "Firefox" in s.user_agent)
    response = client.post(f"/account/sessions/{firefox.id}/revoke", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "is signed out" in response.get_data(as_text=True)
    assert laptop.get("/account").status_code == 302
    assert client.get("/account").status_code == 200

    theirs = sessions.user_sessions(stranger)[0]
    assert client.post(f"/account/sessions/{theirs.id}/revoke").status_code == 404
    assert client.post("/account/sessions/junk/revoke").status_code == 404
    assert sessions.user_sessions(stranger) == [theirs]


def test_describe_browser():
    assert sessions.describe(FIREFOX) == "Firefox on Linux"
    assert sessions.describe(IPHONE) == "Safari on iPhone"
    assert sessions.describe("") == "Unknown browser"


def test_signing_in_clears_the_users_ended_sessions(client, auth, user):
    auth.login()
    auth.logout()
    auth.login()
    rows = db.session.scalars(db.select(UserSession)).all()
    assert len(rows) == 1 and rows[0].revoked_at is None
