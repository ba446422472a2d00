"""The dashboard, source pages, usage panel, import, prices, meter and Record pages in German.

A browser that asks for German (Accept-Language: de) gets the German texts; English stays the
default. Each test checks a few distinctive German texts and that their English ones are gone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from homelog.extensions import db
from homelog.models import Tariff

DE = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
HX_DE = {**DE, "HX-Request": "true"}


def german(client, url: str, headers=DE) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def assert_german(text: str, present: list[str], absent: list[str]) -> None:
    for phrase in present:
        assert phrase in text, phrase
    for phrase in absent:
        assert phrase not in text, phrase


def test_dashboard_speaks_german_and_english_stays_the_default(logged_in, user, make_source):
    make_source(user, "Strom")
    make_source(user, "Wohnzimmer", kind="sensor", metrics={"temperature": "°C"})
    text = german(logged_in, "/")
    assert_german(
        text,
        ["Deine Zähler und Sensoren", "+ Neue Quelle", "+ Ablesung", "Kosten des ganzen Haushalts"],
        ["Your meters and sensors", "+ New source", "Add reading", "Costs of the whole home"],
    )
    # The kind badges, and a card without readings.
    assert ">Zähler</span>" in text and ">Sensor</span>" in text
    assert "Noch keine Ablesungen." in text and "No readings yet." not in text
    english = logged_in.get("/").get_data(as_text=True)
    assert "Your meters and sensors" in english and "Deine Zähler" not in english


def test_an_empty_dashboard_invites_the_first_source_in_german(logged_in):
    text = german(logged_in, "/")
    assert_german(
        text,
        ["Noch nichts zu zeigen", "Erste Quelle anlegen"],
        ["Nothing to show yet", "Add your first source"],
    )


def test_source_page_and_usage_panel_in_german(logged_in, worked_example_meter):
    meter = worked_example_meter
    page = german(logged_in, f"/sources/{meter.id}")
    assert_german(
        page,
        [
            "Ablesung hinzufügen",
            "Ablesung speichern",
            "In deiner Zeitzone, Europe/Berlin.",
            ">Ablesungen <small",
            "5 insgesamt",
            ">Bearbeiten</a>",
            ">Löschen</a>",
            'data-label="Zeit"',
            "Import / Export",
            "Teilen…",
        ],
        ["Add a reading", "Save reading", "in total", ">Edit</a>", "Import / export"],
    )
    panel = german(
        logged_in, f"/sources/{meter.id}/usage?period=month&start=2025-12-01&end=2026-03-01", HX_DE
    )
    assert_german(
        panel,
        [
            "Verbrauch und Kosten",
            ">Abrechnungszeitraum</a>",
            ">Monat</a>",
            "CSV herunterladen",
            "Zeiten in Europe/Berlin",
            "Verbrauch pro Monat",
        ],
        [
            "Usage and costs",
            ">Billing cycle</a>",
            "Download CSV",
            "Times in",
            "the table below has the numbers",
        ],
    )


def test_left_out_readings_are_explained_in_german(logged_in, user, make_source, make_reading):
    water = make_source(user, "Wasser", metrics={"volume": "m³"})
    for day, value in [(1, 99_990.0), (2, 5.0), (3, 15.0)]:
        make_reading(water, {"volume": value}, timestamp=datetime(2026, 3, day, 12, tzinfo=UTC))
    url = f"/sources/{water.id}/usage?period=day&start=2026-03-01&end=2026-03-03"
    assert_german(
        german(logged_in, url),
        ["<strong>2 Ablesungen ausgelassen</strong>", "Korrigiere einen Tippfehler", "davor: "],
        ["left out", "Fix a typo", "before: "],
    )


def test_sensor_statistics_in_german(logged_in, user, make_source, make_reading):
    sensor = make_source(user, "Wohnzimmer", kind="sensor", metrics={"temperature": "°C"})
    make_reading(sensor, {"temperature": 20.5}, timestamp=datetime(2026, 1, 1, 12, tzinfo=UTC))
    make_reading(sensor, {"temperature": 21.5}, timestamp=datetime(2026, 1, 2, 12, tzinfo=UTC))
    panel = german(
        logged_in, f"/sources/{sensor.id}/usage?period=day&start=2026-01-01&end=2026-01-03", HX_DE
    )
    assert_german(
        panel,
        ["Statistik", "temperature Mittel", "Mittelwert", "Spanne und Mittelwert von temperature"],
        ["Statistics", "temperature average", "Range and average"],
    )


def test_reading_form_warning_and_flash_in_german(logged_in, worked_example_meter):
    meter = worked_example_meter
    prefix = f"s{meter.id}"
    data = {f"{prefix}-value_0": "50", f"{prefix}-timestamp": "2026-03-01T12:00"}
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=DE)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert_german(
        text,
        [
            "Niedriger als die vorige Ablesung.",
            "die Ablesung davor war 100 kWh",
            "Trotzdem speichern: der Wert stimmt",
            "Erfasse den Wechsel</a> (neuer Tab)",
        ],
        ["Lower than the previous reading.", "Save anyway", "Record the swap"],
    )
    data[f"{prefix}-confirm_lower"] = "y"
    response = logged_in.post(f"/sources/{meter.id}/readings", data=data, headers=DE)
    assert response.status_code == 302
    page = german(logged_in, f"/sources/{meter.id}")
    assert "Ablesung gespeichert." in page and "Reading saved." not in page
    assert "↓ niedriger" in page and "↓ lower" not in page


def test_source_form_and_its_flash_in_german(logged_in):
    form = german(logged_in, "/sources/new")
    assert_german(
        form,
        ["Neuer Zähler oder Sensor", "Zähler (zählt hoch", "+ Messwert", "Quelle anlegen"],
        ["New meter or sensor", "a register that counts up", "+ Add metric", "Create source"],
    )
    response = logged_in.post(
        "/sources/new",
        data={
            "name": "Wasser",
            "kind": "meter",
            "metrics-0-name": "Zählerstand",
            "metrics-0-unit": "m³",
        },
        headers=DE,
    )
    assert response.status_code == 302
    page = german(logged_in, response.headers["Location"])
    assert "„Wasser“ ist bereit." in page and "is ready" not in page


def test_import_page_and_preview_in_german(logged_in, user, make_source):
    source = make_source(user)
    page = german(logged_in, f"/sources/{source.id}/import")
    assert_german(
        page,
        [
            "Aus CSV importieren",
            "CSV-Datei",
            "…oder die Zeilen einfügen",
            "Als CSV exportieren",
            # What the upload's script (static/js/transfer.js) shows, given by the page.
            'data-too-large="Die Datei ist größer als 16 MB."',
            'data-uploading="Wird hochgeladen… {percent}"',
        ],
        ["Import from CSV", "CSV file", "Export as CSV", "Nothing is saved until", "Uploading"],
    )
    text = "date;import\n01.01.2026 00:00;100,5\n02.01.2026 00:00;101\nsoon;5\n"
    response = logged_in.post(f"/sources/{source.id}/import", data={"text": text}, headers=DE)
    preview = response.get_data(as_text=True)
    assert_german(
        preview,
        [
            "<strong>2 Ablesungen</strong> werden aus 3 Zeilen importiert.",
            "· Dezimalkomma",
            "2 Ablesungen importieren",
            "Zeilen mit Problemen",
        ],
        ["will be imported", "· decimal comma", "Import 2 readings", "Lines with problems"],
    )


def test_prices_page_in_german(logged_in, user, make_source):
    source = make_source(user)
    db.session.add(
        Tariff(
            data_source_id=source.id,
            metric="import",
            effective_from=date(2026, 1, 1),
            unit_price=Decimal("0.32"),
            standing_charge=Decimal("0.40"),
        )
    )
    db.session.commit()
    text = german(logged_in, f"/sources/{source.id}/tariffs")
    assert_german(
        text,
        ["Preise: Electricity", "Pro Einheit", "Preis hinzufügen", "Grundgebühr pro Tag ("],
        ["Prices: ", "Per unit", "Add a price", "Standing charge per day"],
    )
    assert re.search(r'aria-label="Den Preis von import ab 01.01.2026 löschen"', text)


def test_meter_page_in_german(logged_in, worked_example_meter):
    text = german(logged_in, f"/sources/{worked_example_meter.id}/meter")
    assert_german(
        text,
        [
            "Zählerwechsel erfassen",
            "Letzter Stand des alten Zählers",
            "Zählen und Abrechnung",
            "Abrechnungszeitraum beginnt am Tag",
            "Einstellungen speichern",
        ],
        ["Record a meter swap", "Old meter's final value", "Save settings", "Billing cycle"],
    )


def test_record_screen_in_german(logged_in):
    text = german(logged_in, "/record")
    assert_german(
        text,
        ["<title>Erfassen · homelog</title>", "Deine Zähler werden geladen…", "Jetzt senden"],
        ["Loading your meters", "Send now", "Keep the server's"],
    )


def test_record_screen_calls_the_phone_a_handy_throughout(logged_in):
    """The Record screen's messages say "Handy" (as its offline banner does), never "Telefon"."""
    text = german(logged_in, "/record")
    assert_german(
        text,
        [
            "Offline: Ablesungen bleiben auf diesem Handy",
            "Auf diesem Handy gespeichert: Die Ablesung wird gesendet, sobald du wieder online",
            "Die Ablesung ist noch nicht gesendet und wartet im Ausgang.",
        ],
        ["Telefon", "Postausgang"],
    )


def test_reminder_page_says_which_reading_counts_in_plain_german(logged_in, user, make_source):
    meter = make_source(user, "Strom")
    text = german(logged_in, f"/sources/{meter.id}/reminder")
    assert_german(text, ["Es zählt jede Ablesung ab diesem Tag."], ["an oder nach dem Tag"])
