"""The import/export page: upload or paste, preview, confirm; CSV download; 404 for strangers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from homelog.extensions import db
from homelog.models import ImportUpload, Reading

HTMX = {"HX-Request": "true"}
CSV = "date;import (kWh)\n01.01.2026 00:00;100,5\n02.01.2026 00:00;101\nsoon;5\n"


def readings_of(source) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Reading).where(Reading.data_source_id == source.id)
    )


def upload(client, source, text=CSV, headers=None, **fields):
    data = {"file": (io.BytesIO(text.encode()), "meter.csv"), **fields}
    return client.post(
        f"/sources/{source.id}/import",
        data=data,
        headers=headers or {},
        content_type="multipart/form-data",
    )


def test_the_page_offers_upload_paste_and_export(logged_in, make_source, user):
    source = make_source(user)
    page = logged_in.get(f"/sources/{source.id}/import").get_data(as_text=True)
    assert 'type="file"' in page and 'name="text"' in page
    assert f"/sources/{source.id}/export.csv" in page
    detail = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert f"/sources/{source.id}/import" in detail


def test_preview_lists_rows_and_problem_lines_and_writes_nothing(logged_in, make_source, user):
    source = make_source(user)
    response = upload(logged_in, source)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" in page  # without htmx: the whole page
    assert "<strong>2 readings</strong> will be imported" in page
    assert "“soon” is not a date." in page
    assert "decimal comma" in page
    assert readings_of(source) == 0

    fragment = upload(logged_in, source, headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and 'id="import-result"' in fragment


def test_confirm_imports_once_and_returns_to_the_source(logged_in, make_source, user):
    source = make_source(user)
    upload(logged_in, source)
    upload_id = db.session.scalar(select(ImportUpload.id))
    response = logged_in.post(
        f"/sources/{source.id}/import/confirm", data={"upload": upload_id}, headers=HTMX
    )
    assert response.headers["HX-Redirect"] == f"/sources/{source.id}"
    assert readings_of(source) == 2
    assert db.session.scalar(select(func.count()).select_from(ImportUpload)) == 0
    page = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert "2 readings imported. 1 line left out." in page

    # The upload is gone: confirming again imports nothing more.
    again = logged_in.post(f"/sources/{source.id}/import/confirm", data={"upload": upload_id})
    assert again.status_code == 302
    assert readings_of(source) == 2


def test_mapping_columns_in_the_preview(logged_in, make_source, user):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    text = "Datum;Bezug;Einspeisung\n01.01.2026;100;1\n"
    first = upload(logged_in, source, text, headers=HTMX)
    assert first.status_code == 422
    assert "No column matches a metric" in first.get_data(as_text=True)
    upload_id = db.session.scalar(select(ImportUpload.id))
    second = logged_in.post(
        f"/sources/{source.id}/import",
        headers=HTMX,
        data={"upload": upload_id, "map-1": "import", "map-2": "export"},
    )
    assert "<strong>1 reading</strong> will be imported" in second.get_data(as_text=True)
    logged_in.post(
        f"/sources/{source.id}/import/confirm",
        data={"upload": upload_id, "map-1": "import", "map-2": "export"},
    )
    assert db.session.scalar(select(Reading.values)) == {"import": 100.0, "export": 1.0}


def test_pasting_a_large_file_works(logged_in, make_source, user):
    """Pasted text over Flask's 500 kB form-field default is accepted (the limit is raised)."""
    source = make_source(user)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    text = "date,import\n" + "".join(
        f"{start + timedelta(hours=n):%Y-%m-%dT%H:%M:%S}Z,{1000 + n}\n" for n in range(25000)
    )
    assert len(text) > 600_000
    response = logged_in.post(f"/sources/{source.id}/import", data={"text": text})
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    assert "25,000 readings" in page
    assert len(page) < 100_000  # the pasted text is kept on the server, not sent back


def test_nothing_sent_shows_the_message_by_the_file_field(logged_in, make_source, user):
    source = make_source(user)
    response = logged_in.post(f"/sources/{source.id}/import", data={"text": "  "}, headers=HTMX)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#import-upload"
    assert "Choose a CSV file or paste its lines." in response.get_data(as_text=True)


def test_the_preview_needs_a_csrf_token(logged_in, make_source, user):
    source = make_source(user)
    response = logged_in.post(f"/sources/{source.id}/import", data={"text": CSV}, csrf=False)
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ImportUpload)) == 0


