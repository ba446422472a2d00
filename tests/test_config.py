"""Settings from the environment: secrets, database URL, cookies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from homelog import create_app
from homelog.config import normalize_database_url
from homelog.extensions import db

ENV_VARS = (
    "HOMELOG_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "SESSION_COOKIE_SECURE",
    "RATELIMIT_STORAGE_URI",
    "RATELIMIT_ENABLED",
    "TRUST_PROXY",
)


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    """Point every new app at an empty instance folder and a clean environment."""
    path = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(path))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return path


def _engine_url(app: Flask) -> sa.URL:
    with app.app_context():
        return db.engine.url


def test_production_without_secret_key_fails_loudly(instance, monkeypatch):
    monkeypatch.setenv("HOMELOG_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance}/h.db")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()
    assert not (instance / "secret_key").exists()


def test_production_uses_the_secret_key_from_the_environment(instance, monkeypatch):
    monkeypatch.setenv("HOMELOG_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    app = create_app()
    assert app.secret_key == "k" * 64
    assert not (instance / "secret_key").exists()


def test_development_generates_and_keeps_a_key(instance):
    first = create_app()
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 64 and first.secret_key == key_file.read_text().strip()
    # A restart keeps sessions valid: the same key is read back.
    assert create_app().secret_key == first.secret_key


def test_development_keys_differ_per_instance(instance, tmp_path, monkeypatch):
    first = create_app().secret_key
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path / "other"))
    assert create_app().secret_key != first


def test_environment_secret_key_wins_in_development(instance, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert create_app().secret_key == "from-the-environment"
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.example:5432/homelog",
            "postgresql+psycopg://u:p@db.example:5432/homelog",
        ),
        ("postgresql://u@db/homelog", "postgresql+psycopg://u@db/homelog"),
        ("postgresql+psycopg://u@db/homelog", "postgresql+psycopg://u@db/homelog"),
        ("sqlite:////var/lib/homelog.db", "sqlite:////var/lib/homelog.db"),
    ],
)
def test_normalize_database_url(given, expected):
    assert normalize_database_url(given) == expected


def test_postgres_url_from_environment_uses_psycopg(instance, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/homelog")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u:p@db.example:5432/homelog"
    )
    url = _engine_url(app)
    assert url.drivername == "postgresql+psycopg" and url.database == "homelog"


def test_default_database_is_sqlite_under_instance(instance):
    app = create_app()
    url = _engine_url(app)
    assert url.drivername == "sqlite"
    assert Path(url.database) == instance / "homelog.db"


def test_db_upgrade_migrates_the_database_named_by_database_url(instance, tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "named.db"
    target.parent.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{target}")
    app = create_app()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "users" in sa.inspect(sa.create_engine(f"sqlite:///{target}")).get_table_names()
    assert not (instance / "homelog.db").exists()
    with app.app_context():
        db.engine.dispose()


def test_db_upgrade_defaults_to_instance_sqlite(instance):
    app = create_app()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    database = instance / "homelog.db"
    assert database.exists()
    assert "users" in sa.inspect(sa.create_engine(f"sqlite:///{database}")).get_table_names()
    with app.app_context():
        db.engine.dispose()


def _set_cookies(app: Flask) -> list[str]:
    """Return the Set-Cookie headers of a page that starts a session (the first-run form)."""
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        client = app.test_client()
        response = client.get("/setup")
        db.engine.dispose()
    assert response.status_code == 200
    return response.headers.getlist("Set-Cookie")


def test_production_cookies_are_secure(instance, monkeypatch):
    monkeypatch.setenv("HOMELOG_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance.parent}/prod.db")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    (session,) = [c for c in _set_cookies(app) if c.startswith("session=")]
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session


def test_development_cookies_work_over_plain_http(instance, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance.parent}/dev.db")
    app = create_app()
    assert not app.config["SESSION_COOKIE_SECURE"]
    (session,) = [c for c in _set_cookies(app) if c.startswith("session=")]
    assert "Secure" not in session and "HttpOnly" in session


def test_secure_cookies_can_be_switched_off_behind_plain_http(instance, monkeypatch):
    monkeypatch.setenv("HOMELOG_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    app = create_app()
    assert not app.config["SESSION_COOKIE_SECURE"] and not app.config["REMEMBER_COOKIE_SECURE"]


def test_api_settings_from_environment(monkeypatch, tmp_path):
    from homelog.config import from_environment

    monkeypatch.setenv("CORS_ORIGINS", "https://app.example, https://m.example")
    monkeypatch.setenv("API_TOKEN_DAYS", "7")
    monkeypatch.setenv("API_MAX_BODY_BYTES", "1000")
    settings = from_environment(str(tmp_path))
    assert settings["CORS_ORIGINS"] == "https://app.example, https://m.example"
    assert settings["API_TOKEN_DAYS"] == 7 and settings["API_MAX_BODY_BYTES"] == 1000
    monkeypatch.setenv("API_TOKEN_DAYS", "a week")
    with pytest.raises(RuntimeError, match="API_TOKEN_DAYS must be a whole number"):
        from_environment(str(tmp_path))
