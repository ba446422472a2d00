"""The hot API routes (homelog.pgdirect): the same answers and the same rules as the ORM path.

On PostgreSQL a bearer request to `GET /api/sources/{id}` or `…/readings` is checked and
answered without the ORM session; these tests hold it to what every other route does. They
run on both databases (on SQLite they check the ORM path gives the same).
"""

from __future__ import annotations

import json
import os
import uuid
import zoneinfo
from datetime import timedelta

import pytest
from sqlalchemy import select

from homelog import homes, pgdirect, tokens
from homelog.extensions import db
from homelog.models import ApiToken, User, utcnow
from tests.conftest import share

HOT_URLS = ("/api/sources/{s}", "/api/sources/{s}/readings")
postgresql_only = pytest.mark.skipif(
    os.environ.get("HOMELOG_TEST_BACKEND") != "postgresql", reason="the hot path is PostgreSQL's"
)


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


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_a_shared_source_shows_the_members_role_on_both_paths(
    client, auth, user, make_user, meter, role
):
    home = homes.create_home(user, "Farmhouse", "Europe/Vienna")
    homes.update_home(home, "Farmhouse", "Europe/Vienna", [meter.id])
    member = make_user(f"{role}@example.com")
    share(home, member, role)
    raw, _ = _token(member)
    by_token = _get(client, f"/api/sources/{meter.id}", raw)
    auth.login(f"{role}@example.com")
    by_session = client.get(f"/api/sources/{meter.id}")  # a browser session: the ORM path
    assert by_token.status_code == by_session.status_code == 200
    assert by_token.get_json()["role"] == role
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
    db.session.execute(
        ApiToken.__table__.update().where(ApiToken.id == token_id).values(last_used_at=stale)
    )
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
        g.api_caller = pgdirect.Caller(user_id=user.id, timezone="UTC", source=None)
        loaded = api_user()
        assert isinstance(loaded, User) and loaded.id == user.id
        assert api_user() is loaded  # once per request