def test_someone_elses_upload_cannot_be_used(client, auth, make_user, make_source, user):
    source = make_source(user)
    auth.login()
    upload(client, source)
    upload_id = db.session.scalar(select(ImportUpload.id))
    auth.logout()
    intruder = make_user("intruder@example.com")
    own = make_source(intruder)
    auth.login("intruder@example.com")
    # Their own source with a stolen upload id: the upload is not theirs.
    client.post(f"/sources/{own.id}/import/confirm", data={"upload": upload_id})
    assert readings_of(own) == 0 and readings_of(source) == 0
    # The owner's source itself is a 404 for them.
    assert client.get(f"/sources/{source.id}/import").status_code == 404
    assert (
        client.post(f"/sources/{source.id}/import/confirm", data={"upload": upload_id}).status_code
        == 404
    )
    assert client.get(f"/sources/{source.id}/export.csv").status_code == 404


def test_export_csv_streams_every_reading_in_the_import_layout(
    logged_in, make_source, user, make_reading
):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    make_reading(
        source,
        {"import": 100.5, "export": 1.0},
        timestamp=datetime(2026, 1, 1, 12, tzinfo=UTC),
        note="first, with comma",
    )
    make_reading(source, {"import": 101.0}, timestamp=datetime(2026, 1, 5, 12, tzinfo=UTC))
    # buffered: read the streamed body while the request's context is still there.
    response = logged_in.get(f"/sources/{source.id}/export.csv", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="electricity.csv"' in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == (
        "timestamp,import (kWh),export (kWh),note\n"
        '2026-01-01T13:00:00+01:00,100.5,1,"first, with comma"\n'
        "2026-01-05T13:00:00+01:00,101,,\n"
    )
    ranged = logged_in.get(
        f"/sources/{source.id}/export.csv?start=2026-01-02&end=2026-01-05", buffered=True
    )
    assert ranged.get_data(as_text=True).splitlines()[1:] == ["2026-01-05T13:00:00+01:00,101,,"]
    assert "2026-01-02-to-2026-01-05" in ranged.headers["Content-Disposition"]
    bad = logged_in.get(f"/sources/{source.id}/export.csv?start=2026-01-05&end=2026-01-01")
    assert bad.status_code == 422


def test_an_export_imports_cleanly_into_a_new_source(logged_in, make_source, user, make_reading):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    for day, value in enumerate([100.0, 100.25, 107.125], start=1):
        make_reading(
            source,
            {"import": value, "export": day / 3},
            timestamp=datetime(2026, 3, day, 6, tzinfo=UTC),
            note=f"day {day}",
        )
    exported = logged_in.get(f"/sources/{source.id}/export.csv", buffered=True).get_data(
        as_text=True
    )
    copy = make_source(user, "Copy", metrics={"import": "kWh", "export": "kWh"})
    page = upload(logged_in, copy, exported).get_data(as_text=True)
    assert "<strong>3 readings</strong>" in page
    upload_id = db.session.scalar(select(ImportUpload.id))
    logged_in.post(f"/sources/{copy.id}/import/confirm", data={"upload": upload_id})

    def content(src):
        return [
            (r.timestamp, r.values, r.note)
            for r in db.session.scalars(
                select(Reading).where(Reading.data_source_id == src.id).order_by(Reading.timestamp)
            )
        ]

    assert content(copy) == content(source)


def confirm(client, source, **fields):
    upload_id = db.session.scalar(select(ImportUpload.id).order_by(ImportUpload.created_at.desc()))
    return client.post(
        f"/sources/{source.id}/import/confirm", data={"upload": upload_id, **fields}, headers=HTMX
    )


def uploads() -> int:
    return db.session.scalar(select(func.count()).select_from(ImportUpload))


def test_the_same_file_again_says_all_readings_are_already_stored(logged_in, make_source, user):
    source = make_source(user)
    text = "date;import (kWh)\n01.01.2026 00:00;100,5\n02.01.2026 00:00;101\n"
    upload(logged_in, source, text)
    confirm(logged_in, source)
    page = " ".join(upload(logged_in, source, text, headers=HTMX).get_data(as_text=True).split())
    assert "All 2 readings are already stored</strong> — nothing to do." in page
    assert "Lines with problems" not in page and "Already stored" not in page
    assert "Import 0" not in page and ">Done</button>" in page
    # Confirming anyway stores nothing, says so, and deletes the upload.
    response = confirm(logged_in, source)
    assert response.headers["HX-Redirect"] == f"/sources/{source.id}"
    assert readings_of(source) == 2 and uploads() == 0
    shown = logged_in.get(f"/sources/{source.id}").get_data(as_text=True)
    assert "All 2 readings are already stored: nothing to do." in shown


def test_stored_lines_are_counted_apart_from_real_problems(logged_in, make_source, user):
    source = make_source(user)
    upload(logged_in, source, "date;import\n01.01.2026 00:00;100,5\n")
    confirm(logged_in, source)
    page = " ".join(upload(logged_in, source, headers=HTMX).get_data(as_text=True).split())
    assert "<strong>1 reading</strong> will be imported from 3 lines." in page
    assert "1 is already stored." in page
    assert "1 other line</strong> is left out" in page
    assert "“soon” is not a date." in page and "Already stored" not in page


