"""Every way a reading is written records it the same way (docs/architecture.md, "How a
reading is written").

One test, run over each write path: the pages (add, edit, delete, undo), the JSON API
(create, PUT, PATCH, DELETE), a sync batch, a CSV import, a restore and, on PostgreSQL, the
fast path. Each write must move all four things that follow a reading:

1. the change feed: the reading's row in sync_changes (a tombstone for a deletion),
   numbered from its source's owner's counter;
2. the owner's change counter;
3. the breaks (PostgreSQL; SQLite keeps none, its usage reads every reading): brought up to
   date, they are those of the source's readings as they are now;
4. the remembered reading count: it is counted again, so a reading slipped in by hand in
   SQL before the write (which the app cannot see) shows after it.

The meter starts with 100 at hour 10, 300 at hour 20 and 200 at hour 30 (a break at hour
30); every write changes where the breaks are.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from homelog import backup, datasources, pgdirect, tokens
from homelog.extensions import db
from homelog.models import DataSource, Reading, SyncChange, SyncCounter, User
from homelog.usage_db import stream as usage_stream
from tests.conftest import BERLIN, PASSWORD, hour

HX = {"HX-Request": "true"}


@dataclass
class Scene:
    app: object
    client: object
    owner: User
    source: DataSource
    early: uuid.UUID  # the reading of 100 at hour 10
    middle: uuid.UUID  # the reading of 300 at hour 20
    bearer: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    undo: str | None = None  # form_undo: the undo of a deletion made before the write
    restorer: User | None = None  # restore: the empty account restored into


@dataclass
class Written:
    """What a write path wrote: the source (and so its owner) and each reading it touched."""

    source: DataSource
    readings: list[tuple[uuid.UUID, bool]]  # (id, deleted)


def _local(instant) -> str:
    return instant.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def _reading_at(source: DataSource, instant) -> uuid.UUID:
    return db.session.scalar(
        sa.select(Reading.id).where(
            Reading.data_source_id == source.id, Reading.timestamp == instant
        )
    )


def _form(prefix: str, instant, value: str) -> dict[str, str]:
    return {
        f"{prefix}-timestamp": _local(instant),
        f"{prefix}-note": "",
        f"{prefix}-value_0": value,
    }


# ---- The write paths ------------------------------------------------------------------------


def form_add(scene: Scene) -> Written:
    data = _form(f"s{scene.source.id}", hour(15), "350")
    response = scene.client.post(f"/sources/{scene.source.id}/readings", data=data, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Written(scene.source, [(_reading_at(scene.source, hour(15)), False)])


def form_edit(scene: Scene) -> Written:
    data = _form(f"r{scene.early.hex}", hour(10), "350")
    url = f"/sources/{scene.source.id}/readings/{scene.early}/edit"
    response = scene.client.post(url, data=data, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Written(scene.source, [(scene.early, False)])


def form_delete(scene: Scene) -> Written:
    url = f"/sources/{scene.source.id}/readings/{scene.middle}/delete"
    assert scene.client.post(url, headers=HX).status_code == 200
    return Written(scene.source, [(scene.middle, True)])


def _deleted_with_undo(scene: Scene) -> str:
    """Delete the middle reading through the page (before the write) and return its undo."""
    url = f"/sources/{scene.source.id}/readings/{scene.middle}/delete"
    text = scene.client.post(url, headers=HX).get_data(as_text=True)
    return re.search(r'name="token" value="([^"]+)"', text).group(1)


def form_undo(scene: Scene) -> Written:
    url = f"/sources/{scene.source.id}/readings/restore"
    response = scene.client.post(url, data={"token": scene.undo}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Written(scene.source, [(scene.middle, False)])


def api_create(scene: Scene) -> Written:
    # The ORM path: with the fast path off, PostgreSQL takes it too.
    scene.monkeypatch.setitem(scene.app.config, "API_HOT_PATH", False)
    body = {"timestamp": hour(15).isoformat(), "values": {"import": 350}}
    url = f"/api/sources/{scene.source.id}/readings"
    response = scene.client.post(url, json=body, headers=scene.bearer)
    assert response.status_code == 201, response.get_json()
    return Written(scene.source, [(uuid.UUID(response.get_json()["id"]), False)])


def fast_path(scene: Scene) -> Written:
    stored = []
    insert = pgdirect.insert_reading

    def watched(*args, **kwargs):
        stored.append(insert(*args, **kwargs))
        return stored[-1]

    scene.monkeypatch.setattr(pgdirect, "insert_reading", watched)
    body = {"timestamp": hour(15).isoformat(), "values": {"import": 350}}
    url = f"/api/sources/{scene.source.id}/readings"
    response = scene.client.post(url, json=body, headers=scene.bearer)
    assert response.status_code == 201, response.get_json()
    assert stored and stored[0] is not None  # stored by the fast path's one statement
    return Written(scene.source, [(uuid.UUID(response.get_json()["id"]), False)])


def _api_change(scene: Scene, method: str, body: dict) -> Written:
    url = f"/api/sources/{scene.source.id}/readings/{scene.early}"
    response = scene.client.open(url, method=method, json=body, headers=scene.bearer)
    assert response.status_code == 200, response.get_json()
    return Written(scene.source, [(scene.early, False)])


def api_put(scene: Scene) -> Written:
    body = {"timestamp": hour(10).isoformat(), "values": {"import": 350}, "note": "read twice"}
    return _api_change(scene, "PUT", body)


def api_patch(scene: Scene) -> Written:
    return _api_change(scene, "PATCH", {"values": {"import": 350}})


def api_delete(scene: Scene) -> Written:
    url = f"/api/sources/{scene.source.id}/readings/{scene.middle}"
    assert scene.client.delete(url, headers=scene.bearer).status_code == 204
    return Written(scene.source, [(scene.middle, True)])


def sync_batch(scene: Scene) -> Written:
    new_id = uuid.uuid4()
    item = {
        "id": str(new_id),
        "data_source_id": scene.source.id,
        "timestamp": hour(15).isoformat(),
        "values": {"import": 350},
    }
    response = scene.client.post(
        "/api/sync/readings", json={"readings": [item]}, headers=scene.bearer
    )
    assert response.status_code == 200 and response.get_json()["created"] == 1
    return Written(scene.source, [(new_id, False)])


def csv_import(scene: Scene) -> Written:
    text = f"timestamp,import\n{hour(15).isoformat()},350\n"
    response = scene.client.post(
        f"/api/sources/{scene.source.id}/import",
        data=text.encode(),
        headers={**scene.bearer, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200 and response.get_json()["created"] == 1, response.get_json()
    return Written(scene.source, [(_reading_at(scene.source, hour(15)), False)])


def restore(scene: Scene) -> Written:
    """Restore the owner's backup into another, empty account (a new source)."""
    document = "".join(backup.iter_backup(scene.owner))
    backup.restore(scene.restorer, io.BytesIO(document.encode()))
    source = db.session.scalar(
        sa.select(DataSource).where(DataSource.owner_id == scene.restorer.id)
    )
    ids = db.session.scalars(sa.select(Reading.id).where(Reading.data_source_id == source.id))
    return Written(source, [(reading_id, False) for reading_id in ids])


