"""Sign-in throttling: per account in the database, per address through Flask-Limiter.

Browser and API sign-ins and current-password checks count together; the backoff holds off
clients that never signed in to the account, not the owner's own browser or address.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from homelog import throttle, tokens
from homelog.extensions import db
from homelog.models import SignInThrottle, User
from tests.conftest import PASSWORD

WRONG = "not the password at all"
STRANGER = {"REMOTE_ADDR": "203.0.113.66"}


def browser_login(client, email, password, address="198.51.100.1"):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def api_login(client, email, password, address="198.51.100.1"):
    return client.post(
        "/api/auth/login",
        json={"username": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        csrf=False,
    )


@pytest.fixture
def api_headers(user) -> dict[str, str]:
    """Return headers with a bearer token of `user`."""
    raw, _ = tokens.issue_token(user, "phone")
    return {"Authorization": f"Bearer {raw}"}


def failures(account: str) -> int:
    db.session.expire_all()
    return (
        db.session.scalar(select(SignInThrottle.failures).where(SignInThrottle.account == account))
        or 0
    )


def test_backoff_grows_from_free_tries_to_a_cap():
    waits = [throttle.backoff(n) for n in range(0, 40)]
    assert waits[: throttle.FREE_FAILURES] == [timedelta(0)] * throttle.FREE_FAILURES
    assert waits[throttle.FREE_FAILURES] == throttle.FIRST_WAIT
    assert waits == sorted(waits)
    assert max(waits) == throttle.MAX_WAIT
    assert throttle.backoff(10**9) == throttle.MAX_WAIT  # no overflow however many


def test_browser_and_api_failures_count_together_in_the_database(app, client, user):
    for attempt in range(throttle.FREE_FAILURES):
        login = browser_login if attempt % 2 else api_login
        assert login(client, user.email, WRONG, STRANGER["REMOTE_ADDR"]).status_code == 401
    assert failures(user.email) == throttle.FREE_FAILURES

    # The next try waits, in the browser and the API alike, even with the right password.
    response = api_login(app.test_client(), user.email, PASSWORD, "203.0.113.67")
    assert response.status_code == 429 and response.is_json
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in response.get_json()["detail"]
    response = browser_login(app.test_client(), user.email, PASSWORD, "203.0.113.68")
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.data
    assert int(response.headers["Retry-After"]) > 0


def test_unknown_emails_are_throttled_alike(client):
    for _ in range(throttle.FREE_FAILURES):
        assert api_login(client, "nobody@example.com", WRONG).status_code == 401
    assert api_login(client, "nobody@example.com", WRONG).status_code == 429


def test_backoff_passes_and_a_success_starts_afresh(app, client, user):
    for _ in range(throttle.FREE_FAILURES):
        api_login(client, user.email, WRONG)
    assert api_login(client, user.email, PASSWORD).status_code == 429
    row = db.session.get(SignInThrottle, user.email)
    row.last_failure_at -= throttle.MAX_WAIT
    db.session.commit()
    assert api_login(client, user.email, PASSWORD).status_code == 200
    assert failures(user.email) == 0


def test_owner_is_not_locked_out_of_a_browser_or_address_that_signed_in_before(app, user):
    owner_browser = app.test_client()
    assert browser_login(owner_browser, user.email, PASSWORD, "192.0.2.10").status_code == 302
    assert owner_browser.get_cookie(throttle.DEVICE_COOKIE) is not None
    owner_browser.post("/logout")

    attacker = app.test_client()
    for _ in range(throttle.FREE_FAILURES + 3):
        browser_login(attacker, user.email, WRONG, "203.0.113.66")
    assert browser_login(attacker, user.email, PASSWORD, "203.0.113.66").status_code == 429

    # The owner's browser, now on another network: its device cookie is known.
    assert browser_login(owner_browser, user.email, PASSWORD, "192.0.2.99").status_code == 302
    # The attacker's failures kept counting; they still wait.
    for _ in range(throttle.FREE_FAILURES + 1):
        browser_login(attacker, user.email, WRONG, "203.0.113.66")
    assert api_login(attacker, user.email, PASSWORD, "203.0.113.66").status_code == 429
    # The owner's phone app, from the address the browser signed in from before.
    assert api_login(app.test_client(), user.email, PASSWORD, "192.0.2.10").status_code == 200


def test_a_device_cookie_of_another_account_is_no_pass(app, user, make_user):
    other = make_user("other@example.com")
    browser = app.test_client()
    assert browser_login(browser, other.email, PASSWORD, "192.0.2.10").status_code == 302
    browser.post("/logout")
    for _ in range(throttle.FREE_FAILURES):
        browser_login(app.test_client(), user.email, WRONG, "203.0.113.66")
    assert browser_login(browser, user.email, PASSWORD, "192.0.2.11").status_code == 429


def test_per_address_limit_is_shared_by_browser_and_api(app, client, user, make_user):
    app.config["LOGIN_RATE_LIMIT_IP"] = "3 per minute"
    try:
        # Three different accounts: the account backoff never starts; the address limit does.
        assert browser_login(client, "a@example.com", WRONG).status_code == 401
        assert api_login(client, "b@example.com", WRONG).status_code == 401
        assert browser_login(client, "c@example.com", WRONG).status_code == 401
        assert api_login(client, user.email, PASSWORD).status_code == 429
        assert browser_login(client, user.email, PASSWORD).status_code == 429
        # Another address is not affected.
        assert api_login(client, user.email, PASSWORD, "198.51.100.2").status_code == 200
    finally:
        app.config["LOGIN_RATE_LIMIT_IP"] = "20 per minute"


def _copy_session(app, client):
    """Return a client elsewhere holding a copy of client's cookies (a stolen session)."""
    thief = app.test_client()
    for name in ("session",):
        cookie = client.get_cookie(name)
        thief.set_cookie(name, cookie.value)
    return thief


