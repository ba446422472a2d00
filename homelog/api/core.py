"""The API blueprint's machinery: authentication, request parsing, errors, documented routes.

Views are declared with `operation(...)`, which registers the route, parses and validates the
query string and JSON body with the given schemas (passing them in as `query=` and `body=`),
and records what the OpenAPI document says about the route, so the two cannot disagree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, request, url_for
from flask_cors import CORS
from flask_login import current_user
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType

from homelog import access, datasources, i18n, pgdirect, timeutil, tokens
from homelog.accounts import AccountError
from homelog.api.schemas import ConflictOut, Error
from homelog.errors import Conflict, ValidationFailed
from homelog.extensions import csrf, db
from homelog.models import User
from homelog.web import json_error

bp = Blueprint("api", __name__)
# Browser sessions send the CSRF header themselves (checked below); bearer clients need none.
csrf.exempt(bp)

DEFAULT_MAX_BODY = 2 * 1024 * 1024  # 1,000 readings with long notes fit well within this
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass
class Operation:
    """What the OpenAPI document says about one route."""

    rule: str
    methods: tuple[str, ...]
    endpoint: str
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # status -> (schema or None, description)
    responses: dict[int, tuple[type[BaseModel] | None, str]] = field(default_factory=dict)
    public: bool = False
    description: str = ""
    # A body that is not JSON (e.g. {"text/csv": {"schema": {"type": "string"}}}): the view
    # reads it itself.
    raw_body: dict[str, dict] | None = None


OPERATIONS: list[Operation] = []
_PUBLIC: set[str] = set()
_HOT: set[str] = set()
# Hot routes that can bring their answer along with the token check: endpoint -> (query
# schema, what pgdirect.authenticate should bring for a query and source id, or None).
_PREFETCH: dict[str, tuple[type[BaseModel], Callable[[Any, int], Any]]] = {}


def operation(
    rule: str,
    methods: Sequence[str] = ("GET",),
    *,
    tags: Sequence[str],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, tuple[type[BaseModel] | None, str]],
    public: bool = False,
    parse_as: type[BaseModel] | None = None,
    raw_body: dict[str, dict] | None = None,
    hot: bool = False,
    prefetch: Callable[[Any, int], Any] | None = None,
) -> Callable:
    """Register a documented API route that validates its query and body with schemas.

    parse_as validates the body instead of body (documented) when items of a list must be
    validated one by one by the view. hot marks a route of one source that bearer clients
    call most: on PostgreSQL it is authenticated without the ORM (homelog.pgdirect), the
    caller's role checked as access.check_source_access would, and its view reads
    `caller()` instead of `api_user()`. A hot route's prefetch(query, source_id) may name
    what pgdirect.authenticate brings in the same statement (see `prefetched`).
    """
    if (hot or prefetch) and "<int:source_id>" not in rule:
        raise ValueError("Only a route of one source can be hot.")
    if prefetch is not None and not (hot and query is not None):
        raise ValueError("Only a hot route with a query schema can prefetch.")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs):
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(parse_as or body)
            return view(**kwargs)

        doc = (view.__doc__ or "").strip()
        summary, _, description = doc.partition("\n")
        OPERATIONS.append(
            Operation(
                rule=rule,
                methods=tuple(methods),
                endpoint=f"{bp.name}.{view.__name__}",
                summary=summary,
                description=description.strip(),
                tags=tuple(tags),
                body=body,
                query=query,
                responses=responses,
                public=public,
                raw_body=raw_body,
            )
        )
        if public:
            _PUBLIC.add(f"{bp.name}.{view.__name__}")
        if hot:
            _HOT.add(f"{bp.name}.{view.__name__}")
        if prefetch is not None:
            _PREFETCH[f"{bp.name}.{view.__name__}"] = (query, prefetch)
        bp.add_url_rule(rule, view.__name__, wrapper, methods=list(methods), strict_slashes=False)
        return wrapper

    return decorate


def public_route(rule: str, **options) -> Callable:
    """Register an undocumented route that needs no credentials (the docs themselves)."""

    def decorate(view: Callable) -> Callable:
        _PUBLIC.add(f"{bp.name}.{view.__name__}")
        return bp.route(rule, strict_slashes=False, **options)(view)

    return decorate


# ---- Cross-origin requests ------------------------------------------------------------------


def cors_origins(config: Mapping[str, Any]) -> list[str]:
    """Return the origins allowed to call the API from a browser (CORS_ORIGINS, comma-separated).

    None by default: the app's own pages are same-origin and need no CORS.
    """
    value = config.get("CORS_ORIGINS", os.environ.get("CORS_ORIGINS", ""))
    if isinstance(value, str):
        value = value.split(",")
    return [origin.strip() for origin in value if origin and origin.strip()]


@bp.record_once
def _enable_cors(state) -> None:
    origins = cors_origins(state.app.config)
    if origins:
        # Bearer tokens only: cookies are not sent cross-origin (supports_credentials off).
        CORS(
            state.app,
            resources={r"/api/*": {"origins": origins}},
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Location", "Link", "Retry-After"],
            max_age=600,
        )


# ---- Authentication -------------------------------------------------------------------------


def api_user() -> User:
    """Return the user this request is authenticated as (loaded now after a hot sign-in)."""
    if g.api_user is None and g.api_caller is not None:
        g.api_user = db.session.get(User, g.api_caller.user_id)
    return g.api_user


def _prefetch(source_id: int) -> Any:
    """Return what the hot route's prefetch asks for with this query, or None.

    None when the query is invalid: the view answers that (422) after the token's check.
    """
    found = _PREFETCH.get(request.endpoint)
    if found is None:
        return None
    model, prefetch = found
    try:
        g.api_prefetch = prefetch(parse_query(model), source_id)
    except ValidationFailed:
        return None
    return g.api_prefetch


def prefetched(wanted: Any) -> Any:
    """Return what came with the token check (Caller.page) when it is exactly wanted, else None."""
    if g.api_caller is None or g.api_prefetch is None or g.api_prefetch != wanted:
        return None
    return g.api_caller.page


def caller() -> pgdirect.Caller | None:
    """Return the bearer caller of a hot route on PostgreSQL, else None (use api_user()).

    Raises:
        NotFound: the route's source is missing or not the caller's to see.
    """
    if g.api_caller is not None and g.api_caller.source is None:
        raise NotFound("No such source.")
    return g.api_caller


#: What a user whose password is temporary may still do: change it, sign out, see who they are.
_OPEN_WHILE_PASSWORD_EXPIRED = frozenset({"api.change_password", "api.logout", "api.me"})


def _password_expired() -> Response | None:
    """Answer 403 when the caller must replace a temporary password before anything else."""
    if request.endpoint in _OPEN_WHILE_PASSWORD_EXPIRED or request.endpoint in _PUBLIC:
        return None
    return json_error(
        403,
        "This account has a temporary password. Choose your own first: PUT "
        "/api/auth/password with current_password and new_password.",
        {"password": ["A temporary password must be changed before anything else."]},
    )


@bp.before_request
def authenticate():
    """Find the user from a bearer token or the browser session; answer 401 otherwise."""
    request.max_content_length = current_app.config.get("API_MAX_BODY_BYTES", DEFAULT_MAX_BODY)
    g.api_user = g.api_token = g.api_caller = g.api_prefetch = None
    if request.method == "OPTIONS":  # CORS preflight: carries no credentials
        return None
    public = request.endpoint in _PUBLIC
    header = request.headers.get("Authorization")
    if header:
        scheme, _, credentials = header.partition(" ")
        token = None
        if scheme.lower() == "bearer":
            source_id = (request.view_args or {}).get("source_id")
            if request.endpoint in _HOT and pgdirect.is_available():
                g.api_caller = pgdirect.authenticate(
                    credentials.strip(), source_id, page=_prefetch(source_id)
                )
                if g.api_caller is not None:
                    if g.api_caller.must_change_password:
                        return _password_expired()
                    # access.check_source_access's rule, with the role loaded alongside.
                    action = access.required_action(request.endpoint, request.method)
                    if g.api_caller.source is not None and not datasources.allows(
                        g.api_caller.role, action
                    ):
                        access.refuse(action)
                    return None
            elif isinstance(source_id, int):
                token = access.verify_token_for_source(credentials.strip(), source_id)
            else:
                token = tokens.verify_token(credentials.strip())
        if token is not None:
            g.api_user, g.api_token = token.user, token
            return _password_expired() if token.user.must_change_password else None
        if public:
            return None
        return json_error(
            401,
            "The token is invalid, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if current_user.is_authenticated:
        g.api_user = current_user._get_current_object()
        if request.method not in SAFE_METHODS:
            csrf.protect()  # a cookie alone must not be able to change anything
        return _password_expired() if g.api_user.must_change_password else None
    if public:
        return None
    return json_error(401, "Authentication required.", headers=BEARER)


# ---- Parsing --------------------------------------------------------------------------------


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_errors(error: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    """Return pydantic's errors as {field path: [messages]}."""
    errors: dict[str, list[str]] = {}
    for item in error.errors(include_url=False, include_context=False):
        key = _loc([*([prefix] if prefix else []), *item["loc"]])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "Unknown field."
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        errors.setdefault(key, []).append(message)
    return errors


