"""CSV import (homelog.importer): layouts, every kind of problem line, all-or-nothing import."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from homelog import changes, importer
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.importer import NOTE, ImportOptions
from homelog.models import ImportLayout, MeterEvent, Reading, SyncChange

BERLIN = ZoneInfo("Europe/Berlin")
METRICS = {"import": "kWh", "export": "kWh"}


def parsed(text: str, metrics=None, **options):
    """Parse text for a source with METRICS (no database) and return (report, rows)."""
    result = importer.parse(text, metrics or METRICS, BERLIN, ImportOptions(**options))
    return result.report, result.candidates


def count(source) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Reading).where(Reading.data_source_id == source.id)
    )


# ---- layouts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, separator, decimal",
    [
        ("date,import,export\n2026-01-01 10:00,100.5,2\n", ",", "."),
        ("date;import;export\n2026-01-01 10:00;100,5;2\n", ";", ","),
        ("date\timport\texport\n2026-01-01 10:00\t100.5\t2\n", "\t", "."),
        ('date,import,export\n2026-01-01 10:00,"100,5",2\n', ",", ","),
        ("date;import;export\n2026-01-01 10:00;1.000,5;2\n", ";", ","),
    ],
)
def test_separators_and_decimal_marks(text, separator, decimal):
    report, rows = parsed(text)
    assert report.ok, report.errors
    assert (report.separator, report.decimal) == (separator, decimal)
    assert rows[0].values["import"] in (100.5, 1000.5)
    assert rows[0].values["export"] == 2


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("2026-03-05", datetime(2026, 3, 5)),
        ("2026-03-05 07:30", datetime(2026, 3, 5, 7, 30)),
        ("2026-03-05T07:30:15", datetime(2026, 3, 5, 7, 30, 15)),
        ("05.03.2026 07:30", datetime(2026, 3, 5, 7, 30)),
        ("5.3.2026", datetime(2026, 3, 5)),
        ("03/05/2026 07:30", datetime(2026, 3, 5, 7, 30)),
        ("03/05/2026 7:30 PM", datetime(2026, 3, 5, 19, 30)),
    ],
)
def test_date_formats_are_local_times_of_the_source(cell, expected):
    report, rows = parsed(f"date,import\n{cell},1\n")
    assert report.ok and rows, report.problems
    assert rows[0].timestamp == expected.replace(tzinfo=BERLIN).astimezone(UTC)


def test_an_offset_in_the_file_is_honoured():
    _, rows = parsed("date,import\n2026-03-05T07:30:00+05:00,1\n2026-03-05T07:30:00Z,2\n")
    assert rows[0].timestamp == datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
    assert rows[1].timestamp == datetime(2026, 3, 5, 7, 30, tzinfo=UTC)


def test_slashed_dates_take_the_order_the_whole_file_shows():
    # 13/02 can only be day/month: the whole file is read that way, and the user is told.
    report, rows = parsed("date,import\n01/02/2026,1\n13/02/2026,2\n")
    assert report.date_order == "dmy"
    assert [r.timestamp.astimezone(BERLIN).date().isoformat() for r in rows] == [
        "2026-02-01",
        "2026-02-13",
    ]
    assert any("day/month/year" in note for note in report.notes)

    report, rows = parsed("date,import\n01/02/2026,1\n02/13/2026,2\n")
    assert report.date_order == "mdy"
    assert rows[0].timestamp.astimezone(BERLIN).date().isoformat() == "2026-01-02"


def test_ambiguous_slashed_dates_are_month_first_and_the_user_can_choose():
    report, rows = parsed("date,import\n01/02/2026,1\n03/04/2026,2\n")
    assert report.date_order == "mdy"
    assert any("could be month/day or day/month" in note for note in report.notes)
    report, rows = parsed("date,import\n01/02/2026,1\n03/04/2026,2\n", date_order="dmy")
    assert rows[0].timestamp.astimezone(BERLIN).date().isoformat() == "2026-02-01"


@pytest.mark.parametrize(
    "header, target",
    [
        ("import", "import"),
        ("IMPORT", "import"),
        ("Import (kWh)", "import"),
        ("import [kWh]", "import"),
        ("import kWh", "import"),
        (" Export ", "export"),
        ("note", NOTE),
        ("Notes", NOTE),
        ("temperature", None),
    ],
)
def test_headers_match_metrics_case_insensitively(header, target):
    assert importer.match_column(header, METRICS) == target


def test_columns_in_any_order_with_a_note_and_an_ignored_column():
    report, rows = parsed(
        "when,Export (kWh),comment,extra,IMPORT\n2026-01-01 00:00,2,first one,x,100\n"
    )
    assert [c.target for c in report.columns] == ["export", NOTE, None, "import"]
    assert rows[0].values == {"export": 2.0, "import": 100.0}
    assert rows[0].note == "first one"
    assert any("“extra”" in note for note in report.notes)


def test_the_user_maps_columns_the_header_does_not_name():
    text = "Datum;Bezug;Einspeisung\n01.01.2026 00:00;100;2\n"
    report, _ = parsed(text)
    assert not report.ok
    assert "No column matches a metric" in report.errors[0]
    report, rows = parsed(text, mapping={1: "import", 2: "export"})
    assert report.ok
    assert rows[0].values == {"import": 100.0, "export": 2.0}


def test_a_file_without_header_takes_the_metrics_in_order():
    report, rows = parsed("2026-01-01 00:00,100,2\n2026-01-02 00:00,101,3\n")
    assert not report.has_header
    assert rows[1].values == {"import": 101.0, "export": 3.0}


def test_two_columns_for_one_metric_is_an_error():
    report, _ = parsed("date,import,Import (kWh)\n2026-01-01,1,2\n")
    assert report.errors and "both hold" in report.errors[0]


def test_empty_cells_leave_that_metric_out():
    _, rows = parsed("date,import,export\n2026-01-01,100,\n")
    assert rows[0].values == {"import": 100.0}


@pytest.mark.parametrize(
    "line, code, reason",
    [
        ("yesterday,1,2", "date", "“yesterday” is not a date."),
        ("31.02.2026,1,2", "date", "is not a valid date"),
        ("2026-03-29 02:30,1,2", "date", "does not exist in Europe/Berlin"),
        ("1850-01-01,1,2", "date", "outside the years"),
        ("2026-01-01,abc,2", "number", "“abc” (import) is not a number"),
        ("2026-01-01,1,inf", "number", "“inf” (export) is not a number"),
        ("2026-01-01,,", "empty", "no values"),
        ("2026-01-01,1,2,3,4", "columns", "has 5 fields"),
    ],
)
def test_problem_lines_name_their_line_number_and_reason(line, code, reason):
    report, rows = parsed(f"date,import,export\n2026-01-02,5,5\n{line}\n")
    assert len(rows) == 1
    [problem] = report.problems
    assert problem.line == 3
    assert problem.code == code
    assert reason in problem.reason


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ("date,import\n", "no data lines"),
    ],
)
def test_files_that_cannot_be_read(text, message):
    report, _ = parsed(text)
    assert message in report.errors[0]


def test_decode_accepts_utf8_with_bom_and_windows_1252():
    assert importer.decode("\ufeffdate,import\n".encode()) == "date,import\n"
    assert importer.decode("Zähler".encode("cp1252")) == "Zähler"
    with pytest.raises(ValidationFailed):
        importer.decode(b"\x00\x01\x02")


# ---- against the database --------------------------------------------------------------------


@pytest.fixture
def meter(make_source, user):
    return make_source(user, metrics=METRICS)


CSV = (
    "date,import (kWh),export (kWh),note\n"
    "2026-01-01 00:00,100,1,start\n"
    "2026-01-02 00:00,110,2,\n"
    "2026-01-03 00:00,120,3,\n"
)


def test_preview_writes_nothing(meter):
    report = importer.preview(meter, CSV)
    assert report.to_import == 3 and report.problems == []
    assert count(meter) == 0


def test_import_stores_all_rows_once_and_reimport_adds_nothing(meter, user):
    report = importer.import_csv(meter, user, CSV)
    assert report.created == 3
    stored = db.session.scalars(select(Reading).order_by(Reading.timestamp)).all()
    assert [r.values for r in stored] == [
        {"import": 100.0, "export": 1.0},
        {"import": 110.0, "export": 2.0},
        {"import": 120.0, "export": 3.0},
    ]
    assert stored[0].note == "start" and stored[1].note is None
    assert {r.created_by_id for r in stored} == {user.id}
    assert stored[0].timestamp == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)  # Berlin midnight

    again = importer.import_csv(meter, user, CSV)
    assert again.created == 0
    assert [p.code for p in again.problems] == ["duplicate"] * 3
    assert count(meter) == 3


def test_import_records_each_reading_in_the_change_feed(meter, user):
    importer.import_csv(meter, user, CSV)
    changes = db.session.scalars(
        select(SyncChange).where(SyncChange.kind == "reading").order_by(SyncChange.seq)
    ).all()
    assert len(changes) == 3
    assert {c.owner_id for c in changes} == {user.id}
    ids = {str(r.id) for r in db.session.scalars(select(Reading))}
    assert {c.object_id for c in changes} == ids


def test_duplicates_conflicts_and_repeats_are_reported(meter, user, make_reading):
    make_reading(
        meter, {"import": 110.0, "export": 2.0}, timestamp=datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    )
    make_reading(
        meter, {"import": 119.0, "export": 3.0}, timestamp=datetime(2026, 1, 2, 23, 0, tzinfo=UTC)
    )
    text = CSV + "2026-01-01 00:00,100,1,start\n2026-01-01 00:00,101,1,\n"
    report = importer.preview(meter, text)
    codes = {p.line: (p.code, p.reason) for p in report.problems}
    assert codes[3][0] == "duplicate"
    assert codes[4][0] == "conflict" and "import 119" in codes[4][1]
    assert codes[5] == ("duplicate", "Repeats line 2.")
    assert codes[6][0] == "conflict" and "Line 2" in codes[6][1]
    assert [row.line for row in report.rows] == [2]


def test_meter_values_lower_than_the_previous_are_skipped_or_confirmed(meter, user, make_reading):
    make_reading(
        meter, {"import": 105.0, "export": 0.0}, timestamp=datetime(2025, 12, 1, tzinfo=UTC)
    )
    text = (
        "date,import,export\n2026-01-01,100,1\n2026-01-02,110,2\n"
        "2026-01-03,90,3\n2026-01-04,115,4\n"
    )
    report = importer.preview(meter, text)
    lower = [(p.line, p.reason) for p in report.problems]
    assert lower == [
        (2, "Lower than the previous meter value (import 100 < 105)."),
        (4, "Lower than the previous meter value (import 90 < 110)."),
    ]
    assert [row.line for row in report.rows] == [3, 5]

    report = importer.import_csv(meter, user, text, ImportOptions(accept_lower=True))
    assert report.created == 4
    assert all(not p.skipped for p in report.problems)
    confirmed = db.session.scalars(select(Reading).where(Reading.confirmed)).all()
    assert sorted(r.values["import"] for r in confirmed) == [90.0, 100.0]


def test_a_meter_swap_resets_the_previous_value(meter, user):
    db.session.add(
        MeterEvent(
            data_source_id=meter.id,
            at=datetime(2026, 1, 2, 12, tzinfo=UTC),
            old_final={"import": 111},
            new_start={"import": 0},
        )
    )
    db.session.commit()
    text = "date,import\n2026-01-01,100\n2026-01-02,110\n2026-01-03,5\n"
    report = importer.preview(meter, text)
    assert report.problems == [] and report.to_import == 3


def test_a_swap_after_the_last_stored_reading_resets_the_previous_value(meter, user, make_reading):
    """The swap lies between the stored reading before the file and the file's first row."""
    make_reading(
        meter, {"import": 900.0, "export": 1.0}, timestamp=datetime(2025, 12, 1, tzinfo=UTC)
    )
    db.session.add(
        MeterEvent(
            data_source_id=meter.id,
            at=datetime(2025, 12, 20, tzinfo=UTC),
            old_final={"import": 950, "export": 2},
            new_start={"import": 0, "export": 0},
        )
    )
    db.session.commit()
    report = importer.preview(meter, "date,import,export\n2026-01-01,10,1\n2026-01-02,20,2\n")
    assert report.problems == [] and report.to_import == 2


