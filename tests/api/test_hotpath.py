"""The hot API routes (homelog.hotpath): the same answers and the same rules as the ORM path.

On PostgreSQL a bearer request to `GET /api/sources/{id}` or `…/readings` is checked and
answered without the ORM session; these tests hold it to what every other route does. They
run on both databases (on SQLite they check the ORM path gives the same).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from homelog import hotpath, tokens
from homelog.extensions import db
from homelog.models import ApiToken, User, utcnow

HOT_URLS = ("/api/sources/{s}", "/api/sources/{s}/readings")


@pytest.fixture
def meter(user, make_source, make_reading):
    source = make_source(user, "Electricity")
    make_reading(source, {"import": 100})
    return source


def _token(user) -> tuple[str, ApiToken]:
    raw, token = tokens.issue_token(user, "phone")
    return raw, token


def _get(client, url: str, raw: str):
    return client.get(url, headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.parametrize("url", HOT_URLS)
def test_hot_routes_answer_like_the_orm_path(client, auth, user, meter, url):
    raw, _ = _token(user)
    by_token = _get(client, url.format(s=meter.id), raw)
    auth.login()
    by_session = client.get(url.format(s=meter.id))  # a browser session: always the ORM path
    assert by_token.status_code == by_session.status_code == 200
    assert by_token.get_json() == by_session.get_json()
    assert by_token.get_data() == by_session.get_data()


@pytest.mark.parametrize("url", HOT_URLS)
def test_hot_routes_refuse_dead_tokens(client, user, admin, meter, url):
    path = url.format(s=meter.id)
    revoked, token = _token(user)
    tokens.revoke_token(token)
    expired, token = _token(user)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for raw in (revoked, expired, "hl_not-a-token", "junk"):
        response = _get(client, path, raw)
        assert response.status_code == 401, raw
        assert response.get_json()["detail"] == "The token is invalid, expired or revoked."
    live, _ = _token(user)
    assert _get(client, path, live).status_code == 200
    user.is_active = False  # deactivated by hand, tokens left as they were
    db.session.commit()
    assert _get(client, path, live).status_code == 401


@pytest.mark.parametrize("url", HOT_URLS)
def test_hot_routes_hide_other_peoples_sources(client, user, other, meter, url):
    raw, _ = _token(other)
    for source_id in (meter.id, 0, 2_147_483_648, 99_999_999):
        response = _get(client, url.format(s=source_id), raw)
        assert response.status_code == 404, source_id
        assert response.get_json()["detail"] == "No such source."


def test_hot_routes_note_when_a_token_was_used(client, user, meter):
    raw, token = _token(user)
    token_id = token.id
    assert token.last_used_at is None
    assert _get(client, f"/api/sources/{meter.id}", raw).status_code == 200
    first = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))
    assert first is not None
    # Within LAST_USED_RESOLUTION the time is left alone (no write per request) ...
    assert _get(client, f"/api/sources/{meter.id}/readings", raw).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id)) == first
    # ... and noted again once it is older.
    stale = first - tokens.LAST_USED_RESOLUTION - timedelta(seconds=1)
    db.session.execute(ApiToken.__table__.update().where(ApiToken.id == token_id)
                       .values(last_used_at=stale))
    db.session.commit()
    assert _get(client, f"/api/sources/{meter.id}", raw).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id)) > stale


def test_hot_requests_are_logged_with_their_user(client, user, meter, caplog):
    raw, _ = _token(user)
    with caplog.at_level("INFO", logger="homelog.request"):
        assert _get(client, f"/api/sources/{meter.id}/readings", raw).status_code == 200
    records = [r for r in caplog.records if r.name == "homelog.request"]
    assert records and records[-1].fields["user_id"] == user.id
    assert raw not in json.dumps([r.fields for r in records])


def test_a_hot_view_can_still_load_the_orm_user(app, user):
    with app.test_request_context("/api/sources/1"):
        from flask import g

        from homelog.api.core import api_user

        g.api_user = g.api_token = None
        g.api_caller = hotpath.Caller(user_id=user.id, timezone="UTC", source=None)
        loaded = api_user()
        assert isinstance(loaded, User) and loaded.id == user.id
        assert api_user() is loaded  # once per request


postgresql_only = pytest.mark.skipif(
    os.environ.get("HOMELOG_TEST_BACKEND") != "postgresql", reason="the hot path is PostgreSQL's"
)


@postgresql_only
def test_hot_requests_leave_pooled_connections_as_the_orm_expects(client, user, meter):
    raw, _ = _token(user)
    user_id = user.id
    for url in HOT_URLS:
        assert _get(client, url.format(s=meter.id), raw).status_code == 200
    db.session.close()
    pool = db.engine.pool
    held = [db.engine.raw_connection() for _ in range(pool.checkedin())]
    try:
        assert held and all(c.driver_connection.autocommit is False for c in held)
    finally:
        for connection in held:
            connection.close()
    # And a write through the ORM afterwards is still a transaction that can be undone.
    me = db.session.get(User, user_id)
    me.name = "Not kept"
    db.session.flush()
    db.session.rollback()
    assert db.session.get(User, user_id).name != "Not kept"


@postgresql_only
def test_a_lost_connection_answers_503_and_is_dropped(client, user, meter):
    raw, _ = _token(user)
    path = f"/api/sources/{meter.id}"
    assert _get(client, path, raw).status_code == 200
    db.session.close()
    # The server ends every idle connection of the pool, as a database restart would.
    with db.engine.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    answers = [_get(client, path, raw) for _ in range(db.engine.pool.size() + 3)]
    codes = [response.status_code for response in answers]
    # The connection the first request used idled < DB_IDLE_PING_SECONDS, so it is not
    # pinged: its request meets the cut and answers 503; every one after it reconnects.
    assert 503 in codes and set(codes) <= {200, 503} and codes[-1] == 200, codes
    for response in answers:
        if response.status_code == 503:
            assert response.get_json()["detail"] == "Database unavailable."
            assert response.headers["Retry-After"]