def json_body() -> Any:
    """Return the request's JSON document.

    Raises:
        UnsupportedMediaType: the body is not JSON (415).
        BadRequest: the JSON is malformed (400).
        RequestEntityTooLarge: the body is over the configured size (413).
    """
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
    raw = request.get_data(cache=True)  # raises 413 over request.max_content_length
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None


def validate(model: type[BaseModel], data: Any, prefix: str = "") -> BaseModel:
    """Validate data with model.

    Raises:
        ValidationFailed: with every field's problems (422).
    """
    if isinstance(data, dict) and getattr(model, "read_only", None):
        data = {key: value for key, value in data.items() if key not in model.read_only}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(validation_errors(error, prefix)) from None


def parse_body(model: type[BaseModel]) -> BaseModel:
    """Return the JSON body validated by model (400, 413, 415 or 422 otherwise)."""
    return validate(model, json_body())


def parse_query(model: type[BaseModel]) -> BaseModel:
    """Return the query string validated by model (422 otherwise), validated once a request."""
    parsed = g.get("api_query")
    if parsed is not None and parsed[0] is model:
        return parsed[1]
    data = {key: request.args.get(key) for key in request.args}
    query = validate(model, data)
    g.api_query = (model, query)
    return query


def serialize(model: type[BaseModel], obj: Any) -> Any:
    """Return obj as JSON-able data shaped by a response schema."""
    if isinstance(obj, dict):
        obj = i18n.plain(obj)  # domain messages may be lazy texts; pydantic takes str
    return model.model_validate(obj, from_attributes=True).model_dump(mode="json")


