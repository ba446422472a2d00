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
before the readings and on each reading (homelog.backup_reader). The restore is one
transaction: all or nothing. Ids are not kept for homes and sources (new rows get new ids);
readings keep theirs unless this server already has the id (a copy of the account), where
they get new ones. A restore trusts nothing in the file: everything restored belongs to the
restoring account (its readings and swaps are recorded by it, whoever recorded them before),
home members listed in the file are skipped and counted (the owner invites them again), and
every value is checked by the same rules as one typed in. Free of request objects and
database-agnostic: a backup from PostgreSQL restores on SQLite and back.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import func, select

from homelog import bulk, changes, datasources, homes, readings, timeutil
from homelog.backup_reader import ReadingLabel, Unrestorable, read_backup, refused
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, format_day, format_time
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
from homelog.usage_db.settings import clean_settings
from homelog.usage_db.swaps import check_swap
from homelog.usage_db.tariffs import check_tariff

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
    return _chunks(opening, [source.id for source in sources], emails)


def _chunks(opening: str, source_ids: list[int], emails: dict[int, str]) -> Iterator[str]:
    """Yield opening, then the readings of source_ids CHUNK lines at a time, then the end."""
    yield opening
    if not source_ids:
        yield "]}\n"
        return
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
    lines: list[str] = []
    first = True
    for row in db.session.execute(query):
        line = _dumps(_reading_document(row, emails))
        lines.append(line if first else ",\n" + line)
        first = False
        if len(lines) >= CHUNK:
            yield "".join(lines)
            lines = []
    lines.append("\n]}\n")
    yield "".join(lines)


