"""Who may do what with a source: one check in front of every source route.

Every route of the `sources` and `api` blueprints with a `source_id` in its URL passes this
hook before its view runs. It asks `homelog.datasources.can` with the action the route needs:

- "read" for a GET of a page or fragment that only shows things;
- "write" for the routes that add, change, delete, confirm or import readings: owners and
  editors;
- "manage" for everything else that changes something: the source itself, prices, meter
  swaps, settings, reminders. Owners only. A new unsafe route is owner-only until it is
  listed here, so a route added later cannot forget the check.

The GET of a form needs what sending the form needs. Which GET pages are forms is read from
the URL map (form_pages): a GET served by an endpoint that also takes POST, or at a URL that
a form posts to, is a form page, unless it is listed in SHOWS_DATA as a page that shows data
to every member with the owner's form beside it. So a form page added later is guarded
without being listed anywhere, and forgetting SHOWS_DATA errs on the side of refusing.

A source the user may not see at all is left to the view, which answers 404 (a stranger
learns nothing); a member without the right answers 403 (JSON under /api).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from flask import Flask, abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import and_, bindparam, select
from werkzeug.routing import Rule

from homelog import datasources, tokens
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import ApiToken, DataSource, User, UserSession, parse_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Routes that write readings: owners and editors.
WRITE_READINGS = frozenset(
    {
        "sources.add_reading",
        "sources.quick_add",
        "sources.edit_reading",
        "sources.delete_reading",
        "sources.restore_reading",
        "sources.confirm_reading",
        "sources.import_page",
        "sources.import_preview",
        "sources.import_confirm",
        "sources.import_cancel",
        "api.create_reading",
        "api.update_reading",
        "api.delete_reading",
        "api.import_readings",
    }
)
#: GET pages at a form's URL that show data every member may read (the owner's form for adding
#: a price sits on the prices page; the readings table's URL is where new readings are posted).
SHOWS_DATA = frozenset({"sources.tariffs", "sources.readings_page"})
GUARDED_BLUEPRINTS = ("sources", "api")


def unsafe_action(endpoint: str | None) -> str:
    """Return the action a request that changes something through endpoint needs."""
    return "write" if endpoint in WRITE_READINGS else "manage"


def form_pages(rules: Iterable[Rule]) -> dict[str, str]:
    """Return {endpoint: action} of the guarded GET pages that show a form, from the URL map.

    A GET page is a form when its endpoint also takes an unsafe method, or when a form posts
    to its URL; it needs the action of that form's endpoint (the strictest, if several).
    """
    # The API's GETs read a resource whose URL also takes PUT and DELETE: never forms.
    pages_blueprints = set(GUARDED_BLUEPRINTS) - {"api"}
    rules = [rule for rule in rules if rule.endpoint.partition(".")[0] in pages_blueprints]
    posted_to: dict[str, list[str]] = {}
    for rule in rules:
        if (rule.methods or set()) - SAFE_METHODS:
            posted_to.setdefault(rule.rule, []).append(rule.endpoint)
    pages: dict[str, str] = {}
    for rule in rules:
        if "GET" not in (rule.methods or set()) or rule.endpoint in SHOWS_DATA:
            continue
        forms = posted_to.get(rule.rule, [])
        if (rule.methods or set()) - SAFE_METHODS:
            forms = [*forms, rule.endpoint]
        actions = {unsafe_action(endpoint) for endpoint in forms}
        if actions:
            pages[rule.endpoint] = "manage" if "manage" in actions else "write"
    return pages


def required_action(endpoint: str | None, method: str) -> str:
    """Return the action ("read", "write" or "manage") a request to endpoint needs."""
    if method in SAFE_METHODS:
        pages = current_app.extensions.get("homelog_form_pages", {})
        return pages.get(endpoint or "", "read")
    return unsafe_action(endpoint)


_NOT_LOADED = object()

# A bearer request for a source: the token, its user and the source (when that user may see
# it) in one statement, one round trip fewer on every /api/sources/{id}/... request.
_TOKEN_AND_SOURCE = tokens.TOKEN_WITH_USER.add_columns(DataSource).outerjoin(
    DataSource,
    and_(DataSource.id == bindparam("source_id"), datasources.visible_to(ApiToken.user_id)),
)


def verify_token_for_source(raw: str, source_id: int) -> ApiToken | None:
    """Return tokens.verify_token(raw), loading the request's source in the same statement.

    The source (or None: missing, or not the token user's to see) is remembered for
    request_source, so the access check and the view do not look it up again.
    """
    token_hash = tokens.lookup_hash(raw)
    if token_hash is None:
        return None
    if parse_id(source_id) is None:
        return tokens.verify_token(raw)
    row = db.session.execute(
        _TOKEN_AND_SOURCE, {"token_hash": token_hash, "source_id": source_id}
    ).first()
    token = tokens.live(row[0] if row else None)
    if token is not None:
        _remember_source(token.user_id, source_id, row[1])
    return token


# A signed-in request: the browser session and its user in one statement; on a source's page,
# the source too (when that user may see it), as for a bearer token above.
_SESSION_AND_USER = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.key_hash == bindparam("key_hash"))
)
_SESSION_USER_AND_SOURCE = _SESSION_AND_USER.add_columns(
    DataSource, datasources.change_number_of(DataSource.owner_id)
).outerjoin(
    DataSource, and_(DataSource.id == bindparam("source_id"), datasources.visible_to(User.id))
)


def load_session_user(key_hash: str) -> tuple[UserSession, User] | None:
    """Return the browser session with key_hash and its user, or None.

    On a source's page that source is loaded in the same statement and remembered for
    request_source, like verify_token_for_source does, with its owner's change number
    (loaded_change_number).
    """
    source_id = None
    # API routes check bearer tokens (verify_token_for_source); pages check the session.
    if (
        has_request_context()
        and request.blueprint in GUARDED_BLUEPRINTS
        and request.blueprint != "api"
    ):
        source_id = parse_id((request.view_args or {}).get("source_id"))
    if source_id is None:
        row = db.session.execute(_SESSION_AND_USER, {"key_hash": key_hash}).first()
        return (row[0], row[1]) if row else None
    row = db.session.execute(
        _SESSION_USER_AND_SOURCE, {"key_hash": key_hash, "source_id": source_id}
    ).first()
    if row is None:
        return None
    _remember_source(row[1].id, source_id, row[2])
    if row[2] is not None:
        g._request_change_number = (row[2].id, row[3] or 0)
    return row[0], row[1]


def loaded_change_number(source: DataSource) -> int | None:
    """Return the change number of source's owner loaded with the signed-in user, else None.

    Only for GET and HEAD requests: they write no readings, so it is still the number after
    the request's own writes.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    loaded = g.get("_request_change_number")
    if loaded is None or loaded[0] != source.id:
        return None
    return loaded[1]


def request_source(user, source_id: object) -> DataSource | None:
    """Return the source user may see with source_id, loaded once per request.

    The access check and the view both need it; the second call reuses the first's row.
    """
    user_id = getattr(user, "id", None)
    cached_key, cached = g.get("_request_source", (None, _NOT_LOADED))
    if cached_key == _source_key(user_id, source_id) and cached is not _NOT_LOADED:
        return cached
    source = datasources.get_source_for(user, source_id)
    _remember_source(user_id, source_id, source)
    return source


def _remember_source(user_id: int | None, source_id: object, source: DataSource | None) -> None:
    """Keep user_id's source with source_id (None: not theirs to see) for request_source."""
    g._request_source = (_source_key(user_id, source_id), source)


def _source_key(user_id: int | None, source_id: object) -> tuple:
    return (user_id, str(source_id))


def check_source_access():
    """Answer 403 when the signed-in user may see the source but not do this with it."""
    source_id = (request.view_args or {}).get("source_id")
    if source_id is None:
        return None
    user = g.get("api_user") if request.blueprint == "api" else current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None  # the view's own sign-in check answers
    source = request_source(user, source_id)
    if source is None:
        return None  # the view answers 404
    action = required_action(request.endpoint, request.method)
    if not datasources.can(user, source, action):
        refuse(action)
    return None


def refuse(action: str) -> NoReturn:
    """Answer 403 for a member who may see a source but not do action with it."""
    if action == "manage":
        abort(403, _("Only the owner of this source can do that."))
    abort(
        403,
        _(
            "You can see this home's readings but not change them: ask its owner "
            "to make you an editor."
        ),
    )


def source_role(source: DataSource) -> str | None:
    """Return the signed-in user's role for source, once per request (for templates)."""
    cache = g.setdefault("_source_roles", {})
    if source.id in cache:  # before current_user: a page asks once per row
        return cache[source.id]
    if not current_user or not current_user.is_authenticated:
        return None
    cache[source.id] = datasources.role_for(current_user, source)
    return cache[source.id]


def may(source: DataSource, action: str) -> bool:
    """Return True when the signed-in user may do action ("read", "write", "manage") with source.

    For templates: the buttons they show follow datasources.PERMISSIONS, as the checks do.
    """
    return datasources.allows(source_role(source), action)


def init_app(app: Flask) -> None:
    """Run the check after each guarded blueprint's own before-request hooks (sign-in)."""
    for name in GUARDED_BLUEPRINTS:
        app.before_request_funcs.setdefault(name, []).append(check_source_access)
    app.extensions["homelog_form_pages"] = form_pages(app.url_map.iter_rules())
    # Templates show only the buttons the user may use.
    app.jinja_env.globals["source_role"] = source_role
    app.jinja_env.globals["may"] = may
