"""Whole-account backup as one JSON file, and its restore into an empty account.

The file holds the account's settings, homes (with their members), sources with their usage
settings, reading reminders, tariffs and meter swaps, and every reading. It is one JSON
document, written so that each reading sits on a line of its own after `"readings": [`:

    {"format": "homelog-backup", "version": 1, ..., "sources": [...],
    "readings": [
    {"id": "...", "source": 3, "timestamp": "...", "values": {...}, ...},
    ...
    ]}

so both ends stream: the backup is written from a server-side cursor in chunks, and the
restore parses the file incrementally (any JSON layout, as long as the readings come after
the homes and sources), inserting readings in batches. A restore holds a bounded amount of
memory whatever the file: limits on nesting depth, on the size of one value, on what comes
before the readings and on each reading (MAX_* below, README.md). The restore is one
transaction: all or nothing. Ids are not kept for homes and sources (new rows get new ids);
readings keep theirs unless this server already has the id (a copy of the account), where
they get new ones. A restore trusts nothing in the file: everything restored belongs to the
restoring account (its readings and swaps are recorded by it, whoever recorded them before),
home members listed in the file are skipped and counted (the owner invites them again), and
every value is checked by the same rules as one typed in. Free of request objects and
database-agnostic: a backup from PostgreSQL restores on SQLite and back.
"""

from __future__ import annotations

import codecs
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

import ijson
from sqlalchemy import func, select

from homelog import bulk, consumption, datasources, homes, readings, sync, timeutil
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
    utcnow,
    uuid7,
)
from homelog.reminders import clean_schedule

FORMAT = "homelog-backup"
VERSION = 1
CHUNK = 2000
READINGS_LINE = '"readings": ['


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---- Backup --------------------------------------------------------------------------------


def _home_members(home_ids: list[int]) -> dict[int, list[dict]]:
    """Return {home id: [{"email", "role"}]} of the homes' members."""
    rows = (
        db.session.execute(
            select(HomeMember.location_id, User.email, HomeMember.role)
            .join(User, User.id == HomeMember.user_id)
            .where(HomeMember.location_id.in_(home_ids))
            .order_by(HomeMember.location_id, User.email)
        )
        if home_ids
        else []
    )
    members: dict[int, list[dict]] = {}
    for location_id, email, role in rows:
        members.setdefault(location_id, []).append({"email": email, "role": role})
    return members


def _source_document(source: DataSource, emails: dict[int, str]) -> dict:
    tariffs = db.session.scalars(
        select(Tariff)
        .where(Tariff.data_source_id == source.id)
        .order_by(Tariff.metric, Tariff.effective_from)
    )
    swaps = db.session.scalars(
        select(MeterEvent).where(MeterEvent.data_source_id == source.id).order_by(MeterEvent.at)
    )
    document = {
        "id": source.id,
        "location": source.location_id,
        "name": source.name,
        "description": source.description,
        "kind": source.kind,
        "metrics": source.metric_list,
        "rollover_at": source.rollover_at or {},
        "cycle_day": source.cycle_day,
        "monthly_advance": str(source.monthly_advance)
        if source.monthly_advance is not None
        else None,
        "billing_year_start": _iso(source.billing_year_start),
        "max_gap_hours": source.max_gap_hours,
        "created_at": _iso(source.created_at),
        "updated_at": _iso(source.updated_at),
        "tariffs": [
            {
                "metric": t.metric,
                "effective_from": _iso(t.effective_from),
                "unit_price": str(t.unit_price),
                "standing_charge": str(t.standing_charge),
            }
            for t in tariffs
        ],
        "swaps": [
            {
                "at": _iso(e.at),
                "old_final": e.old_final,
                "new_start": e.new_start,
                "rollover_at": e.rollover_at,
                "note": e.note,
                "created_by": emails.get(e.created_by_id) if e.created_by_id else None,
            }
            for e in swaps
        ],
    }
    if source.reminder_every:
        document["reminder"] = {"every": source.reminder_every, "day": source.reminder_day}
    return document


