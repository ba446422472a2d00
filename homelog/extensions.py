"""Flask extensions, created unbound here and initialised in create_app()."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LazyMigrate:
    """Flask-Migrate, imported only when something migrates.

    Alembic (with Mako and Pygments, which it imports) costs a process memory and start-up
    time (bench/README.md), and a web worker never migrates. So `init_app` only leaves a stand-in
    in `app.extensions["migrate"]`; the first read of it (a `flask db` command, which
    homelog/cli.py registers lazily too, migrations/env.py, or a script calling
    `flask_migrate.upgrade()`) sets Flask-Migrate up for the app, as `Migrate(app, db)` would.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options

    def init_app(self, app: Flask, db: SQLAlchemy, directory: str) -> None:
        """Leave the stand-in that sets Flask-Migrate up on first use."""
        app.extensions["migrate"] = _PendingMigrate(app, db, directory, self.options)


class _PendingMigrate:
    """Flask-Migrate's state for one app, until something reads it."""

    def __init__(self, app: Flask, db: SQLAlchemy, directory: str, options: dict) -> None:
        self._app, self._db, self._directory, self._options = app, db, directory, options

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # read before __init__ ran (copy, pickle): never recurse
            raise AttributeError(name)
        from flask_migrate import Migrate

        # Puts the real state in app.extensions (replacing this) and the real `flask db` group.
        Migrate(self._app, self._db, directory=self._directory, **self._options)
        return getattr(self._app.extensions["migrate"], name)


db = SQLAlchemy(model_class=Base)
migrate = LazyMigrate(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