def test_cancel_deletes_the_upload(logged_in, make_source, user, make_user):
    source = make_source(user)
    upload(logged_in, source)
    upload_id = db.session.scalar(select(ImportUpload.id))
    response = logged_in.post(
        f"/sources/{source.id}/import/cancel", data={"upload": upload_id}, headers=HTMX
    )
    assert response.headers["HX-Redirect"] == f"/sources/{source.id}/import"
    assert uploads() == 0 and readings_of(source) == 0
    plain = logged_in.post(f"/sources/{source.id}/import/cancel", data={"upload": upload_id})
    assert plain.status_code == 302
    no_token = logged_in.post(
        f"/sources/{source.id}/import/cancel", data={"upload": upload_id}, csrf=False
    )
    assert no_token.status_code == 400


def test_waiting_uploads_are_held_to_a_quota_per_person(logged_in, make_source, user, monkeypatch):
    monkeypatch.setattr("homelog.importer.uploads.UPLOAD_QUOTA", 2 * len(CSV))
    first, second = make_source(user), make_source(user, "Gas")
    upload(logged_in, first)
    oldest = db.session.scalar(select(ImportUpload.id))
    upload(logged_in, second)
    upload(logged_in, first)
    kept = db.session.scalars(select(ImportUpload)).all()
    assert len(kept) == 2 and oldest not in {u.id for u in kept}
    assert sum(u.size for u in kept) <= 2 * len(CSV)
    assert {u.size for u in kept} == {len(CSV)}


def test_columns_mapped_for_a_layout_are_offered_next_time(logged_in, make_source, user):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    upload(logged_in, source, "Datum;Bezug;Einspeisung\n01.01.2026;100;1\n")
    confirm(logged_in, source, **{"map-1": "import", "map-2": "export"})
    assert readings_of(source) == 1
    page = upload(
        logged_in, source, "Datum;Bezug;Einspeisung\n02.01.2026;101,5;2\n", headers=HTMX
    ).get_data(as_text=True)
    assert "<strong>1 reading</strong> will be imported" in page
    assert "Columns as you chose them for the last file with these headings." in page
    assert "decimal comma" in page


def test_a_one_number_column_file_and_a_decimal_comma_before_mapping(logged_in, make_source, user):
    water = make_source(user, "Water", metrics={"water": "m³"})
    page = upload(
        logged_in, water, "Datum;Zählerstand (m³)\n01.04.26 07:31;12,5\n02.04.26 07:30;13\n"
    ).get_data(as_text=True)
    assert "<strong>2 readings</strong> will be imported" in page
    two = make_source(user, "Power", metrics={"import": "kWh", "export": "kWh"})
    page = upload(logged_in, two, "Datum;Bezug;Einspeisung\n01.01.2026;100,5;1,25\n").get_data(
        as_text=True
    )
    assert "No column matches" in page and "decimal comma" in page


def test_the_forms_disable_their_buttons_with_selectors_that_match(logged_in, make_source, user):
    """htmx resolves `find button` from the button that sends, which holds no button."""
    source = make_source(user)
    page = upload(logged_in, source).get_data(as_text=True)
    assert 'hx-disabled-elt="find button"' not in page
    assert 'hx-disabled-elt=".upload-form button"' in page
    assert 'hx-disabled-elt=".preview-form button"' in page


def test_notes_that_look_like_formulas_survive_export_and_import(
    logged_in, make_source, user, make_reading
):
    source = make_source(user)
    notes = ["=1+2", "+49 30 1234", "-3 °C outside", "@home", "it's fine", "'quoted", "'=2"]
    for day, note in enumerate(notes, start=1):
        make_reading(
            source, {"import": float(day)}, timestamp=datetime(2026, 3, day, tzinfo=UTC), note=note
        )
    exported = logged_in.get(f"/sources/{source.id}/export.csv", buffered=True).get_data(
        as_text=True
    )
    copy = make_source(user, "Copy")
    upload(logged_in, copy, exported)
    confirm(logged_in, copy)
    imported = db.session.scalars(
        select(Reading.note).where(Reading.data_source_id == copy.id).order_by(Reading.timestamp)
    ).all()
    assert imported == notes


def test_an_export_with_quoted_formulas_imports_the_text(logged_in, make_source, user):
    source = make_source(user)
    text = "timestamp,import (kWh),note\n2026-03-01T00:00:00+01:00,1,'=1+2\n"
    upload(logged_in, source, text)
    confirm(logged_in, source)
    assert db.session.scalar(select(Reading.note)) == "=1+2"