def iter_backup(user: User) -> Iterator[str]:
    """Return an iterator of user's whole account as JSON text, in chunks (see module doc).

    Everything but the readings is read now; the readings are streamed as the iterator is
    consumed (a server-side cursor on PostgreSQL), so no account is too large.
    """
    owned_homes = list(
        db.session.scalars(select(Home).where(Home.owner_id == user.id).order_by(Home.id))
    )
    sources = list(
        db.session.scalars(
            select(DataSource).where(DataSource.owner_id == user.id).order_by(DataSource.id)
        )
    )
    emails = dict(db.session.execute(select(User.id, User.email)).all())
    members = _home_members([home.id for home in owned_homes])
    head = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(utcnow()),
        "account": {
            "email": user.email,
            "name": user.name,
            "timezone": user.timezone,
            "currency": user.currency,
        },
        # The file calls homes "locations" (the table's name), as every file written before.
        "locations": [
            {
                "id": home.id,
                "name": home.name,
                "timezone": home.timezone,
                "created_at": _iso(home.created_at),
                "members": members.get(home.id, []),
            }
            for home in owned_homes
        ],
        "sources": [_source_document(source, emails) for source in sources],
    }
    opening = _dumps(head)[:-1] + ",\n" + READINGS_LINE + "\n"
    source_ids = [source.id for source in sources]
    query = (
        select(
            Reading.id,
            Reading.data_source_id,
            Reading.timestamp,
            Reading.values,
            Reading.note,
            Reading.confirmed,
            Reading.created_by_id,
            Reading.created_at,
            Reading.updated_at,
        )
        .where(Reading.data_source_id.in_(source_ids))
        .order_by(Reading.data_source_id, Reading.timestamp, Reading.id)
        .execution_options(yield_per=CHUNK)
    )

    def chunks() -> Iterator[str]:
        yield opening
        if not source_ids:
            yield "]}\n"
            return
        lines: list[str] = []
        first = True
        for row in db.session.execute(query):
            line = _dumps(
                {
                    "id": str(row.id),
                    "source": row.data_source_id,
                    "timestamp": row.timestamp.isoformat(),
                    "values": row.values,
                    "note": row.note,
                    "confirmed": row.confirmed,
                    "created_by": emails.get(row.created_by_id) if row.created_by_id else None,
                    "created_at": _iso(row.created_at),
                    "updated_at": _iso(row.updated_at),
                }
            )
            lines.append(line if first else ",\n" + line)
            first = False
            if len(lines) >= CHUNK:
                yield "".join(lines)
                lines = []
        lines.append("\n]}\n")
        yield "".join(lines)

    return chunks()


def filename(user: User, today: date | None = None) -> str:
    """Return the backup's download name, like homelog-backup-2026-03-31.json."""
    today = today or utcnow().astimezone(timeutil.zone(user.timezone)).date()
    return f"homelog-backup-{today.isoformat()}.json"


# ---- Restore -------------------------------------------------------------------------------

#: Limits of a restore file, whatever its layout (README.md, "Backup and restore").
MAX_DEPTH = 8  # objects and lists inside each other; a backup needs 5
MAX_TOKEN_BYTES = 1024 * 1024  # the longest single value (text or number) or run of spaces
MAX_HEAD_VALUES = 100_000  # values in everything but the readings
MAX_HEAD_CHARACTERS = 4 * 1024 * 1024  # text in everything but the readings
MAX_READING_VALUES = 200  # values in one reading
MAX_READING_CHARACTERS = 16 * 1024  # text in one reading
MAX_READINGS = 10_000_000
READ_SIZE = 64 * 1024
HEAD_KEYS = ("format", "version", "account", "locations", "sources")
CURRENCY = re.compile(r"[A-Z]{3}")  # as the account page takes it


class _Bad(Exception):
    """A value of the backup is wrong: the restore stops with this message."""


def _refused(what: str, error: ValidationFailed) -> _Bad:
    """Return the message of a value refused by the validation of typed-in values."""
    messages = [m for ms in error.errors.values() for m in ms] or [error.detail]
    return _Bad(f"{what}: {' '.join(messages)}")


class _Budget:
    """How many values and characters a part of the file may still hold."""

    def __init__(self, values: int, characters: int, what: str):
        self.values, self.characters, self.what = values, characters, what

    def spend(self, value: Any) -> None:
        self.values -= 1
        if isinstance(value, str):
            self.characters -= len(value)
        if self.values < 0 or self.characters < 0:
            raise _Bad(f"{self.what} holds more than this server restores.")


