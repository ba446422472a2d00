"""The API's most-called routes answered by PostgreSQL directly: no ORM session, no transaction.

`GET /api/sources/{id}`, `GET /api/sources/{id}/readings` and `POST /api/sources/{id}/readings`
are what a syncing phone and a dashboard call most. Through the ORM session each cost a BEGIN
and a ROLLBACK or COMMIT around their statements and SQLAlchemy's per-statement work, several
times the CPU of the statements themselves (figures in bench/README.md). Here a bearer
request to such a route is checked with one statement (token, user, source, the caller's
role) and answered with one more, each sent by psycopg on a pooled connection in autocommit
mode. The statements are built from the same SQLAlchemy constructs as the ORM paths'
(compiled once), so who may see what is still decided in one place
(`datasources.visible_to`, `datasources.role_of`), and a page is the readings module's
query (`reading_pages.page_query`) with PostgreSQL writing each reading's JSON.

Each statement stands alone: a read needs no transaction, and a new reading is stored with
its change-feed entry by one statement (insert_reading, with homelog.changes' SQL). Routes
opt in with `operation(..., hot=True)`; everything else keeps the ORM session, and a hot view
that still asks for `api_user()` gets the ORM user loaded on demand.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    TextClause,
    and_,
    bindparam,
    case,
    exc,
    func,
    literal_column,
    select,
    text,
    update,
)

from homelog import changes, tokens
from homelog.datasources import role_of, visible_to
from homelog.extensions import db
from homelog.models import ApiToken, DataSource, MetricList, User, parse_id, utcnow, uuid7
from homelog.reading_pages import Shape, encode_position, page_params, page_query
from homelog.readings import clean_new_reading


@functools.cache
def _caller_statement() -> Select:
    """Return the token + user + visible source statement, built on first use."""
    return (
        select(
            ApiToken.id,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            ApiToken.last_used_at,
            User.id,
            User.is_active,
            User.timezone,
            User.must_change_password,
            role_of(ApiToken.user_id),
            *(getattr(DataSource, field.name) for field in dataclasses.fields(SourceRow)),
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(
            DataSource,
            and_(DataSource.id == bindparam("source_id"), visible_to(ApiToken.user_id)),
        )
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


@functools.lru_cache(maxsize=64)
def _caller_with_page(shape: tuple[bool, ...], limit: int) -> Select:
    """Return the caller statement that also brings a page of the source's readings as JSON.

    The page is read only when the source is the caller's to see (its row was found); the
    token's own checks follow in Python, and a page a dead token brought is dropped unseen.
    """
    return _caller_statement().add_columns(
        case((DataSource.id.is_not(None), json_page_items(shape, limit)))
    )


_TOUCH = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class SourceRow(MetricList):
    """A source as a hot route sees it: the columns the API shows, read-only."""

    id: int
    name: str
    description: str
    kind: str
    metric_list: list
    location_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a hot request, the source it names when they may see it, and their role."""

    user_id: int
    timezone: str
    source: SourceRow | None
    role: str | None = None
    # The page asked for with the token (authenticate's page), as json_page_items.
    page: list[str] | None = None
    # A temporary password: the API refuses everything but changing it (homelog/api/core.py).
    must_change_password: bool = False


def is_available() -> bool:
    """Return True when the app's database is PostgreSQL (the only one with a hot path) and
    API_HOT_PATH is on."""
    return db.engine.dialect.name == "postgresql" and current_app.config["API_HOT_PATH"]


