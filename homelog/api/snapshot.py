"""API routes: the sync snapshot a phone starts from (sources, roles, newest readings)."""

from __future__ import annotations

from homelog import snapshot
from homelog.api.core import AUTH_ERRORS, api_user, dump, error_responses, operation
from homelog.api.snapshot_schemas import SnapshotOut
from homelog.api.sources import source_out

TAGS = ("sync",)


@operation(
    "/sync/latest",
    tags=TAGS,
    responses={
        200: (SnapshotOut, "Sources with the caller's role, newest readings, a feed cursor."),
        **error_responses(*AUTH_ERRORS),
    },
)
def sync_latest():
    """Return every source the user may see with their role and its newest reading.

    A phone's first sync: one short answer instead of the whole reading history through
    `/api/sync/changes`. Continue with `/api/sync/changes?since=<next_cursor>`.
    """
    taken = snapshot.take_snapshot(api_user())
    return dump(
        SnapshotOut,
        {
            "sources": [source_out(item.source, item.role) for item in taken.sources],
            "readings": taken.readings,
            "next_cursor": taken.cursor,
        },
    )