def _events(stream: IO) -> Iterator[tuple[str, Any]]:
    """Yield the JSON parse events of stream (bytes or text), read in small chunks.

    Memory stays bounded whatever the layout: no value may take more than MAX_TOKEN_BYTES
    and nothing may nest deeper than MAX_DEPTH. NUL characters are refused, as in requests.
    """
    found = ijson.sendable_list()
    parser = ijson.basic_parse_coro(found, use_float=True)
    depth, quiet, first = 0, 0, True
    while True:
        chunk = stream.read(READ_SIZE)
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogatepass")
        if first:
            chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
        try:
            if chunk:
                parser.send(chunk)
            else:
                parser.close()
        except (ijson.JSONError, ValueError, UnicodeError):
            raise _Bad("This is not a homelog backup (JSON expected).") from None
        quiet = 0 if found else quiet + len(chunk)
        if quiet > MAX_TOKEN_BYTES:
            raise _Bad(f"A value in the file is longer than {MAX_TOKEN_BYTES:,} bytes.")
        for event, value in found:
            if event == "start_map" or event == "start_array":
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Bad(f"The file nests values more than {MAX_DEPTH} deep.")
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif (event == "string" or event == "map_key") and "\x00" in value:
                raise _Bad("Text must not contain NUL characters.")
            yield event, value
        del found[:]
        if not chunk:
            return


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, budget: _Budget) -> Any:
    """Return the value that starts with (event, value), read from events within budget."""
    if event != "start_map" and event != "start_array":
        budget.spend(value)
        return value
    root: Any = {} if event == "start_map" else []
    # Counted here and charged to the budget at the end: this loop runs for every value.
    values, characters = 1, 0
    most_values, most_characters = budget.values, budget.characters
    stack, keys, container, key = [root], [], root, None
    for event, value in events:
        if event == "map_key":
            key = value
            characters += len(value)
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                budget.values -= values - 1
                budget.spend(root)
                budget.characters -= characters
                return root
            container, key = stack[-1], keys.pop()
            continue
        values += 1
        if event == "start_map" or event == "start_array":
            item: Any = {} if event == "start_map" else []
        else:
            item = value
            if event == "string":
                characters += len(value)
        if values > most_values or characters > most_characters:
            raise _Bad(f"{budget.what} holds more than this server restores.")
        if type(container) is list:
            container.append(item)
        else:
            container[key] = item
        if event == "start_map" or event == "start_array":
            stack.append(item)
            keys.append(key)
            container, key = item, None
    raise _Bad("This is not a homelog backup (JSON expected).")


def _split(stream: IO) -> tuple[dict, Iterator[tuple[int, Any]]]:
    """Return the backup's head (everything but the readings) and an iterator of readings.

    The readings are read as the iterator is consumed; everything the restore needs before
    them (format, account, homes, sources) must come first, as a backup writes it.
    """
    events = _events(stream)
    event, _ = next(events, ("", None))
    if event != "start_map":
        raise _Bad("This is not a homelog backup (JSON expected).")
    head: dict = {}
    budget = _Budget(MAX_HEAD_VALUES, MAX_HEAD_CHARACTERS, "Everything but the readings")
    for event, key in events:
        if event == "end_map":
            for _ in events:
                pass  # trailing text is a parse error, raised here
            return head, iter(())
        budget.spend(key)
        event, value = next(events, ("", None))
        if key != "readings":
            head[key] = _build(events, event, value, budget)
            continue
        if event != "start_array":
            raise _Bad("“readings” must be a list.")
        if any(needed not in head for needed in HEAD_KEYS):
            raise _Bad("The account, homes and sources must come before the readings.")
        return head, _readings(events, budget)
    raise _Bad("This is not a homelog backup (JSON expected).")


def _readings(events: Iterator[tuple[str, Any]], rest: _Budget) -> Iterator[tuple[int, Any]]:
    for number, (event, value) in enumerate(events, start=1):
        if event == "end_array":
            break
        if number > MAX_READINGS:
            raise _Bad(f"A backup restores at most {MAX_READINGS:,} readings.")
        budget = _Budget(MAX_READING_VALUES, MAX_READING_CHARACTERS, f"Reading {number}")
        yield number, _build(events, event, value, budget)
    # What follows the readings is read (within limits) but must not be needed before them.
    for event, key in events:
        if event == "end_map":
            break
        if key in HEAD_KEYS:
            raise _Bad("The account, homes and sources must come before the readings.")
        rest.spend(key)
        event, value = next(events, ("", None))
        _build(events, event, value, rest)
    for _ in events:
        pass  # trailing text is a parse error, raised here


def _when(value: Any, what: str) -> datetime:
    """Return a timestamp of the file, checked like one typed in."""
    try:
        moment = datetime.fromisoformat(value)
        return readings.clean_timestamp(moment)
    except (TypeError, ValueError):
        raise _Bad(f"{what}: “{str(value)[:40]}” is not a date and time.") from None
    except ValidationFailed as error:
        raise _refused(what, error) from None


