"""API routes for offline sync: batch upload of readings and the change feed."""

from __future__ import annotations

from homelog import sync
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    aware,
    dump,
    error_responses,
    operation,
    validate,
)
from homelog.api.schemas import (
    ChangesOut,
    ChangesQuery,
    SyncBatchIn,
    SyncReading,
    SyncReadingsIn,
    SyncReadingsOut,
)
from homelog.errors import ValidationFailed
from homelog.readings import parse_reading_id

TAGS = ("sync",)


@operation("/sync/readings", ["POST"], tags=TAGS, body=SyncReadingsIn, parse_as=SyncBatchIn,
           responses={
               200: (SyncReadingsOut, "One result per item, in the order sent."),
               **error_responses(*AUTH_ERRORS, *BODY_ERRORS),
           })
def sync_readings(body: SyncBatchIn):
    """Upload up to 1,000 readings for any of the user's sources; safe to resend.

    Each item is `created`, `unchanged` (its id already holds the same reading), `conflict`
    (its id holds a different reading: `current` shows it) or `invalid` (`errors` says why).
    Valid items are saved even when others are invalid: items are validated one by one.
    """
    user = api_user()
    results: list[dict | None] = [None] * len(body.readings)
    accepted: list[tuple[int, sync.ReadingInput]] = []
    for index, raw in enumerate(body.readings):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            item = validate(SyncReading, raw)
            timestamp = aware(item.timestamp, user, "timestamp")
        except ValidationFailed as error:
            results[index] = {"index": index, "id": parse_reading_id(raw_id), "status": "invalid",
                              "reason": error.detail, "errors": error.errors}
            continue
        accepted.append((index, sync.ReadingInput(
            id=item.id, data_source_id=item.data_source_id, timestamp=timestamp,
            values=item.values, note=item.note, confirmed=item.confirmed,
        )))
    saved = sync.save_readings(user, [item for _, item in accepted])
    for (index, _), result in zip(accepted, saved, strict=True):
        results[index] = {
            "index": index, "id": result.id, "status": result.status, "reason": result.reason,
            "errors": result.errors, "current": result.reading,
        }
    counts = {status: 0 for status in ("created", "unchanged", "conflict", "invalid")}
    for result in results:
        counts[result["status"]] += 1
    return dump(SyncReadingsOut, {"results": results, **counts})


@operation("/sync/changes", tags=TAGS, query=ChangesQuery, responses={
    200: (ChangesOut, "Changes after `since`, oldest first."),
    **error_responses(*AUTH_ERRORS, 422),
})
def sync_changes(query: ChangesQuery):
    """Return sources and readings created, updated or deleted after the cursor `since`.

    Start with no `since`; store `next_cursor` and ask again with it (at once while
    `has_more`). An object appears once per answer, at its newest change; deletions come
    as tombstones, and a deleted source's readings are gone with it. Nothing is missed when
    writes happen while paging: see docs/api.md.
    """
    page = sync.changes_since(api_user(), sync.parse_cursor(query.since), query.limit)
    return dump(ChangesOut, {
        "sources": page.sources,
        "readings": page.readings,
        "deleted": [
            {"type": row.kind, "id": row.object_id, "data_source_id": row.data_source_id,
             "deleted_at": row.changed_at}
            for row in page.deleted
        ],
        "next_cursor": str(page.next_cursor),
        "has_more": page.has_more,
    })
