"""Readiness: is the database reachable and migrated to the newest revision?"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc

from homelog.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def expected_heads() -> set[str]:
    """Return the head revision(s) of the migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def readiness() -> dict:
    """Return {"status": "ok"|"unavailable", "database": ..., "migrations": ...}."""
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except (sa_exc.OperationalError, sa_exc.InterfaceError):
        return {"status": "unavailable", "database": "unreachable", "migrations": "unknown"}
    heads = expected_heads()
    migrated = current == heads
    return {
        "status": "ok" if migrated else "unavailable",
        "database": "ok",
        "migrations": "current" if migrated else "pending",
        "revision": sorted(current),
        "expected": sorted(heads),
    }
