"""API readings: create with client ids, paging, filters, updates, deletes, validation."""

from __future__ import annotations

import uuid

import pytest

from homelog import reading_pages
from homelog.api.core import serialize
from homelog.api.schemas import ReadingList
from homelog.extensions import db
from homelog.models import Reading
from tests.conftest import hour

RID = "0190a000-0000-7000-8000-00000000000a"


@pytest.fixture
def source(user, make_source):
    return make_source(user, "Electricity", metrics={"import": "kWh", "export": "kWh"})


def url(source, reading_id=None):
    base = f"/api/sources/{source.id}/readings"
    return f"{base}/{reading_id}" if reading_id else base


def count() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Reading))


def test_create_reading_201_with_location(client, user, source, api_headers):
    response = client.post(
        url(source),
        headers=api_headers,
        json={
            "timestamp": "2026-03-01T12:00:00+01:00",
            "values": {"import": 12.5, "export": 1},
            "note": "first",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == url(source, body["id"])
    assert body["timestamp"].startswith("2026-03-01T11:00:00")
    assert body["values"] == {"import": 12.5, "export": 1.0}
    assert body["data_source_id"] == source.id and body["created_by_id"] == user.id
    assert set(body) == {
        "id",
        "data_source_id",
        "timestamp",
        "values",
        "note",
        "confirmed",
        "created_by_id",
        "created_at",
        "updated_at",
    }
    assert body["confirmed"] is False
    uuid.UUID(body["id"])


def test_timestamp_without_offset_is_the_users_timezone(client, source, api_headers):
    # user is in Europe/Berlin: 12:00 local in winter is 11:00 UTC.
    response = client.post(
        url(source),
        headers=api_headers,
        json={"timestamp": "2026-01-15T12:00:00", "values": {"import": 1, "export": 1}},
    )
    assert response.status_code == 201
    assert response.get_json()["timestamp"] in ("2026-01-15T11:00:00Z", "2026-01-15T11:00:00+00:00")


def test_same_client_id_same_content_is_unchanged(client, source, api_headers):
    payload = {"id": RID, "timestamp": "2026-03-01T12:00:00Z", "values": {"import": 1, "export": 2}}
    first = client.post(url(source), headers=api_headers, json=payload)
    again = client.post(url(source), headers=api_headers, json=payload)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    assert count() == 1


def test_same_client_id_other_content_is_409_with_server_copy(client, source, api_headers):
    payload = {"id": RID, "timestamp": "2026-03-01T12:00:00Z", "values": {"import": 1, "export": 2}}
    client.post(url(source), headers=api_headers, json=payload)
    response = client.post(
        url(source), headers=api_headers, json={**payload, "values": {"import": 9, "export": 9}}
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["detail"] and body["current"]["values"] == {"import": 1.0, "export": 2.0}
    assert count() == 1


def test_client_id_used_by_another_user_is_409_without_their_data(
    client, other, make_source, make_reading, source, api_headers
):
    theirs = make_reading(make_source(other), {"import": 3.0}, id=uuid.UUID(RID))
    response = client.post(
        url(source),
        headers=api_headers,
        json={
            "id": str(theirs.id),
            "timestamp": "2026-03-01T12:00:00Z",
            "values": {"import": 1, "export": 2},
        },
    )
    assert response.status_code == 409
    assert response.get_json()["current"] is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"import": "12", "export": 1}, "values.import"),
        ({"import": True, "export": 1}, "values.import"),
        ({"import": None, "export": 1}, "values.import"),
        ({"import": 1, "export": 1, "solar": 3}, "values"),
        ({"import": 1}, "values.export"),
        ([1, 2], "values"),
    ],
)
def test_invalid_values_are_422(client, source, api_headers, values, field):
    response = client.post(
        url(source),
        headers=api_headers,
        json={"timestamp": "2026-03-01T12:00:00Z", "values": values},
    )
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert count() == 0


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_values_are_422(client, source, api_headers, raw):
    body = '{"timestamp": "2026-03-01T12:00:00Z", "values": {"import": RAW, "export": 1}}'
    body = body.replace("RAW", raw)
    response = client.post(
        url(source), headers=api_headers, data=body, content_type="application/json"
    )
    assert response.status_code == 422
    assert "values.import" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "timestamp",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "",
        1700000000,
        None,
        "1800-01-01T00:00:00Z",
        "2026-03-29T02:30:00",  # skipped by daylight saving in Berlin
    ],
)
def test_bad_timestamps_are_422(client, source, api_headers, timestamp):
    response = client.post(
        url(source),
        headers=api_headers,
        json={"timestamp": timestamp, "values": {"import": 1, "export": 1}},
    )
    assert response.status_code == 422
    assert "timestamp" in response.get_json()["errors"]