def dump(model: type[BaseModel], obj: Any) -> Response:
    """Return a JSON response of obj shaped by a response schema.

    Keys keep the schema's order (Flask's jsonify would sort them, and a source's metrics
    are an ordered mapping).
    """
    text = current_app.json.dumps(serialize(model, obj), sort_keys=False)
    return current_app.response_class(text + "\n", mimetype="application/json")


def aware(value: datetime | None, user: User, field_name: str) -> datetime | None:
    """Return value with a timezone: a time without offset is in user's timezone.

    Raises:
        ValidationFailed: the local time does not exist (skipped by a daylight-saving change),
            or the time is outside the supported range (homelog.timeutil).
    """
    if value is None:
        return value
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            return timeutil.check_time(value)
        return timeutil.to_utc(value, timeutil.zone(user.timezone))
    except (ValueError, OverflowError) as error:
        raise ValidationFailed({field_name: [str(error)]}) from None


def next_link(endpoint: str, **values) -> str:
    """Return a `Link` header value pointing at the next page."""
    return f'<{url_for(endpoint, _external=True, **values)}>; rel="next"'


# ---- Errors ---------------------------------------------------------------------------------


@bp.errorhandler(ValidationFailed)
def validation_failed(error: ValidationFailed):
    """Answer invalid values with 422."""
    return json_error(422, error.detail, error.errors)


@bp.errorhandler(Conflict)
def conflict(error: Conflict):
    """Answer a clash with stored data with 409 and, when it is the user's, the stored copy."""
    body = {"detail": str(error.detail), "errors": {}, "current": None}
    if error.current is not None:
        body["current"] = error.current
    return dump(ConflictOut, body), 409


@bp.errorhandler(AccountError)
def account_error(error: AccountError):
    """Answer a broken account rule: 422 for a field, 403 for a forbidden action."""
    db.session.rollback()
    if error.field:
        return json_error(422, "Some values are invalid.", {error.field: [str(error)]})
    return json_error(403, str(error))


@bp.errorhandler(IntegrityError)
def integrity_error(_error: IntegrityError):
    """Answer a write that lost a race with another (e.g. the same email at once) with 409."""
    db.session.rollback()
    return json_error(409, "This clashes with a change made at the same time; try again.")


def error_responses(*codes: int) -> dict[int, tuple[type[BaseModel], str]]:
    """Return the documented error responses for codes."""
    meaning = {
        400: "Malformed JSON.",
        401: "Missing, invalid or expired credentials.",
        403: "Not allowed, or the password is a temporary one to change first.",
        404: "Not found, or not yours.",
        409: "Conflicts with stored data.",
        413: "Body too large.",
        415: "Body is not JSON.",
        422: "Invalid values.",
        429: "Too many attempts; see Retry-After.",
    }
    return {code: (Error, meaning[code]) for code in codes}


# Errors every authenticated route can give (403: a temporary password must be changed first).
AUTH_ERRORS = (401, 403)
BODY_ERRORS = (400, 413, 415, 422)
