"""Property-based runs of schemathesis against the app's own OpenAPI document.

Stateless: every documented operation gets generated requests (valid and invalid) with a real
bearer token. Stateful: schemathesis chains operations along the document's links (a new
source's id fills every route under it: its readings, tariffs, swaps, usage, value, import
and export), so requests reach real objects rather than 404s. No answer may be a 5xx, and
every answer must match the document (status code, content type, body schema).

Bounded by SCHEMATHESIS_MAX_EXAMPLES per operation and SCHEMATHESIS_STATEFUL_EXAMPLES
scenarios; derandomized, so a run is repeatable.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    ensure_resource_availability,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from homelog import create_app, datasources, tokens
from homelog.extensions import db
from homelog.models import User
from tests.conftest import PASSWORD, app_config

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "4"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# What the stateful run must be able to reach from a new source through the document's links.
LINKED = {
    "import_readings",
    "export_readings",
    "get_usage",
    "get_usage_csv",
    "get_value",
    "create_reading",
    "list_readings",
    "create_tariff",
    "create_swap",
}
SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}


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


class Bearer:
    """A token of the fuzz user, replaced when a fuzzed request may have revoked it."""

    def __init__(self, app):
        self.app = app
        self.raw = None

    def headers(self) -> dict[str, str]:
        if self.raw is None:
            with self.app.app_context():
                user = db.session.scalar(db.select(User).where(User.email == "fuzz@example.com"))
                self.raw, _ = tokens.issue_token(user, "schemathesis")
        return {"Authorization": f"Bearer {self.raw}"}

    def after(self, label: str, status: int) -> None:
        if "logout" in label or status == 401:
            self.raw = None


@pytest.fixture(scope="module")
def schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


def test_api_matches_its_document(fuzz_app, schema):
    """Fuzz every documented operation; report every operation that broke its contract."""
    bearer = Bearer(fuzz_app)
    failures = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, **SETTINGS)
        def fuzz(case):
            response = case.call(headers=bearer.headers())
            bearer.after(case.operation.label, response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_the_document_links_a_new_source_to_every_route_under_it(schema):
    document = schema.raw_schema
    links = document["paths"]["/api/sources"]["post"]["responses"]["201"]["links"]
    under = {
        entry["operationId"]
        for path, methods in document["paths"].items()
        if path.startswith("/api/sources/{source_id}")
        for entry in methods.values()
    }
    assert set(links) == under and under >= LINKED
    for link in links.values():
        assert link["parameters"]["source_id"] == "$response.body#/id"


def test_api_holds_its_contract_through_linked_operations(fuzz_app, schema):
    """Chain operations along the document's links: created objects are used, changed, deleted."""
    bearer = Bearer(fuzz_app)
    called: set[str] = set()

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": bearer.headers()}

        def after_call(self, response, case):
            bearer.after(case.operation.label, response.status_code)
            if response.status_code < 400:
                called.add(case.operation.definition.raw.get("operationId", ""))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                checks=[*CHECKS, use_after_free, ensure_resource_availability],
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=10, **SETTINGS)
    )
    # Objects made along the links were used: routes under a new source answered with success.
    under = {
        entry["operationId"]
        for path, methods in schema.raw_schema["paths"].items()
        if path.startswith("/api/sources/{source_id}")
        for entry in methods.values()
    }
    assert called & under, sorted(called)
