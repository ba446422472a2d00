"""Domain rules of sources and readings, called directly (no requests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from homelog import datasources, reading_pages, readings
from homelog.errors import Conflict, ValidationFailed
from homelog.extensions import db
from homelog.models import Reading
from tests.conftest import hour


def errors_of(call, *args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        call(*args, **kwargs)
    db.session.rollback()
    return info.value.errors


# ---- sources --------------------------------------------------------------------------------


def test_create_source_cleans_and_keeps_metric_order(user):
    source = datasources.create_source(
        user, "  Power  ", "Main meter", "meter", [(" import ", "kWh"), ("export", " kWh")]
    )
    assert source.name == "Power"
    assert source.metric_list == [["import", "kWh"], ["export", "kWh"]]
    assert list(source.metrics) == ["import", "export"]
    assert datasources.get_source_for(user, source.id) is source


@pytest.mark.parametrize(
    ("kwargs", "key", "message"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"name": "x" * 101}, "name", "Use at most 100 characters."),
        ({"name": "a\x00b"}, "name", "Use letters, digits and punctuation only."),
        ({"description": "x" * 2001}, "description", "Use at most 2000 characters."),
        ({"kind": "gauge"}, "kind", "Choose meter or sensor."),
        ({"metrics": []}, "metrics", "Add at least one metric."),
        ({"metrics": [(f"m{i}", "") for i in range(21)]}, "metrics", "Use at most 20 metrics."),
        ({"metrics": [("", "kWh")]}, "metrics.0.name", "Enter a metric name."),
        ({"metrics": [("x" * 41, "kWh")]}, "metrics.0.name", "Use at most 40 characters."),
        ({"metrics": [("a", "x" * 21)]}, "metrics.0.unit", "Use at most 20 characters."),
        (
            {"metrics": [("Import", "kWh"), ("import", "Wh")]},
            "metrics.1.name",
            "“import” is already a metric of this source.",
        ),
        ({"metrics": "nonsense"}, "metrics", "Give each metric as a name and a unit (text)."),
    ],
)
def test_create_source_validation(user, kwargs, key, message):
    args = {"name": "Power", "description": "", "kind": "meter", "metrics": [("import", "kWh")]}
    args.update(kwargs)
    errors = errors_of(datasources.create_source, user, **args)
    assert message in errors[key]


def test_other_users_source_is_invisible(user, make_user, make_source):
    other = make_user()
    theirs = make_source(other)
    assert datasources.get_source_for(user, theirs.id) is None
    assert datasources.get_source_for(user, str(theirs.id)) is None
    assert datasources.get_source_for(other, str(theirs.id)) is theirs
    for junk in ("abc", None, "1.5", -1, 2**80, "", "1 OR 1=1"):
        assert datasources.get_source_for(other, junk) is None
    assert db.session.scalars(datasources.visible_sources(user)).all() == []


def test_rename_metric_moves_values(user, make_source, make_reading):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    make_reading(source, {"import": 1.0, "export": 2.0}, timestamp=hour(1))
    make_reading(source, {"import": 3.0, "export": 4.0}, timestamp=hour(2))
    datasources.update_source(
        source, metrics=[("export", "kWh"), ("consumed", "kWh")], renames={"import": "consumed"}
    )
    db.session.expire_all()
    assert source.metric_names == ["export", "consumed"]
    values = sorted(r.values["consumed"] for r in db.session.scalars(db.select(Reading)))
    assert values == [1.0, 3.0]
    assert all("import" not in r.values for r in db.session.scalars(db.select(Reading)))


def test_swap_metric_names(user, make_source, make_reading):
    source = make_source(user, metrics={"a": "kWh", "b": "kWh"})
    make_reading(source, {"a": 1.0, "b": 2.0})
    datasources.update_source(
        source, metrics=[("b", "kWh"), ("a", "kWh")], renames={"a": "b", "b": "a"}
    )
    db.session.expire_all()
    assert db.session.scalar(db.select(Reading)).values == {"b": 1.0, "a": 2.0}


def test_removing_metric_with_readings_asks_first(user, make_source, make_reading):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    make_reading(source, {"import": 1.0, "export": 2.0}, timestamp=hour(1))
    make_reading(source, {"import": 3.0, "export": 4.0}, timestamp=hour(2))
    errors = errors_of(datasources.update_source, source, metrics=[("import", "kWh")])
    assert "2 readings have a value for “export”." in errors["metrics"]
    db.session.expire_all()
    assert source.metric_names == ["import", "export"]
    datasources.update_source(source, metrics=[("import", "kWh")], confirm_remove=True)
    db.session.expire_all()
    assert source.metric_names == ["import"]
    ordered = db.select(Reading).order_by(Reading.timestamp)
    assert [r.values for r in db.session.scalars(ordered)] == [{"import": 1.0}, {"import": 3.0}]


def test_removing_metric_without_readings_needs_no_confirmation(user, make_source):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    datasources.update_source(source, metrics=[("import", "kWh")])
    assert source.metric_names == ["import"]


def test_update_source_keeps_fields_not_given(user, make_source):
    source = make_source(user, "Gas", description="Cellar", metrics={"volume": "m³"})
    datasources.update_source(source, name="Gas meter")
    assert (source.name, source.description, source.kind) == ("Gas meter", "Cellar", "meter")
    assert errors_of(datasources.update_source, source, name="")["name"] == ["Enter a name."]


def test_delete_source_removes_readings(user, make_source, make_reading):
    source = make_source(user)
    make_reading(source, timestamp=hour(1))
    make_reading(source, timestamp=hour(2))
    assert datasources.reading_count(source) == 2
    assert datasources.delete_source(source) == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 0


def test_latest_readings(user, make_source, make_reading):
    a, b, c = make_source(user, "A"), make_source(user, "B"), make_source(user, "C")
    make_reading(a, {"import": 1.0}, timestamp=hour(1))
    newest = make_reading(a, {"import": 2.0}, timestamp=hour(3))
    make_reading(b, {"import": 5.0}, timestamp=hour(2))
    latest = datasources.latest_readings([a, b, c])
    assert latest[a.id].id == newest.id and latest[b.id].values == {"import": 5.0}
    assert c.id not in latest


# ---- readings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234,5", 1234.5),
        ("1234.5", 1234.5),
        (" 1 234,5 ", 1234.5),
        ("-3", -3.0),
        (7, 7.0),
        (2.5, 2.5),
    ],
)
def test_clean_value_accepts(text, expected):
    assert readings.clean_value(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter a number."),
        ("abc", "Enter a number, like 1234.5."),
        ("nan", "Enter a finite number."),
        ("inf", "Enter a finite number."),
        ("-Infinity", "Enter a finite number."),
        (float("nan"), "Enter a finite number."),
        ("1" * 31, "That number is too long."),
        ("1e300", "That number is too large."),
        (10**400, "That number is too large."),
        (True, "Enter a number."),
        ("1,2.3", "Use one decimal separator, like 1234.5 or 1234,5."),
        (None, "Enter a number."),
    ],
)
def test_clean_value_rejects(value, message):
    with pytest.raises(ValueError) as info:
        readings.clean_value(value)
    assert str(info.value) == message


def test_create_reading_requires_every_metric_and_known_keys(user, make_source):
    source = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    errors = errors_of(readings.create_reading, source, user, hour(1), {"import": "1"})
    assert errors == {"values.export": ["Enter a number."]}
    errors = errors_of(
        readings.create_reading, source, user, hour(1), {"import": 1, "export": 2, "gas": 3}
    )
    assert "Not a metric of this source" in errors["values"][0]
    reading = readings.create_reading(source, user, hour(1), {"import": "1,5"}, require_all=False)
    assert reading.values == {"import": 1.5}


def test_create_reading_validation_collects_all_errors(user, make_source):
    source = make_source(user)
    errors = errors_of(
        readings.create_reading,
        source,
        user,
        datetime(2026, 1, 1),
        {"import": "x"},
        "n" * 501,
        reading_id="not-a-uuid",
    )
    assert set(errors) == {"timestamp", "values.import", "note", "id"}


def test_create_reading_with_client_id_is_idempotent(user, make_source):
    source = make_source(user)
    rid = uuid.uuid4()
    first = readings.create_reading(source, user, hour(1), {"import": 1}, "n", reading_id=rid)
    again = readings.create_reading(
        source, user, hour(1), {"import": 1.0}, "n", reading_id=str(rid)
    )
    assert again.id == first.id == rid
    with pytest.raises(Conflict):
        readings.create_reading(source, user, hour(1), {"import": 2}, "n", reading_id=rid)
    assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 1


def test_timestamps_are_stored_in_utc(user, make_source):
    source = make_source(user)
    berlin = timezone(timedelta(hours=1))
    reading = readings.create_reading(
        source, user, datetime(2026, 1, 1, 12, tzinfo=berlin), {"import": 1}
    )
    db.session.expire_all()
    assert reading.timestamp == datetime(2026, 1, 1, 11, tzinfo=UTC)


def test_update_and_delete_with_undo(user, make_source, make_reading):
    source = make_source(user)
    reading = make_reading(source, {"import": 1.0}, timestamp=hour(1), note="first")
    readings.update_reading(reading, values={"import": "2,5"}, note=None)
    db.session.expire_all()
    assert reading.values == {"import": 2.5} and reading.note is None
    rid = reading.id
    saved = readings.delete_reading(reading)
    assert readings.get_reading(source, rid) is None
    restored = readings.restore_reading(source, saved)
    assert restored.id == rid and restored.values == {"import": 2.5}
    assert restored.timestamp == hour(1)


def test_restore_rejects_snapshot_of_other_source(user, make_source, make_reading):
    a, b = make_source(user, "A"), make_source(user, "B")
    saved = readings.delete_reading(make_reading(a))
    assert "id" in errors_of(readings.restore_reading, b, saved)


def test_get_reading_is_scoped_to_source(user, make_source, make_reading):
    a, b = make_source(user, "A"), make_source(user, "B")
    reading = make_reading(a)
    assert readings.get_reading(a, str(reading.id)).id == reading.id
    assert readings.get_reading(b, reading.id) is None
    assert readings.get_reading(a, "junk") is None


def test_keyset_paging_visits_every_reading_once(user, make_source, make_reading):
    source = make_source(user)
    made = []
    for i in range(60):
        # Groups of three share a timestamp: the id breaks the tie.
        made.append(make_reading(source, {"import": float(i)}, timestamp=hour(i // 3)).id)
    seen, cursor, pages = [], None, 0
    while True:
        page = reading_pages.page_of_readings(source, before=cursor, limit=7)
        seen.extend(r.id for r in page.readings)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 9
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) == 60
    stamps = [db.session.get(Reading, i).timestamp for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_page_exactly_full_has_no_next(user, make_source, make_reading):
    source = make_source(user)
    for i in range(5):
        make_reading(source, timestamp=hour(i))
    page = reading_pages.page_of_readings(source, limit=5)
    assert len(page.readings) == 5 and page.next_cursor is None and page.older is None


@pytest.mark.parametrize("cursor", ["garbage", "Zm9vfGJhcg", "x" * 300])
def test_bad_cursor(user, make_source, cursor):
    source = make_source(user)
    assert "cursor" in errors_of(reading_pages.page_of_readings, source, before=cursor)


def test_lower_than_previous_for_meters(user, make_source, make_reading):
    meter = make_source(user, metrics={"import": "kWh", "export": "kWh"})
    first = make_reading(meter, {"import": 100.0, "export": 5.0}, timestamp=hour(1))
    make_reading(meter, {"import": 200.0, "export": 6.0}, timestamp=hour(5))
    assert readings.lower_than_previous(meter, hour(3), {"import": 90.0, "export": 5.0}) == {
        "import": 100.0
    }
    assert readings.lower_than_previous(meter, hour(6), {"import": 150.0, "export": 7.0}) == {
        "import": 200.0
    }
    assert readings.lower_than_previous(meter, hour(0), {"import": 1.0, "export": 1.0}) == {}
    # Editing a reading: it is not compared with itself.
    assert readings.lower_than_previous(meter, hour(1), {"import": 1.0}, first.id) == {}
    sensor = make_source(user, "Temp", kind="sensor", metrics={"t": "°C"})
    make_reading(sensor, {"t": 20.0}, timestamp=hour(1))
    assert readings.lower_than_previous(sensor, hour(2), {"t": 10.0}) == {}


def test_lower_flags_on_a_page(user, make_source, make_reading):
    meter = make_source(user)
    make_reading(meter, {"import": 10.0}, timestamp=hour(1))
    drop = make_reading(meter, {"import": 5.0}, timestamp=hour(2))
    make_reading(meter, {"import": 6.0}, timestamp=hour(3))
    page = reading_pages.page_of_readings(meter, limit=2)
    assert reading_pages.lower_flags(meter, page) == {drop.id: {"import": 10.0}}
