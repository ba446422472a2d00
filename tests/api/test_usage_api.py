"""The usage API: usage per period as JSON and CSV, value at, tariffs, swaps and settings."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from homelog.extensions import db
from homelog.models import Reading
from homelog.usage_db.inputs import swaps_of, tariffs_of
from homelog.usage_db.swaps import create_swap
from homelog.usage_db.tariffs import create_tariff
from tests.conftest import berlin as local


@pytest.fixture
def meter(worked_example_meter):
    """Return the worked example's meter (tests/conftest.py)."""
    return worked_example_meter


def usage_url(source, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/sources/{source.id}/usage" + (f"?{params}" if params else "")


def test_the_worked_example_through_the_api(client, api_headers, meter):
    base = f"/api/sources/{meter.id}"
    swap = client.post(
        f"{base}/swaps",
        headers=api_headers,
        json={
            "at": "2026-01-26T12:00:00",
            "old_final": {"import": 10700},
            "new_start": {"import": 0},
        },
    )
    assert swap.status_code == 201, swap.get_json()
    assert swap.get_json()["at"] == "2026-01-26T11:00:00Z"  # no offset: the user's timezone
    assert swap.headers["Location"].endswith(f"/swaps/{swap.get_json()['id']}")
    for body in (
        {
            "metric": "import",
            "effective_from": "2025-01-01",
            "unit_price": "0.30",
            "standing_charge": 0.45,
        },
        {
            "metric": "import",
            "effective_from": "2026-01-16",
            "unit_price": 0.34,
            "standing_charge": "0.50",
        },
    ):
        created = client.post(f"{base}/tariffs", headers=api_headers, json=body)
        assert created.status_code == 201, created.get_json()
    answer = client.get(
        usage_url(meter, period="month", start="2025-12-01", end="2026-03-01"), headers=api_headers
    )
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert (doc["kind"], doc["period"], doc["timezone"], doc["currency"]) == (
        "meter",
        "month",
        "Europe/Berlin",
        "EUR",
    )
    assert (doc["start"], doc["end"]) == ("2025-12-01", "2026-03-01")
    months = doc["metrics"]["import"]["periods"]
    assert [m["label"] for m in months] == ["2025-12", "2026-01", "2026-02"]
    assert [m["display_label"] for m in months] == ["Dec 2025", "Jan 2026", "Feb 2026"]
    january = months[1]
    assert january["usage"] == pytest.approx(310.0)
    assert january["complete"] and not january["estimated"]
    assert january["cost"] == {"energy": "99.40", "standing": "14.75", "total": "114.15"}
    assert months[0]["usage"] is None and months[0]["measured_usage"] == pytest.approx(45.0)
    assert months[0]["cost"] is None and months[0]["measured_cost"]["total"] == "15.53"
    assert doc["period_costs"] == [None, "114.15", None]
    suspects = doc["metrics"]["import"]["suspects"]
    assert [(s["value"], s["previous_value"]) for s in suspects] == [(1060.0, 10500.0)]

    value = client.get(f"{base}/value?at=2026-01-31T00:00:00", headers=api_headers).get_json()
    assert value["values"]["import"] == {
        "value": pytest.approx(45.0),
        "estimated": True,
        "gap_seconds": 864000.0,
    }


def test_usage_as_csv(client, api_headers, meter):
    create_tariff(meter, "import", "2025-01-01", "0.30", "0.45")
    for url in (
        usage_url(meter, period="month", start="2025-12-01", end="2026-03-01", format="csv"),
        f"/api/sources/{meter.id}/usage.csv?start=2025-12-01&end=2026-03-01",
    ):
        answer = client.get(url, headers=api_headers)
        assert answer.status_code == 200
        assert answer.mimetype == "text/csv"
        assert answer.headers["Content-Disposition"] == (
            'attachment; filename="electricity-usage-month.csv"'
        )
        rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
        assert rows[0] == [
            "period",
            "start",
            "end",
            "first_day",
            "last_day",
            "import (kWh) usage",
            "import (kWh) measured",
            "import (kWh) complete",
            "import (kWh) estimated",
            "import cost (EUR)",
            "total cost (EUR)",
        ]
        assert [r[0] for r in rows[1:]] == ["2025-12", "2026-01", "2026-02"]
        assert rows[1][5] == "" and rows[1][6] == "45"
        # Without the swap, the new meter's readings are suspect: January is unknown.
        assert rows[2][5] == ""


def test_a_formula_in_a_metric_name_is_defused_in_csv(client, api_headers, user, make_source):
    source = make_source(user, metrics={"=cmd": "kWh"})
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/api/sources/{source.id}/usage.csv", headers=api_headers).get_data(
                    as_text=True
                )
            )
        )
    )
    assert rows[0][5] == "'=cmd (kWh) usage"


