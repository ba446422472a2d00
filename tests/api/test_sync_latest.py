"""`GET /api/sync/latest`: the snapshot a phone starts from (sources, roles, newest readings)."""

from __future__ import annotations

from homelog.extensions import db
from homelog.models import Home, HomeMember
from tests.conftest import hour


def share(owner, member, source, role: str) -> None:
    home = Home(owner_id=owner.id, name="Home")
    db.session.add(home)
    db.session.flush()
    source.location_id = home.id
    db.session.add(HomeMember(location_id=home.id, user_id=member.id, role=role))
    db.session.commit()


def test_lists_each_source_with_role_and_only_its_newest_reading(
    client, api_headers, user, other, make_source, make_reading
):
    water = make_source(user, "water", metrics={"cold": "m³"})
    power = make_source(user, "Electricity")
    for n, value in enumerate([100.0, 130.0, 120.0]):  # the newest is not the largest
        make_reading(power, {"import": value}, timestamp=hour(n))
    make_reading(water, {"cold": 5.0}, timestamp=hour(1))
    shared = make_source(other, "Attic sensor", kind="sensor", metrics={"t": "°C"})
    make_reading(shared, {"t": 21.5}, timestamp=hour(0))
    share(other, user, shared, "viewer")
    make_source(other, "Not shared")

    response = client.get("/api/sync/latest", headers=api_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert [(s["name"], s["role"]) for s in body["sources"]] == [
        ("Attic sensor", "viewer"),
        ("Electricity", "owner"),
        ("water", "owner"),
    ]
    assert body["sources"][1]["metrics"] == {"import": "kWh"}
    latest = {r["data_source_id"]: (r["timestamp"], r["values"]) for r in body["readings"]}
    assert latest == {
        power.id: ("2026-01-01T02:00:00Z", {"import": 120.0}),
        water.id: ("2026-01-01T01:00:00Z", {"cold": 5.0}),
        shared.id: ("2026-01-01T00:00:00Z", {"t": 21.5}),
    }


def test_an_editor_is_told_so(client, make_headers, user, other, make_source):
    shared = make_source(other, "Gas")
    share(other, user, shared, "editor")
    body = client.get("/api/sync/latest", headers=make_headers(user)).get_json()
    assert [(s["name"], s["role"]) for s in body["sources"]] == [("Gas", "editor")]


def test_the_cursor_continues_the_change_feed_after_the_snapshot(
    client, api_headers, user, make_source, make_reading
):
    power = make_source(user, "Electricity")
    make_reading(power, {"import": 1.0}, timestamp=hour(0))
    cursor = client.get("/api/sync/latest", headers=api_headers).get_json()["next_cursor"]
    assert (
        client.get(f"/api/sync/changes?since={cursor}", headers=api_headers).get_json()["readings"]
        == []
    )

    later = make_reading(power, {"import": 2.0}, timestamp=hour(1))
    changes = client.get(f"/api/sync/changes?since={cursor}", headers=api_headers).get_json()
    assert [r["id"] for r in changes["readings"]] == [str(later.id)]


def test_the_cursor_skips_the_history_of_shared_sources_too(
    client, make_headers, user, other, make_source, make_reading
):
    shared = make_source(other, "Gas")
    for n in range(3):
        make_reading(shared, {"import": float(n)}, timestamp=hour(n))
    share(other, user, shared, "editor")
    headers = make_headers(user)
    cursor = client.get("/api/sync/latest", headers=headers).get_json()["next_cursor"]

    # The snapshot already gave the newest reading: the feed does not send the history again.
    changes = client.get(f"/api/sync/changes?since={cursor}", headers=headers).get_json()
    assert (changes["sources"], changes["readings"], changes["deleted"]) == ([], [], [])

    later = make_reading(shared, {"import": 9.0}, timestamp=hour(5))
    changes = client.get(f"/api/sync/changes?since={cursor}", headers=headers).get_json()
    assert [r["id"] for r in changes["readings"]] == [str(later.id)]


def test_a_new_user_gets_an_empty_snapshot_and_the_start_of_the_feed(client, api_headers):
    body = client.get("/api/sync/latest", headers=api_headers).get_json()
    assert body == {"sources": [], "readings": [], "next_cursor": "0"}


def test_needs_credentials(client):
    response = client.get("/api/sync/latest")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_browser_session_may_read_it(logged_in, user, make_source):
    make_source(user, "Electricity")
    response = logged_in.get("/api/sync/latest")
    assert response.status_code == 200
    assert [s["role"] for s in response.get_json()["sources"]] == ["owner"]


def test_is_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/sync/latest"]
