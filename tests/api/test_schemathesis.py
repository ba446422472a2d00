"""Property-based run of schemathesis against the app's own OpenAPI document.

Every documented operation gets generated requests (valid and invalid) with a real bearer
token; no answer may be a 5xx, and every answer must match the document (status code,
content type, body schema). Bounded by SCHEMATHESIS_MAX_EXAMPLES per operation.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from homelog import create_app, datasources, tokens
from homelog.extensions import db
from homelog.models import User
from tests.conftest import PASSWORD, app_config

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_app(database_url):
    """Return an app with a user, a source and readings to aim at."""
    # Keep the default rate limits: the limiter is shared by every app in this process.
    app = create_app(app_config(database_url))
    with app.app_context():
        from tests.conftest import _empty_tables

        _empty_tables()
        from homelog.accounts import hash_password

        user = User(email="fuzz@example.com", password_hash=hash_password(PASSWORD))
        db.session.add(user)
        db.session.commit()
        datasources.create_source(user, "Meter", metrics={"import": "kWh"})
    yield app
    with app.app_context():
        _empty_tables()
        db.engine.dispose()


def test_api_matches_its_document(fuzz_app):
    """Fuzz every documented operation; report every operation that broke its contract."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)
    with fuzz_app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "fuzz@example.com"))
        user_id = user.id
    failures = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            with fuzz_app.app_context():
                raw, _ = tokens.issue_token(db.session.get(User, user_id), "schemathesis")
            # A fresh token each time: a fuzzed logout revokes the one it used.
            case.call_and_validate(
                headers={"Authorization": f"Bearer {raw}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        try:
            fuzz()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