def authenticate(
    raw_token: str,
    source_id: int,
    now: datetime | None = None,
    page: JsonPageRequest | None = None,
) -> Caller | None:
    """Return the caller for a bearer token and the source they ask for, else None.

    None when the token is unknown, revoked or expired, or its user is deactivated: the
    same rules as tokens.live. The source is None when it is missing or not theirs to see.
    With page (json_page_request), that page of the source's readings comes in
    the same statement (Caller.page): one round trip for the readings list.
    """
    token_hash = tokens.lookup_hash(raw_token)
    if token_hash is None:
        return None
    # An id no row can have (0, or beyond the column's range) finds no source: 404, not 401.
    params = {"token_hash": token_hash, "source_id": parse_id(source_id)}
    if page is None:
        rows = run(_caller_statement(), params)
    else:
        rows = run(
            _caller_with_page(page.shape, page.limit), {**page.params, **params}, binary=True
        )
    if not rows:
        return None
    (
        token_id,
        expires_at,
        revoked_at,
        last_used_at,
        user_id,
        is_active,
        timezone,
        must_change_password,
        role,
        *columns,
    ) = rows[0]
    items = columns.pop() if page is not None else None
    now = now or utcnow()
    if not tokens.works(revoked_at, expires_at, is_active, now):
        return None
    if tokens.needs_touch(last_used_at, now):
        run(_TOUCH, {"token_id": token_id, "now": now})
    source = _source_row(columns) if columns[0] is not None else None
    return Caller(
        user_id=user_id,
        timezone=timezone,
        source=source,
        role=role,
        page=items,
        must_change_password=must_change_password,
    )


def _source_row(columns: Sequence) -> SourceRow:
    """Return a source's columns as a SourceRow, times in UTC as models.UTCDateTime gives them."""
    source = SourceRow(*columns)
    utc = {key: getattr(source, key).astimezone(UTC) for key in ("created_at", "updated_at")}
    return dataclasses.replace(source, **utc)


# ---- A page as the API's JSON, written by PostgreSQL ----------------------------------------


def _utc_text(column: str) -> str:
    """Return SQL for column (timestamptz) as the API writes times: 2026-01-01T00:00:00Z.

    Microseconds appear only when there are some, as Python's isoformat and pydantic do.
    """
    return (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE "
        f"WHEN date_part('microseconds', {column})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({column} AT TIME ZONE 'UTC', '.US') END || 'Z'"
    )


def _reading_json_sql(row: str) -> str:
    """Return SQL writing a readings row (table or alias name row) as the API's JSON object.

    The API's reading object (homelog.api.schemas.ReadingOut, keys in its order) as text;
    `values` is a json column: its stored text is already the JSON of the values.
    """
    return (
        f"""'{{"id": "' || {row}.id::text"""
        f""" || '", "data_source_id": ' || {row}.data_source_id::text"""
        f""" || ', "timestamp": "' || {_utc_text(f"{row}.timestamp")} || '"'"""
        f""" || ', "values": ' || {row}."values"::text"""
        f""" || ', "note": ' || coalesce(to_json({row}.note)::text, 'null')"""
        f""" || ', "confirmed": ' || CASE WHEN {row}.confirmed THEN 'true' ELSE 'false' END"""
        f""" || ', "created_by_id": ' || coalesce({row}.created_by_id::text, 'null')"""
        f""" || ', "created_at": "' || {_utc_text(f"{row}.created_at")} || '"'"""
        f""" || ', "updated_at": "' || {_utc_text(f"{row}.updated_at")} || '"}}'"""
    )


@dataclass(frozen=True, slots=True)
class JsonPageRequest:
    """A page of readings to be written as the API's JSON (json_page_request)."""

    shape: Shape
    params: dict
    limit: int


def json_page_request(
    source_id: int | None,
    before: str | None = None,
    limit: int = 25,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    offset: int = 0,
) -> JsonPageRequest:
    """Return what json_page_items needs for page_of_readings' page (PostgreSQL).

    Raises:
        ValidationFailed: invalid cursor or offset.
    """
    # The limit is written into the statement (json_page_items), not sent as a parameter.
    return JsonPageRequest(*page_params(source_id, before, limit, start, end, offset))