def test_bad_client_id_is_422(client, source, api_headers):
    response = client.post(
        url(source),
        headers=api_headers,
        json={
            "id": "not-a-uuid",
            "timestamp": "2026-03-01T12:00:00Z",
            "values": {"import": 1, "export": 1},
        },
    )
    assert response.status_code == 422 and "id" in response.get_json()["errors"]


def test_paging_returns_every_reading_once_with_equal_timestamps(
    client, source, make_reading, api_headers
):
    made = {str(make_reading(source, timestamp=hour(n // 3)).id) for n in range(10)}
    seen, pages = [], 0
    next_url = url(source) + "?limit=3"
    while next_url:
        response = client.get(next_url, headers=api_headers)
        assert response.status_code == 200
        rows = response.get_json()
        seen += [row["id"] for row in rows]
        stamps = [row["timestamp"] for row in rows]
        assert stamps == sorted(stamps, reverse=True)
        link = response.headers.get("Link")
        next_url = link[link.index("<") + 1 : link.index(">")] if link else None
        pages += 1
    assert len(seen) == 10 and set(seen) == made
    assert pages == 4


def test_start_and_end_filters(client, source, make_reading, api_headers):
    for n in range(6):
        make_reading(source, timestamp=hour(n))
    response = client.get(
        url(source),
        headers=api_headers,
        query_string={
            "start": "2026-01-01T01:00:00Z",
            "end": "2026-01-01T04:00:00+00:00",
            "limit": 2,
        },
    )
    rows = response.get_json()
    assert [r["timestamp"][:13] for r in rows] == ["2026-01-01T03", "2026-01-01T02"]
    link = response.headers["Link"]
    assert "start=" in link and "end=" in link
    following = client.get(link[link.index("<") + 1 : link.index(">")], headers=api_headers)
    assert [r["timestamp"][:13] for r in following.get_json()] == ["2026-01-01T01"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=abc",
        "start=nope",
        "cursor=garbage",
    ],
)
def test_bad_list_parameters_are_422(client, source, api_headers, query):
    response = client.get(url(source) + "?" + query, headers=api_headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_get_put_patch_delete_reading(client, source, make_reading, api_headers):
    reading = make_reading(source, {"import": 1.0, "export": 2.0}, timestamp=hour(1), note="n")
    reading_url = url(source, reading.id)
    assert client.get(reading_url, headers=api_headers).get_json()["note"] == "n"
    response = client.patch(reading_url, headers=api_headers, json={"values": {"import": 5}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["values"] == {"import": 5.0, "export": 2.0} and body["note"] == "n"
    body["note"] = None
    response = client.put(reading_url, headers=api_headers, json=body)
    assert response.status_code == 200 and response.get_json()["note"] is None
    response = client.patch(
        reading_url, headers=api_headers, json={"timestamp": "2026-02-01T00:00:00Z"}
    )
    assert response.get_json()["timestamp"].startswith("2026-02-01T00:00:00")
    response = client.patch(reading_url, headers=api_headers, json={"values": {"x": 1}})
    assert response.status_code == 422
    assert client.delete(reading_url, headers=api_headers).status_code == 204
    assert client.get(reading_url, headers=api_headers).status_code == 404
    assert client.delete(reading_url, headers=api_headers).status_code == 404


def test_reading_of_another_source_of_mine_is_404_under_the_wrong_source(
    client, user, source, make_source, make_reading, api_headers
):
    second = make_source(user, "Gas", metrics={"m": "m³"})
    reading = make_reading(second, {"m": 1.0})
    assert client.get(url(source, reading.id), headers=api_headers).status_code == 404
    assert client.get(url(second, reading.id), headers=api_headers).status_code == 200


def test_trailing_slashes_need_no_redirect(client, source, make_reading, api_headers):
    reading = make_reading(source)
    for path in (
        "/api/sources/",
        f"/api/sources/{source.id}/",
        url(source) + "/",
        url(source, reading.id) + "/",
        "/api/users/me/",
    ):
        assert client.get(path, headers=api_headers).status_code == 200, path


def post_import(client, source, api_headers, day: int, value: float, **extra):
    return client.post(
        url(source),
        headers=api_headers,
        json={
            "timestamp": f"2026-03-0{day}T00:00:00Z",
            "values": {"import": value, "export": 0},
            **extra,
        },
    )


def test_a_meter_drop_needs_confirmation(client, source, api_headers):
    """A value below the reading before is refused until the client confirms it, as on the page."""
    assert post_import(client, source, api_headers, 1, 100.0).status_code == 201
    refused = post_import(client, source, api_headers, 2, 50.0)
    assert refused.status_code == 422
    body = refused.get_json()
    assert "100" in body["errors"]["values.import"][0]
    assert "confirmed" in body["errors"] and "values.export" not in body["errors"]
    assert count() == 1
    confirmed = post_import(client, source, api_headers, 2, 50.0, confirmed=True)
    assert confirmed.status_code == 201 and confirmed.get_json()["confirmed"] is True
    # Rising from the confirmed drop is no drop.
    assert post_import(client, source, api_headers, 3, 60.0).status_code == 201
    assert count() == 3


def test_a_change_that_drops_needs_confirmation(client, source, api_headers):
    for day, value in ((1, 100.0), (2, 120.0)):
        assert post_import(client, source, api_headers, day, value).status_code == 201
    later = client.get(url(source), headers=api_headers).get_json()[0]
    patch = client.patch(
        url(source, later["id"]), headers=api_headers, json={"values": {"import": 90}}
    )
    assert patch.status_code == 422 and "confirmed" in patch.get_json()["errors"]
    assert db.session.get(Reading, uuid.UUID(later["id"])).values["import"] == 120.0
    # Moved before the first reading, 90 drops below nothing.
    moved = client.patch(
        url(source, later["id"]),
        headers=api_headers,
        json={"values": {"import": 90}, "timestamp": "2026-02-28T00:00:00Z"},
    )
    assert moved.status_code == 200 and moved.get_json()["confirmed"] is False
    # Now the first reading is above it; moved back, it drops: confirmed, it is stored.
    back = {"timestamp": "2026-03-02T00:00:00Z"}
    assert client.patch(url(source, later["id"]), headers=api_headers, json=back).status_code == 422
    saved = client.patch(
        url(source, later["id"]), headers=api_headers, json={**back, "confirmed": True}
    )
    assert saved.status_code == 200 and saved.get_json()["confirmed"] is True
    # A note on a stored drop is not judged again.
    noted = client.patch(url(source, later["id"]), headers=api_headers, json={"note": "checked"})
    assert noted.status_code == 200


def test_a_sensor_value_may_fall(client, user, make_source, api_headers):
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    for day, value in ((1, 12.0), (2, 3.5)):
        response = client.post(
            url(sensor),
            headers=api_headers,
            json={"timestamp": f"2026-03-0{day}T00:00:00Z", "values": {"temperature": value}},
        )
        assert response.status_code == 201


def test_a_phone_confirms_a_meter_drop(client, source, api_headers):
    """A lower value is suspect until confirmed; then usage counts it (a meter ran back)."""
    # An earlier, higher reading arriving later turns the next ones into drops: they were not
    # drops when sent, so they are stored, and usage leaves them out until confirmed.
    for day, value in ((2, 50.0), (3, 60.0), (4, 70.0), (5, 80.0), (1, 100.0)):
        response = client.post(
            url(source),
            headers=api_headers,
            json={
                "timestamp": f"2026-03-0{day}T00:00:00Z",
                "values": {"import": value, "export": 0},
            },
        )
        assert response.status_code == 201
    drop = client.get(url(source), headers=api_headers).get_json()[-2]
    assert drop["values"]["import"] == 50.0 and drop["confirmed"] is False
    # Berlin's March 2 and 3, inside the readings.
    usage_url = f"/api/sources/{source.id}/usage?period=day&start=2026-03-02&end=2026-03-04"

    def march_usage() -> tuple[list, int]:
        found = client.get(usage_url, headers=api_headers).get_json()["metrics"]["import"]
        return [p["usage"] for p in found["periods"]], len(found["suspects"])

    assert march_usage() == ([None, None], 3)  # 50, 60, 70: all below 100
    response = client.patch(url(source, drop["id"]), headers=api_headers, json={"confirmed": True})
    assert response.status_code == 200 and response.get_json()["confirmed"] is True
    assert client.get(url(source, drop["id"]), headers=api_headers).get_json()["confirmed"] is True
    assert march_usage() == ([pytest.approx(7.5), pytest.approx(10.0)], 0)
    # PATCH without the field keeps it; false takes the confirmation back.
    client.patch(url(source, drop["id"]), headers=api_headers, json={"note": "checked"})
    assert db.session.get(Reading, uuid.UUID(drop["id"])).confirmed is True
    client.patch(url(source, drop["id"]), headers=api_headers, json={"confirmed": False})
    assert db.session.get(Reading, uuid.UUID(drop["id"])).confirmed is False


def test_a_reading_can_be_created_confirmed(client, source, api_headers):
    payload = {
        "id": RID,
        "timestamp": "2026-03-01T12:00:00Z",
        "values": {"import": 1, "export": 2},
        "confirmed": True,
    }
    response = client.post(url(source), headers=api_headers, json=payload)
    assert response.status_code == 201 and response.get_json()["confirmed"] is True
    assert db.session.get(Reading, uuid.UUID(RID)).confirmed is True
    # The same id resent unconfirmed is a different reading.
    again = client.post(url(source), headers=api_headers, json={**payload, "confirmed": False})
    assert again.status_code == 409 and again.get_json()["current"]["confirmed"] is True


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_confirmed_must_be_a_boolean(client, source, api_headers, value):
    response = client.post(
        url(source),
        headers=api_headers,
        json={
            "timestamp": "2026-03-01T12:00:00Z",
            "values": {"import": 1, "export": 2},
            "confirmed": value,
        },
    )
    assert response.status_code == 422 and "confirmed" in response.get_json()["errors"]


def test_the_openapi_document_describes_confirmed(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("ReadingCreate", "ReadingUpdate", "SyncReading", "ReadingOut"):
        field = schemas[name]["properties"]["confirmed"]
        assert "suspect" in field["description"] or "confirmed" in field["description"]
    assert "confirmed" in schemas["ReadingOut"]["required"]


def test_every_page_equals_the_schemas_json_of_the_same_readings(
    client, user, source, make_reading, api_headers
):
    # On PostgreSQL the list is written by the database (pgdirect.page_as_json); it must be
    # what the response schema makes of the same readings, page by page, cursor by cursor.
    notes = [
        None,
        "plain",
        'quote " and \\ backslash',
        "Zählerwechsel ✓",
        "line\nbreak\ttab",
        "\x01 control",
        "",
    ]
    for n in range(13):
        make_reading(
            source,
            {"import": [5, 0.1, 1e15, 123456789.123, 1e-7][n % 5], "export": n * 0.25},
            timestamp=hour(n // 2).replace(microsecond=[0, 5, 123000, 999999][n % 4]),
            note=notes[n % len(notes)] or None,
            confirmed=n % 3 == 0,
            created_by_id=user.id if n % 2 else None,
        )
    cursor, pages = None, 0
    while True:
        query = "?limit=4" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url(source) + query, headers=api_headers)
        assert response.status_code == 200 and response.mimetype == "application/json"
        page = reading_pages.page_of_readings(source, cursor, 4)
        assert response.get_json() == serialize(ReadingList, page.readings)
        link = response.headers.get("Link")
        assert (link is None) == (page.next_cursor is None)
        if link is None:
            break
        cursor = link[link.index("cursor=") + 7 : link.index(">")].split("&")[0]
        assert reading_pages.decode_cursor(cursor) == reading_pages.decode_cursor(page.next_cursor)
        pages += 1
    assert pages == 3


def test_a_deep_cursor_is_an_index_bound_not_a_filter(source, make_reading):
    # (timestamp, id) < (:t, :id): the page deep in a long history starts where the cursor
    # points instead of reading every newer row and throwing it away.
    for n in range(3):
        make_reading(source, timestamp=hour(n))
    statement = reading_pages.page_query((True, False, False, False))
    sql = str(statement.compile(dialect=db.engine.dialect))
    assert "(readings.timestamp, readings.id) <" in sql
    assert " OR " not in sql.upper()