PATHS = {
    path.__name__: path
    for path in (
        form_add,
        form_edit,
        form_delete,
        form_undo,
        api_create,
        api_put,
        api_patch,
        api_delete,
        sync_batch,
        csv_import,
        restore,
        fast_path,
    )
}


# ---- What every write must move -------------------------------------------------------------


def _counter(owner_id: int) -> int:
    return (
        db.session.scalar(sa.select(SyncCounter.value).where(SyncCounter.owner_id == owner_id)) or 0
    )


def _breaks(source_id: int) -> list:
    """Return the source's breaks as kept, brought up to date first (PostgreSQL)."""
    usage_stream.refresh_breaks(source_id)
    rows = db.session.execute(
        sa.text(
            "SELECT reading_id FROM reading_breaks WHERE data_source_id = :source"
            ' ORDER BY "timestamp"'
        ),
        {"source": source_id},
    )
    return [row[0] for row in rows]


def _breaks_of_readings(source_id: int) -> list:
    """Return where the source's readings break, worked out from the readings themselves."""
    readings = db.session.execute(
        sa.select(Reading.id, Reading.values)
        .where(Reading.data_source_id == source_id)
        .order_by(Reading.timestamp, Reading.id)
    ).all()
    return [
        reading_id
        for (_, previous), (reading_id, values) in zip(readings, readings[1:], strict=False)
        if usage_stream.is_break(previous, values)
    ]


def _slip_in_by_hand(source_id: int) -> None:
    """Add a reading with SQL, as an administrator might: no change number, nothing recorded."""
    with db.engine.begin() as connection:
        connection.execute(
            Reading.__table__.insert().values(
                id=uuid.uuid4(),
                data_source_id=source_id,
                timestamp=hour(40),
                values={"import": 1000.0},
                confirmed=False,
            )
        )


@pytest.fixture
def scene(app, client, auth, user, make_source, make_reading, monkeypatch):
    source = make_source(user, "Electricity", metrics={"import": "kWh"})
    early = make_reading(source, {"import": 100.0}, timestamp=hour(10))
    middle = make_reading(source, {"import": 300.0}, timestamp=hour(20))
    make_reading(source, {"import": 200.0}, timestamp=hour(30), confirmed=True)
    assert auth.login().status_code == 302
    raw, _ = tokens.issue_token(user, "phone")
    bearer = {"Authorization": f"Bearer {raw}"}
    return Scene(app, client, user, source, early.id, middle.id, bearer, monkeypatch)


@pytest.mark.parametrize("path", list(PATHS))
def test_every_write_path_records_the_reading(scene, path, make_user):
    postgres = db.engine.dialect.name == "postgresql"
    if path == "fast_path" and not pgdirect.is_available():
        pytest.skip("the fast path is PostgreSQL's")
    source = scene.source
    if path == "form_undo":
        scene.undo = _deleted_with_undo(scene)
    if path == "restore":
        scene.restorer = make_user("restorer@example.com", password=PASSWORD)
    breaks_before = _breaks(source.id) if postgres else None
    counter_before = _counter((scene.restorer or scene.owner).id)
    if scene.restorer is None:
        counted = datasources.remembered_reading_count(source)
        _slip_in_by_hand(source.id)
        assert datasources.remembered_reading_count(source) == counted  # not counted again yet

    written = PATHS[path](scene)
    db.session.expire_all()

    source = written.source
    counter_after = _counter(source.owner_id)
    assert counter_after > counter_before
    assert written.readings
    for reading_id, deleted in written.readings:
        entry = db.session.get(SyncChange, ("reading", str(reading_id)))
        assert entry is not None, f"no change-feed entry for {reading_id}"
        assert (entry.owner_id, entry.data_source_id, entry.deleted) == (
            source.owner_id,
            source.id,
            deleted,
        )
        assert counter_before < entry.seq <= counter_after
    if postgres:
        breaks = _breaks(source.id)
        assert breaks == _breaks_of_readings(source.id)
        assert breaks != breaks_before  # every write here moves a break
    stored = db.session.scalar(
        sa.select(sa.func.count()).select_from(Reading).where(Reading.data_source_id == source.id)
    )
    assert datasources.remembered_reading_count(source) == stored