def test_a_bearer_list_is_checked_and_answered_by_one_statement(client, user, meter, make_reading):
    from tests.test_performance import counting_statements

    for n in range(5):
        make_reading(meter, {"import": 200 + n}, timestamp=utcnow() - timedelta(hours=n + 1))
    raw, _ = _token(user)
    _get(client, "/api/users/me", raw)  # the token's last use noted: no touch below
    path = f"/api/sources/{meter.id}/readings?limit=2"
    pages = []
    with counting_statements() as statements:
        response = _get(client, path, raw)
    assert response.status_code == 200
    pages.append(response.get_json())
    postgres = pgdirect.is_available()
    if postgres:  # the token, the source and the page come together
        assert len(statements) == 1 and "api_tokens" in statements[0], statements
        assert "FROM readings" in statements[0]
    # The next page (cursor) comes the same way, and equals the ORM path's.
    link = response.headers["Link"]
    cursor = link[link.index("cursor=") + 7 : link.index(">")].split("&")[0]
    with counting_statements() as statements:
        response = _get(client, f"{path}&cursor={cursor}", raw)
    assert response.status_code == 200 and len(statements) == (1 if postgres else 2)
    pages.append(response.get_json())
    assert [r["values"]["import"] for page in pages for r in page] == [100, 200, 201, 202]

    # A start without an offset is in the user's timezone, known after the check: two
    # statements, and the same page as the same instant written with its offset.
    user.timezone = "Europe/Berlin"
    db.session.commit()
    start = (utcnow() - timedelta(hours=1, minutes=30)).replace(microsecond=0)
    local = start.astimezone(zoneinfo.ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    with counting_statements() as statements:
        naive = _get(client, f"{path}&start={local.isoformat()}", raw)
    assert naive.status_code == 200 and len(statements) == 2
    aware_start = start.isoformat().replace("+00:00", "Z")
    assert naive.get_json() == _get(client, f"{path}&start={aware_start}", raw).get_json()
    assert [r["values"]["import"] for r in naive.get_json()] == [100, 200]


@postgresql_only
def test_page_sizes_do_not_grow_the_statement_caches_without_end(client, auth, user, meter):
    # The page size is written into the list's statement: one statement per size, kept in
    # bounded caches, so a client trying every size cannot make a worker grow for ever.
    raw, _ = _token(user)
    auth.login()
    for path_headers in ({"Authorization": f"Bearer {raw}"}, {}):  # token, then session
        for _ in range(3):
            assert (
                client.get(
                    f"/api/sources/{meter.id}/readings?limit=7", headers=path_headers
                ).status_code
                == 200
            )
        kept = len(pgdirect._compiled)
        assert (
            client.get(
                f"/api/sources/{meter.id}/readings?limit=7", headers=path_headers
            ).status_code
            == 200
        )
        assert len(pgdirect._compiled) == kept  # the same size: nothing new
    for limit in range(1, 501):
        assert (
            _get(client, f"/api/sources/{meter.id}/readings?limit={limit}", raw).status_code == 200
        )
    assert len(pgdirect._compiled) <= pgdirect._COMPILED_KEPT


def test_a_bearer_list_of_a_source_without_readings_is_empty(client, user, make_source):
    source = make_source(user, "Water", metrics={"volume": "m³"})
    raw, _ = _token(user)
    for query in ("", "?limit=1", "?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z"):
        response = _get(client, f"/api/sources/{source.id}/readings{query}", raw)
        assert response.status_code == 200 and response.get_json() == [], query
        assert "Link" not in response.headers


def test_a_bearer_list_checks_the_token_before_the_query(client, user, other, meter):
    raw, _ = _token(user)
    bad = f"/api/sources/{meter.id}/readings?cursor=not-a-cursor"
    assert _get(client, bad, "hl_not-a-token").status_code == 401
    assert _get(client, bad, raw).status_code == 422
    assert _get(client, f"/api/sources/{meter.id}/readings?limit=0", raw).status_code == 422
    stranger, _ = _token(other)
    assert _get(client, bad, stranger).status_code == 404  # not theirs: before the query
    revoked, token = _token(user)
    tokens.revoke_token(token)
    response = _get(client, f"/api/sources/{meter.id}/readings", revoked)
    assert response.status_code == 401 and "import" not in response.get_data(as_text=True)


def _post(client, source_id: int, raw: str | None, body: dict):
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    return client.post(
        f"/api/sources/{source_id}/readings", json=body, headers=headers, csrf=raw is None
    )


def test_hot_create_answers_like_the_orm_path(client, auth, user, meter):
    raw, _ = _token(user)
    body = {
        "timestamp": "2026-03-01T12:30:00.250000",
        "values": {"import": 123.5},
        "note": 'read by "Anna" \u00e9',
        "confirmed": True,
    }
    by_token = _post(client, meter.id, raw, {**body, "id": str(uuid.UUID(int=7))})
    auth.login()
    by_session = _post(client, meter.id, None, {**body, "id": str(uuid.UUID(int=8))})
    assert by_token.status_code == by_session.status_code == 201
    assert by_token.headers["Location"].endswith(f"/readings/{uuid.UUID(int=7)}")
    made, also = by_token.get_json(), by_session.get_json()
    assert made["id"] == str(uuid.UUID(int=7))
    ignored = ("id", "created_at", "updated_at")
    assert {k: v for k, v in made.items() if k not in ignored} == {
        k: v for k, v in also.items() if k not in ignored
    }
    assert made["timestamp"] == "2026-03-01T11:30:00.250000Z"  # the user's zone: Berlin
    # What was stored reads back exactly as answered.
    stored = _get(client, f"/api/sources/{meter.id}/readings/{made['id']}", raw).get_json()
    assert stored == made


def test_a_hot_create_is_checked_and_stored_by_two_statements(client, user, meter):
    """The token check, then one statement for the reading, its change-feed record and the
    meter-drop rule's look at the reading before."""
    from tests.test_performance import counting_statements

    if not pgdirect.is_available():
        pytest.skip("the hot path is PostgreSQL's")
    raw, _ = _token(user)
    source_id = meter.id
    _get(client, "/api/users/me", raw)  # the token's last use noted: no touch below
    with counting_statements() as statements:
        made = _post(
            client, source_id, raw, {"timestamp": "2026-03-02T08:00:00Z", "values": {"import": 5}}
        )
    assert made.status_code == 201
    assert len(statements) == 2 and "api_tokens" in statements[0], statements
    assert "INSERT INTO readings" in statements[1] and "sync_changes" in statements[1]


def test_hot_create_resends_conflicts_and_bad_input_as_the_orm_path_does(client, user, meter):
    raw, _ = _token(user)
    body = {
        "id": str(uuid.UUID(int=9)),
        "timestamp": "2026-03-02T08:00:00Z",
        "values": {"import": 130},
    }
    first = _post(client, meter.id, raw, body)
    assert first.status_code == 201
    again = _post(client, meter.id, raw, body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    clash = _post(client, meter.id, raw, {**body, "values": {"import": 131}})
    assert clash.status_code == 409 and clash.get_json()["current"] == first.get_json()
    for values, field in (
        ({"import": "lots"}, "values.import"),
        ({"gas": 1}, "values"),
        ({"import": 1e16}, "values.import"),
    ):
        bad = _post(client, meter.id, raw, {"timestamp": "2026-03-02T09:00:00Z", "values": values})
        assert bad.status_code == 422 and field in bad.get_json()["errors"], bad.get_json()
    count = _get(client, f"/api/sources/{meter.id}/readings", raw).get_json()
    assert len(count) == 2  # the fixture's reading and the first one


def test_hot_creates_are_numbered_in_the_change_feed_with_the_rest(
    client, user, meter, make_reading
):
    raw, _ = _token(user)
    headers = {"Authorization": f"Bearer {raw}"}
    cursor = client.get("/api/sync/changes", headers=headers).get_json()["next_cursor"]
    make_reading(meter, {"import": 200})  # through the ORM
    made = _post(
        client, meter.id, raw, {"timestamp": "2026-04-01T00:00:00Z", "values": {"import": 210}}
    ).get_json()
    make_reading(meter, {"import": 220})
    feed = client.get(
        "/api/sync/changes", headers=headers, query_string={"since": cursor}
    ).get_json()
    assert [r["values"]["import"] for r in feed["readings"]] == [200, 210, 220]
    assert made in feed["readings"]
    assert int(feed["next_cursor"]) == int(cursor) + 3


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
