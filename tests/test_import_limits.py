"""CSV import limits and bad input: bounded memory, clear 4xx answers, never a 500."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from homelog import importer, tokens
from homelog.extensions import db
from homelog.models import ImportUpload, Reading
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
HTMX = {"HX-Request": "true"}
MB = 1024 * 1024


@pytest.fixture
def api_headers(user) -> dict[str, str]:
    """Return headers with a bearer token of `user`."""
    raw, _ = tokens.issue_token(user, "test phone")
    return {"Authorization": f"Bearer {raw}"}


def test_oversized_imports_answer_4xx_within_64_mb(database_url, user, make_source):
    """More lines than allowed, and more bytes, through the API and the page: measured."""
    source = make_source(user)
    token, _ = tokens.issue_token(user, "probe")
    db.session.commit()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.import_memory_probe",
            database_url,
            str(source.id),
            token,
            user.email,
            PASSWORD,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not a timing assertion
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name, result in results.items():
        assert 400 <= result["status"] < 500, (name, result)
        assert result["grew"] < 64 * MB, (name, result["grew"] // MB)
    assert "more than 500,000 lines" in results["api_many_lines"]["body"]
    assert "more than 500,000 lines" in results["page_many_lines"]["body"]
    assert results["api_too_large"]["status"] == 413


def test_the_line_limit_stops_the_file_before_reading_its_rows(monkeypatch):
    monkeypatch.setattr(importer.parsing, "MAX_ROWS", 10)
    text = "date,import\n" + "".join(f"2026-01-{day:02d},{day}\n" for day in range(1, 12))
    result = importer.parse(text, {"import": "kWh"}, ZoneInfo("UTC"))
    assert result.report.errors == ["The file has more than 10 lines; split it up."]
    assert result.candidates == [] and result.report.problems == []


BAD_BODIES = {
    "separators only": (",,,\n", "no line with anything in it"),
    "blank quoted cells": ('" ",""\n', "no line with anything in it"),
    "separators after a header": ("date,import\n,,,\n", "no data lines"),
    "a field over the csv limit": (
        "date,import\n2026-01-01," + "1" * 131_073 + "\n",
        "Line 2 has a field longer than 131,072 characters",
    ),
    "a huge first field": ("x" * 200_000 + "\n", "Line 1 has a field longer than"),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_unreadable_files_are_422_with_a_message_in_the_api(
    client, api_headers, make_source, user, name
):
    body, message = BAD_BODIES[name]
    source = make_source(user)
    for query in ("?dry_run=true", ""):
        response = client.post(
            f"/api/sources/{source.id}/import{query}",
            data=body.encode(),
            headers={**api_headers, "Content-Type": "text/csv"},
        )
        assert response.status_code == 422, response.status_code
        assert message in response.get_json()["errors"]["file"][0]


@pytest.mark.parametrize("name", BAD_BODIES)
def test_unreadable_files_are_422_with_a_message_in_the_preview(logged_in, make_source, user, name):
    body, message = BAD_BODIES[name]
    source = make_source(user)
    for headers in ({}, HTMX):
        response = logged_in.post(
            f"/sources/{source.id}/import",
            data={"file": (io.BytesIO(body.encode()), "bad.csv")},
            content_type="multipart/form-data",
            headers=headers,
        )
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    pasted = logged_in.post(f"/sources/{source.id}/import", data={"text": body}, headers=HTMX)
    assert pasted.status_code == 422 and message in pasted.get_data(as_text=True)


def test_nul_characters_are_refused_in_pasted_text_and_anywhere_in_a_file(
    logged_in, client, api_headers, make_source, user
):
    source = make_source(user)
    late_nul = ("date,import\n" + "2026-01-01,1\n" * 1000 + "2026-01-02,\x002\n").encode()
    assert late_nul.index(b"\x00") > 4096
    message = "This is not a text (CSV) file: it holds NUL characters."

    pasted = logged_in.post(
        f"/sources/{source.id}/import",
        data={"text": "date,import\n2026-01-01,1\x00\n"},
        content_type="multipart/form-data",
        headers=HTMX,
    )
    # Pasted text is a form field: the app-wide guard refuses it before the importer reads it.
    assert pasted.status_code == 400
    assert "Text must not contain NUL characters." in pasted.get_data(as_text=True)
    filed = logged_in.post(
        f"/sources/{source.id}/import",
        data={"file": (io.BytesIO(late_nul), "late.csv")},
        content_type="multipart/form-data",
    )
    assert filed.status_code == 422 and message in filed.get_data(as_text=True)
    api = client.post(
        f"/api/sources/{source.id}/import",
        data=late_nul,
        headers={**api_headers, "Content-Type": "text/csv"},
    )
    assert api.status_code == 422 and message in json.dumps(api.get_json())
    assert db.session.scalar(select(func.count()).select_from(ImportUpload)) == 0
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 0


@pytest.mark.parametrize(
    "cell",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01 00:00",
        "31.12.9999 23:59",
        "2999-12-31T23:30:00-05:00",
    ],
)
def test_timestamps_outside_the_supported_range_are_a_problem_line(
    client, api_headers, make_source, user, cell
):
    source = make_source(user)
    response = client.post(
        f"/api/sources/{source.id}/import?dry_run=true",
        data=f"date,import\n2026-01-01,1\n{cell},2\n".encode(),
        headers={**api_headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["to_import"] == 1
    assert body["problems"] == [
        {
            "line": 3,
            "code": "date",
            "skipped": True,
            "reason": f"“{cell}” is outside the years 1900–2999 homelog supports.",
        }
    ]


def test_problem_lines_beyond_the_first_thousand_are_counted(
    client, api_headers, make_source, user
):
    source = make_source(user)
    text = "date,import\n2026-01-01,1\n" + "soon,1\n" * 1500
    body = client.post(
        f"/api/sources/{source.id}/import?dry_run=true",
        data=text.encode(),
        headers={**api_headers, "Content-Type": "text/csv"},
    ).get_json()
    assert body["skipped"] == 1500 and body["to_import"] == 1
    assert len(body["problems"]) == 1000 and body["problems_left_out"] == 500
    assert [p["line"] for p in body["problems"][:2]] == [3, 4]


def test_nul_in_the_other_fields_of_a_multipart_import_is_no_500(logged_in, make_source, user):
    source = make_source(user)
    for path in ("import", "import/confirm", "import/cancel"):
        response = logged_in.post(
            f"/sources/{source.id}/{path}",
            data={"upload": "abc\x00def", "map-1": "imp\x00ort"},
            content_type="multipart/form-data",
        )
        # The app-wide form guard answers 400 before the import views read the fields.
        assert response.status_code in (302, 400, 422), (path, response.status_code)
    named = logged_in.post(
        f"/sources/{source.id}/import",
        data={"file": (io.BytesIO(b"date,import\n2026-01-01,1\n"), "a\x00b\x1b.csv")},
        content_type="multipart/form-data",
    )
    assert named.status_code == 200
    assert db.session.scalar(select(ImportUpload.filename)) == "ab.csv"
