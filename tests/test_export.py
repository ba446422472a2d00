"""Whole-account backup and restore: the round trip on one database and across PostgreSQL and
SQLite, refusals that leave nothing behind, and streaming."""

from __future__ import annotations

import codecs
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from homelog import backup, create_app
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import (
    DataSource,
    Home,
    HomeMember,
    MeterEvent,
    Reading,
    Tariff,
    User,
)
from tests.capped import MIB, run_capped
from tests.conftest import PASSWORD, app_config

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_account(owner: User, helper: User | None = None) -> None:
    """Give owner a home, a meter in it with prices, a swap and readings, and a sensor."""
    owner.timezone, owner.currency = "Europe/Vienna", "CHF"
    home = Home(owner_id=owner.id, name="Cottage", timezone="America/New_York")
    db.session.add(home)
    db.session.flush()
    meter = DataSource(
        owner_id=owner.id,
        name="Power",
        kind="meter",
        location_id=home.id,
        description="Main meter, “cellar”",
        rollover_at={"import": 100000.0},
        cycle_day=15,
        monthly_advance=Decimal("42.50"),
        billing_year_start=date(2025, 7, 1),
        max_gap_hours=72,
    )
    meter.metrics = {"import": "kWh", "export": "kWh"}
    sensor = DataSource(owner_id=owner.id, name="Cellar", kind="sensor")
    sensor.metrics = {"temperature": "°C", "humidity": "%"}
    meter.reminder_every, meter.reminder_day = "month", 31
    db.session.add_all([meter, sensor])
    db.session.flush()
    if helper is not None:
        db.session.add(HomeMember(location_id=home.id, user_id=helper.id, role="editor"))
    db.session.add_all(
        [
            Tariff(
                data_source_id=meter.id,
                metric="import",
                effective_from=date(2025, 1, 1),
                unit_price=Decimal("0.312500"),
                standing_charge=Decimal("0.45"),
            ),
            Tariff(
                data_source_id=meter.id,
                metric="export",
                effective_from=date(2025, 6, 1),
                unit_price=Decimal("-0.08"),
            ),
            MeterEvent(
                data_source_id=meter.id,
                at=T0 + timedelta(days=5),
                old_final={"import": 140.0},
                new_start={"import": 0.0},
                rollover_at={"import": 1000000.0},
                note="new meter",
                created_by_id=owner.id,
            ),
        ]
    )
    for day in range(10):
        db.session.add(
            Reading(
                data_source_id=meter.id,
                timestamp=T0 + timedelta(days=day, hours=7),
                values={
                    "import": (100.0 + day * 7.25) if day < 5 else day * 1.5,
                    "export": day / 3,
                },
                note=f"day {day}" if day % 3 == 0 else None,
                confirmed=day == 5,
                created_by_id=(helper.id if helper and day % 2 else owner.id),
            )
        )
        db.session.add(
            Reading(
                data_source_id=sensor.id,
                timestamp=T0 + timedelta(hours=day),
                values={"temperature": 12.5 - day, "humidity": 60.0 + day},
                created_by_id=owner.id,
            )
        )
    db.session.commit()


def snapshot(user_id: int, with_ids: bool = False) -> dict:
    """Return everything of an account in a comparable form (ids left out)."""
    user = db.session.get(User, user_id)
    homes = {
        loc.id: (loc.name, loc.timezone)
        for loc in db.session.scalars(select(Home).where(Home.owner_id == user_id))
    }
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    sources = {}
    for source in db.session.scalars(select(DataSource).where(DataSource.owner_id == user_id)):
        readings = db.session.scalars(
            select(Reading).where(Reading.data_source_id == source.id).order_by(Reading.timestamp)
        ).all()
        sources[source.name] = {
            "fields": (
                source.description,
                source.kind,
                source.metric_list,
                source.rollover_at,
                source.cycle_day,
                source.monthly_advance,
                source.billing_year_start,
                source.max_gap_hours,
                homes.get(source.location_id),
                source.reminder_every,
                source.reminder_day,
            ),
            "tariffs": sorted(
                (t.metric, t.effective_from, t.unit_price, t.standing_charge)
                for t in db.session.scalars(
                    select(Tariff).where(Tariff.data_source_id == source.id)
                )
            ),
            "swaps": [
                (
                    e.at,
                    e.old_final,
                    e.new_start,
                    e.rollover_at,
                    e.note,
                    emails.get(e.created_by_id) == user.email,
                )
                for e in db.session.scalars(
                    select(MeterEvent).where(MeterEvent.data_source_id == source.id)
                )
            ],
            "readings": [
                (
                    r.timestamp,
                    r.values,
                    r.note,
                    r.confirmed,
                    "owner" if r.created_by_id == user_id else emails.get(r.created_by_id),
                    r.created_at,
                    *((str(r.id),) if with_ids else ()),
                )
                for r in readings
            ],
        }
    members = sorted(
        (homes[m.location_id], emails[m.user_id], m.role)
        for m in db.session.scalars(
            select(HomeMember).where(HomeMember.location_id.in_(list(homes)))
        )
    )
    return {
        "account": (user.timezone, user.currency),
        "homes": sorted(homes.values()),
        "members": members,
        "sources": sources,
    }


