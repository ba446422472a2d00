"""Fault-test fixtures: a private PostgreSQL the tests start, stop and restart themselves.

The server is Debian's (`/usr/lib/postgresql/*/bin`), initialised into a temporary folder and
listening on a free port of 127.0.0.1: never the shared server at 5432. As root it runs as
the `postgres` user (PostgreSQL refuses to run as root). Missing binaries fail the run in CI
(CI=true) and skip it elsewhere.

These tests do not depend on HOMELOG_TEST_BACKEND, so they run once: in the first pass of
`make test` (SQLite), not again in the PostgreSQL pass.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from homelog import create_app, datasources, tokens
from homelog.accounts import hash_password
from homelog.extensions import db
from homelog.models import User
from tests.live import free_port


def pytest_configure(config):
    """Register the `faults` marker."""
    config.addinivalue_line("markers", "faults: tests that break the database or the server")


def pytest_collection_modifyitems(items):
    """Mark every test here `faults`; run them in one pass of `make test` only."""
    for item in items:
        if "/tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.faults)
            if os.environ.get("HOMELOG_TEST_BACKEND") == "postgresql":
                item.add_marker(
                    pytest.mark.skip(
                        reason="fault tests bring their own PostgreSQL; they ran in the first pass"
                    )
                )


# Apps made here never set RATELIMIT_ENABLED: Flask-Limiter's one global limiter would keep
# a False for every app created after it, and the rate-limit tests would pass by mistake.


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of our own: start, stop, and its URL."""

    bindir: Path
    datadir: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the `homelog` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/homelog"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.datadir} -c fsync=off "
            "-c max_connections=60"
        )
        self._pg_ctl("-o", options, "-l", str(self.datadir / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: end sessions now; immediate: like a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """Yield a running private PostgreSQL with an empty, migrated `homelog` database."""
    bindir = _binaries()
    if bindir is None:
        message = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="homelog-faults-"))
    datadir = base / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
        os.chown(datadir, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(bindir, datadir, free_port(), run_as)
    server.start()
    try:
        admin = sa.create_engine(
            server.url.replace("/homelog", "/postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE homelog"))
        admin.dispose()
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": server.url,
                "SECRET_KEY": "faults",
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.engine.dispose()
        yield server
    finally:
        # Already stopped when a test failed half-way.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Household:
    """A user with a bearer token and one meter, in the private database."""

    user_id: int
    source_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Return the Authorization header of the token."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def household(private_postgres) -> Household:
    """Return a new user with a token and a meter in the private database."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": private_postgres.url,
            "SECRET_KEY": "faults",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        user = User(
            email=f"faults-{time.time_ns()}@example.com",
            name="Fault",
            password_hash=hash_password("a long fault passphrase"),
        )
        db.session.add(user)
        db.session.commit()
        source = datasources.create_source(user, "Electricity", "", "meter", {"import": "kWh"})
        raw, _ = tokens.issue_token(user, "faults")
        result = Household(user.id, source.id, raw)
        db.session.remove()
        db.engine.dispose()
    return result


@pytest.fixture
def private_db(private_postgres) -> Iterator[sa.Engine]:
    """Yield an engine on the private database (for checking what was stored)."""
    engine = sa.create_engine(private_postgres.url)
    yield engine
    engine.dispose()