def test_a_register_wrapping_round_is_no_drop(make_source, user, make_reading):
    """As usage counts it on: 99,990 -> 5 of a 100,000 register is a rollover, 99,990 ->
    40,000 is still a drop; a swap to a six-digit register changes the size."""
    gas = make_source(user, "Gas", metrics={"volume": "m³"}, rollover_at={"volume": 100000})
    make_reading(gas, {"volume": 99990.0}, timestamp=datetime(2025, 12, 1, tzinfo=UTC))
    report = importer.preview(
        gas, "date,volume\n2026-01-01,40000\n2026-01-02,5\n2026-01-03,99999\n2026-01-04,3\n"
    )
    assert [(p.line, p.code) for p in report.problems] == [(2, "lower")]  # 40000 < 99990
    assert [row.line for row in report.rows] == [3, 4, 5]

    db.session.add(
        MeterEvent(
            data_source_id=gas.id,
            at=datetime(2026, 2, 1, tzinfo=UTC),
            old_final={"volume": 10},
            new_start={"volume": 999990},
            rollover_at={"volume": 1000000},
        )
    )
    db.session.commit()
    report = importer.preview(gas, "date,volume\n2026-02-02,5\n")
    assert report.problems == []  # wraps the new six-digit register


def test_sensors_are_not_checked_for_drops(make_source, user):
    sensor = make_source(user, "Cellar", kind="sensor", metrics={"temperature": "°C"})
    report = importer.preview(sensor, "date,temperature\n2026-01-01,12\n2026-01-02,-3,5\n")
    assert report.problems[0].code == "columns"
    report = importer.preview(sensor, "date;temperature\n2026-01-01;12,5\n2026-01-02;-3,5\n")
    assert report.to_import == 2 and report.problems == []


