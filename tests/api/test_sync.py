"""Offline sync: batch upload (safe to resend, concurrent batches) and the change feed."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from homelog import homes
from homelog import readings as readings_domain
from homelog.extensions import db
from homelog.models import Reading
from tests.conftest import hour, share

POSTGRESQL = os.environ.get("HOMELOG_TEST_BACKEND") == "postgresql"


@pytest.fixture
def source(user, make_source):
    return make_source(user, "Electricity", metrics={"import": "kWh"})


def item(source, n: int, value: float = 1.0, **extra) -> dict:
    return {
        "id": str(uuid.UUID(int=n + 1)),
        "data_source_id": source.id,
        "timestamp": f"2026-01-01T{n % 24:02d}:00:00Z",
        "values": {"import": value},
        **extra,
    }


def reading_count() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Reading))


def sync(client, headers, items):
    return client.post("/api/sync/readings", headers=headers, json={"readings": items})


def test_batch_reports_each_item_and_saves_the_valid_ones(
    client, user, other, make_source, source, api_headers
):
    theirs = make_source(other)
    items = [
        item(source, 0),
        item(source, 1),
        {**item(source, 2), "values": {"import": "lots"}},
        {**item(source, 3), "values": {"gas": 1}},
        {**item(source, 4), "data_source_id": theirs.id},
        {"id": "junk"},
        "not even an object",
        item(source, 0),  # the same id again, same content
        item(source, 1, value=9),  # the same id again, other content
    ]
    response = sync(client, api_headers, items)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    statuses = [result["status"] for result in body["results"]]
    assert statuses == [
        "created",
        "created",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "unchanged",
        "conflict",
    ]
    assert [r["index"] for r in body["results"]] == list(range(9))
    assert body["results"][2]["errors"] == {"values.import": ["Input should be a valid number"]}
    assert "values" in body["results"][3]["errors"]
    assert body["results"][4]["errors"] == {"data_source_id": ["No such source."]}
    assert body["results"][5]["id"] is None
    assert (body["created"], body["unchanged"], body["conflict"], body["invalid"]) == (2, 1, 1, 5)
    assert reading_count() == 2


def test_batch_accepts_read_only_fields_and_local_times(client, source, api_headers):
    sent_back = {**item(source, 0), "created_at": "2026-01-01T00:00:00Z", "created_by_id": 7}
    local = {**item(source, 1), "timestamp": "2026-07-01T12:00:00"}  # Berlin: 10:00 UTC
    skipped = {**item(source, 2), "timestamp": "2026-03-29T02:30:00"}  # clocks skip 2-3
    body = sync(client, api_headers, [sent_back, local, skipped]).get_json()
    assert [r["status"] for r in body["results"]] == ["created", "created", "invalid"]
    assert "timestamp" in body["results"][2]["errors"]
    stored = db.session.get(Reading, uuid.UUID(local["id"]))
    assert stored.timestamp.isoformat() == "2026-07-01T10:00:00+00:00"


def test_resending_a_batch_changes_nothing(client, source, api_headers):
    items = [item(source, n) for n in range(20)]
    assert sync(client, api_headers, items).get_json()["created"] == 20
    again = sync(client, api_headers, items).get_json()
    assert again["unchanged"] == 20 and again["created"] == 0
    assert reading_count() == 20


def test_conflict_returns_the_servers_copy(client, source, api_headers):
    sync(client, api_headers, [item(source, 0, value=1)])
    result = sync(client, api_headers, [item(source, 0, value=2)]).get_json()["results"][0]
    assert result["status"] == "conflict"
    assert result["current"]["values"] == {"import": 1.0}


def test_ids_of_other_users_readings_are_conflicts_without_data(
    client, other, make_source, make_reading, source, api_headers
):
    theirs = make_reading(make_source(other), {"import": 5.0}, id=uuid.UUID(int=1))
    result = sync(client, api_headers, [item(source, 0)]).get_json()["results"][0]
    assert result["id"] == str(theirs.id)
    assert result["status"] == "conflict" and result["current"] is None


def test_batch_limits_and_shape(client, source, api_headers):
    response = sync(client, api_headers, [item(source, n) for n in range(1001)])
    assert response.status_code == 422 and "readings" in response.get_json()["errors"]
    assert (
        client.post("/api/sync/readings", headers=api_headers, json={"readings": "x"}).status_code
        == 422
    )
    assert client.post("/api/sync/readings", headers=api_headers, json=[]).status_code == 422
    assert sync(client, api_headers, []).get_json()["results"] == []


def test_full_batch_of_1000(client, source, api_headers):
    response = sync(client, api_headers, [item(source, n, value=n) for n in range(1000)])
    assert response.get_json()["created"] == 1000
    assert reading_count() == 1000


def test_two_concurrent_identical_batches_leave_one_copy(app, source, api_headers):
    items = [item(source, n) for n in range(300)]
    statuses, barrier = [], threading.Barrier(2)

    def send():
        client = app.test_client()
        barrier.wait()
        statuses.append(sync(client, api_headers, items).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reading_count() == 300
    if POSTGRESQL:
        assert statuses == [200, 200]
    else:  # SQLite may answer the loser with 503 (retry later); never a duplicate
        assert 200 in statuses and set(statuses) <= {200, 503}


# ---- The change feed ------------------------------------------------------------------------


def changes(client, headers, since=None, limit=None):
    query = {k: v for k, v in (("since", since), ("limit", limit)) if v is not None}
    response = client.get("/api/sync/changes", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_feed_lists_everything_then_only_what_changed(
    client, user, source, make_reading, api_headers
):
    first = make_reading(source, {"import": 1.0}, timestamp=hour(1))
    second = make_reading(source, {"import": 2.0}, timestamp=hour(2))
    feed = changes(client, api_headers)
    assert [s["id"] for s in feed["sources"]] == [source.id]
    assert [r["id"] for r in feed["readings"]] == [str(first.id), str(second.id)]
    assert feed["deleted"] == [] and feed["has_more"] is False
    cursor = feed["next_cursor"]
    assert changes(client, api_headers, since=cursor)["readings"] == []

    readings_domain.update_reading(second, values={"import": 3.0})  # as the pages do
    second_id = str(second.id)
    readings_domain.delete_reading(first)
    feed = changes(client, api_headers, since=cursor)
    assert [r["id"] for r in feed["readings"]] == [second_id]
    assert feed["readings"][0]["values"] == {"import": 3.0}
    assert [(d["type"], d["data_source_id"]) for d in feed["deleted"]] == [("reading", source.id)]
    assert int(feed["next_cursor"]) > int(cursor)


def test_feed_sees_api_writes_and_source_deletion(client, user, source, api_headers):
    sync(client, api_headers, [item(source, n) for n in range(3)])
    cursor = changes(client, api_headers)["next_cursor"]
    client.patch(f"/api/sources/{source.id}", headers=api_headers, json={"name": "Power"})
    feed = changes(client, api_headers, since=cursor)
    assert [s["name"] for s in feed["sources"]] == ["Power"] and feed["readings"] == []
    source_id = source.id
    client.delete(f"/api/sources/{source_id}", headers=api_headers)
    feed = changes(client, api_headers, since=feed["next_cursor"])
    assert feed["deleted"] == [
        {
            "type": "source",
            "id": str(source_id),
            "data_source_id": None,
            "deleted_at": feed["deleted"][0]["deleted_at"],
        }
    ]
    # From scratch, the deleted source's readings are gone with it.
    feed = changes(client, api_headers)
    assert feed["readings"] == [] and feed["sources"] == []


def test_feed_pages_without_missing_or_repeating(client, user, source, api_headers):
    sync(client, api_headers, [item(source, n) for n in range(25)])
    seen, cursor, pages = [], None, 0
    while True:
        feed = changes(client, api_headers, since=cursor, limit=10)
        seen += [r["id"] for r in feed["readings"]]
        cursor = feed["next_cursor"]
        pages += 1
        if pages == 1:  # a write while paging moves that object behind the cursor
            client.patch(
                f"/api/sources/{source.id}/readings/{uuid.UUID(int=1)}",
                headers=api_headers,
                json={"note": "edited"},
            )
        if not feed["has_more"]:
            break
    assert pages == 3
    assert len(set(seen)) == 25
    assert seen.count(str(uuid.UUID(int=1))) == 2  # once created, once edited


def test_feed_is_per_user(client, other, make_source, make_reading, api_headers):
    make_reading(make_source(other))
    feed = changes(client, api_headers)
    assert feed == {
        "sources": [],
        "readings": [],
        "deleted": [],
        "next_cursor": "0",
        "has_more": False,
    }


@pytest.mark.parametrize(
    "query", ["since=abc", "since=-1", "since=99999999999999999999", "limit=0", "limit=1001"]
)
def test_feed_rejects_bad_parameters(client, api_headers, query):
    response = client.get("/api/sync/changes?" + query, headers=api_headers)
    assert response.status_code == 422


def test_change_numbers_commit_in_order(app, user, source):
    """A writer waits for an earlier writer of the same owner, so numbers never commit late."""
    from homelog.models import SyncChange

    first = Reading(data_source_id=source.id, timestamp=hour(1), values={"import": 1.0})
    db.session.add(first)
    db.session.flush()  # takes the owner's next number and holds the counter row
    done = threading.Event()

    def second_writer():
        with app.app_context():
            try:
                db.session.add(
                    Reading(data_source_id=source.id, timestamp=hour(2), values={"import": 2.0})
                )
                db.session.commit()
            finally:
                db.session.remove()
                done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not done.wait(0.5), "the second writer must wait for the first to commit"
    db.session.commit()
    thread.join(10)
    assert done.is_set()
    rows = db.session.scalars(
        db.select(SyncChange).where(SyncChange.kind == "reading").order_by(SyncChange.seq)
    ).all()
    assert [row.object_id for row in rows][0] == str(first.id) and len(rows) == 2


def test_batch_items_may_be_confirmed_and_the_feed_shows_it(client, source, api_headers):
    response = sync(
        client, api_headers, [item(source, 1, 100.0), item(source, 2, 40.0, confirmed=True)]
    )
    assert response.get_json()["created"] == 2
    stored = {r.values["import"]: r.confirmed for r in db.session.scalars(db.select(Reading))}
    assert stored == {100.0: False, 40.0: True}
    again = sync(
        client,
        api_headers,
        [item(source, 2, 40.0, confirmed=True), item(source, 1, 100.0, confirmed=True)],
    )
    assert [r["status"] for r in again.get_json()["results"]] == ["unchanged", "conflict"]
    assert sync(client, api_headers, [item(source, 3, confirmed="yes")]).get_json()["results"][0][
        "errors"
    ].keys() == {"confirmed"}
    feed = client.get("/api/sync/changes", headers=api_headers).get_json()
    assert {r["values"]["import"]: r["confirmed"] for r in feed["readings"]} == {
        100.0: False,
        40.0: True,
    }


def test_an_editors_batch_is_in_the_owners_feed_and_safe_to_resend(
    client, user, other, make_source, api_headers, other_headers
):
    home = homes.create_home(user, "Farmhouse", "Europe/Vienna")
    shared = make_source(user, "Power", location_id=home.id)
    share(home, other, "editor")
    cursor = changes(client, api_headers)["next_cursor"]
    items = [item(shared, n) for n in range(3)]
    assert sync(client, other_headers, items).get_json()["created"] == 3
    again = sync(client, other_headers, items).get_json()
    assert [r["status"] for r in again["results"]] == ["unchanged"] * 3
    feed = changes(client, api_headers, since=cursor)
    assert sorted(r["id"] for r in feed["readings"]) == sorted(i["id"] for i in items)
