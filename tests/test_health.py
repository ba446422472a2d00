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