def test_sensor_statistics(client, api_headers, user, make_source):
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    start = local(2026, 3, 1)
    for hour in range(49):
        db.session.add(
            Reading(
                data_source_id=sensor.id,
                timestamp=start + timedelta(hours=hour),
                values={"temperature": 10.0 + hour % 2},
            )
        )
    db.session.commit()
    doc = client.get(
        usage_url(sensor, period="day", start="2026-03-01", end="2026-03-03"), headers=api_headers
    ).get_json()
    days = doc["metrics"]["temperature"]["periods"]
    assert [(d["minimum"], d["maximum"], d["complete"]) for d in days] == [
        (10.0, 11.0, True),
        (10.0, 11.0, True),
    ]
    assert days[0]["average"] == pytest.approx(10.5)
    assert doc["period_costs"] == []


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("period=hour", "period"),
        ("start=2026-13-01", "start"),
        ("end=tomorrow", "end"),
        ("start=0001-01-01", "start"),
        ("start=2026-02-01&end=2026-01-01", "end"),
        ("period=day&start=1950-01-01&end=2026-01-01", "period"),
        ("format=xml", "format"),
    ],
)
def test_bad_usage_parameters_are_422(client, api_headers, meter, query, key):
    answer = client.get(f"/api/sources/{meter.id}/usage?{query}", headers=api_headers)
    assert answer.status_code == 422
    assert key in answer.get_json()["errors"]


def test_others_sources_are_404_everywhere(client, other_headers, meter):
    tariff = create_tariff(meter, "import", "2026-01-01", "0.3")
    event = create_swap(meter, None, local(2026, 1, 26, 12), {"import": 1}, {"import": 0})
    base = f"/api/sources/{meter.id}"
    for method, url in [
        ("GET", f"{base}/usage"),
        ("GET", f"{base}/usage.csv"),
        ("GET", f"{base}/value?at=2026-01-01T00:00:00Z"),
        ("GET", f"{base}/tariffs"),
        ("GET", f"{base}/tariffs/{tariff.id}"),
        ("DELETE", f"{base}/tariffs/{tariff.id}"),
        ("GET", f"{base}/swaps"),
        ("PATCH", f"{base}/swaps/{event.id}"),
        ("DELETE", f"{base}/swaps/{event.id}"),
        ("GET", f"{base}/usage-settings"),
        ("PATCH", f"{base}/usage-settings"),
        ("GET", "/api/sources/999999/usage"),
    ]:
        answer = client.open(url, method=method, headers=other_headers, json={})
        assert answer.status_code == 404, (method, url)
        assert answer.get_json()["detail"]
    assert len(tariffs_of(meter)) == 1 and len(swaps_of(meter)) == 1


def test_a_tariff_of_another_source_is_404(client, api_headers, meter, user, make_source):
    second = make_source(user, "Gas", metrics={"volume": "m³"})
    tariff = create_tariff(second, "volume", "2026-01-01", "1.2")
    answer = client.get(f"/api/sources/{meter.id}/tariffs/{tariff.id}", headers=api_headers)
    assert answer.status_code == 404


def test_tariff_crud_and_validation(client, api_headers, meter):
    base = f"/api/sources/{meter.id}/tariffs"
    created = client.post(
        base,
        headers=api_headers,
        json={"metric": "import", "effective_from": "2026-01-01", "unit_price": "0.3000"},
    )
    assert created.status_code == 201
    tariff = created.get_json()
    assert (tariff["unit_price"], tariff["standing_charge"], tariff["currency"]) == (
        "0.30",
        "0.00",
        "EUR",
    )
    url = f"{base}/{tariff['id']}"
    again = client.post(
        base,
        headers=api_headers,
        json={"metric": "import", "effective_from": "2026-01-01", "unit_price": 0.4},
    )
    assert again.status_code == 422
    assert again.get_json()["errors"] == {
        "effective_from": ["“import” already has a price starting on 2026-01-01."]
    }
    bad = client.post(
        base,
        headers=api_headers,
        json={"metric": "gas", "effective_from": "2026-02-30", "unit_price": "x", "extra": 1},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"effective_from", "unit_price", "extra"}
    patched = client.patch(url, headers=api_headers, json={"standing_charge": 0.5})
    assert patched.status_code == 200
    assert (patched.get_json()["unit_price"], patched.get_json()["standing_charge"]) == (
        "0.30",
        "0.50",
    )
    put_back = client.put(url, headers=api_headers, json=patched.get_json())
    assert put_back.status_code == 200  # what GET returned may be sent back unchanged
    assert client.get(base, headers=api_headers).get_json()[0]["id"] == tariff["id"]
    assert client.delete(url, headers=api_headers).status_code == 204
    assert client.get(url, headers=api_headers).status_code == 404


