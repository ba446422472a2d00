"""Pooled connections: pinged only after idling, and a stale one is replaced, not failed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from homelog import config
from homelog.extensions import db
from homelog.web import ping_idle_connections

postgresql_only = pytest.mark.skipif(
    "os.environ.get('HOMELOG_TEST_BACKEND') != 'postgresql'",
    reason="needs a server whose backend can be terminated",
)


@postgresql_only
@pytest.mark.parametrize("idle_ping", [0.0, 3600.0])
def test_a_connection_cut_while_idle_is_replaced_only_when_pinged(app, idle_ping):
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_ping)
    try:
        with engine.connect() as connection:
            pid = connection.scalar(sa.text("SELECT pg_backend_pid()"))
        with app.app_context(), db.engine.connect() as other:  # the server drops it
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        if idle_ping == 0.0:
            # It idled past the threshold: pinged, found dead and replaced; the query works.
            with engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT pg_backend_pid()")) != pid
        else:
            # It idled only briefly, so no ping: the query meets the cut connection...
            with pytest.raises(sa.exc.OperationalError), engine.connect() as connection:
                connection.scalar(sa.text("SELECT 1"))
            # ...which invalidated it: the next checkout reconnects by itself.
            with engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_the_ping_threshold_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DB_IDLE_PING_SECONDS", "2.5")
    settings = config.from_environment(str(tmp_path))
    assert settings["DB_IDLE_PING_SECONDS"] == 2.5
    assert "pool_pre_ping" not in settings["SQLALCHEMY_ENGINE_OPTIONS"]
