"""API sources: CRUD, paging, partial updates, isolation between users."""

from __future__ import annotations

import json

from homelog.extensions import db
from homelog.models import DataSource
from tests.conftest import hour


def test_create_source_201_with_location(client, user, api_headers):
    # Sent as text: the test client's json= would sort the keys.
    response = client.post(
        "/api/sources",
        headers=api_headers,
        content_type="application/json",
        data=json.dumps(
            {
                "name": "Electricity",
                "kind": "meter",
                "description": "Main meter",
                "metrics": {"import": "kWh", "export": "kWh"},
            }
        ),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/sources/{body['id']}"
    assert body["metrics"] == {"import": "kWh", "export": "kWh"}
    assert list(body["metrics"]) == ["import", "export"]
    assert body["owner_id"] == user.id and body["location_id"] is None
    assert set(body) == {
        "id",
        "name",
        "description",
        "kind",
        "metrics",
        "location_id",
        "owner_id",
        "created_at",
        "updated_at",
        "role",
    }
    assert body["role"] == "owner"
    assert client.get(response.headers["Location"], headers=api_headers).get_json() == body


def test_create_source_validation(client, api_headers):
    response = client.post(
        "/api/sources", headers=api_headers, json={"name": "", "kind": "boiler", "metrics": {}}
    )
    assert response.status_code == 422
    assert {"kind"} <= set(response.get_json()["errors"])
    response = client.post(
        "/api/sources", headers=api_headers, json={"name": "x", "metrics": {}, "colour": "red"}
    )
    assert response.status_code == 422 and "colour" in response.get_json()["errors"]
    response = client.post("/api/sources", headers=api_headers, json={"name": "x", "metrics": {}})
    assert response.status_code == 422 and "metrics" in response.get_json()["errors"]


def test_list_sources_newest_first_with_paging(client, user, make_source, api_headers):
    made = [make_source(user, f"S{n}", created_at=hour(n)) for n in range(5)]
    response = client.get("/api/sources?limit=2", headers=api_headers)
    assert response.status_code == 200
    assert [s["name"] for s in response.get_json()] == ["S4", "S3"]
    seen = []
    url = "/api/sources/?limit=2"
    while url:
        response = client.get(url, headers=api_headers)
        assert response.status_code == 200
        seen += [s["id"] for s in response.get_json()]
        link = response.headers.get("Link")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
    assert seen == [s.id for s in reversed(made)]
    assert client.get("/api/sources?offset=4", headers=api_headers).get_json()[0]["name"] == "S0"


def test_put_and_patch_keep_fields_not_sent(client, user, make_source, api_headers):
    source = make_source(user, "Water", metrics={"m": "m³"}, description="Cellar")
    response = client.patch(
        f"/api/sources/{source.id}", headers=api_headers, json={"name": "Cold water"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Cold water" and body["description"] == "Cellar"
    assert body["metrics"] == {"m": "m³"}
    body["description"] = "Garden"
    response = client.put(f"/api/sources/{source.id}", headers=api_headers, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["description"] == "Garden"
    assert response.get_json()["name"] == "Cold water"


def test_metric_rename_moves_values(client, user, make_source, make_reading, api_headers):
    source = make_source(user, metrics={"import": "kWh"})
    reading = make_reading(source, {"import": 5.0})
    response = client.patch(
        f"/api/sources/{source.id}",
        headers=api_headers,
        json={"metrics": {"consumption": "kWh"}, "renames": {"import": "consumption"}},
    )
    assert response.status_code == 200
    db.session.refresh(reading)
    assert reading.values == {"consumption": 5.0}


def test_removing_a_metric_with_values_needs_confirmation(
    client, user, make_source, make_reading, api_headers
):
    source = make_source(user, metrics={"a": "kWh", "b": "kWh"})
    make_reading(source, {"a": 1.0, "b": 2.0})
    response = client.patch(
        f"/api/sources/{source.id}", headers=api_headers, json={"metrics": {"a": "kWh"}}
    )
    assert response.status_code == 422
    response = client.patch(
        f"/api/sources/{source.id}",
        headers=api_headers,
        json={"metrics": {"a": "kWh"}, "confirm_remove": True},
    )
    assert response.status_code == 200 and response.get_json()["metrics"] == {"a": "kWh"}


def test_delete_source(client, user, make_source, api_headers):
    source_id = make_source(user).id
    assert client.delete(f"/api/sources/{source_id}", headers=api_headers).status_code == 204
    db.session.expunge_all()
    assert db.session.get(DataSource, source_id) is None
    assert client.get(f"/api/sources/{source_id}", headers=api_headers).status_code == 404


def test_other_users_source_is_404_everywhere(client, user, other, make_source, api_headers):
    theirs = make_source(other, "Theirs")
    base = f"/api/sources/{theirs.id}"
    reading_url = f"{base}/readings/01900000-0000-7000-8000-000000000000"
    for method, url, body in [
        ("get", base, None),
        ("put", base, {"name": "Mine"}),
        ("patch", base, {"name": "Mine"}),
        ("delete", base, None),
        ("get", f"{base}/readings", None),
        (
            "post",
            f"{base}/readings",
            {"timestamp": "2026-01-01T00:00:00Z", "values": {"import": 1}},
        ),
        ("get", reading_url, None),
        ("patch", reading_url, {"note": "x"}),
        ("put", reading_url, {"note": "x"}),
        ("delete", reading_url, None),
    ]:
        response = getattr(client, method)(url, headers=api_headers, json=body)
        assert response.status_code == 404, (method, url)
        assert response.is_json
    assert [s["name"] for s in client.get("/api/sources", headers=api_headers).get_json()] == []
    assert db.session.get(DataSource, theirs.id).name == "Theirs"


def test_junk_ids_are_404(client, api_headers):
    for url in (
        "/api/sources/abc",
        "/api/sources/-1",
        "/api/sources/0",
        "/api/sources/99999999999999999999999",
        "/api/sources/2147483648",
        "/api/sources/1/readings/not-a-uuid",
        "/api/sources/1.5",
    ):
        response = client.get(url, headers=api_headers)
        assert response.status_code == 404, url
        assert response.is_json