def is_empty(user: User) -> bool:
    """Return True when user has no homes and no sources (a restore needs that)."""
    owned = (
        db.session.scalar(
            select(func.count()).select_from(DataSource).where(DataSource.owner_id == user.id)
        )
        or 0
    )
    owned_homes = (
        db.session.scalar(select(func.count()).select_from(Home).where(Home.owner_id == user.id))
        or 0
    )
    return owned == 0 and owned_homes == 0


def restore(user: User, stream: IO) -> dict[str, int]:
    """Restore a backup (a binary or text file object) into user's empty account and commit.

    Everything restored belongs to user and is checked as if typed in; the file is read in
    small chunks within the limits above. Home members listed in the file are not added
    (they are counted in "members_skipped": the owner invites them again).

    Returns how many homes, sources, readings, tariffs and swaps were restored, and how many
    members were skipped.

    Raises:
        ValidationFailed: key "file": the account is not empty, or the backup is invalid
            (nothing is restored then).
    """
    if not is_empty(user):
        raise ValidationFailed(
            {
                "file": [
                    "A backup restores into an empty account only: this one has homes or sources."
                ]
            }
        )
    try:
        counts = _restore(user, stream)
    except _Bad as error:
        db.session.rollback()
        raise ValidationFailed(
            {"file": [str(error)]}, detail="The backup cannot be restored."
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    bulk.refresh_statistics(db.engine, Reading.__table__, counts.get("readings", 0))
    return counts


def _restore(user: User, stream: IO) -> dict[str, int]:
    head, rows = _split(stream)
    if head.get("format") != FORMAT:
        raise _Bad("This is not a homelog backup.")
    if head.get("version") != VERSION:
        raise _Bad(
            f"This backup has version {str(head.get('version'))[:20]}; "
            f"this server reads version {VERSION}."
        )
    account = head.get("account") or {}
    if not isinstance(account, dict):
        raise _Bad("“account” must be an object.")
    if timeutil.is_valid_timezone(account.get("timezone") or ""):
        user.timezone = account["timezone"]
    if isinstance(account.get("currency"), str) and CURRENCY.fullmatch(account["currency"]):
        user.currency = account["currency"]

    counts = {
        "locations": 0,
        "sources": 0,
        "readings": 0,
        "tariffs": 0,
        "swaps": 0,
        "members_skipped": 0,
    }
    location_ids: dict[Any, int] = {}
    for item in _list(head, "locations"):
        try:
            name, zone = homes.clean_home(item.get("name"), item.get("timezone"))
        except ValidationFailed as error:
            raise _refused(f"Home “{str(item.get('name'))[:40]}”", error) from None
        home = Home(owner_id=user.id, name=name, timezone=zone)
        if item.get("created_at"):
            home.created_at = _when(item["created_at"], f"Home “{name}”")
        db.session.add(home)
        db.session.flush()
        location_ids[item.get("id")] = home.id
        members = item.get("members") or []
        if not isinstance(members, list):
            raise _Bad(f"Home “{name}”: the members must be a list.")
        counts["members_skipped"] += len(members)
        counts["locations"] += 1

    sources: dict[Any, DataSource] = {}
    for item in _list(head, "sources"):
        if item.get("id") in sources:
            raise _Bad(f"The source id {str(item.get('id'))[:20]} appears twice.")
        sources[item.get("id")] = _restore_source(user, item, location_ids, counts)
        counts["sources"] += 1
    new_source_ids = {source.id for source in sources.values()}

    connection = db.session.connection()
    now = utcnow()
    batch: list[dict] = []

    def flush_batch() -> None:
        if not batch:
            return
        wanted = [row["id"] for row in batch]
        taken = dict(
            db.session.execute(
                select(Reading.id, Reading.data_source_id).where(Reading.id.in_(wanted))
            ).all()
        )
        for row in batch:
            if taken.get(row["id"]) in new_source_ids:
                raise _Bad(f"The reading id {row['id']} appears twice.")
            if row["id"] in taken:
                row["id"] = uuid7()  # another account on this server has it
        bulk.insert_rows(connection, Reading.__table__, batch)
        by_owner = [
            sync.Change(sync.READING, str(row["id"]), row["data_source_id"]) for row in batch
        ]
        bulk.record_new(connection, user.id, by_owner)
        counts["readings"] += len(batch)
        batch.clear()

    for number, item in rows:
        where = f"Reading {number}"
        if not isinstance(item, dict):
            raise _Bad(f"{where}: not a reading.")
        source = sources.get(item.get("source"))
        if source is None:
            raise _Bad(f"{where}: its source is not in the backup.")
        try:
            reading_id = uuid.UUID(str(item.get("id")))
        except ValueError:
            reading_id = uuid7()
        if any(row["id"] == reading_id for row in batch):
            raise _Bad(f"{where}: the id {reading_id} appears twice.")
        try:
            values = readings.clean_values(source, item.get("values"), require_all=False)
            note = readings.clean_note(item.get("note"))
        except ValidationFailed as error:
            raise _refused(where, error) from None
        batch.append(
            {
                "id": reading_id,
                "data_source_id": source.id,
                "timestamp": _when(item.get("timestamp"), where),
                "values": values,
                "note": note,
                "confirmed": item.get("confirmed") is True,
                "created_by_id": user.id,
                "created_at": _when(item["created_at"], where) if item.get("created_at") else now,
                "updated_at": _when(item["updated_at"], where) if item.get("updated_at") else now,
            }
        )
        if len(batch) >= CHUNK:
            flush_batch()
    flush_batch()
    return counts


def _list(head: dict, key: str) -> list[dict]:
    items = head.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _Bad(f"“{key}” must be a list of objects.")
    return items


def _restore_source(
    user: User, item: dict, location_ids: dict, counts: dict[str, int]
) -> DataSource:
    label = f"Source “{str(item.get('name'))[:40]}”"
    try:
        name, description, kind, metric_list = datasources.clean_source(
            item.get("name"), item.get("description"), item.get("kind"), item.get("metrics")
        )
    except ValidationFailed as error:
        raise _refused(label, error) from None
    label = f"Source “{name}”"
    source = DataSource(
        owner_id=user.id,
        location_id=location_ids.get(item.get("location")),
        name=name,
        description=description,
        kind=kind,
        metric_list=metric_list,
    )
    try:
        settings = consumption.clean_settings(
            source,
            rollover_at=item.get("rollover_at") or {},
            cycle_day=item.get("cycle_day", 1),
            monthly_advance=item.get("monthly_advance"),
            billing_year_start=item.get("billing_year_start"),
            max_gap_hours=item.get("max_gap_hours", 48),
        )
        schedule = item.get("reminder") or {}
        if not isinstance(schedule, dict):
            raise ValidationFailed({"reminder": ["The reading reminder is invalid."]})
        source.reminder_every, source.reminder_day = clean_schedule(
            schedule.get("every"), schedule.get("day")
        )
    except ValidationFailed as error:
        raise _refused(label, error) from None
    for field_name, value in settings.items():
        setattr(source, field_name, value)
    if item.get("created_at"):
        source.created_at = _when(item["created_at"], label)
    db.session.add(source)
    db.session.flush()
    prices, swaps = item.get("tariffs") or [], item.get("swaps") or []
    if not isinstance(prices, list) or not isinstance(swaps, list):
        raise _Bad(f"{label}: the prices and meter swaps must be lists.")
    days: set[tuple] = set()
    for tariff in prices:
        if not isinstance(tariff, dict):
            raise _Bad(f"{label}: a price is not an object.")
        try:
            metric, day, price, standing = consumption.check_tariff(
                source,
                tariff.get("metric"),
                tariff.get("effective_from"),
                tariff.get("unit_price"),
                tariff.get("standing_charge"),
            )
        except ValidationFailed as error:
            raise _refused(f"{label}: a price", error) from None
        if (metric, day) in days:
            raise _Bad(f"{label}: “{metric}” has two prices starting on {day}.")
        days.add((metric, day))
        db.session.add(
            Tariff(
                data_source_id=source.id,
                metric=metric,
                effective_from=day,
                unit_price=price,
                standing_charge=standing,
            )
        )
        counts["tariffs"] += 1
    instants: set[datetime] = set()
    for swap in swaps:
        what = f"{label}: a meter swap"
        if not isinstance(swap, dict):
            raise _Bad(f"{what} is not an object.")
        try:
            at, old, new, sizes, note = consumption.check_swap(
                source,
                _when(swap.get("at"), what),
                swap.get("old_final"),
                swap.get("new_start"),
                swap.get("rollover_at"),
                swap.get("note"),
            )
        except ValidationFailed as error:
            raise _refused(what, error) from None
        if at in instants:
            raise _Bad(f"{what}: two swaps are recorded at {at.isoformat()}.")
        instants.add(at)
        db.session.add(
            MeterEvent(
                data_source_id=source.id,
                at=at,
                old_final=old,
                new_start=new,
                rollover_at=sizes,
                note=note,
                created_by_id=user.id,
            )
        )
        counts["swaps"] += 1
    db.session.flush()
    return source
