"""Messages of the domain modules (import, readings, meter drops, usage, restore) in German.

A browser that asks for German gets them in German; outside a request and under /api/ they
stay English (the API's contract).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from homelog import backup
from homelog.extensions import db
from homelog.meter_drops import UnconfirmedDrop, check_drop
from homelog.models import Reading
from homelog.numbers import parse_number
from homelog.usage_db.swaps import create_swap
from homelog.usage_db.tariffs import create_tariff

DE = {"Accept-Language": "de-DE,de;q=0.9"}
HX = {"HX-Request": "true"}
HX_DE = {**DE, **HX}
GERMAN_CSV = "Datum;Bezug (kWh)\n01.01.26 00:00;100,5\n02.01.26 00:00;101\nbald;5\n03.01.26;x\n"


def preview(client, source, text: str, headers=HX_DE) -> str:
    response = client.post(
        f"/sources/{source.id}/import",
        data={"file": (io.BytesIO(text.encode()), "zaehler.csv")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 422), response.status_code
    return response.get_data(as_text=True)


def test_an_import_preview_of_a_german_file_speaks_german(logged_in, user, make_source):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    text = preview(logged_in, meter, GERMAN_CSV)
    for phrase in [
        "Trennzeichen: Semikolon",
        "TT.MM.JJ",
        "Dezimalkomma",
        "Zahlen werden mit Dezimalkomma gelesen (1234,5).",
        "Zeiten ohne Zeitverschiebung gelten in Europe/Berlin.",
        "Zweistellige Jahre werden als 2000–2068",
        "„bald“ ist kein Datum.",
        "„x“ (Bezug) ist keine Zahl.",
    ]:
        assert phrase in text, phrase
    for phrase in ["semicolon", "DD.MM.YY", "is not a date", "Times without an offset"]:
        assert phrase not in text, phrase
    english = preview(logged_in, meter, GERMAN_CSV, headers={"HX-Request": "true"})
    assert "Separator: semicolon" in english and "DD.MM.YY" in english
    assert "“soon”" not in english and "“bald” is not a date." in english


def test_an_import_preview_writes_times_and_numbers_the_german_way(logged_in, user, make_source):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    text = preview(logged_in, meter, "Datum;Bezug\n02.01.2026 08:00;14.705,25\n03.01.2026;14.600\n")
    assert "02.01.2026 08:00" in text and "2026-01-02" not in text
    assert "Niedriger als der vorige Zählerstand (Bezug 14.600 &lt; 14.705,25)." in text
    english = preview(
        logged_in, meter, "Date,Bezug\n2026-01-02 08:00,14705.25\n2026-01-03,14600\n", headers=HX
    )
    assert "2026-01-02 08:00" in english
    assert "Lower than the previous meter value (Bezug 14600 &lt; 14705.25)." in english


def test_an_unreadable_import_file_is_refused_in_german(logged_in, user, make_source):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    text = preview(logged_in, meter, "Datum;Zeug\n01.01.2026;viel\n")
    assert "Keine Spalte passt zu einem Messwert dieser Quelle („Bezug“)." in text
    assert "No column matches" not in text


def test_a_bad_reading_value_gets_a_german_message(logged_in, user, make_source):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    prefix = f"s{meter.id}-"
    data = {
        f"{prefix}timestamp": "2026-03-01T12:00",
        f"{prefix}note": "",
        f"{prefix}value_0": "1,2.3,4",
    }
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX_DE)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Verwende ein Dezimaltrennzeichen, etwa 1234,5 oder 1234.5." in text
    assert "Use one decimal separator" not in text
    assert db.session.query(Reading).count() == 0


def test_domain_messages_stay_english_outside_a_request_and_under_the_api(
    logged_in, user, make_source
):
    with pytest.raises(ValueError, match=r"^Use one decimal separator, like 1234\.5 or 1234,5\.$"):
        parse_number("1,2.3,4")
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    response = logged_in.post(
        f"/api/sources/{meter.id}/readings",
        json={"timestamp": "2026-03-01T12:00:00Z", "values": {"Zeug": 1}},
        headers=DE,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["values"] == [
        "Not a metric of this source: “Zeug”. Use “Bezug”."
    ]


def test_a_meter_drop_is_explained_in_german(logged_in, user, make_source, make_reading):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    make_reading(meter, {"Bezug": 100.0}, timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    prefix = f"s{meter.id}-"
    data = {f"{prefix}timestamp": "2026-03-02T12:00", f"{prefix}note": "", f"{prefix}value_0": "90"}
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX_DE)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Niedriger als die vorige Ablesung." in text and "Lower than" not in text
    with pytest.raises(UnconfirmedDrop) as caught:
        check_drop(meter, datetime(2026, 3, 2, tzinfo=UTC), {"Bezug": 90.0}, confirmed=False)
    assert caught.value.detail == "The value is lower than the reading before; confirm it."


def test_a_drop_warning_shows_the_value_as_read_in_german(
    logged_in, user, make_source, make_reading
):
    """ "9.790" is read as 9,79 (one mark is the decimal separator): the warning says so."""
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    make_reading(meter, {"Bezug": 9780.5}, timestamp=datetime(2026, 3, 1, tzinfo=UTC))
    prefix = f"s{meter.id}-"
    data = {
        f"{prefix}timestamp": "2026-03-02T12:00",
        f"{prefix}note": "",
        f"{prefix}value_0": "9.790",
    }
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX_DE)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bezug: du hast 9,79 eingegeben, die Ablesung davor war 9.780,5 kWh" in text
    english = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=HX)
    assert "Bezug: you entered 9.79, the reading before was 9,780.5 kWh" in english.get_data(
        as_text=True
    )


def test_the_dashboard_comparison_is_labelled_in_german(logged_in, user, make_source):
    source = make_source(user, "Wasser", metrics={"volume": "m³"})
    now = datetime.now(UTC)
    for day in range(0, 430, 2):
        db.session.add(
            Reading(
                data_source_id=source.id,
                timestamp=now - timedelta(days=day),
                values={"volume": 1000.0 - day * 0.5},
            )
        )
    db.session.commit()
    create_tariff(source, "volume", "2020-01-01", "2", "0")
    response = logged_in.get(f"/sources/{source.id}/usage/summary", headers=HX_DE)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{now.year} bis heute" in body or "bisher" in body
    assert "so far" not in body and "to date" not in body and "same days" not in body


def test_a_broken_backup_is_refused_in_german(client, auth, user):
    auth.login()
    response = client.post(
        "/account/restore",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"[1, 2, 3]"), "backup.json"), "confirm": "y"},
        headers=DE,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text[:300]
    assert "Das ist keine homelog-Sicherung (JSON erwartet)." in text
    assert "This is not a homelog backup" not in text


def test_a_price_already_starting_that_day_names_the_day_in_german(logged_in, user, make_source):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    create_tariff(meter, "Bezug", "2026-01-01", "0.3")
    url = f"/sources/{meter.id}/tariffs"
    data = {"metric": "Bezug", "effective_from": "2026-01-01", "unit_price": "0,4"}
    german = logged_in.post(url, data=data, headers=DE).get_data(as_text=True)
    assert "„Bezug“ hat schon einen Preis ab dem 01.01.2026." in german
    assert "2026-01-01" not in german.replace('value="2026-01-01"', "")
    assert '<td data-label="Von" class="from">01.01.2026</td>' in german
    english = logged_in.post(url, data=data).get_data(as_text=True)
    assert "“Bezug” already has a price starting on 2026-01-01." in english
    assert 'class="from">2026-01-01</td>' in english


def _restore_page(client, text: str, headers: dict) -> str:
    response = client.post(
        "/account/restore",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(text.encode()), "backup.json"), "confirm": "y"},
        headers=headers,
    )
    assert response.status_code == 422, response.status_code
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "duplicate, german, english",
    [
        (
            "tariffs",
            "„Bezug“ hat zwei Preise ab dem 01.01.2026.",
            "“Bezug” has two prices starting on 2026-01-01.",
        ),
        (
            "swaps",
            "Am 15.06.2026 um 10:30 sind zwei Zählerwechsel eingetragen.",
            "two swaps are recorded on 2026-06-15 at 10:30.",
        ),
    ],
)
def test_a_restore_names_a_doubled_day_in_the_readers_language(
    client, auth, user, make_user, make_source, duplicate, german, english
):
    meter = make_source(user, "Strom", metrics={"Bezug": "kWh"})
    create_tariff(meter, "Bezug", "2026-01-01", "0.3")
    create_swap(
        meter, user, datetime(2026, 6, 15, 8, 30, tzinfo=UTC), {"Bezug": "1000"}, {"Bezug": "0"}
    )
    document = json.loads("".join(backup.iter_backup(user)))
    entries = document["sources"][0][duplicate]
    entries.append(dict(entries[0]))
    text = json.dumps(document)
    make_user("leer@example.com", timezone="Europe/Berlin")
    auth.login("leer@example.com")
    assert german in _restore_page(client, text, DE)
    assert english in _restore_page(client, text, {})
