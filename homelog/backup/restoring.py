"""Restore a backup into an empty account, in one transaction (see homelog.backup)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, select

from homelog import bulk, changes, datasources, homes, readings, timeutil
from homelog.backup.reading import ReadingLabel, Unrestorable, read_backup, refused
from homelog.backup.writing import FORMAT, VERSION
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, format_day, format_time
from homelog.models import (
    DataSource,
    Home,
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

CURRENCY = re.compile(r"[A-Z]{3}")  # as the account page takes it
CHUNK = 2000  # restored readings per INSERT


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
    small chunks within the limits of homelog.backup.reading. Home members listed in the file
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