def test_a_failed_import_stores_nothing(meter, user, monkeypatch):
    """All or nothing: an error in the middle of the insert leaves no reading behind."""
    text = "date,import\n" + "".join(f"2026-01-01 00:{m:02d},{m}\n" for m in range(60))
    real = changes.record

    def broken(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(changes, "record", broken)
    with pytest.raises(RuntimeError):
        importer.import_csv(meter, user, text)
    db.session.rollback()
    assert count(meter) == 0


def test_an_export_style_file_round_trips_notes_and_offsets(meter, user):
    text = (
        "timestamp,import (kWh),export (kWh),note\n"
        '2026-01-01T00:00:00+01:00,100,,"a, quoted note"\n'
    )
    report = importer.import_csv(meter, user, text)
    assert report.created == 1
    reading = db.session.scalar(select(Reading))
    assert reading.values == {"import": 100.0}
    assert reading.note == "a, quoted note"
    assert reading.timestamp == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


# ---- what a household's own files look like ---------------------------------------------------


def test_one_number_column_matches_a_one_metric_source_without_mapping():
    report, rows = parsed(
        "Datum;Zählerstand (m³);Bemerkung\n01.04.2026 07:31;123,45;neu\n02.04.2026 07:30;124;\n",
        {"water": "m³"},
    )
    assert report.ok, report.errors
    assert [c.target for c in report.columns] == ["water", None]
    assert [row.values for row in rows] == [{"water": 123.45}, {"water": 124.0}]
    assert "“Zählerstand (m³)” is read as “water”" in report.notes[0]


def test_two_number_columns_still_ask_which_is_which():
    report, _ = parsed("Datum;A;B\n01.04.2026;1;2\n", {"water": "m³"})
    assert not report.ok and "No column matches" in report.errors[0]


def test_the_decimal_comma_is_seen_before_the_columns_are_mapped():
    report, _ = parsed("Datum;Bezug;Einspeisung\n01.01.2026;100,5;1,25\n02.01.2026;101,5;2\n")
    assert not report.ok  # the columns still need mapping
    assert report.decimal == ","


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("01.04.26 07:31", datetime(2026, 4, 1, 7, 31)),
        ("1.4.26", datetime(2026, 4, 1)),
        ("31.12.99 23:00", datetime(1999, 12, 31, 23)),
        ("04/01/26 7:31 AM", datetime(2026, 4, 1, 7, 31)),
    ],
)
def test_two_digit_years_as_spreadsheets_write_them(cell, expected):
    report, rows = parsed(f"date,import\n{cell},1\n")
    assert rows, report.problems
    assert rows[0].timestamp == expected.replace(tzinfo=BERLIN).astimezone(UTC)
    assert any("Two-digit years" in note for note in report.notes)


