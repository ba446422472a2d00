"""POST /api/sources/{id}/import (CSV body, per-line report, dry run) and GET .../export.csv."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from homelog.extensions import db
from homelog.models import Reading

CSV = (
    "date;import (kWh);note\n"
    "01.01.2026 00:00;100,5;first\n"
    "02.01.2026 00:00;101;\n"
    "03.01.2026 00:00;99;\n"
    "someday;5;\n"
)


def post_csv(client, source, headers, text=CSV, query="", content_type="text/csv"):
    return client.post(
        f"/api/sources/{source.id}/import{query}",
        data=text.encode(),
        headers={**headers, "Content-Type": content_type},
    )


def count(source) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Reading).where(Reading.data_source_id == source.id)
    )


def test_dry_run_reports_every_line_and_stores_nothing(client, api_headers, make_source, user):
    source = make_source(user)
    response = post_csv(client, source, api_headers, query="?dry_run=true")
    assert response.status_code == 200
    body = response.get_json()
    assert body["dry_run"] is True and body["created"] is None
    assert body["to_import"] == 2 and body["lines"] == 4 and body["skipped"] == 2
    assert (body["separator"], body["decimal"], body["date_format"]) == (";", ",", "DD.MM.YYYY")
    assert [c["target"] for c in body["columns"]] == ["import", "note"]
    assert body["problems"] == [
        {
            "line": 4,
            "code": "lower",
            "skipped": True,
            "reason": "Lower than the previous meter value (import 99 < 101).",
        },
        {"line": 5, "code": "date", "skipped": True, "reason": "“someday” is not a date."},
    ]
    assert count(source) == 0


def test_import_stores_valid_lines_and_a_resend_adds_nothing(
    client, api_headers, make_source, user
):
    source = make_source(user)
    body = post_csv(client, source, api_headers).get_json()
    assert body["created"] == 2 and body["dry_run"] is False
    assert count(source) == 2
    again = post_csv(client, source, api_headers).get_json()
    assert again["created"] == 0
    assert [p["code"] for p in again["problems"]] == ["duplicate", "duplicate", "lower", "date"]
    assert count(source) == 2


def test_columns_and_options_in_the_query(client, api_headers, make_source, user):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    text = "when,a,b,c\n01/02/2026,5,x,1\n02/03/2026,4,y,2\n"
    body = post_csv(
        client,
        source,
        api_headers,
        text,
        "?columns=import,,export&date_order=dmy&accept_lower=true",
    ).get_json()
    assert body["created"] == 2
    assert [c["target"] for c in body["columns"]] == ["import", None, "export"]
    assert body["problems"][0]["skipped"] is False
    stored = db.session.scalars(select(Reading).order_by(Reading.timestamp)).all()
    assert stored[0].timestamp.date().isoformat() == "2026-01-31"  # 01/02 day first, Berlin
    assert stored[1].values == {"import": 4.0, "export": 2.0} and stored[1].confirmed


def test_an_unreadable_file_is_422(client, api_headers, make_source, user):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    response = post_csv(client, source, api_headers, "Datum;Bezug;Lieferung\n01.01.2026;1;2\n")
    assert response.status_code == 422
    assert "No column matches" in response.get_json()["errors"]["file"][0]


def test_not_csv_is_415_and_too_large_is_413(client, api_headers, make_source, user, monkeypatch):
    source = make_source(user)
    response = post_csv(client, source, api_headers, content_type="application/json")
    assert response.status_code == 415
    monkeypatch.setattr("homelog.importer.MAX_IMPORT_BYTES", 100)
    response = post_csv(client, source, api_headers, CSV * 10)
    assert response.status_code == 413
    assert response.get_json()["detail"]


def test_someone_elses_source_is_404(client, other_headers, make_source, user):
    source = make_source(user)
    assert post_csv(client, source, other_headers).status_code == 404
    assert (
        client.get(f"/api/sources/{source.id}/export.csv", headers=other_headers).status_code == 404
    )
    assert count(source) == 0


def test_export_csv_round_trips_through_import(
    client, api_headers, make_source, user, make_reading
):
    source = make_source(user)
    make_reading(source, {"import": 1.5}, timestamp=datetime(2026, 5, 1, tzinfo=UTC), note="a")
    make_reading(source, {"import": 2.25}, timestamp=datetime(2026, 5, 2, tzinfo=UTC))
    response = client.get(
        f"/api/sources/{source.id}/export.csv?start=2026-05-01T12:00:00Z",
        headers=api_headers,
        buffered=True,
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True) == (
        "timestamp,import (kWh),note\n2026-05-02T02:00:00+02:00,2.25,\n"
    )
    copy = make_source(user, "Copy")
    full = client.get(
        f"/api/sources/{source.id}/export.csv", headers=api_headers, buffered=True
    ).get_data(as_text=True)
    body = post_csv(client, copy, api_headers, full).get_json()
    assert body["created"] == 2 and body["problems"] == []


def test_the_routes_are_in_the_openapi_document(client):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/sources/{source_id}/import"]["post"]
    assert "text/csv" in operation["requestBody"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"dry_run", "columns", "date_order"}
    assert "ImportReportOut" in document["components"]["schemas"]
    assert "get" in document["paths"]["/api/sources/{source_id}/export.csv"]