def _reading_document(row: Any, emails: dict[int, str]) -> dict:
    return {
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


def filename(user: User, today: date | None = None) -> str:
    """Return the backup's download name, like homelog-backup-2026-03-31.json."""
    today = today or utcnow().astimezone(timeutil.zone(user.timezone)).date()
    return f"homelog-backup-{today.isoformat()}.json"


# ---- Restore -------------------------------------------------------------------------------

CURRENCY = re.compile(r"[A-Z]{3}")  # as the account page takes it


def _when(value: Any, what: str | ReadingLabel) -> datetime:
    """Return a timestamp of the file, checked like one typed in."""
    try:
        moment = datetime.fromisoformat(value)
        return readings.clean_timestamp(moment)
    except (TypeError, ValueError):
        raise Unrestorable(
            _(
                "%(what)s: “%(value)s” is not a date and time.",
                what=what,
                value=str(value)[:40],
            )
        ) from None
    except ValidationFailed as error:
        raise refused(what, error) from None


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
    small chunks within the limits of homelog.backup_reader. Home members listed in the file
    are not added (they are counted in "members_skipped": the owner invites them again).

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
                    _(
                        "A backup restores into an empty account only: this one has homes or "
                        "sources."
                    )
                ]
            }
        )
    try:
        counts = _restore(user, stream)
    except Unrestorable as error:
        db.session.rollback()
        raise ValidationFailed(
            {"file": [str(error)]}, detail=_("The backup cannot be restored.")
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    bulk.refresh_statistics(db.engine, Reading.__table__, counts.get("readings", 0))
    return counts


def _restore(user: User, stream: IO) -> dict[str, int]:
    head, rows = read_backup(stream)
    _check_format(head)
    _restore_account(user, head)
    counts = {
        "locations": 0,
        "sources": 0,
        "readings": 0,
        "tariffs": 0,
        "swaps": 0,
        "members_skipped": 0,
    }
    location_ids = _restore_homes(user, head, counts)
    sources: dict[Any, DataSource] = {}
    for item in _list(head, "sources"):
        if item.get("id") in sources:
            raise Unrestorable(
                _("The source id %(id)s appears twice.", id=str(item.get("id"))[:20])
            )
        sources[item.get("id")] = _restore_source(user, item, location_ids, counts)
        counts["sources"] += 1
    _restore_readings(user, rows, sources, counts)
    return counts


def _check_format(head: dict) -> None:
    if head.get("format") != FORMAT:
        raise Unrestorable(_("This is not a homelog backup."))
    if head.get("version") != VERSION:
        raise Unrestorable(
            _(
                "This backup has version %(version)s; this server reads version %(current)s.",
                version=str(head.get("version"))[:20],
                current=VERSION,
            )
        )


def _restore_account(user: User, head: dict) -> None:
    """Take the account's timezone and currency from the file, when they are valid."""
    account = head.get("account") or {}
    if not isinstance(account, dict):
        raise Unrestorable(_("“account” must be an object."))
    if timeutil.is_valid_timezone(account.get("timezone") or ""):
        user.timezone = account["timezone"]
    if isinstance(account.get("currency"), str) and CURRENCY.fullmatch(account["currency"]):
        user.currency = account["currency"]


def _restore_homes(user: User, head: dict, counts: dict[str, int]) -> dict[Any, int]:
    """Add the file's homes to user; return {id in the file: new id}. Members are counted."""
    location_ids: dict[Any, int] = {}
    for item in _list(head, "locations"):
        try:
            name, zone = homes.clean_home(item.get("name"), item.get("timezone"))
        except ValidationFailed as error:
            raise refused(_("Home “%(name)s”", name=str(item.get("name"))[:40]), error) from None
        home = Home(owner_id=user.id, name=name, timezone=zone)
        if item.get("created_at"):
            home.created_at = _when(item["created_at"], _("Home “%(name)s”", name=name))
        db.session.add(home)
        db.session.flush()
        location_ids[item.get("id")] = home.id
        members = item.get("members") or []
        if not isinstance(members, list):
            raise Unrestorable(_("Home “%(name)s”: the members must be a list.", name=name))
        counts["members_skipped"] += len(members)
        counts["locations"] += 1
    return location_ids


def _restore_readings(
    user: User,
    rows: Iterator[tuple[int, Any]],
    sources: dict[Any, DataSource],
    counts: dict[str, int],
) -> None:
    """Insert the file's readings into sources, CHUNK at a time, recorded by user."""
    batch = _ReadingBatch(user, {source.id for source in sources.values()}, counts)
    now = utcnow()
    for number, item in rows:
        batch.add(_reading_row(user, number, item, sources, batch, now))
    batch.flush()


def _reading_row(
    user: User,
    number: int,
    item: Any,
    sources: dict[Any, DataSource],
    batch: _ReadingBatch,
    now: datetime,
) -> dict:
    """Return the row of reading number of the file, checked like one typed in."""
    where = ReadingLabel(number)
    if not isinstance(item, dict):
        raise Unrestorable(_("%(where)s: not a reading.", where=where))
    source = sources.get(item.get("source"))
    if source is None:
        raise Unrestorable(_("%(where)s: its source is not in the backup.", where=where))
    try:
        reading_id = uuid.UUID(str(item.get("id")))
    except ValueError:
        reading_id = uuid7()
    if batch.holds(reading_id):
        raise Unrestorable(_("%(where)s: the id %(id)s appears twice.", where=where, id=reading_id))
    try:
        values = readings.clean_values(source, item.get("values"), require_all=False)
        note = readings.clean_note(item.get("note"))
    except ValidationFailed as error:
        raise refused(where, error) from None
    return {
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


class _ReadingBatch:
    """Restored readings waiting for their INSERT, written CHUNK at a time."""

    def __init__(self, user: User, new_source_ids: set[int], counts: dict[str, int]):
        self.user, self.new_source_ids, self.counts = user, new_source_ids, counts
        self.connection = db.session.connection()
        self.rows: list[dict] = []

    def holds(self, reading_id: uuid.UUID) -> bool:
        """Return True when a reading waiting in this batch has reading_id."""
        return any(row["id"] == reading_id for row in self.rows)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        batch = self.rows
        if not batch:
            return
        wanted = [row["id"] for row in batch]
        taken = dict(
            db.session.execute(
                select(Reading.id, Reading.data_source_id).where(Reading.id.in_(wanted))
            ).all()
        )
        for row in batch:
            if taken.get(row["id"]) in self.new_source_ids:
                raise Unrestorable(_("The reading id %(id)s appears twice.", id=row["id"]))
            if row["id"] in taken:
                row["id"] = uuid7()  # another account on this server has it
        changes.insert_new_readings(self.connection, self.user.id, batch)
        self.counts["readings"] += len(batch)
        self.rows = []


def _list(head: dict, key: str) -> list[dict]:
    items = head.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Unrestorable(_("“%(key)s” must be a list of objects.", key=key))
    return items


def _restore_source(
    user: User, item: dict, location_ids: dict, counts: dict[str, int]
) -> DataSource:
    label = _("Source “%(name)s”", name=str(item.get("name"))[:40])
    try:
        name, description, kind, metric_list = datasources.clean_source(
            item.get("name"), item.get("description"), item.get("kind"), item.get("metrics")
        )
    except ValidationFailed as error:
        raise refused(label, error) from None
    label = _("Source “%(name)s”", name=name)
    source = DataSource(
        owner_id=user.id,
        location_id=location_ids.get(item.get("location")),
        name=name,
        description=description,
        kind=kind,
        metric_list=metric_list,
    )
    _restore_settings(source, item, label)
    if item.get("created_at"):
        source.created_at = _when(item["created_at"], label)
    db.session.add(source)
    db.session.flush()
    prices, swaps = item.get("tariffs") or [], item.get("swaps") or []
    if not isinstance(prices, list) or not isinstance(swaps, list):
        raise Unrestorable(_("%(source)s: the prices and meter swaps must be lists.", source=label))
    counts["tariffs"] += _restore_tariffs(source, prices, label)
    counts["swaps"] += _restore_swaps(user, source, swaps, label)
    db.session.flush()
    return source


def _restore_settings(source: DataSource, item: dict, label: str) -> None:
    """Set source's usage settings and reading reminder from the file, checked as typed in."""
    try:
        settings = clean_settings(
            source,
            rollover_at=item.get("rollover_at") or {},
            cycle_day=item.get("cycle_day", 1),
            monthly_advance=item.get("monthly_advance"),
            billing_year_start=item.get("billing_year_start"),
            max_gap_hours=item.get("max_gap_hours", 48),
        )
        schedule = item.get("reminder") or {}
        if not isinstance(schedule, dict):
            raise ValidationFailed({"reminder": [_("The reading reminder is invalid.")]})
        source.reminder_every, source.reminder_day = clean_schedule(
            schedule.get("every"), schedule.get("day")
        )
    except ValidationFailed as error:
        raise refused(label, error) from None
    for field_name, value in settings.items():
        setattr(source, field_name, value)


def _restore_tariffs(source: DataSource, prices: list, label: str) -> int:
    """Add source's prices from the file; return how many."""
    days: set[tuple] = set()
    for tariff in prices:
        if not isinstance(tariff, dict):
            raise Unrestorable(_("%(source)s: a price is not an object.", source=label))
        try:
            metric, day, price, standing = check_tariff(
                source,
                tariff.get("metric"),
                tariff.get("effective_from"),
                tariff.get("unit_price"),
                tariff.get("standing_charge"),
            )
        except ValidationFailed as error:
            raise refused(_("%(source)s: a price", source=label), error) from None
        if (metric, day) in days:
            raise Unrestorable(
                _(
                    "%(source)s: “%(metric)s” has two prices starting on %(day)s.",
                    source=label,
                    metric=metric,
                    day=format_day(day),
                )
            )
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
    return len(days)


def _restore_swaps(user: User, source: DataSource, swaps: list, label: str) -> int:
    """Add source's meter swaps from the file, recorded by user; return how many."""
    instants: set[datetime] = set()
    for swap in swaps:
        what = _("%(source)s: a meter swap", source=label)
        if not isinstance(swap, dict):
            raise Unrestorable(_("%(source)s: a meter swap is not an object.", source=label))
        try:
            at, old, new, sizes, note = check_swap(
                source,
                _when(swap.get("at"), what),
                swap.get("old_final"),
                swap.get("new_start"),
                swap.get("rollover_at"),
                swap.get("note"),
            )
        except ValidationFailed as error:
            raise refused(what, error) from None
        if at in instants:
            local = timeutil.to_local(at, timeutil.zone(user.timezone))
            raise Unrestorable(
                _(
                    "%(what)s: two swaps are recorded on %(day)s at %(time)s.",
                    what=what,
                    day=format_day(local.date()),
                    time=format_time(local),
                )
            )
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
    return len(instants)
