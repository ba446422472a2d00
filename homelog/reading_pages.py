"""A source's readings page by page, newest first: keyset cursors, the page query, drops.

Pages are keyset-paged by (timestamp, id), so a page deep in a long history costs what the
newest page costs and every reading appears exactly once while others are added. The page
query is built once per shape (which filters it has) and shared with the PostgreSQL fast
path (homelog.pgdirect), which has the database write the page as the API's JSON.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, bindparam, select, tuple_

from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource, Reading
from homelog.readings import clean_timestamp, explained_drop, lower_values, swaps_until

MAX_PAGE_SIZE = 500


def encode_cursor(reading: Reading) -> str:
    """Return an opaque cursor that pages on after reading (newest first)."""
    return encode_position(reading.timestamp.astimezone(UTC).isoformat(), str(reading.id))


def encode_position(timestamp_iso: str, reading_id: str) -> str:
    raw = f"{timestamp_iso}|{reading_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Return the (timestamp, id) position a cursor stands for.

    Raises:
        ValidationFailed: the cursor was not made by encode_cursor.
    """
    invalid = ValidationFailed({"cursor": [_("This page link is invalid; start from the newest.")]})
    if not isinstance(cursor, str) or not cursor or len(cursor) > 200:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _bar, ident = raw.partition("|")
        timestamp = datetime.fromisoformat(stamp)
        reading_id = uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if timestamp.tzinfo is None:
        raise invalid
    return timestamp.astimezone(UTC), reading_id


@dataclass
class Page:
    """One page of readings, newest first."""

    readings: list[Reading]
    next_cursor: str | None
    # The reading just older than the last one on the page (to compare meter values), if any.
    older: Reading | None = None


Shape = tuple[bool, bool, bool, bool]  # a page query's before, start, end and offset


def page_params(
    source_id: int | None,
    before: str | None,
    limit: int,
    start: datetime | None,
    end: datetime | None,
    offset: int = 0,
) -> tuple[Shape, dict, int]:
    """Return a page query's shape (which filters it has), its filters' parameters and the
    page size (1 to MAX_PAGE_SIZE)."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**31:
        raise ValidationFailed({"offset": [_("Enter a whole number from 0.")]})
    params: dict = {"source_id": source_id}
    if before:
        params["before_timestamp"], params["before_id"] = decode_cursor(before)
    if start is not None:
        params["start"] = clean_timestamp(start)
    if end is not None:
        params["end"] = clean_timestamp(end)
    if offset:
        params["offset"] = offset
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    return (bool(before), start is not None, end is not None, bool(offset)), params, limit


@functools.cache
def page_query(shape: Shape) -> Select:
    """Return the page query with the filters of shape (before, start, end, offset), built once.

    The cursor condition is a row comparison, `(timestamp, id) < (:t, :id)`: it bounds the
    backward scan of ix_readings_source_timestamp, so a page deep in a long history costs
    what the newest page costs (the equivalent `timestamp < :t OR (timestamp = :t AND
    id < :id)` is only a filter, which grows with the depth: bench/README.md).
    """
    has_before, has_start, has_end, has_offset = shape
    query = select(Reading).where(Reading.data_source_id == bindparam("source_id"))
    if has_before:
        query = query.where(
            tuple_(Reading.timestamp, Reading.id)
            < tuple_(
                bindparam("before_timestamp", type_=Reading.timestamp.type),
                bindparam("before_id", type_=Reading.id.type),
            )
        )
    if has_start:
        query = query.where(Reading.timestamp >= bindparam("start", type_=Reading.timestamp.type))
    if has_end:
        query = query.where(Reading.timestamp < bindparam("end", type_=Reading.timestamp.type))
    if has_offset:  # skipped after the cursor: the offset counts from the cursor on
        query = query.offset(bindparam("offset"))
    return query.order_by(Reading.timestamp.desc(), Reading.id.desc()).limit(bindparam("limit"))


# What a page's table shows of a reading (homelog.sources): with plain=True a page holds rows
# of these columns, which cost less to load than ORM objects and read the same in templates.
_SHOWN_COLUMNS = (
    Reading.id,
    Reading.timestamp,
    Reading.values,
    Reading.note,
    Reading.created_by_id,
)


def page_of_readings(
    source: DataSource,
    before: str | None = None,
    limit: int = 25,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    offset: int = 0,
    plain: bool = False,
) -> Page:
    """Return up to limit readings of source, newest first, after the cursor `before`.

    Ordered by (timestamp desc, id desc), so readings with equal timestamps page correctly:
    every reading appears exactly once. start (inclusive) and end (exclusive) narrow the range;
    offset skips that many readings first (after the cursor, when there is one).
    plain=True gives rows of id, timestamp, values, note and created_by_id instead of Reading
    objects (for showing them, not changing them).

    Raises:
        ValidationFailed: invalid cursor or offset.
    """
    shape, params, limit = page_params(source.id, before, limit, start, end, offset)
    params["limit"] = limit + 1
    if plain:
        rows = list(
            db.session.execute(page_query(shape).with_only_columns(*_SHOWN_COLUMNS), params)
        )
    else:
        rows = list(db.session.scalars(page_query(shape), params))
    page, extra = rows[:limit], rows[limit:]
    older = extra[0] if extra else None
    next_cursor = encode_cursor(page[-1]) if older is not None else None
    return Page(readings=page, next_cursor=next_cursor, older=older)


def lower_flags(source: DataSource, page: Page) -> dict[uuid.UUID, dict[str, float]]:
    """Return {reading id: {metric: value before}} for the page's readings that dropped."""
    if source.kind != "meter" or not page.readings:
        return {}
    flags = {}
    swaps = None  # read once, at the page's first drop
    followers = page.readings[1:] + [page.older]
    for reading, previous in zip(page.readings, followers, strict=True):
        if not lower_values(source, reading.values or {}, previous):
            continue
        if swaps is None:
            swaps = swaps_until(source, page.readings[0].timestamp)
        if lower := explained_drop(
            source, reading.values or {}, reading.timestamp, previous, swaps
        ):
            flags[reading.id] = lower
    return flags
