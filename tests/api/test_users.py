"""API users: me, admin management, self-service limits, last-admin rules."""

from __future__ import annotations

from homelog.extensions import db
from homelog.models import User
from tests.conftest import PASSWORD

USER_KEYS = {"id", "email", "name", "is_admin", "is_active", "timezone", "created_at"}


def test_me(client, user, api_headers):
    body = client.get("/api/users/me", headers=api_headers).get_json()
    assert set(body) == USER_KEYS
    assert body["email"] == "owner@example.com" and body["timezone"] == "Europe/Berlin"


def test_admin_lists_and_creates_users(client, admin, user, admin_headers):
    response = client.get("/api/users?limit=1", headers=admin_headers)
    assert response.status_code == 200 and len(response.get_json()) == 1
    assert 'rel="next"' in response.headers["Link"]
    response = client.post(
        "/api/users",
        headers=admin_headers,
        json={"email": "New@Example.com", "password": PASSWORD, "name": "Newt", "is_admin": False},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "new@example.com" and "password" not in str(body)
    assert response.headers["Location"] == f"/api/users/{body['id']}"
    again = client.post(
        "/api/users", headers=admin_headers, json={"email": "new@example.com", "password": PASSWORD}
    )
    assert again.status_code == 422 and "email" in again.get_json()["errors"]
    weak = client.post(
        "/api/users", headers=admin_headers, json={"email": "weak@example.com", "password": "short"}
    )
    assert weak.status_code == 422 and "password" in weak.get_json()["errors"]


def test_non_admin_cannot_list_create_or_delete(client, user, other, api_headers):
    assert client.get("/api/users", headers=api_headers).status_code == 403
    assert (
        client.post(
            "/api/users", headers=api_headers, json={"email": "x@example.com", "password": PASSWORD}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/users/{user.id}", headers=api_headers).status_code == 403


def test_other_users_are_404_for_non_admins(client, user, other, api_headers):
    for method in ("get", "put", "patch", "delete"):
        response = getattr(client, method)(
            f"/api/users/{other.id}",
            headers=api_headers,
            json={} if method in ("put", "patch") else None,
        )
        assert response.status_code == 404, method
    assert client.get("/api/users/999999", headers=api_headers).status_code == 404


def test_user_updates_self_but_cannot_become_admin(client, user, api_headers):
    response = client.patch(
        f"/api/users/{user.id}",
        headers=api_headers,
        json={"name": "Olive O.", "timezone": "Europe/Paris"},
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "Olive O."
    assert response.get_json()["timezone"] == "Europe/Paris"
    response = client.patch(f"/api/users/{user.id}", headers=api_headers, json={"is_admin": True})
    assert response.status_code == 403
    assert db.session.get(User, user.id).is_admin is False
    response = client.patch(
        f"/api/users/{user.id}", headers=api_headers, json={"timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422 and "timezone" in response.get_json()["errors"]


def test_put_with_what_get_returned(client, user, api_headers):
    body = client.get("/api/users/me", headers=api_headers).get_json()
    body["name"] = "Round trip"
    response = client.put(f"/api/users/{user.id}", headers=api_headers, json=body)
    assert response.status_code == 200 and response.get_json()["name"] == "Round trip"


def test_admin_changes_roles_and_deactivates(client, admin, user, admin_headers):
    response = client.patch(f"/api/users/{user.id}", headers=admin_headers, json={"is_admin": True})
    assert response.status_code == 200 and response.get_json()["is_admin"] is True
    response = client.patch(
        f"/api/users/{user.id}", headers=admin_headers, json={"is_active": False}
    )
    assert response.get_json()["is_active"] is False
    assert (
        client.post(
            "/api/auth/login", json={"username": user.email, "password": PASSWORD}, csrf=False
        ).status_code
        == 401
    )


def test_admin_cannot_demote_deactivate_or_delete_self(client, admin, admin_headers):
    for body in ({"is_admin": False}, {"is_active": False}):
        response = client.patch(f"/api/users/{admin.id}", headers=admin_headers, json=body)
        assert response.status_code == 403, body
        assert response.get_json()["detail"]
    assert client.delete(f"/api/users/{admin.id}", headers=admin_headers).status_code == 403
    assert db.session.get(User, admin.id).is_admin


def test_admin_deletes_user_and_their_data(client, admin, user, make_source, admin_headers):
    make_source(user)
    user_id = user.id
    assert client.delete(f"/api/users/{user_id}", headers=admin_headers).status_code == 204
    db.session.expunge_all()
    assert db.session.get(User, user_id) is None


def test_admin_sets_temporary_password(client, admin, user, admin_headers, api_headers):
    response = client.patch(
        f"/api/users/{user.id}", headers=admin_headers, json={"password": "a temporary passphrase"}
    )
    assert response.status_code == 200
    assert db.session.get(User, user.id).must_change_password is True
    assert client.get("/api/users/me", headers=api_headers).status_code == 401


def test_strict_types_in_user_updates(client, user, api_headers):
    response = client.patch(
        f"/api/users/{user.id}", headers=api_headers, json={"is_active": "yes", "name": 5}
    )
    assert response.status_code == 422
    assert {"is_active", "name"} <= set(response.get_json()["errors"])
