"""Readiness: is the database reachable and migrated to the newest revision?

Reads the revision ids itself (the `alembic_version` table, and `revision`/`down_revision` in
migrations/versions/*.py) rather than through Alembic: probes call /readyz every few seconds,
and importing Alembic for them would cost every web worker memory (see LazyMigrate).
tests/test_health.py checks that both give the same heads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from homelog.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default; migrations/env.py keeps it


def expected_heads(versions: Path = MIGRATIONS / "versions") -> set[str]:
    """Return the head revision(s) of the migration scripts: those no script revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in versions.glob("*.py"):
        names = _constants(path)
        if not isinstance(names.get("revision"), str):
            continue  # not a migration script
        revisions.add(names["revision"])
        down = names.get("down_revision")
        revised.update([down] if isinstance(down, str) else down or ())  # a merge: a tuple
    return revisions - revised


def _constants(path: Path) -> dict[str, object]:
    """Return the literal `revision` and `down_revision` a migration script assigns."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:  # `revision: str = …`
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value)
    return found


def current_heads(connection: sa.Connection) -> set[str]:
    """Return the revision(s) the database is at (none before its first migration)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))


def readiness() -> dict:
    """Return {"status": "ok"|"unavailable", "database": ..., "migrations": ...}."""
    try:
        with db.engine.connect() as connection:
            current = current_heads(connection)
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
