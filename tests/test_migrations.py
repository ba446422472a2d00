"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from homelog import create_app
from homelog.extensions import db
from homelog.models import UTCDateTime
from tests.conftest import app_config


def schema_differences(connection) -> list:
    """Return what autogenerate would change to make the database match the models."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def check_constraint_names(connection) -> dict[str, set[str]]:
    """Return the named CHECK constraints per table (autogenerate does not compare them)."""
    inspector = sa.inspect(connection)
    return {
        table: {c["name"] for c in inspector.get_check_constraints(table) if c.get("name")}
        for table in db.metadata.tables
    }


def model_check_constraint_names() -> dict[str, set[str]]:
    """Return the named CHECK constraints the models declare, per table."""
    return {
        name: {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint) and c.name}
        for name, table in db.metadata.tables.items()
    }


def assert_schema_matches_models(engine) -> None:
    """Fail with the list of differences unless the database matches the models exactly."""
    with engine.connect() as connection:
        differences = schema_differences(connection)
        assert differences == [], "migrations and models differ:\n" + "\n".join(
            map(repr, differences)
        )
        assert check_constraint_names(connection) == model_check_constraint_names()


def test_test_database_matches_models(app):
    """The session database, built by `flask db upgrade` from nothing, matches the models."""
    assert_schema_matches_models(db.engine)


def test_the_comparison_sees_a_difference(app):
    """Guard against a comparison that cannot fail: a missing table and column are reported."""
    metadata = sa.MetaData()
    for table in db.metadata.tables.values():
        table.to_metadata(metadata)
    sa.Table("extra", metadata, sa.Column("id", sa.Integer, primary_key=True))
    metadata.tables["users"].append_column(sa.Column("nickname", sa.String(20)))
    metadata.tables["users"].c.email.type = sa.String(100)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        kinds = {
            d[0] if isinstance(d, tuple) else d[0][0] for d in compare_metadata(context, metadata)
        }
    assert {"add_table", "add_column", "modify_type"} <= kinds


def test_utc_datetime_compares_as_its_impl(app):
    """UTCDateTime is stored as DateTime(timezone=True), which is what the migrations create."""
    assert isinstance(UTCDateTime().impl, sa.DateTime) and UTCDateTime().impl.timezone
    columns = {c["name"]: c for c in sa.inspect(db.engine).get_columns("readings")}
    if db.engine.dialect.name == "postgresql":
        assert isinstance(columns["timestamp"]["type"], sa.TIMESTAMP)
        assert columns["timestamp"]["type"].timezone


@pytest.fixture
def fresh_sqlite_app(tmp_path):
    """Return an app on a brand-new, empty SQLite file."""
    app = create_app(app_config("sqlite:///" + str(tmp_path / "fresh.db")))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_upgrade_empty_sqlite_file(fresh_sqlite_app):
    with fresh_sqlite_app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        upgrade()
        assert_schema_matches_models(db.engine)


def test_cli_upgrade_downgrade_upgrade(fresh_sqlite_app):
    runner = fresh_sqlite_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with fresh_sqlite_app.app_context():
        assert_schema_matches_models(db.engine)
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert_schema_matches_models(db.engine)
    # Running it again is a no-op, as a release step run on every deploy must be.
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
