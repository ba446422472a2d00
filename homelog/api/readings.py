"""API routes: a source's readings (client ids make uploads safe to retry)."""

from __future__ import annotations

import uuid

from flask import current_app, request, url_for
from werkzeug.exceptions import NotFound

from homelog import meter_drops, pgdirect, reading_pages, readings
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    aware,
    caller,
    dump,
    error_responses,
    next_link,
    operation,
    prefetched,
)
from homelog.api.schemas import (
    ConflictOut,
    ReadingCreate,
    ReadingList,
    ReadingOut,
    ReadingsQuery,
    ReadingUpdate,
)
from homelog.api.sources import source_or_404
from homelog.extensions import db
from homelog.models import Reading

TAGS = ("readings",)
READING_RULE = "/sources/<int:source_id>/readings/<uuid:reading_id>"


def _reading_or_404(source_id: int, reading_id: uuid.UUID) -> Reading:
    reading = readings.get_reading(source_or_404(source_id), reading_id)
    if reading is None:
        raise NotFound("No such reading.")
    return reading


def _json_page(query: ReadingsQuery, source_id: int) -> pgdirect.JsonPageRequest | None:
    """Return the page a bearer client gets with its token check (one statement), or None.

    None when start or end has no offset: those are in the user's timezone, known only
    after the check.
    """
    if any(value is not None and value.tzinfo is None for value in (query.start, query.end)):
        return None
    return pgdirect.json_page_request(
        source_id, query.cursor, query.limit, start=query.start, end=query.end, offset=query.offset
    )


@operation(
    "/sources/<int:source_id>/readings",
    tags=TAGS,
    query=ReadingsQuery,
    hot=True,
    prefetch=_json_page,
    responses={
        200: (ReadingList, 'Newest first; `Link: rel="next"` pages on (every reading once).'),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def list_readings(source_id: int, query: ReadingsQuery):
    """List a source's readings, newest first; `start` inclusive, `end` exclusive.

    Page on with the `cursor` of the `Link: rel="next"` header, or with `offset` (readings to
    skip, counted after the cursor when both are given).
    """
    hot = caller()  # a bearer client on PostgreSQL: checked without the ORM
    source = source_or_404(source_id) if hot is None else None
    who = hot if hot is not None else api_user()
    start, end = aware(query.start, who, "start"), aware(query.end, who, "end")
    if pgdirect.is_available():
        # The database writes the JSON (pgdirect.page_as_json): the hot path of the API.
        wanted = pgdirect.json_page_request(
            source_id, query.cursor, query.limit, start=start, end=end, offset=query.offset
        )
        text, next_cursor = pgdirect.page_as_json(wanted, prefetched(wanted))
        response = current_app.response_class(text + "\n", mimetype="application/json")
    else:
        page = reading_pages.page_of_readings(
            source, query.cursor, query.limit, start=start, end=end, offset=query.offset
        )
        response, next_cursor = dump(ReadingList, page.readings), page.next_cursor
    if next_cursor:
        kept = {key: request.args[key] for key in ("start", "end") if request.args.get(key)}
        response.headers["Link"] = next_link(
            "api.list_readings", source_id=source_id, limit=query.limit, cursor=next_cursor, **kept
        )
    return response


@operation(
    "/sources/<int:source_id>/readings",
    ["POST"],
    tags=TAGS,
    body=ReadingCreate,
    hot=True,
    responses={
        201: (ReadingOut, "Created; `Location` names it."),
        200: (ReadingOut, "This id already holds exactly this reading: nothing changed."),
        409: (ConflictOut, "This id holds a different reading: `current` is it."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def create_reading(source_id: int, body: ReadingCreate):
    """Add a reading; resending one with the same client `id` does not duplicate it.

    A meter value below the reading before needs `confirmed: true` (422 without it).
    """
    hot = caller()  # a bearer client on PostgreSQL: may write (checked), stored in one statement
    if hot is not None:
        timestamp = aware(body.timestamp, hot, "timestamp")
        stored = pgdirect.insert_reading(
            hot.source,
            hot.user_id,
            timestamp,
            body.values,
            body.note,
            reading_id=body.id,
            confirmed=body.confirmed,
        )
        if stored is not None:
            reading_id, text = stored
            location = url_for("api.get_reading", source_id=source_id, reading_id=reading_id)
            response = current_app.response_class(text + "\n", mimetype="application/json")
            return response, 201, {"Location": location}
        # The id is taken (the ORM path below tells a resend, 200, from a conflict, 409), or
        # an unconfirmed meter value dropped: check_drop below decides.
    source = source_or_404(source_id)
    user = api_user()
    timestamp = aware(body.timestamp, user, "timestamp")
    existed = body.id is not None and db.session.get(Reading, body.id) is not None
    if not existed:
        meter_drops.check_drop(source, timestamp, body.values, confirmed=body.confirmed)
    reading = readings.create_reading(
        source,
        user,
        timestamp,
        body.values,
        body.note,
        reading_id=body.id,
        confirmed=body.confirmed,
    )
    location = url_for("api.get_reading", source_id=source_id, reading_id=reading.id)
    return dump(ReadingOut, reading), 200 if existed else 201, {"Location": location}


@operation(
    READING_RULE,
    tags=TAGS,
    responses={
        200: (ReadingOut, "The reading."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_reading(source_id: int, reading_id: uuid.UUID):
    """Show one reading."""
    return dump(ReadingOut, _reading_or_404(source_id, reading_id))


@operation(
    READING_RULE,
    ["PUT", "PATCH"],
    tags=TAGS,
    body=ReadingUpdate,
    responses={
        200: (ReadingOut, "The changed reading."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def update_reading(source_id: int, reading_id: uuid.UUID, body: ReadingUpdate):
    """Change a reading; fields left out keep their value and `values` merge by metric.

    A new time or values that put a meter below the reading before need `confirmed: true`
    (422 without it), as on the page; the reading's own `confirmed` counts when left out.
    """
    reading = _reading_or_404(source_id, reading_id)
    changes = {}
    if body.timestamp is not None:
        changes["timestamp"] = aware(body.timestamp, api_user(), "timestamp")
    if body.values is not None:
        changes["values"] = {**(reading.values or {}), **body.values}
    if "note" in body.model_fields_set:
        changes["note"] = body.note
    if body.confirmed is not None:
        changes["confirmed"] = body.confirmed
    if "timestamp" in changes or "values" in changes:
        meter_drops.check_drop(
            source_or_404(source_id),
            changes.get("timestamp", reading.timestamp),
            changes.get("values", reading.values or {}),
            confirmed=changes.get("confirmed", reading.confirmed),
            reading=reading,
        )
    reading = readings.update_reading(reading, **changes)
    return dump(ReadingOut, reading)


@operation(
    READING_RULE,
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def delete_reading(source_id: int, reading_id: uuid.UUID):
    """Delete a reading."""
    reading = _reading_or_404(source_id, reading_id)
    readings.delete_reading(reading)
    return "", 204