@pytest.mark.parametrize(
    "cell, note",
    [
        ('\'=HYPERLINK("http://example.com","x")', '=HYPERLINK("http://example.com","x")'),
        ("'+49 30 1234", "+49 30 1234"),
        ("'-3 degrees outside", "-3 degrees outside"),
        ("'@home", "@home"),
        ("'\tindented", "\tindented"),
        ("'quoted on purpose", "'quoted on purpose"),
        ("''=typed with a quote", "'=typed with a quote"),
        ("it's fine", "it's fine"),
    ],
)
def test_a_quote_an_export_put_before_a_formula_is_taken_off(cell, note):
    _, rows = parsed(f'date,import,note\n2026-01-01,1,"{cell.replace(chr(34), 2 * chr(34))}"\n')
    assert rows[0].note == note


def test_reimporting_the_same_file_says_nothing_is_new(meter, user):
    importer.import_csv(meter, user, CSV)
    report = importer.preview(meter, CSV)
    assert report.nothing_new and report.already_stored == 3 and report.to_import == 0
    assert all(problem.stored for problem in report.problems)


def test_a_layout_mapped_by_hand_is_remembered_for_the_source(meter, make_source, user):
    text = "Datum;Bezug;Einspeisung\n01.01.2026;100;1\n"
    assert not importer.preview(meter, text).ok
    mapping = {1: "import", 2: "export"}
    importer.import_csv(meter, user, text, ImportOptions(mapping=mapping))

    later = "Datum;Bezug;Einspeisung\n02.01.2026;101;2\n"
    report = importer.preview(meter, later)
    assert report.ok and report.remembered, report.errors
    assert [c.target for c in report.columns] == ["import", "export"]
    assert report.rows[0].values == {"import": 101.0, "export": 2.0}
    # Only for this source, and only for the same headings.
    other = make_source(user, "Other", metrics=METRICS)
    assert not importer.preview(other, later).ok
    assert not importer.preview(meter, "Datum;Bezug;Lieferung\n02.01.2026;101;2\n").ok
    # A mapping sent with the request wins over the remembered one.
    swapped = importer.preview(meter, later, ImportOptions(mapping={1: "export", 2: "import"}))
    assert [c.target for c in swapped.columns] == ["export", "import"] and not swapped.remembered


def test_columns_the_headings_match_by_themselves_are_not_kept(meter, user):
    importer.import_csv(
        meter, user, CSV, ImportOptions(mapping={1: "import", 2: "export", 3: NOTE})
    )
    assert db.session.scalar(select(func.count()).select_from(ImportLayout)) == 0
    assert not importer.preview(meter, CSV).remembered
