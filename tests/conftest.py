"""Shared fixtures: the app on SQLite or PostgreSQL, clients with CSRF, and factories.

The database comes from HOMELOG_TEST_BACKEND: "sqlite" (default, a temporary file) or
"postgresql" (a new database on the server named by TEST_DATABASE_URL, dropped afterwards;
an unreachable server means failure, never a skip).
The schema is made by the real migrations, once per session; each test starts from empty tables.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from homelog import create_app, homes
from homelog.config import normalize_database_url
from homelog.extensions import db, limiter
from homelog.models import DataSource, Reading, User

PASSWORD = "a long test passphrase"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def _database_url(tmp_path_factory) -> str:
    backend = os.environ.get("HOMELOG_TEST_BACKEND", "sqlite")
    if backend == "postgresql":
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.exit("HOMELOG_TEST_BACKEND=postgresql needs TEST_DATABASE_URL", returncode=3)
        return _fresh_postgres_database(normalize_database_url(url))
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "homelog-test.db")


def _fresh_postgres_database(server_url: str) -> str:
    """Create an empty database of our own on the server, so concurrent runs never collide."""
    name = f"homelog_test_{os.getpid()}_{secrets.token_hex(3)}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error}", returncode=3)
    finally:
        engine.dispose()
    _CREATED_DATABASES.append((server_url, name))
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


_CREATED_DATABASES: list[tuple[str, str]] = []


def pytest_sessionfinish(session, exitstatus):
    """Drop the databases this run created."""
    for server_url, name in _CREATED_DATABASES:
        engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()


NO_BROWSER = "no browser: "  # the start of the reason tests/e2e gives when Chromium is missing
_browser_skips: list[str] = []


def pytest_runtest_logreport(report):
    """Count browser tests skipped for want of Chromium (also reported here under xdist)."""
    if report.skipped and report.when in ("setup", "call") and NO_BROWSER in str(report.longrepr):
        _browser_skips.append(report.nodeid)


def pytest_unconfigure(config):
    """Say in one loud last line that browser tests did not run, so nobody takes it for a pass."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if _browser_skips and terminalreporter is not None:
        terminalreporter.write_line(
            f"!!! {len(_browser_skips)} BROWSER TESTS SKIPPED: Chromium is missing"
            " (apt-get install chromium; CI=true makes this a failure) !!!",
            red=True,
            bold=True,
        )


def app_config(database_url: str, **overrides) -> dict:
    """Return the settings the test app runs with."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


class CSRFClient(FlaskClient):
    """A test client that sends a valid CSRF token with unsafe requests, like a real page.

    Pass csrf=False to send none (to prove a route is protected).
    """

    def open(self, *args, csrf: bool = True, **kwargs):
        method = kwargs.get("method", "GET").upper()
        if args and hasattr(args[0], "method"):
            method = args[0].method.upper()
        if csrf and method not in SAFE_METHODS:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        # Run the request in an empty context so it gets its own app context, `g` and
        # database session, as it would in production; then let the test see fresh rows.
        # Buffered, so a streamed body is produced (and its contexts closed) in that context too.
        kwargs.setdefault("buffered", True)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response

    def csrf_token(self) -> str:
        """Return a signed CSRF token for this client's session."""
        with self.session_transaction() as session:
            raw = session.get("csrf_token")
            if raw is None:
                raw = hashlib.sha1(os.urandom(64)).hexdigest()
                session["csrf_token"] = raw
        serializer = URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Return the URL of the test database, migrated to the newest schema."""
    url = _database_url(tmp_path_factory)
    app = create_app(app_config(url))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def _session_app(database_url):
    app = create_app(app_config(database_url))
    app.test_client_class = CSRFClient
    return app


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def app(_session_app):
    """Return the application, with empty tables and fresh rate limits."""
    with _session_app.app_context():
        _empty_tables()
        limiter.reset()
        yield _session_app
        db.session.remove()
        _empty_tables()


@pytest.fixture
def client(app) -> CSRFClient:
    """Return a test client (sends CSRF tokens on unsafe requests)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner for `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Return a factory that creates users (password: PASSWORD)."""
    from homelog.accounts import hash_password

    counter = iter(range(1, 10_000))
    cached_hash = hash_password(PASSWORD)

    def factory(email: str | None = None, *, password: str | None = None, **fields) -> User:
        user = User(
            email=email or f"user{next(counter)}@example.com",
            password_hash=hash_password(password) if password else cached_hash,
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def user(make_user) -> User:
    """Return an ordinary signed-up user."""
    return make_user("owner@example.com", name="Olive Owner", timezone="Europe/Berlin")


@pytest.fixture
def admin(make_user) -> User:
    """Return an administrator."""
    return make_user("admin@example.com", name="Ada Admin", is_admin=True)


@pytest.fixture
def make_source(app):
    """Return a factory that creates data sources."""

    def factory(
        owner: User,
        name: str = "Electricity",
        *,
        kind: str = "meter",
        metrics: dict[str, str] | None = None,
        **fields,
    ) -> DataSource:
        source = DataSource(owner_id=owner.id, name=name, kind=kind, **fields)
        source.metrics = metrics or {"import": "kWh"}
        db.session.add(source)
        db.session.commit()
        return source

    return factory


@pytest.fixture
def make_reading(app):
    """Return a factory that creates readings."""

    def factory(
        source: DataSource,
        values: dict | None = None,
        *,
        timestamp: datetime | None = None,
        **fields,
    ) -> Reading:
        reading = Reading(
            data_source_id=source.id,
            values=values or {name: 1.0 for name in source.metric_names},
            timestamp=timestamp or datetime.now(UTC),
            **fields,
        )
        db.session.add(reading)
        db.session.commit()
        return reading

    return factory


class AuthActions:
    """Sign a test client in and out through the real login form."""

    def __init__(self, client: CSRFClient):
        self._client = client

    def login(
        self, email: str = "owner@example.com", password: str = PASSWORD, remember: bool = False
    ):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self._client.post("/login", data=data)

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Return sign-in helpers for the client."""
    return AuthActions(client)


@pytest.fixture
def logged_in(client, auth, user):
    """Return a client signed in as `user`."""
    response = auth.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def share(home, member: User, role: str):
    """Share home with member as role the way people do: an invitation, then its acceptance."""
    invitation = homes.invite(home, member.email, role)
    return homes.accept_invitation(member, invitation)


def hour(n: int) -> datetime:
    """Return 2026-01-01 00:00 UTC plus n hours (stable timestamps for tests)."""
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n)


def random_email() -> str:
    """Return a unique email address."""
    return f"u{secrets.token_hex(4)}@example.com"


BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    """Return a Berlin wall-clock time as aware UTC."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def worked_example_meter(user, make_source):
    """Return the meter of docs/usage.md's worked example (readings only: no swap, no price)."""
    source = make_source(user, "Electricity", metrics={"import": "kWh"})
    for when, value in [
        ((2025, 12, 27, 12), 10_400.0),
        ((2026, 1, 6, 12), 10_500.0),
        ((2026, 1, 9, 18), 1_060.0),
        ((2026, 1, 16, 12), 10_600.0),
        ((2026, 2, 5, 12), 100.0),
    ]:
        db.session.add(
            Reading(data_source_id=source.id, timestamp=berlin(*when), values={"import": value})
        )
    db.session.commit()
    return source