def as_restored(original: dict) -> dict:
    """Return what a restore of an account snapshot gives: the restoring account recorded
    every reading and swap, and no member is added."""
    sources = {
        name: {
            **source,
            "swaps": [(*swap[:5], True) for swap in source["swaps"]],
            "readings": [(*r[:4], "owner", *r[5:]) for r in source["readings"]],
        }
        for name, source in original["sources"].items()
    }
    return {**original, "members": [], "sources": sources}


def backup_text(user: User) -> str:
    return "".join(backup.iter_backup(user))


def test_backup_is_one_json_document_with_everything(app, user, make_user):
    helper = make_user("helper@example.com")
    build_account(user, helper)
    document = json.loads(backup_text(user))
    assert document["format"] == "homelog-backup" and document["version"] == 1
    assert document["account"]["currency"] == "CHF"
    assert [loc["name"] for loc in document["locations"]] == ["Cottage"]
    assert {s["name"] for s in document["sources"]} == {"Power", "Cellar"}
    power = next(s for s in document["sources"] if s["name"] == "Power")
    assert power["monthly_advance"] == "42.50" and len(power["tariffs"]) == 2
    assert power["swaps"][0]["note"] == "new meter"
    assert power["reminder"] == {"every": "month", "day": 31}
    assert document["locations"][0]["members"] == [{"email": helper.email, "role": "editor"}]
    assert len(document["readings"]) == 20
    assert {r["created_by"] for r in document["readings"]} == {user.email, helper.email}


def test_the_page_downloads_and_restores_into_a_new_account(client, auth, user, make_user):
    helper = make_user("helper@example.com")
    build_account(user, helper)
    auth.login()
    assert "/account/backup.json" in client.get("/account").get_data(as_text=True)
    response = client.get("/account/backup.json", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "homelog-backup-" in response.headers["Content-Disposition"]
    data = response.get_data()
    auth.logout()

    make_user("copy@example.com", timezone="UTC")
    copy_id = db.session.scalar(select(User.id).where(User.email == "copy@example.com"))
    auth.login("copy@example.com")
    assert client.get("/account/restore").status_code == 200
    restored = client.post(
        "/account/restore",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), "backup.json"), "confirm": "y"},
    )
    assert restored.status_code == 302, restored.get_data(as_text=True)
    flashed = client.get("/").get_data(as_text=True)
    assert "Restored 2 sources with 20 readings, 1 home, 2 prices and 1 meter swap." in flashed
    assert "1 home member was in the backup and not added" in flashed

    original, copy = snapshot(user.id), snapshot(copy_id)
    assert copy == as_restored(original)
    # Same server: the readings could not keep their ids, so they got new ones.
    assert not (
        {r[-1] for s in snapshot(user.id, True)["sources"].values() for r in s["readings"]}
        & {r[-1] for s in snapshot(copy_id, True)["sources"].values() for r in s["readings"]}
    )


def test_restore_refuses_an_account_that_is_not_empty(client, auth, user, make_source):
    build_account(user)
    text = backup_text(user)
    with pytest.raises(ValidationFailed) as caught:
        backup.restore(user, io.StringIO(text))
    assert "empty account" in caught.value.errors["file"][0]
    auth.login()
    page = client.get("/account/restore").get_data(as_text=True)
    assert "already has homes or sources" in page


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda t: t.replace('"format":"homelog-backup"', '"format":"other"'), "not a homelog"),
        (lambda t: t.replace('"version":1', '"version":7'), "version 7"),
        (
            lambda t: t.rstrip()[:-3] + ',\n{"id":"x","source":999,"values":{}}\n]}\n',
            "its source is not in the backup",
        ),
        (lambda t: t.replace('"temperature":12.5', '"temperature":"warm"'), "Enter a number"),
        (lambda t: t.replace('"humidity":60.0', '"pressure":60.0'), "Not a metric of this source"),
        (lambda t: "nonsense", "JSON expected"),
    ],
)
def test_an_invalid_backup_restores_nothing(app, user, make_user, breakage, message):
    build_account(user)
    text = breakage(backup_text(user))
    empty = make_user("empty@example.com")
    with pytest.raises(ValidationFailed) as caught:
        backup.restore(empty, io.StringIO(text))
    assert message in caught.value.errors["file"][0]
    assert backup.is_empty(empty)
    assert (
        db.session.scalar(select(Reading).join(DataSource).where(DataSource.owner_id == empty.id))
        is None
    )