@functools.lru_cache(maxsize=64)
def json_page_items(shape: Shape, limit: int) -> ColumnElement:
    """Return SQL for the page as an array of the API's reading objects (text), newest first.

    One more item than the page holds when there is a next page. The limit is written into
    the statement, not sent as a parameter: PostgreSQL plans a prepared statement with a
    parameter LIMIT for a tenth of the source's readings, so it planned it anew on every
    execution (bench/README.md). A client asks for one or two page sizes; any
    size works, and the statements of the last 64 are kept.
    """
    page = (
        page_query(shape)
        .with_only_columns(literal_column(_reading_json_sql("readings")))
        .limit(literal_column(str(int(limit) + 1)))
    )
    return func.array(page.scalar_subquery())


@functools.lru_cache(maxsize=64)
def _json_page_statement(shape: Shape, limit: int) -> Select:
    return select(json_page_items(shape, limit))


def page_as_json(
    request: JsonPageRequest,
    items: list[str] | None = None,
) -> tuple[str, str | None]:
    """Return the page as the API's JSON list, and the next cursor (PostgreSQL).

    PostgreSQL writes each reading's JSON while it reads the row, so the worker neither
    builds 100 objects nor serialises them: the API's hottest route costs a fraction of the
    CPU (see bench/README.md). The JSON equals what the API's schema makes of
    reading_pages.page_of_readings (tests/api/test_readings.py compares the two). items:
    the page's json_page_items when they came with another statement (authenticate).
    """
    if items is None:
        statement = _json_page_statement(request.shape, request.limit)
        items = run(statement, request.params, binary=True)[0][0]
    limit = request.limit
    body = "[" + ", ".join(items[:limit]) + "]"
    next_cursor = None
    if len(items) > limit:
        last = json.loads(items[limit - 1])
        next_cursor = encode_position(last["timestamp"].removesuffix("Z") + "+00:00", last["id"])
    return body, next_cursor


# ---- A new reading in one statement ---------------------------------------------------------


@functools.cache
def _insert_reading_statement() -> TextClause:
    """Return insert_reading's statement: the reading, its change-feed record (homelog.changes)
    and the reading's JSON as the list writes it.

    With `check_drop` (an unconfirmed meter reading) nothing is inserted when a value is
    below the same metric's value in the reading before: homelog.meter_drops' rule, asked in
    the same statement instead of a round trip of its own. A value not below is never a
    drop, so an insert here is exact; a refusal sends the reading to the checked path, which
    also weighs meter swaps and rollovers.
    """
    return text(f"""
    WITH r AS (
        INSERT INTO readings (id, data_source_id, "timestamp", "values", note, confirmed,
                              created_by_id, created_at, updated_at)
        SELECT :id, :source_id, :timestamp, CAST(:values AS json), :note, :confirmed,
               :user_id, :now, :now
        WHERE NOT (CAST(:check_drop AS boolean) AND EXISTS (
            SELECT 1
            FROM (
                SELECT p."values" FROM readings p
                WHERE p.data_source_id = :source_id AND p."timestamp" < :timestamp
                ORDER BY p."timestamp" DESC, p.id DESC
                LIMIT 1
            ) AS before, json_each(before."values") AS e
            WHERE json_typeof(e.value) = 'number'
              AND json_typeof(CAST(:values AS json) -> e.key) = 'number'
              AND CAST(CAST(:values AS json) ->> e.key AS double precision)
                  < CAST(e.value #>> '{{}}' AS double precision)
        ))
        ON CONFLICT (id) DO NOTHING
        RETURNING *
    ), {changes.reading_change_sql("r", ":owner_id", ":now")}
    SELECT {_reading_json_sql("r")} FROM r
    """)


