"""The change feed: what changed in a user's sources and readings since a client's cursor.

Every write of a source or reading, through any face (pages, API, CLI), gets a **change
number** from its owner's counter (`sync_counters`, recorded by homelog.changes), and
`sync_changes` keeps one row per object: its newest change number and whether it is deleted
(a tombstone). A client asks for the changes after the last number it has seen and pages on
by change number.

Why nothing is missed while writes happen during paging: a number is taken by
`UPDATE sync_counters ... RETURNING`, which holds the owner's counter row locked until the
transaction ends. A second writer for the same owner waits for that commit before it gets
its own number, so an owner's numbers become visible in the order they were handed out: a
reader that sees number n has already seen every number below it. (A plain autoincrement or
sequence does not give this: a transaction can take 5, another 6 and commit first, and a
reader who saw 6 would never look back for 5.) The price is that one owner's writes
serialise, which is harmless for a household and keeps owners independent of each other (and
shardable by owner). SQLite serialises all writers anyway.

Compaction: an object appears once, at its newest number; updating it moves it forward, so a
client paging along meets it again later rather than missing the change. Deleting a source
removes the rows of its readings (foreign key cascade): the source's tombstone stands for all
of them, and a client drops the source's readings with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select

from homelog.changes import READING, SOURCE
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import DataSource, HomeMember, Reading, SyncChange, SyncCounter, User, utcnow

MAX_CURSOR = 2**63 - 1


# ---- The change feed ------------------------------------------------------------------------
#
# A user's feed holds their own sources and the sources shared with them. Each owner's changes
# are numbered by that owner's counter, so the feed reads one stream per owner and the cursor
# keeps a position in each: the guarantee above holds per owner, hence for the whole feed.
#
# Who may see what changes too (an invitation accepted, a member removed, a source moved into
# or out of a shared home, a role changed), and those changes carry no change number of their
# own. The cursor therefore also holds the shared sources the client was given, with its role
# for each; every answer compares that with who may see what now:
# - a source no longer shared gets a tombstone (it goes from the client with its readings);
# - a source whose role changed is sent again, with its new role;
# - a source newly shared is read from the start of its owner's stream up to the cursor's
#   position there ("backfill", paged like the rest), since its readings have numbers the
#   client already passed; an owner new to the cursor is simply read from the start.
# Everything sent is filtered by what the user may see now; a cursor a client made up can
# only cost it a longer answer or tombstones of ids it named itself.


@dataclass
class FeedCursor:
    """Where a client is in its change feed."""

    positions: dict[int, int]  # owner id -> the last of that owner's change numbers seen
    shared: dict[int, str] = field(default_factory=dict)  # shared source id -> role sent
    backfill: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (after, upto)


@dataclass
class Gone:
    """A tombstone of a source that the user may no longer see (not deleted: unshared)."""

    kind: str
    object_id: str
    data_source_id: int | None
    changed_at: datetime


@dataclass
class ChangePage:
    """What changed after a cursor, oldest change first (within each owner's stream)."""

    sources: list[tuple[DataSource, str]]  # with the user's role for each
    readings: list[Reading]
    deleted: list[SyncChange | Gone]
    next_cursor: str
    has_more: bool


_ROLE_CODES = {"editor": "e", "viewer": "v"}
_CODE_ROLES = {code: role for role, code in _ROLE_CODES.items()}
#: The longest cursor accepted (a few thousand shared sources).
MAX_CURSOR_LENGTH = 16_000
_CURSOR_VERSION = "v2"


def encode_cursor(user_id: int, cursor: FeedCursor) -> str:
    """Return cursor as the opaque text clients send back (a number when nothing is shared)."""
    if not cursor.shared and not cursor.backfill and set(cursor.positions) <= {user_id}:
        return str(cursor.positions.get(user_id, 0))
    parts = (
        "-".join(f"{owner:x}.{seq:x}" for owner, seq in sorted(cursor.positions.items())),
        "-".join(f"{sid:x}.{_ROLE_CODES[role]}" for sid, role in sorted(cursor.shared.items())),
        "-".join(
            f"{sid:x}.{after:x}.{upto:x}" for sid, (after, upto) in sorted(cursor.backfill.items())
        ),
    )
    return "~".join((_CURSOR_VERSION, *parts))


def _numbers(text: str, count: int) -> list[str]:
    pieces = text.split(".")
    if len(pieces) != count:
        raise ValueError(text)
    return pieces


def _hex(text: str) -> int:
    if not text or len(text) > 16 or not all(c in "0123456789abcdef" for c in text):
        raise ValueError(text)
    value = int(text, 16)
    if value > MAX_CURSOR:
        raise ValueError(text)
    return value


def parse_cursor(cursor: object, user_id: int) -> FeedCursor:
    """Return a change-feed cursor of user_id's feed (empty means from the start).

    Raises:
        ValidationFailed: the cursor is not one this server gave out.
    """
    if cursor is None or cursor == "":
        return FeedCursor({user_id: 0})
    text = str(cursor)
    invalid = ValidationFailed({"since": ["Use the next_cursor of an earlier answer."]})
    if not text.isascii() or len(text) > MAX_CURSOR_LENGTH:
        raise invalid
    if text.isdigit():
        if len(text) > 19 or int(text) > MAX_CURSOR:
            raise invalid
        return FeedCursor({user_id: int(text)})
    sections = text.split("~")
    if len(sections) != 4 or sections[0] != _CURSOR_VERSION:
        raise invalid
    try:
        positions = {
            _hex(owner): _hex(seq)
            for owner, seq in (_numbers(item, 2) for item in sections[1].split("-") if sections[1])
        }
        shared = {}
        for item in sections[2].split("-") if sections[2] else ():
            sid, code = _numbers(item, 2)
            shared[_hex(sid)] = _CODE_ROLES[code]
        backfill = {}
        for item in sections[3].split("-") if sections[3] else ():
            sid, after, upto = _numbers(item, 3)
            backfill[_hex(sid)] = (_hex(after), _hex(upto))
    except (ValueError, KeyError):
        raise invalid from None
    return FeedCursor(positions, shared, backfill)


def _shared_with(user: User) -> dict[int, tuple[int, str]]:
    """Return {source id: (owner id, role)} of the sources shared with user now."""
    rows = db.session.execute(
        select(DataSource.id, DataSource.owner_id, HomeMember.role)
        .join(HomeMember, HomeMember.location_id == DataSource.location_id)
        .where(HomeMember.user_id == user.id, DataSource.owner_id != user.id)
    )
    return {source_id: (owner_id, role) for source_id, owner_id, role in rows}


def current_cursor(user: User) -> str:
    """Return the cursor of user's feed as of now: every stream at its newest change.

    A client that has just read the current state (homelog.snapshot) continues from here
    without paging through the history of its own or its shared sources.
    """
    shared = _shared_with(user)
    owners = {user.id} | {owner for owner, _ in shared.values()}
    counters = dict(
        db.session.execute(
            select(SyncCounter.owner_id, SyncCounter.value).where(
                SyncCounter.owner_id.in_(sorted(owners))
            )
        ).all()
    )
    cursor = FeedCursor(
        {owner: counters.get(owner, 0) for owner in owners},
        {sid: role for sid, (_, role) in shared.items()},
    )
    return encode_cursor(user.id, cursor)


def changes_since(user: User, since: object = None, limit: int = 500) -> ChangePage:
    """Return the changes of user's feed after the cursor since, at most limit of them.

    Raises:
        ValidationFailed: since is not a cursor this server gave out.
    """
    cursor = since if isinstance(since, FeedCursor) else parse_cursor(since, user.id)
    shared = _shared_with(user)
    owners = sorted({owner for owner, _ in shared.values()} - {user.id})
    positions = {owner: cursor.positions.get(owner, 0) for owner in (user.id, *owners)}
    now = utcnow()

    gone: list[SyncChange | Gone] = [
        Gone(SOURCE, str(source_id), None, now)
        for source_id in sorted(cursor.shared.keys() - shared.keys())
    ]
    resend = {sid for sid, role in cursor.shared.items() if shared.get(sid, (0, role))[1] != role}
    backfill = {sid: span for sid, span in cursor.backfill.items() if sid in shared}
    for sid in sorted(shared.keys() - cursor.shared.keys()):
        owner = shared[sid][0]
        if owner in cursor.positions and positions[owner] > 0:
            backfill[sid] = (0, positions[owner])

    taken: list[SyncChange] = []
    has_more = False
    budget = limit

    def take(query) -> tuple[list[SyncChange], bool]:
        """Take the stream's next rows within the page's budget; say whether more are left."""
        nonlocal budget, has_more
        if budget <= 0:
            has_more = True
            return [], True
        rows = list(db.session.scalars(query.order_by(SyncChange.seq).limit(budget + 1)))
        more = len(rows) > budget
        rows = rows[:budget]
        has_more = has_more or more
        budget -= len(rows)
        taken.extend(rows)
        return rows, more

    for sid in sorted(backfill):
        after, upto = backfill[sid]
        rows, more = take(
            select(SyncChange).where(
                SyncChange.owner_id == shared[sid][0],
                SyncChange.seq > after,
                SyncChange.seq <= upto,
                or_(
                    SyncChange.data_source_id == sid,
                    and_(SyncChange.kind == SOURCE, SyncChange.object_id == str(sid)),
                ),
            )
        )
        if more:
            backfill[sid] = (rows[-1].seq if rows else after, upto)
        else:
            del backfill[sid]
    for owner in positions:
        query = select(SyncChange).where(
            SyncChange.owner_id == owner, SyncChange.seq > positions[owner]
        )
        if owner != user.id:
            ids = [sid for sid, (source_owner, _) in shared.items() if source_owner == owner]
            query = query.where(
                or_(
                    and_(SyncChange.kind == READING, SyncChange.data_source_id.in_(ids)),
                    and_(
                        SyncChange.kind == SOURCE, SyncChange.object_id.in_([str(i) for i in ids])
                    ),
                )
            )
        rows, _ = take(query)
        if rows:
            positions[owner] = rows[-1].seq

    order = {(row.kind, row.object_id): index for index, row in enumerate(taken)}
    source_ids = {int(r.object_id) for r in taken if r.kind == SOURCE and not r.deleted} | resend
    reading_ids = [uuid.UUID(r.object_id) for r in taken if r.kind == READING and not r.deleted]
    seeable = or_(DataSource.owner_id == user.id, DataSource.id.in_(list(shared)))
    sources = (
        list(db.session.scalars(select(DataSource).where(DataSource.id.in_(source_ids), seeable)))
        if source_ids
        else []
    )
    found_readings = (
        list(
            db.session.scalars(
                select(Reading)
                .join(DataSource, Reading.data_source_id == DataSource.id)
                .where(Reading.id.in_(reading_ids), seeable)
            )
        )
        if reading_ids
        else []
    )
    # An object deleted since its row was read is left out: its tombstone comes later.
    unplaced = len(order)
    sources.sort(key=lambda s: order.get((SOURCE, str(s.id)), unplaced))
    found_readings.sort(key=lambda r: order[(READING, str(r.id))])
    next_cursor = FeedCursor(positions, {sid: role for sid, (_, role) in shared.items()}, backfill)
    return ChangePage(
        sources=[
            (source, "owner" if source.owner_id == user.id else shared[source.id][1])
            for source in sources
        ],
        readings=found_readings,
        deleted=gone + [row for row in taken if row.deleted],
        next_cursor=encode_cursor(user.id, next_cursor),
        has_more=has_more or bool(backfill),
    )
