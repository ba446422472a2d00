"""Sharing in the API: shared sources in /api/sources and the change feed, with the caller's
role; tombstones when a share ends; uploads refused per item where the caller may not write."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from homelog import datasources, homes
from homelog.extensions import db
from homelog.models import HomeMember, Reading
from tests.conftest import hour, share


@pytest.fixture
def home(user):
    return homes.create_home(user, "Farmhouse", "Europe/Vienna")


@pytest.fixture
def power(user, home, make_source, make_reading):
    source = make_source(user, "Power", location_id=home.id)
    for n in range(3):
        make_reading(source, {"import": float(n)}, timestamp=hour(n))
    return source


def feed_all(client, headers, since=None, limit=2):
    """Page through the feed from since until has_more is false; return pages and the cursor."""
    pages = []
    for _ in range(200):
        query = {"limit": limit, **({"since": since} if since is not None else {})}
        response = client.get("/api/sync/changes", headers=headers, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append(body)
        since = body["next_cursor"]
        if not body["has_more"]:
            return pages, since
    raise AssertionError("the feed never ended")


def merged(pages):
    """Apply pages as a client would: sources, then readings, then deleted."""
    sources, readings = {}, {}
    for page in pages:
        for source in page["sources"]:
            sources[source["id"]] = source
        for reading in page["readings"]:
            readings[reading["id"]] = reading
        for gone in page["deleted"]:
            if gone["type"] == "source":
                sources.pop(int(gone["id"]), None)
                readings = {
                    k: r for k, r in readings.items() if r["data_source_id"] != int(gone["id"])
                }
            else:
                readings.pop(gone["id"], None)
    return sources, readings


def reading_ids(source) -> set[str]:
    return {
        str(i) for i in db.session.scalars(select(Reading.id).filter_by(data_source_id=source.id))
    }


def test_sources_list_shared_ones_with_the_callers_role(
    client, user, other, home, power, make_source, api_headers, other_headers
):
    own = make_source(other, "Other's own")
    share(home, other, "viewer")
    listed = client.get("/api/sources", headers=other_headers).get_json()
    assert {(s["name"], s["role"]) for s in listed} == {
        ("Power", "viewer"),
        ("Other's own", "owner"),
    }
    one = client.get(f"/api/sources/{power.id}", headers=other_headers).get_json()
    assert one["role"] == "viewer" and one["owner_id"] == user.id
    assert client.get(f"/api/sources/{own.id}", headers=other_headers).get_json()["role"] == "owner"
    assert [s["role"] for s in client.get("/api/sources", headers=api_headers).get_json()] == [
        "owner"
    ]


def test_accepting_brings_the_shared_source_and_all_its_readings(
    client, other, home, power, make_source, make_reading, other_headers
):
    mine = make_source(other, "Water", metrics={"m3": "m³"})
    make_reading(mine, {"m3": 1.0})
    pages, cursor = feed_all(client, other_headers)
    sources, _ = merged(pages)
    assert list(sources) == [mine.id]
    share(home, other, "editor")
    later, cursor = feed_all(client, other_headers, cursor)
    sources, readings = merged(later)
    assert sources[power.id]["role"] == "editor"
    assert set(readings) == reading_ids(power)
    # Nothing new: the next answer is empty.
    empty, _ = feed_all(client, other_headers, cursor)
    assert merged(empty) == ({}, {})


def test_a_source_moved_into_a_shared_home_comes_with_its_older_readings(
    client, user, other, home, power, make_source, make_reading, other_headers
):
    """The owner is already in the member's cursor: the new source's readings are older."""
    share(home, other, "viewer")
    cellar = make_source(user, "Cellar", metrics={"temperature": "°C"})
    for n in range(5):
        make_reading(cellar, {"temperature": float(n)}, timestamp=hour(n))
    first, cursor = feed_all(client, other_headers)
    assert set(merged(first)[0]) == {power.id}
    make_reading(power, {"import": 9.0}, timestamp=hour(9))  # moves the owner's position on
    first, cursor = feed_all(client, other_headers, cursor)
    homes.update_home(home, "Farmhouse", "Europe/Vienna", [power.id, cellar.id])
    pages, cursor = feed_all(client, other_headers, cursor, limit=2)
    sources, readings = merged(pages)
    assert sources[cellar.id]["role"] == "viewer"
    assert set(readings) == reading_ids(cellar)
    assert len(pages) > 2  # paged, two changes at a time


def test_a_share_that_ends_leaves_tombstones(
    client, user, other, home, power, make_source, other_headers
):
    cellar = make_source(user, "Cellar", location_id=home.id)
    share(home, other, "viewer")
    _, cursor = feed_all(client, other_headers)
    homes.update_home(home, "Farmhouse", "Europe/Vienna", [power.id])  # cellar moves out
    pages, cursor = feed_all(client, other_headers, cursor)
    assert [(d["type"], d["id"]) for p in pages for d in p["deleted"]] == [
        ("source", str(cellar.id))
    ]
    assert all(s["id"] != cellar.id for p in pages for s in p["sources"])
    member = db.session.scalar(select(HomeMember))
    homes.remove_member(member)
    pages, cursor = feed_all(client, other_headers, cursor)
    assert [(d["type"], d["id"]) for p in pages for d in p["deleted"]] == [
        ("source", str(power.id))
    ]
    pages, _ = feed_all(client, other_headers, cursor)
    assert merged(pages) == ({}, {}) and not any(p["deleted"] for p in pages)


def test_a_deleted_shared_source_leaves_a_tombstone(
    client, user, other, home, power, other_headers
):
    share(home, other, "editor")
    _, cursor = feed_all(client, other_headers)
    datasources.delete_source(power)
    pages, _ = feed_all(client, other_headers, cursor)
    assert [(d["type"], d["id"]) for p in pages for d in p["deleted"]] == [
        ("source", str(power.id))
    ]


def test_a_role_change_sends_the_source_again(client, other, home, power, other_headers):
    share(home, other, "viewer")
    _, cursor = feed_all(client, other_headers)
    member = db.session.scalar(select(HomeMember))
    homes.change_role(member, "editor")
    pages, _ = feed_all(client, other_headers, cursor)
    assert [(s["id"], s["role"]) for p in pages for s in p["sources"]] == [(power.id, "editor")]


def test_paging_misses_nothing_while_the_owner_and_the_member_write(
    client, user, other, home, power, make_source, make_reading, api_headers, other_headers
):
    mine = make_source(other, "Water", metrics={"m3": "m³"})
    share(home, other, "editor")
    cursor = None
    seen_sources, seen_readings = {}, {}
    for round_ in range(6):
        response = client.get(
            "/api/sync/changes",
            headers=other_headers,
            query_string={"limit": 1, **({"since": cursor} if cursor else {})},
        ).get_json()
        cursor = response["next_cursor"]
        seen_sources.update({s["id"]: s for s in response["sources"]})
        seen_readings.update({r["id"]: r for r in response["readings"]})
        # Writes between pages: the owner's, the member's own, and the member's in the share.
        make_reading(power, {"import": 10.0 + round_}, timestamp=hour(10 + round_))
        make_reading(mine, {"m3": float(round_)}, timestamp=hour(round_))
        body = {
            "readings": [
                {
                    "id": str(uuid.uuid4()),
                    "data_source_id": power.id,
                    "timestamp": f"2026-03-0{round_ + 1}T00:00:00Z",
                    "values": {"import": 100.0 + round_},
                }
            ]
        }
        assert (
            client.post("/api/sync/readings", headers=other_headers, json=body).status_code == 200
        )
    pages, _ = feed_all(client, other_headers, cursor, limit=3)
    sources, readings = merged(pages)
    seen_sources.update(sources)
    seen_readings.update(readings)
    assert set(seen_sources) == {power.id, mine.id}
    assert set(seen_readings) == reading_ids(power) | reading_ids(mine)


def test_a_made_up_cursor_reveals_nothing(client, user, other, power, make_user, make_headers):
    stranger_headers = make_headers(make_user("stan@example.com"))
    made_up = f"v2~{user.id:x}.0~{power.id:x}.e~{power.id:x}.0.ff"
    body = client.get(
        "/api/sync/changes", headers=stranger_headers, query_string={"since": made_up}
    ).get_json()
    assert body["sources"] == [] and body["readings"] == []
    # The only tombstone is of the id the cursor named itself.
    assert [(d["type"], d["id"]) for d in body["deleted"]] == [("source", str(power.id))]


@pytest.mark.parametrize(
    "since", ["v2~1.0~~", "v3~~~", "v2~1.0~5.x~", "v2~zz.1~~", "x", "v2~1.0~~~", "-1", "1" * 20]
)
def test_cursors_the_server_never_gave_are_refused(client, other_headers, since):
    if since == "v2~1.0~~":
        return  # a well-formed one (checked below)
    response = client.get("/api/sync/changes", headers=other_headers, query_string={"since": since})
    assert response.status_code == 422 and "since" in response.get_json()["errors"]


def test_a_well_formed_cursor_is_accepted(client, other, other_headers):
    cursor = f"v2~{other.id:x}.0~~"
    response = client.get(
        "/api/sync/changes", headers=other_headers, query_string={"since": cursor}
    )
    assert response.status_code == 200


def test_uploads_are_refused_per_item_where_the_caller_may_only_view(
    client, user, other, home, power, make_source, other_headers
):
    share(home, other, "viewer")
    mine = make_source(other, "Water", metrics={"m3": "m³"})
    items = [
        {
            "id": str(uuid.uuid4()),
            "data_source_id": power.id,
            "timestamp": "2026-04-01T00:00:00Z",
            "values": {"import": 5.0},
        },
        {
            "id": str(uuid.uuid4()),
            "data_source_id": mine.id,
            "timestamp": "2026-04-01T00:00:00Z",
            "values": {"m3": 5.0},
        },
        {
            "id": str(uuid.uuid4()),
            "data_source_id": make_source(user, "Private").id,
            "timestamp": "2026-04-01T00:00:00Z",
            "values": {"import": 5.0},
        },
    ]
    results = client.post(
        "/api/sync/readings", headers=other_headers, json={"readings": items}
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["invalid", "created", "invalid"]
    assert "editor" in results[0]["errors"]["data_source_id"][0]
    assert results[2]["errors"]["data_source_id"] == ["No such source."]