def insert_reading(
    source: SourceRow,
    user_id: int,
    timestamp: datetime,
    values: Mapping[str, object],
    note: str | None = None,
    reading_id: uuid.UUID | str | None = None,
    *,
    confirmed: bool = False,
) -> tuple[uuid.UUID, str] | None:
    """Store a new reading in one statement (PostgreSQL); return its id and its API JSON.

    readings.create_reading's fast twin: the same checks and the same row, recorded as
    homelog.changes records every write, the whole in one autocommitted statement (the
    owner's counter stays locked until it commits). Returns None when reading_id is taken
    (readings.create_reading then tells a resend from a conflict) or when an unconfirmed
    meter value is below the reading before's (homelog.meter_drops then decides).

    Raises:
        ValidationFailed: invalid timestamp, values, note or id.
    """
    ts, clean, clean_n, wanted_id = clean_new_reading(source, timestamp, values, note, reading_id)
    new_id = wanted_id or uuid7()
    rows = run(
        _insert_reading_statement(),
        {
            "id": new_id,
            "source_id": source.id,
            "timestamp": ts,
            "values": json.dumps(clean),
            "note": clean_n,
            "confirmed": bool(confirmed),
            "user_id": user_id,
            "now": utcnow(),
            "owner_id": source.owner_id,
            "check_drop": source.kind == "meter" and not confirmed,
        },
    )
    return (new_id, rows[0][0]) if rows else None


# ---- Running a statement --------------------------------------------------------------------

_compiled: dict[Executable, tuple[str, dict, bool]] = {}
# Statements are built once per shape (and page size): a few dozen in use. Forgotten when
# there are more, so that clients asking for every page size cannot grow it without end.
_COMPILED_KEPT = 256
_compiled_lock = threading.Lock()


def _sql(statement: Executable, params: Mapping[str, Any]) -> tuple[str, dict, bool]:
    """Return statement's SQL for psycopg, the parameters fixed in it and whether it returns
    rows, compiled once.

    Lists written into the statement (`role IN ("viewer", "editor")`) are expanded here and
    kept; the call's own parameters must be plain values.
    """
    found = _compiled.get(statement)
    if found is None:
        compiled = statement.compile(dialect=db.engine.dialect)
        expanded = compiled.construct_expanded_state(dict(params))
        fixed = {key: value for key, value in expanded.parameters.items() if key not in params}
        writes = compiled.isinsert or compiled.isupdate or compiled.isdelete
        found = (expanded.statement, fixed, not writes or bool(compiled.effective_returning))
        with _compiled_lock:
            if len(_compiled) >= _COMPILED_KEPT:
                _compiled.clear()
            _compiled[statement] = found
    return found


def run(
    statement: Executable,
    params: Mapping[str, Any],
    *,
    binary: bool = False,
) -> Sequence[tuple]:
    """Run statement on a pooled connection in autocommit mode; return its rows (if any).

    binary=True asks for the rows in PostgreSQL's binary format: an array of texts comes
    without the quoting and escaping of the text format (cheaper on both sides).

    A lost connection is dropped from the pool and raised as SQLAlchemy's OperationalError,
    so the app answers 503 exactly as for the ORM's statements (homelog/web.py).
    """
    sql, fixed, returns_rows = _sql(statement, params)
    engine = db.engine  # looked up through the app context: once per statement
    dbapi = engine.dialect.loaded_dbapi
    try:
        pooled = engine.raw_connection()
    except dbapi.Error as error:  # the server is down: a new connection cannot be made
        raise exc.OperationalError(sql, None, error, hide_parameters=True) from error
    connection = pooled.driver_connection
    values = {**fixed, **params}
    events = engine.dispatch.before_cursor_execute
    if events:  # statement counters and tracers (tests, bench/cpu.py) see these statements too
        events(None, None, sql, values, None, False)
    try:
        connection.autocommit = True
        cursor = connection.execute(sql, values, binary=binary)
        return cursor.fetchall() if returns_rows else ()
    except dbapi.Error as error:
        # Parameters stay out of the message: they hold a token's hash.
        if isinstance(error, dbapi.OperationalError | dbapi.InterfaceError):
            if connection.closed:  # broken (a statement timeout leaves it usable)
                pooled.invalidate(error)
            raise exc.OperationalError(sql, None, error, hide_parameters=True) from error
        raise exc.DBAPIError.instance(
            sql, None, error, dbapi.Error, hide_parameters=True
        ) from error
    finally:
        if not connection.closed:
            connection.autocommit = False  # the pool hands it to the ORM next
        pooled.close()
