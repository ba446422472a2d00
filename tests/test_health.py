"""Health and readiness endpoints, and failing fast when the database is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from homelog import create_app, health
from homelog.extensions import db
from tests.conftest import app_config

ROOT = Path(__file__).resolve().parent.parent


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_current_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["database"] == "ok" and response.json["migrations"] == "current"


def test_unreachable_database_answers_503_fast(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    app = create_app(
        app_config(url, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    )
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


def test_a_nul_hidden_in_json_is_found_and_a_lookalike_is_not(client, user):
    # The API checks the raw bytes before parsing: a NUL escaped as \u0000 in a nested
    # value is refused; a note with a literal backslash-u0000 (no NUL) is text like any other.
    from homelog import tokens

    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}
    hidden = client.post(
        "/api/sources",
        headers=headers,
        data='{"name": "Meter", "metrics": {"import": "a\\u0000b"}}',
    )
    assert hidden.status_code == 422 and "NUL" in hidden.json["detail"]
    lookalike = client.post(
        "/api/sources",
        headers=headers,
        data='{"name": "Meter \\\\u0000", "kind": "meter", "metrics": {"import": "kWh"}}',
    )
    assert lookalike.status_code == 201, lookalike.json
    assert lookalike.json["name"] == "Meter \\u0000"


def test_readyz_reports_pending_migrations(app, client):
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0005'"))
    try:
        response = client.get("/readyz")
    finally:
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    assert response.status_code == 503
    assert response.json["migrations"] == "pending" and response.json["revision"] == ["0005"]


def test_expected_heads_are_alembics():
    """health reads the scripts itself, so that web workers need not import Alembic."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(health.MIGRATIONS))
    assert health.expected_heads() == set(ScriptDirectory.from_config(config).get_heads())


def test_expected_heads_of_branches_and_a_merge(tmp_path):
    def script(name: str, down: str) -> None:
        (tmp_path / f"{name}_x.py").write_text(
            f'"""{name}."""\nrevision: str = "{name}"\ndown_revision = {down}\n'
        )

    script("a", "None")
    script("b", "'a'")
    script("c", "'a'")
    (tmp_path / "helpers.py").write_text("VALUE = 1\n")
    assert health.expected_heads(tmp_path) == {"b", "c"}
    script("d", "('b', 'c')")
    assert health.expected_heads(tmp_path) == {"d"}


def test_web_process_does_not_import_alembic(tmp_path):
    """Alembic costs every worker ~10 MB: only `flask db` and migration scripts load it."""
    code = (
        "import sys; from homelog import create_app; from tests.conftest import app_config; "
        f"app = create_app(app_config('sqlite:///{tmp_path}/x.db')); "
        "app.test_client().get('/readyz'); app.test_client().get('/login'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'flask_migrate'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_db_command_sets_flask_migrate_up_on_first_use(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/x.db"))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert health.readiness()["migrations"] == "current"
        db.engine.dispose()