def test_a_reformatted_backup_is_read_too(app, user, make_user):
    build_account(user)
    pretty = json.dumps(json.loads(backup_text(user)), indent=2)
    empty = make_user("empty@example.com")
    counts = backup.restore(empty, io.StringIO(pretty))
    assert counts["readings"] == 20
    assert snapshot(empty.id) == as_restored(snapshot(user.id))


def test_backup_streams_readings_in_chunks(app, user, make_source, monkeypatch):
    monkeypatch.setattr(backup.writing, "CHUNK", 3)
    source = make_source(user)
    for n in range(10):
        db.session.add(
            Reading(
                data_source_id=source.id,
                timestamp=T0 + timedelta(hours=n),
                values={"import": float(n)},
            )
        )
    db.session.commit()
    chunks = list(backup.iter_backup(user))
    assert len(chunks) >= 4
    assert len(json.loads("".join(chunks))["readings"]) == 10


def test_round_trip_between_this_database_and_another_backend(app, user, make_user, tmp_path):
    """Backup here (PostgreSQL in CI) and restore on a SQLite app, and the other way round."""
    helper = make_user("helper@example.com")
    build_account(user, helper)
    here = as_restored(snapshot(user.id, with_ids=True))
    text = backup_text(user)

    other = create_app(app_config(f"sqlite:///{tmp_path / 'other.db'}"))
    with other.app_context():
        upgrade()
        db.session.add(User(email="helper@example.com", password_hash="x"))
        twin = User(email="twin@example.com", password_hash="x")
        db.session.add(twin)
        db.session.commit()
        backup.restore(twin, io.StringIO(text))
        there = snapshot(twin.id, with_ids=True)
        # Back again from the other backend.
        returned = backup_text(twin)
        db.session.remove()
        db.engine.dispose()
    assert there == here  # reading ids too: they were free on the other server

    fresh = make_user("fresh@example.com")
    backup.restore(fresh, io.StringIO(returned))
    assert snapshot(fresh.id) == as_restored(snapshot(user.id))


# ---- A restore trusts nothing and stays within its limits -----------------------------------


def restore_page(client, data: bytes):
    """Post data as a backup file through the restore page."""
    return client.post(
        "/account/restore",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), "backup.json"), "confirm": "y"},
    )


def test_a_restore_records_everything_as_the_restoring_account(app, user, make_user):
    """A file may name anyone as a recorder or member: none of it reaches another account."""
    helper = make_user("helper@example.com", name="Helper")
    build_account(user, helper)
    document = json.loads(backup_text(user))
    for reading in document["readings"]:
        reading["created_by"] = helper.email
    document["locations"][0]["members"].append({"email": "stranger@example.com", "role": "viewer"})
    document["account"]["email"] = helper.email
    document["account"]["name"] = "Renamed"
    empty = make_user("empty@example.com", name="Emma")
    counts = backup.restore(empty, io.StringIO(json.dumps(document)))
    assert counts["members_skipped"] == 2
    restored = db.session.scalars(
        select(Reading.created_by_id).join(DataSource).where(DataSource.owner_id == empty.id)
    ).all()
    assert len(restored) == 20 and set(restored) == {empty.id}
    swaps = db.session.scalars(
        select(MeterEvent.created_by_id).join(DataSource).where(DataSource.owner_id == empty.id)
    ).all()
    assert swaps == [empty.id]
    assert db.session.scalar(select(func.count()).select_from(HomeMember)) == 1  # the original
    assert (db.session.get(User, helper.id).name, db.session.get(User, empty.id).name) == (
        "Helper",
        "Emma",
    )


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: d["sources"][0].update(name="Power\u202e"), "letters, digits and punctuation"),
        (lambda d: d["locations"][0].update(name="Cottage\u0007"), "letters, digits and punct"),
        (lambda d: d["sources"][0]["metrics"][0].__setitem__(0, "im\u0000port"), "NUL"),
        (lambda d: d["readings"][0].update(note="a\u0000b"), "NUL"),
        (lambda d: d["locations"][0].update(timezone="Mars/Base"), "Choose a timezone"),
        (lambda d: d["sources"][0].update(max_gap_hours=10**9), "from 1 to 8784"),
        (lambda d: d["sources"][0].update(billing_year_start="0001-01-01"), "1900 and 2999"),
        (lambda d: d["sources"][0].update(monthly_advance="1e30"), "from 0 to 9999999999.99"),
        (lambda d: d["sources"][0]["tariffs"][0].update(unit_price="1e30"), "a price"),
        (lambda d: d["readings"][0].update(timestamp="0001-01-01T00:00:00+14:00"), "1900"),
        (lambda d: d["readings"][0]["values"].update(export=1e16), "too large"),
        (lambda d: d["readings"][1].update(id=d["readings"][0]["id"]), "appears twice"),
        (lambda d: d["sources"][0]["swaps"][0].update(note="x" * 501), "500 characters"),
        (
            lambda d: d["sources"][0]["tariffs"].append(dict(d["sources"][0]["tariffs"][0])),
            "two prices",
        ),
    ],
)
def test_restored_values_pass_the_checks_of_typed_in_ones(app, user, make_user, breakage, message):
    build_account(user)
    document = json.loads(backup_text(user))
    breakage(document)
    empty = make_user("empty@example.com")
    with pytest.raises(ValidationFailed) as caught:
        backup.restore(empty, io.StringIO(json.dumps(document)))
    assert message in caught.value.errors["file"][0]
    assert backup.is_empty(empty)


