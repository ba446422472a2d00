"""The API's most-called routes on PostgreSQL without the ORM: pooled connection, no transaction.

`GET /api/sources/{id}`, `GET /api/sources/{id}/readings` and `POST /api/sources/{id}/readings`
are what a syncing phone and a dashboard call most. Through the ORM session each cost a BEGIN
and a ROLLBACK or COMMIT around their statements and SQLAlchemy's per-statement work, several
times the CPU of the statements themselves (figures in bench/README.md). Here a
bearer request to such a route is checked with one statement (token, user, source, the
caller's role) and answered with one more, each sent by psycopg on a pooled connection in
autocommit mode. The statements are built from the same SQLAlchemy constructs as the ORM
paths' (compiled once), so who may see what is still decided in one place
(`datasources.visible_to`, `datasources.role_of`).

Each statement stands alone: a read needs no transaction, and a new reading is stored with
its change-feed entry by one statement (readings.insert_reading). Routes opt in with
`operation(..., hot=True)`; everything else keeps the ORM session, and a hot view that still
asks for `api_user()` gets the ORM user loaded on demand.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Executable, Select, and_, bindparam, case, exc, select, update

from homelog import tokens
from homelog.extensions import db
from homelog.models import ApiToken, DataSource, MetricList, User, parse_id, utcnow

if TYPE_CHECKING:
    from homelog.readings import JsonPageRequest


@functools.cache
def _caller_statement() -> Select:
    """Return the token + user + visible source statement, built on first use."""
    from homelog import datasources  # it imports the readings module, which imports this one

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
            datasources.role_of(ApiToken.user_id),
            *(getattr(DataSource, field.name) for field in dataclasses.fields(SourceRow)),
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(
            DataSource,
            and_(DataSource.id == bindparam("source_id"), datasources.visible_to(ApiToken.user_id)),
        )
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


@functools.lru_cache(maxsize=64)
def _caller_with_page(shape: tuple[bool, ...], limit: int) -> Select:
    """Return the caller statement that also brings a page of the source's readings as JSON.

    The page is read only when the source is the caller's to see (its row was found); the
    token's own checks follow in Python, and a page a dead token brought is dropped unseen.
    """
    from homelog import readings  # it imports this module

    return _caller_statement().add_columns(
        case((DataSource.id.is_not(None), readings.json_page_items(shape, limit)))
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
    # The page asked for with the token (authenticate's page), as readings.json_page_items.
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
    With page (readings.json_page_request), that page of the source's readings comes in
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