def test_password_page_checks_count_as_sign_in_attempts(app, logged_in, user):
    thief = _copy_session(app, logged_in)
    data = {"current_password": WRONG, "new_password": "brand new passphrase", "confirm": ""}
    data["confirm"] = data["new_password"]
    for _ in range(throttle.FREE_FAILURES):
        response = thief.post("/account/password", data=data, environ_base=STRANGER)
        assert response.status_code == 422
    assert failures(user.email) == throttle.FREE_FAILURES
    data["current_password"] = PASSWORD
    response = thief.post("/account/password", data=data, environ_base=STRANGER)
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.data
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == user.password_hash
    # And signing in from elsewhere waits too.
    assert api_login(app.test_client(), user.email, PASSWORD, "203.0.113.9").status_code == 429


def test_api_password_checks_count_as_sign_in_attempts(app, client, user, api_headers):
    body = {"current_password": WRONG, "new_password": "brand new passphrase"}
    for _ in range(throttle.FREE_FAILURES):
        response = client.put(
            "/api/auth/password", json=body, headers=api_headers, environ_base=STRANGER
        )
        assert response.status_code == 422
    body["current_password"] = PASSWORD
    response = client.put(
        "/api/auth/password", json=body, headers=api_headers, environ_base=STRANGER
    )
    assert response.status_code == 429 and response.headers["Retry-After"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "new@example.com"}, 422, "current_password"),
        ({"email": "new@example.com", "current_password": WRONG}, 422, "current_password"),
    ],
)
def test_changing_own_email_needs_the_current_password(
    client, user, api_headers, body, status, field
):
    response = client.patch(f"/api/users/{user.id}", json=body, headers=api_headers)
    assert response.status_code == status
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "owner@example.com"


def test_changing_own_email_with_the_password_works_and_a_wrong_one_counts(
    client, user, api_headers
):
    body = {"email": "new@example.com", "current_password": WRONG}
    client.patch(f"/api/users/{user.id}", json=body, headers=api_headers)
    assert failures("owner@example.com") == 1
    body["current_password"] = PASSWORD
    response = client.patch(f"/api/users/{user.id}", json=body, headers=api_headers)
    assert response.status_code == 200 and response.get_json()["email"] == "new@example.com"
    # Unchanged email, name only: no password needed.
    response = client.patch(
        f"/api/users/{user.id}", json={"email": "NEW@example.com", "name": "O"}, headers=api_headers
    )
    assert response.status_code == 200


def test_lapsed_counts_are_pruned(app, client, monkeypatch):
    for _ in range(2):
        api_login(client, "old@example.com", WRONG)
    row = db.session.get(SignInThrottle, "old@example.com")
    row.last_failure_at -= throttle.FORGET_AFTER + timedelta(minutes=1)
    db.session.commit()
    monkeypatch.setattr(throttle, "PRUNE_ONE_IN", 1)
    api_login(client, "new@example.com", WRONG)
    db.session.expire_all()
    assert db.session.get(SignInThrottle, "old@example.com") is None
    assert failures("new@example.com") == 1
