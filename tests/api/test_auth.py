"""API sign-in: tokens, validation, sign-out, password change, rate limits, CSRF."""

from __future__ import annotations

from datetime import timedelta

from homelog import accounts, models, tokens
from homelog.extensions import db
from homelog.models import ApiToken, utcnow
from tests.conftest import PASSWORD


def login(client, email="owner@example.com", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/login", json={"username": email, "password": password, **extra}, csrf=False
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_a_token_stored_only_as_a_hash(client, user):
    response = login(client, email="OWNER@example.com", device_name="Olive's phone")
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["expires_at"]
    token = body["access_token"]
    stored = db.session.scalar(db.select(ApiToken))
    assert stored.name == "Olive's phone"
    assert stored.token_hash == tokens.hash_token(token) and token not in stored.token_hash
    me = client.get("/api/users/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["email"] == "owner@example.com"


def test_wrong_password_is_401_with_bearer_challenge(client, user):
    response = login(client, password="not the password at all")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["detail"]


def test_inactive_user_cannot_log_in(client, make_user):
    make_user("gone@example.com", is_active=False)
    assert login(client, email="gone@example.com").status_code == 401


def test_missing_and_bad_tokens_are_401(client, user):
    for headers in ({}, bearer("hl_nope"), {"Authorization": "Basic abc"}, bearer("")):
        response = client.get("/api/users/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.is_json


def test_validate_get_and_put(client, user, api_headers):
    for method in ("get", "put"):
        response = getattr(client, method)("/api/auth/validate", headers=api_headers, csrf=False)
        assert response.status_code == 200
        assert response.get_json()["user_id"] == user.id
        assert response.get_json()["expires_at"]
    assert client.get("/api/auth/validate").status_code == 401


def test_logout_revokes_only_the_token_used(client, user, make_headers):
    first, second = make_headers(user), make_headers(user)
    assert client.post("/api/auth/logout", headers=first, csrf=False).status_code == 204
    assert client.get("/api/auth/validate", headers=first).status_code == 401
    assert client.get("/api/auth/validate", headers=second).status_code == 200


def test_expired_token_stops_working(client, user, api_headers):
    token = db.session.scalar(db.select(ApiToken))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/users/me", headers=api_headers).status_code == 401


def test_deactivated_users_tokens_stop_working(client, user, admin, api_headers, admin_headers):
    response = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers, csrf=False
    )
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert client.get("/api/users/me", headers=api_headers).status_code == 401
    assert db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == user.id)).revoked_at


def test_deactivation_elsewhere_also_stops_tokens(client, user, admin, api_headers):
    accounts.set_active(admin, user, False)  # as the admin pages do
    assert client.get("/api/users/me", headers=api_headers).status_code == 401


def test_change_password(client, user, api_headers, make_headers):
    elsewhere = make_headers(user)
    response = client.put(
        "/api/auth/password",
        headers=api_headers,
        csrf=False,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 204
    assert client.get("/api/users/me", headers=api_headers).status_code == 200
    assert client.get("/api/users/me", headers=elsewhere).status_code == 401
    assert login(client, password="a brand new passphrase").status_code == 200


def test_change_password_errors(client, user, api_headers):
    response = client.put(
        "/api/auth/password",
        headers=api_headers,
        csrf=False,
        json={"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"},
    )
    assert response.status_code == 422
    assert "current_password" in response.get_json()["errors"]
    response = client.put(
        "/api/auth/password",
        headers=api_headers,
        csrf=False,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert response.status_code == 422
    assert "new_password" in response.get_json()["errors"]


def test_successful_logins_do_not_use_up_the_limit(app, client, user):
    app.config["LOGIN_RATE_LIMIT_IP"] = "3 per minute"
    try:
        for _ in range(5):
            assert login(client).status_code == 200
    finally:
        app.config["LOGIN_RATE_LIMIT_IP"] = "20 per minute"


def test_browser_session_works_and_needs_csrf_for_changes(logged_in):
    assert logged_in.get("/api/users/me").status_code == 200
    response = logged_in.post(
        "/api/sources", json={"name": "Gas", "metrics": {"m": "m³"}}, csrf=False
    )
    assert response.status_code == 400 and response.is_json
    response = logged_in.post("/api/sources", json={"name": "Gas", "metrics": {"m": "m³"}})
    assert response.status_code == 201


def test_bearer_requests_need_no_csrf(client, api_headers):
    response = client.post(
        "/api/sources",
        json={"name": "Gas", "metrics": {"m": "m³"}},
        headers=api_headers,
        csrf=False,
    )
    assert response.status_code == 201


def test_login_body_errors(client, user):
    assert (
        client.post(
            "/api/auth/login", data="{", content_type="application/json", csrf=False
        ).status_code
        == 400
    )
    assert client.post("/api/auth/login", data={"username": "x"}, csrf=False).status_code == 415
    response = client.post("/api/auth/login", json={"username": "x"}, csrf=False)
    assert response.status_code == 422 and "password" in response.get_json()["errors"]


def _temporary_user(make_user, make_source):
    user = make_user("temp@example.com", must_change_password=True)
    return user, make_source(user, "Electricity")


def test_temporary_password_token_may_only_change_it(client, make_user, make_source):
    user, source = _temporary_user(make_user, make_source)
    response = login(client, email="temp@example.com")
    assert response.status_code == 200
    headers = bearer(response.get_json()["access_token"])

    for method, path, body in [
        ("GET", "/api/sources", None),
        ("POST", "/api/sources", {"name": "Gas", "metrics": {"m": "m³"}}),
        ("GET", f"/api/sources/{source.id}", None),  # a hot route on PostgreSQL
        ("GET", f"/api/sources/{source.id}/readings", None),
        ("POST", f"/api/sources/{source.id}/readings", {"values": {"import": 1}}),
        ("GET", "/api/auth/validate", None),
    ]:
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.is_json and "PUT /api/auth/password" in response.get_json()["detail"]
    assert db.session.scalars(db.select(models.DataSource)).all() == [source]
    assert db.session.scalars(db.select(models.Reading)).all() == []

    assert client.get("/api/users/me", headers=headers).status_code == 200
    response = client.put(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "my very own passphrase"},
        headers=headers,
    )
    assert response.status_code == 204
    assert client.get("/api/sources", headers=headers).status_code == 200


def test_temporary_password_token_may_sign_out(client, make_user, make_source):
    _temporary_user(make_user, make_source)
    headers = bearer(login(client, email="temp@example.com").get_json()["access_token"])
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/users/me", headers=headers).status_code == 401


def test_temporary_password_browser_session_gets_403_from_the_api(
    client, auth, make_user, make_source
):
    _temporary_user(make_user, make_source)
    assert auth.login(email="temp@example.com").status_code == 302
    response = client.get("/api/sources")
    assert response.status_code == 403 and response.is_json
    response = client.post("/api/sources", json={"name": "Gas", "metrics": {"m": "m³"}})
    assert response.status_code == 403
    assert client.get("/api/users/me").status_code == 200