def test_a_home_name_typed_in_refuses_control_characters_as_a_restored_one(logged_in):
    response = logged_in.post("/homes/new", data={"name": "Cabin\u202e", "timezone": "UTC"})
    assert response.status_code == 422
    assert "Use letters, digits and punctuation only." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Home)) == 0


def test_any_layout_restores_when_the_readings_come_last(app, user, make_user):
    build_account(user)
    document = json.loads(backup_text(user))
    one_line = json.dumps(document, separators=(",", ":")).encode()
    empty = make_user("empty@example.com")
    assert backup.restore(empty, io.BytesIO(codecs.BOM_UTF8 + one_line))["readings"] == 20

    readings_first = {"readings": document.pop("readings"), **document}
    other = make_user("other@example.com")
    with pytest.raises(ValidationFailed) as caught:
        backup.restore(other, io.StringIO(json.dumps(readings_first)))
    assert "must come before the readings" in caught.value.errors["file"][0]


EMPTY_HEAD = '{"format":"homelog-backup","version":1,"account":{},"locations":[],"sources":[],'


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"format":"homelog-backup","version":1,"x":' + "[" * 2000, "more than 8 deep"),
        ('{"format":"\\u0000","x":' + "[" * 2000, "NUL"),
        (
            '{"format":"homelog-backup","version":1,"sources":[' + "{}," * 200_000 + "{}]}",
            "holds more than this",
        ),
        ('{"format":"homelog-backup","version":1,"name":"' + "x" * 3_000_000 + '"}', "longer"),
        (EMPTY_HEAD + '"readings":[{"a":[' + "1," * 500 + "1]}]}", "Reading 1 holds more"),
        ("\xff\xfe{}", "JSON expected"),
        ('{"format":"homelog-backup","version":1}{"more":1}', "JSON expected"),
    ],
)
def test_a_hostile_file_gets_a_clear_refusal_on_the_page(logged_in, body, message):
    response = restore_page(logged_in, body.encode("utf-8", "surrogateescape"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "Restore a backup" in page


RESTORE_CHILD = """
URL, EMAIL, PASSWORD, COUNT = {args!r}

def setup():
    from homelog import create_app
    from tests.conftest import CSRFClient, app_config

    app = create_app(app_config(URL))
    app.test_client_class = CSRFClient
    client = app.test_client()
    assert client.post("/login", data={{"email": EMAIL, "password": PASSWORD}}).status_code == 302
    assert client.get("/account/restore").status_code == 200
    bomb = b'{{"format":"homelog-backup","version":1,"locations":[' + b"{{}}," * COUNT + b"{{}}]}}"
    boundary = "capped-boundary"
    body = b"".join(
        [
            f"--{{boundary}}\\r\\n".encode(),
            b'Content-Disposition: form-data; name="confirm"\\r\\n\\r\\ny\\r\\n',
            f"--{{boundary}}\\r\\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="bomb.json"\\r\\n',
            b"Content-Type: application/json\\r\\n\\r\\n",
            bomb,
            f"\\r\\n--{{boundary}}--\\r\\n".encode(),
        ]
    )
    return client, body, boundary

def measured(state):
    client, body, boundary = state
    response = client.post(
        "/account/restore",
        data=body,
        content_type=f"multipart/form-data; boundary={{boundary}}",
    )
    return {{"status": response.status_code, "page": response.get_data(as_text=True)}}
"""


def test_a_restore_bomb_is_refused_within_bounded_memory(database_url, user):
    """Three million empty objects (9 MB) once took +154 MB; now a refusal within 64 MB."""
    script = RESTORE_CHILD.format(args=(database_url, user.email, PASSWORD, 3_000_000))
    outcome = run_capped(script, timeout=120)
    result = outcome.get("result") or {}
    assert result.get("status") == 422, outcome
    assert "holds more than this server restores" in result["page"]
    assert outcome["growth"] < 64 * MIB, outcome["growth"]
