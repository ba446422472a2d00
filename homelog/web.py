"""App-wide web behaviour: security headers, error pages, template helpers, SQLite pragmas."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import flask
from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from werkzeug.exceptions import BadRequest, HTTPException

from homelog import htmx, i18n, timeutil
from homelog.extensions import db, login_manager
from homelog.models import User

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """Enforce foreign keys (ON DELETE CASCADE) and allow concurrent readers on SQLite."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use when it sat unused for idle_seconds or longer.

    A connection in steady use needs no ping (one saved round trip per request); one that
    idled may have been cut by a database restart or a firewall, and a failed ping makes the
    pool replace it (DisconnectionError) instead of failing the request.
    """

    @event.listens_for(engine, "checkin")
    def note_idle(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa_exc.DisconnectionError("stale pooled connection") from error
        if not alive:
            raise sa_exc.DisconnectionError("stale pooled connection")


def _check_only_decorated_rate_limits(app: Flask) -> None:
    """Drop Flask-Limiter's before-request check when there are no app-wide limits.

    That hook looks for default and application-wide limits on every request (a measurable
    share of a fast request's CPU); homelog sets none. The sign-in routes carry their own
    limits, which their decorators check themselves (tests/test_auth.py and
    tests/api/test_auth.py prove they still apply). Setting RATELIMIT_DEFAULT or
    RATELIMIT_APPLICATION keeps the hook.
    """
    from homelog.extensions import limiter

    if any(
        app.config.get(key)
        for key in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
    ):
        return
    check = getattr(limiter, "_check_request_limit", None)
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [hook for hook in hooks if hook != check]


def wants_json() -> bool:
    """Return True when the request is for the JSON API."""
    return request.path == "/api" or request.path.startswith("/api/")


def json_error(status: int, detail: str, errors: dict | None = None, headers=None):
    """Return the API's error shape: {"detail", "errors"} with status."""
    # Messages may be lazy texts (homelog.i18n._l): JSON carries them as plain strings.
    response = jsonify({"detail": str(detail), "errors": i18n.plain(errors or {})})
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


NUL_MESSAGE = "Text must not contain NUL characters."
# The deepest JSON any route takes is 4 levels ({"readings": [{"values": {}}]}); 32 leaves room
# and keeps every parser and walker far from Python's recursion limit.
MAX_JSON_DEPTH = 32


def _nested_pattern(depth: int) -> re.Pattern[bytes]:
    """Return a pattern matching bracket sequences at most depth levels deep.

    Possessive repeats never backtrack: the match costs one pass over the text.
    """
    inner = b""
    for _ in range(depth):
        inner = rb"(?:[\[{]" + inner + rb"[\]}])*+"
    return re.compile(inner)


_WITHIN_DEPTH = _nested_pattern(MAX_JSON_DEPTH)
_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')  # every byte but brackets and quotes
_STRING = re.compile(rb'"[^"]*"')


def json_body_problem(raw: bytes) -> str | None:
    """Return why a JSON body must be refused before anything parses it, or None.

    Refused: a NUL character (escaped: a raw one is invalid JSON), brackets that do not
    balance, nesting deeper than MAX_JSON_DEPTH (json.loads would raise RecursionError at
    ~1,000 levels, and anything walking the parsed value recursively far sooner). Linear in
    the body's size and done in C: strings are cut out after their escaped backslashes and
    quotes, and the brackets left are matched against a pattern of bounded depth.
    """
    encoding = json.detect_encoding(raw)
    if encoding != "utf-8":
        try:
            raw = raw.decode(encoding).encode()
        except UnicodeError:
            return "The body is not valid JSON."
    unescaped = raw.replace(b"\\\\", b"")  # an escaped backslash cannot start an escape
    if b"\\u0000" in unescaped:
        return NUL_MESSAGE
    opening = raw.count(b"[") + raw.count(b"{")
    if opening <= MAX_JSON_DEPTH and raw.count(b"]") + raw.count(b"}") == opening:
        return None  # too few brackets to nest that deep (balance counted over strings too)
    brackets = _STRING.sub(b"", unescaped.replace(b'\\"', b"").translate(None, _STRUCTURE))
    if _WITHIN_DEPTH.fullmatch(brackets) is not None:
        return None
    if brackets.count(b"[") + brackets.count(b"{") != brackets.count(b"]") + brackets.count(b"}"):
        return "The body is not valid JSON."
    return f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, which also writes a lazy text (homelog.i18n._l) as its string."""

    @staticmethod
    def default(o):
        if i18n.is_lazy(o):
            return str(o)
        return DefaultJSONProvider.default(o)


class Request(flask.Request):
    """The app's request: a form holding a NUL character is refused wherever it is read.

    Checked when the form is parsed (by the CSRF check or a view), so a view that raises
    the size limits for its form first (a restore, an import) still gets them.
    """

    def _load_form_data(self) -> None:
        loaded = "form" in self.__dict__
        super()._load_form_data()
        if not loaded and any(
            "\x00" in key or "\x00" in value for key, value in self.form.items(multi=True)
        ):
            raise BadRequest(NUL_MESSAGE)


def init_app(app: Flask) -> None:
    """Register headers, error handlers and template helpers on app."""
    with app.app_context():
        ping_idle_connections(db.engine, app.config["DB_IDLE_PING_SECONDS"])
    _check_only_decorated_rate_limits(app)
    app.request_class = Request
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    _register_input_guard(app)
    _register_security_headers(app)
    _register_error_handlers(app)
    _register_database_errors(app)
    _register_template_helpers(app)
    _register_health_routes(app)
    _register_unauthorized(app)


def _register_input_guard(app: Flask) -> None:
    """Refuse NUL characters in the path, the query and JSON bodies, and JSON nested too deep."""

    @app.before_request
    def refuse_unsafe_input():
        # PostgreSQL cannot store NUL in text, and no person types one: refuse it up front
        # with a clear answer instead of failing deep inside a query. A JSON body is checked
        # for NUL and for nesting before anything parses it. Forms: see Request.
        if request.routing_exception is not None:
            return None  # 404 or 405: the body is never read
        problem = None
        if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)
        ):
            problem = NUL_MESSAGE
        elif request.is_json:
            # No page takes a larger JSON body than the API: apply its limit before reading
            # (413, not a parse).
            request.max_content_length = app.config.get("API_MAX_BODY_BYTES")
            problem = json_body_problem(request.get_data(cache=True))
        if problem is None:
            return None
        if wants_json():
            status = 422 if problem == NUL_MESSAGE else 400
            return json_error(status, problem, {"body": [problem]})
        if htmx.is_fragment_request():
            return render_template("errors/_message.html", message=problem), 400
        return render_template(
            "errors/error.html", code=400, message=problem, name=i18n._("Bad request")
        ), 400


def _register_security_headers(app: Flask) -> None:
    """Send the content security policy and the other security headers with every answer."""

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.headers.get("HX-Request"):
            htmx.add_vary(response)
        return response


def _register_error_handlers(app: Flask) -> None:
    """Answer errors as the request wants them: JSON, an htmx fragment or a page."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if wants_json():
            return json_error(400, "CSRF token missing or invalid.")
        message = i18n._("Your form expired or was sent from elsewhere. Please try again.")
        if htmx.is_fragment_request():
            return render_template("errors/_message.html", message=message), 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            headers = {}
            if error.code == 405 and error.valid_methods:
                headers["Allow"] = ", ".join(error.valid_methods)
            return json_error(error.code or 500, error.description or error.name, None, headers)
        name, message = http_error_text(error)
        if htmx.is_fragment_request():
            return render_template("errors/_message.html", message=message), error.code
        return render_template(
            "errors/error.html", code=error.code, message=message, name=name
        ), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        message = i18n._(
            "Something went wrong on our side. Nothing you entered was lost; try again."
        )
        if wants_json():
            return json_error(500, "Internal server error.")
        return render_template("errors/error.html", code=500, message=message), 500


def _register_database_errors(app: Flask) -> None:
    """Answer 503, quickly and without a stack trace, while the database cannot be reached."""

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    def database_unavailable(error):
        # The connection is broken or the server is down: say so quickly, never a stack trace.
        # The failed connection invalidated the pool: the next request reconnects.
        app.logger.warning(
            "Database unavailable on %s %s: %s",
            request.method,
            request.path,
            type(error.orig).__name__ if hasattr(error, "orig") else error,
        )
        db.session.rollback()
        # Render the error page as a visitor: loading the user would hit the database again.
        g._login_user = login_manager.anonymous_user()
        message = i18n._(
            "The database is not reachable right now. Nothing was lost; try again shortly."
        )
        headers = {"Retry-After": "5"}
        if wants_json():
            return json_error(503, "Database unavailable.", headers=headers)
        if htmx.is_fragment_request():
            return render_template("errors/_message.html", message=message), 503, headers
        return (
            render_template(
                "errors/error.html", code=503, message=message, name=i18n._("Service unavailable")
            ),
            503,
            headers,
        )


def _register_template_helpers(app: Flask) -> None:
    """Add the filters and globals the templates use."""

    @app.template_filter("local")
    def local_filter(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M", zone=None) -> str:
        """A time in the user's timezone (or zone): fmt in English, localised parts else."""
        if value is None:
            return ""
        return i18n.format_local_datetime(timeutil.to_local(value, zone or user_zone()), fmt)

    @app.template_filter("day")
    def day_filter(value: date | None) -> str:
        """A calendar day: "2026-12-02" in English, the locale's digits else ("02.12.2026")."""
        return i18n.format_day(value) if value is not None else ""

    @app.template_filter("ago")
    def ago_filter(value: datetime | None) -> str:
        return i18n.time_ago(value) if value else i18n._("never")

    app.add_template_filter(format_number, "number")
    app.jinja_env.globals["user_zone"] = user_zone
    app.jinja_env.globals["user_name"] = user_name


def _register_health_routes(app: Flask) -> None:
    """Add /healthz (the process is up) and /readyz (the database answers, schema current)."""

    @app.route("/healthz")
    def healthz():
        """Say that the process is up."""
        return {"status": "ok"}

    @app.route("/readyz")
    def readyz():
        """Say whether the database answers and its schema is the newest migration."""
        from homelog import health

        report = health.readiness()
        return report, 200 if report["status"] == "ok" else 503


def _register_unauthorized(app: Flask) -> None:
    """Keep the login manager's answer right for browsers, htmx and the API."""

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return json_error(
                401, "Authentication required.", headers={"WWW-Authenticate": "Bearer"}
            )
        if request.headers.get("HX-Request") == "true":
            # Come back to the page the user was on, not to the fragment's URL.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = current.path + (f"?{current.query}" if current.query else "")
            login_url = url_for("auth.login", next=back or None)
            response = app.response_class(status=401)
            return htmx.hx_redirect(response, login_url)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


#: The pages' words for HTTP errors: (title, what it means when the view said nothing more).
HTTP_ERROR_TEXT = {
    400: (i18n._l("Bad request"), i18n._l("The request could not be understood.")),
    403: (i18n._l("Forbidden"), i18n._l("You are not allowed to do that.")),
    404: (i18n._l("Not found"), i18n._l("There is nothing here. Check the address.")),
    405: (i18n._l("Method not allowed"), i18n._l("This page does not take that request.")),
    409: (i18n._l("Conflict"), i18n._l("This clashes with what is stored.")),
    413: (i18n._l("Too large"), i18n._l("What you sent is too large.")),
    429: (i18n._l("Too many requests"), i18n._l("Too many attempts. Wait a little and try again.")),
}


def http_error_text(error: HTTPException) -> tuple[str, str]:
    """Return the title and message a page shows for error, in the reader's language.

    A view's own description is kept (views write it for people); werkzeug's generic one is
    replaced by the pages' words.
    """
    name, generic = HTTP_ERROR_TEXT.get(error.code or 500, (error.name, None))
    message = error.description
    if generic is not None and (not message or message == type(error).description):
        message = generic
    return str(name), str(message)


def format_number(value) -> str:
    """Format a reading value without float noise (12.3, not 12.300000000000001).

    In the user's locale: "1,234.5" in English, "1.234,5" in German.
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e15:
            return f"{value:.6e}"
        return i18n.format_decimal(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return i18n.format_decimal(value)
    return str(value)


def user_zone():
    """Return the signed-in user's timezone (UTC for visitors), looked up once per request."""
    zone = g.get("_user_zone")
    if zone is None:
        name = current_user.timezone if current_user and current_user.is_authenticated else "UTC"
        zone = g._user_zone = timeutil.zone(name)
    return zone


def user_name(user_id: int) -> str:
    """Return the display name of the user with user_id ("" if gone), loaded once per request."""
    user = db.session.get(User, user_id)
    return user.display_name if user is not None else ""
