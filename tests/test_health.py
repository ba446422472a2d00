"""Health and readiness endpoints, and failing fast when the database is gone."""

from __future__ import annotations

from homelog import create_app
from tests.conftest import app_config


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_current_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["database"] == "ok" and response.json["migrations"] == "current"


def test_unreachable_database_answers_503_fast(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    app = create_app(app_config(url, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"connect_timeout": 2}}))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["database"] == "unreachable"
    page = client.get("/login")
    assert page.status_code == 503
    assert b"database is not reachable" in page.data


def test_database_lost_mid_session_answers_503_not_500(app, logged_in, monkeypatch):
    from sqlalchemy import exc
    from sqlalchemy.orm import Session

    def broken(*args, **kwargs):
        raise exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "execute", broken)
    response = logged_in.get("/account")
    assert response.status_code == 503
    assert b"database is not reachable" in response.data
    assert response.headers["Retry-After"] == "5"


def test_nul_characters_are_refused_everywhere(client, user, logged_in):
    # PostgreSQL cannot store NUL in text; such input gets a clear answer, never a 500.
    api = client.post("/api/auth/login", json={"username": "a\x00@example.com", "password": "x"})
    assert api.status_code == 422 and "NUL" in api.json["detail"]
    form = logged_in.post("/account/profile", data={"name": "Ol\x00ive", "timezone": "UTC"})
    assert form.status_code == 400 and b"NUL characters" in form.data
    query = logged_in.get("/admin/users", query_string={"q": "x\x00"})
    assert query.status_code == 400
