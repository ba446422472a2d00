"""API routes for offline sync: batch upload of readings and the change feed."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from homelog import feed, sync
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
from homelog.api.sources import source_out
from homelog.errors import ValidationFailed
from homelog.readings import parse_reading_id

TAGS = ("sync",)
_ITEMS = TypeAdapter(list[SyncReading])


def _validated_items(raws: list[Any]) -> list[SyncReading | ValidationFailed]:
    """Return each item of a batch validated, or the ValidationFailed that says why not."""
    read_only = SyncReading.read_only
    try:
        # Usually every item is valid: one call of pydantic for the whole list is much
        # cheaper than a call per item.
        return _ITEMS.validate_python(
            [
                {key: value for key, value in raw.items() if key not in read_only}
                if isinstance(raw, dict) and not read_only.isdisjoint(raw)
                else raw
                for raw in raws
            ]
        )
    except ValidationError:
        pass
    items: list[SyncReading | ValidationFailed] = []
    for raw in raws:  # some are invalid: each item's own errors, keyed as for one reading
        try:
            items.append(validate(SyncReading, raw))
        except ValidationFailed as error:
            items.append(error)
    return items


@operation(
    "/sync/readings",
    ["POST"],
    tags=TAGS,
    body=SyncReadingsIn,
    parse_as=SyncBatchIn,
    responses={
        200: (SyncReadingsOut, "One result per item, in the order sent."),
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS),
    },
)
def sync_readings(body: SyncBatchIn):
    """Upload up to 1,000 readings for any of the user's sources; safe to resend.

    Each item is `created`, `unchanged` (its id already holds the same reading), `conflict`
    (its id holds a different reading: `current` shows it) or `invalid` (`errors` says why).
    Valid items are saved even when others are invalid: items are validated one by one.
    """
    user = api_user()
    results: list[dict | None] = [None] * len(body.readings)
    accepted: list[tuple[int, sync.ReadingInput]] = []
    for index, (raw, item) in enumerate(
        zip(body.readings, _validated_items(body.readings), strict=True)
    ):
        if isinstance(item, SyncReading):
            try:
                timestamp = aware(item.timestamp, user, "timestamp")
            except ValidationFailed as error:
                item = error
        if isinstance(item, ValidationFailed):
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            results[index] = {
                "index": index,
                "id": parse_reading_id(raw_id),
                "status": "invalid",
                "reason": item.detail,
                "errors": item.errors,
            }
            continue
        accepted.append(
            (
                index,
                sync.ReadingInput(
                    id=item.id,
                    data_source_id=item.data_source_id,
                    timestamp=timestamp,
                    values=item.values,
                    note=item.note,
                    confirmed=item.confirmed,
                ),
            )
        )
    saved = sync.save_readings(user, [item for _, item in accepted])
    for (index, _), result in zip(accepted, saved, strict=True):
        results[index] = {
            "index": index,
            "id": result.id,
            "status": result.status,
            "reason": result.reason,
            "errors": result.errors,
            "current": result.reading,
        }
    counts = {status: 0 for status in ("created", "unchanged", "conflict", "invalid")}
    for result in results:
        counts[result["status"]] += 1
    return dump(SyncReadingsOut, {"results": results, **counts})


@operation(
    "/sync/changes",
    tags=TAGS,
    query=ChangesQuery,
    responses={
        200: (ChangesOut, "Changes after `since`, oldest first."),
        **error_responses(*AUTH_ERRORS, 422),
    },
)
def sync_changes(query: ChangesQuery):
    """Return sources and readings created, updated or deleted after the cursor `since`.

    Start with no `since`; store `next_cursor` and ask again with it (at once while
    `has_more`). An object appears once per answer, at its newest change; deletions come
    as tombstones, and a deleted source's readings are gone with it. Nothing is missed when
    writes happen while paging: see docs/api.md.
    """
    page = feed.changes_since(api_user(), query.since, query.limit)
    return dump(
        ChangesOut,
        {
            "sources": [source_out(source, role) for source, role in page.sources],
            "readings": page.readings,
            "deleted": [
                {
                    "type": row.kind,
                    "id": row.object_id,
                    "data_source_id": row.data_source_id,
                    "deleted_at": row.changed_at,
                }
                for row in page.deleted
            ],
            "next_cursor": page.next_cursor,
            "has_more": page.has_more,
        },
    )
