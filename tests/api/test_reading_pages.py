"""The contract of `GET /api/sources/{id}/readings`, held by every path that answers it.

On PostgreSQL a bearer client is answered by the fast path (homelog.pgdirect: token, source
and page in one statement), a browser session by the database-written JSON, and with
API_HOT_PATH off by the ORM path, which is also SQLite's. Every test here runs through each
of them, so the paths cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from homelog import pgdirect, tokens

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["fast", "session", "orm"])
def reader(request, app, client, auth, user, monkeypatch):
    """Return get(path, **query) -> response through one way of answering the list."""
    kind = request.param
    headers = {}
    if kind == "session":
        auth.login()
    else:
        raw, _ = tokens.issue_token(user, "phone")
        headers = {"Authorization": f"Bearer {raw}"}
    monkeypatch.setitem(app.config, "API_HOT_PATH", kind != "orm")

    def get(path: str, **query):
        return client.get(path, query_string=query, headers=headers)

    return get


@pytest.fixture
def source(user, make_source, make_reading):
    """Return a meter with 7 readings, two of them at the same instant."""
    meter = make_source(user, "Electricity")
    for n in range(6):
        make_reading(meter, {"import": 100.0 + n}, timestamp=T0 + timedelta(hours=n))
    make_reading(meter, {"import": 105.5}, timestamp=T0 + timedelta(hours=5))
    return meter


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["id"] for item in response.get_json()]


def _next_query(response) -> dict[str, str] | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    url = link[link.index("<") + 1 : link.index(">")]
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_offset_pages_through_every_reading_once(reader, source):
    url = f"/api/sources/{source.id}/readings"
    everything = _ids(reader(url, limit=100))
    assert len(everything) == 7
    pages = [_ids(reader(url, limit=3, offset=offset)) for offset in (0, 3, 6, 9)]
    assert pages[0] + pages[1] + pages[2] == everything
    assert [len(page) for page in pages] == [3, 3, 1, 0]


def test_offset_and_cursor_together_skip_after_the_cursor(reader, source):
    url = f"/api/sources/{source.id}/readings"
    everything = _ids(reader(url, limit=100))
    first = reader(url, limit=2)
    cursor = _next_query(first)["cursor"]
    assert _ids(reader(url, limit=2, cursor=cursor, offset=1)) == everything[3:5]


def test_the_next_link_after_an_offset_continues_after_the_page(reader, source):
    url = f"/api/sources/{source.id}/readings"
    everything = _ids(reader(url, limit=100))
    page = reader(url, limit=2, offset=2)
    assert _ids(page) == everything[2:4]
    following = _next_query(page)
    assert "offset" not in following and following["limit"] == "2"
    assert _ids(reader(url, **following)) == everything[4:6]
    last = reader(url, limit=2, offset=5)
    assert _ids(last) == everything[5:] and _next_query(last) is None


def test_offset_within_a_time_range(reader, source):
    url = f"/api/sources/{source.id}/readings"
    ranged = {
        "start": (T0 + timedelta(hours=1)).isoformat(),
        "end": (T0 + timedelta(hours=4)).isoformat(),
    }
    within = _ids(reader(url, limit=100, **ranged))
    assert len(within) == 3
    assert _ids(reader(url, limit=100, offset=1, **ranged)) == within[1:]


@pytest.mark.parametrize("offset", ["-1", "abc", "1.5", "", str(2**31), "1e3", "true"])
def test_a_bad_offset_is_a_422(reader, source, offset):
    response = reader(f"/api/sources/{source.id}/readings", offset=offset)
    assert response.status_code == 422, (offset, response.data)
    assert list(response.get_json()["errors"]) == ["offset"]


def test_every_path_answers_the_same_bytes(app, client, user, source, monkeypatch):
    url = f"/api/sources/{source.id}/readings"
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    answers = {}
    for hot in (True, False):
        monkeypatch.setitem(app.config, "API_HOT_PATH", hot)
        for query in ({"limit": 3}, {"limit": 3, "offset": 2}, {"limit": 3, "offset": 6}):
            response = client.get(url, query_string=query, headers=headers)
            answers.setdefault(str(query), set()).add(
                (response.status_code, response.get_data(), response.headers.get("Link"))
            )
    assert all(len(seen) == 1 for seen in answers.values()), answers


def test_an_offset_page_still_comes_in_one_statement(client, user, source):
    from tests.test_performance import counting_statements

    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    client.get("/api/users/me", headers=headers)  # the token's last use noted: no touch below
    url = f"/api/sources/{source.id}/readings"
    with counting_statements() as statements:
        response = client.get(url, query_string={"limit": 2, "offset": 3}, headers=headers)
    assert response.status_code == 200 and len(response.get_json()) == 2
    if pgdirect.is_available():  # the token, the source and the offset page together
        assert len(statements) == 1, statements
        assert "api_tokens" in statements[0] and "OFFSET" in statements[0]
