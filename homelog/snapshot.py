"""A phone's starting point: the sources a user may see, their role, and each newest reading.

The Record app (homelog/record) needs every source with its last value before the user types
the next one. The change feed (homelog.feed) would give that only after paging through the
household's whole reading history; this is one short answer instead, plus the feed cursor to
continue from. The cursor is read before the sources and readings, so a write that lands in
between comes again through the feed (applying it twice does no harm).
"""

from __future__ import annotations

from dataclasses import dataclass

from homelog import feed
from homelog.datasources import latest_readings, role_of, visible_sources
from homelog.extensions import db
from homelog.models import DataSource, Reading, User


@dataclass
class SourceWithRole:
    """A source and the user's role for it ("owner", "editor" or "viewer")."""

    source: DataSource
    role: str


@dataclass
class Snapshot:
    """What a phone needs to start recording, as of cursor."""

    sources: list[SourceWithRole]
    readings: list[Reading]
    cursor: str


def take_snapshot(user: User) -> Snapshot:
    """Return user's sources (by name) with their role and each one's newest reading."""
    cursor = feed.current_cursor(user)
    rows = db.session.execute(visible_sources(user).add_columns(role_of(user.id))).all()
    sources = [SourceWithRole(source, role) for source, role in rows]
    latest = latest_readings([item.source for item in sources])
    readings = [latest[item.source.id] for item in sources if item.source.id in latest]
    return Snapshot(sources=sources, readings=readings, cursor=cursor)