def test_swap_crud_and_validation(client, api_headers, meter):
    base = f"/api/sources/{meter.id}/swaps"
    bad = client.post(
        base,
        headers=api_headers,
        json={"at": "2026-03-29T02:30:00", "old_final": {"import": 1}, "new_start": {}},
    )
    assert bad.status_code == 422
    assert "at" in bad.get_json()["errors"]  # that time does not exist in Berlin
    bad = client.post(
        base,
        headers=api_headers,
        json={"at": "2026-01-26T12:00:00Z", "old_final": {"import": 1}, "new_start": {}},
    )
    assert bad.get_json()["errors"] == {
        "new_start.import": [
            "Enter both the old meter's final value and the new meter's start value."
        ]
    }
    created = client.post(
        base,
        headers=api_headers,
        json={
            "at": "2026-01-26T12:00:00+01:00",
            "old_final": {"import": 10700},
            "new_start": {"import": 0},
            "rollover_at": {"import": 100000},
            "note": "new meter",
        },
    )
    assert created.status_code == 201
    url = f"{base}/{created.get_json()['id']}"
    patched = client.patch(url, headers=api_headers, json={"note": None, "rollover_at": None})
    assert patched.status_code == 200
    assert (patched.get_json()["note"], patched.get_json()["rollover_at"]) == (None, None)
    assert patched.get_json()["old_final"] == {"import": 10700.0}
    january = client.get(
        usage_url(meter, start="2026-01-01", end="2026-02-01"), headers=api_headers
    ).get_json()["metrics"]["import"]["periods"][0]
    assert january["usage"] == pytest.approx(310.0)
    assert client.delete(url, headers=api_headers).status_code == 204
    assert client.get(base, headers=api_headers).get_json() == []


def test_usage_settings(client, api_headers, meter):
    url = f"/api/sources/{meter.id}/usage-settings"
    assert client.get(url, headers=api_headers).get_json() == {
        "rollover_at": {},
        "cycle_day": 1,
        "monthly_advance": None,
        "billing_year_start": None,
        "max_gap_hours": 48,
        "currency": "EUR",
    }
    changed = client.patch(
        url,
        headers=api_headers,
        json={"cycle_day": 31, "monthly_advance": "85.5", "rollover_at": {"import": 100000}},
    )
    assert changed.status_code == 200
    assert changed.get_json()["monthly_advance"] == "85.50"
    assert client.patch(url, headers=api_headers, json={"cycle_day": 32}).status_code == 422
    assert (
        client.patch(url, headers=api_headers, json={"rollover_at": {"gas": 10}}).status_code == 422
    )
    cycles = client.get(
        usage_url(meter, period="cycle", start="2026-01-01", end="2026-01-05"), headers=api_headers
    ).get_json()
    assert cycles["metrics"]["import"]["periods"][0]["first_day"] == "2025-12-31"
    cleared = client.patch(url, headers=api_headers, json={"monthly_advance": None})
    assert cleared.get_json()["monthly_advance"] is None
    assert cleared.get_json()["cycle_day"] == 31


def test_a_browser_session_needs_the_csrf_header_to_write(client, logged_in, meter):
    body = {"metric": "import", "effective_from": "2026-01-01", "unit_price": 0.3}
    url = f"/api/sources/{meter.id}/tariffs"
    assert logged_in.post(url, json=body, csrf=False).status_code == 400
    assert logged_in.post(url, json=body).status_code == 201
    assert logged_in.get(f"/api/sources/{meter.id}/usage").status_code == 200


def test_usage_needs_credentials(client, meter):
    answer = client.get(f"/api/sources/{meter.id}/usage")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_the_routes_are_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").get_json()
    for path in (
        "/api/sources/{source_id}/usage",
        "/api/sources/{source_id}/usage.csv",
        "/api/sources/{source_id}/tariffs/{tariff_id}",
        "/api/sources/{source_id}/swaps",
        "/api/sources/{source_id}/usage-settings",
    ):
        assert path in doc["paths"]
    assert {"UsageOut", "TariffIn", "SwapIn", "MeterPeriodOut"} <= set(doc["components"]["schemas"])
    params = {
        p["name"] for p in doc["paths"]["/api/sources/{source_id}/usage"]["get"]["parameters"]
    }
    assert params == {"source_id", "period", "start", "end", "format"}
