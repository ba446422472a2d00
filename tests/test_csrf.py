"""CSRF on every unsafe route: without a token, plain or htmx, nothing changes.

The routes come from the app's URL map, so a route added later is covered without being
listed here. Each is sent by a signed-in administrator who owns everything the URL names, so
a route that skipped the check would change something (the test compares every table).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from homelog import create_app, sessions, tokens
from homelog.extensions import db
from homelog.models import (
    DataSource,
    Home,
    HomeInvitation,
    HomeMember,
    MeterEvent,
    Tariff,
)
from tests.conftest import app_config

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _unsafe_routes() -> list[tuple[str, str, str]]:
    """Return (method, rule, endpoint) of every unsafe route of the app."""
    app = create_app(app_config("sqlite://"))
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods or ()) & set(UNSAFE)):
            found.append((method, rule.rule, rule.endpoint))
    return sorted(found)


ROUTES = _unsafe_routes()


def test_the_routes_are_found():
    endpoints = {endpoint for _, _, endpoint in ROUTES}
    # A sample from each area: if enumeration broke, this fails instead of testing nothing.
    assert {"auth.logout", "sources.delete_reading", "admin.delete_user", "api.delete_reading"} <= (
        endpoints
    )
    assert len(ROUTES) > 50


@pytest.fixture
def world(admin, make_user, make_source, make_reading):
    """Return URL values naming one thing of each kind, all the signed-in admin's."""
    other = make_user("other@example.com")
    source = make_source(admin, "Electricity")
    reading = make_reading(source, {"import": 10.0}, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    tariff = Tariff(
        data_source_id=source.id,
        metric="import",
        effective_from=date(2026, 1, 1),
        unit_price=Decimal("0.3"),
    )
    swap = MeterEvent(
        data_source_id=source.id,
        at=datetime(2026, 1, 2, tzinfo=UTC),
        old_final={"import": 20.0},
        new_start={"import": 0.0},
    )
    home = Home(owner_id=admin.id, name="Home", timezone="UTC")
    db.session.add_all([tariff, swap, home])
    db.session.flush()
    db.session.get(DataSource, source.id).location_id = home.id
    member = HomeMember(location_id=home.id, user_id=other.id, role="viewer")
    # Addressed to the admin in the admin's own home, so a forged accept, decline or withdraw
    # would each change something.
    invitation = HomeInvitation(
        location_id=home.id, email=admin.email, role="editor", invited_by_id=admin.id
    )
    db.session.add_all([member, invitation])
    db.session.commit()
    _, token = tokens.issue_token(admin, "phone")
    sessions.start(admin, user_agent="Firefox on another computer")
    browser = sessions.user_sessions(admin)[0]
    return {
        "session_id": browser.id,
        "source_id": source.id,
        "reading_id": reading.id,
        "tariff_id": tariff.id,
        "swap_id": swap.id,
        "location_id": home.id,
        "home_id": home.id,
        "invitation_id": invitation.id,
        "member_id": member.id,
        "user_id": other.id,
        "token_id": token.id,
    }


@pytest.fixture
def signed_in_admin(client, auth, admin):
    """Return a client signed in as the administrator."""
    assert auth.login(email=admin.email).status_code == 302
    return client


def _snapshot() -> dict[str, list[tuple]]:
    """Return every row of every table (what a forged request could have changed)."""
    db.session.expire_all()
    with db.engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(sa.select(table))), key=repr)
            for table in db.metadata.sorted_tables
        }


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("method", "rule", "endpoint"), ROUTES, ids=[r[2] for r in ROUTES])
def test_unsafe_request_without_token_is_refused_and_changes_nothing(
    app, signed_in_admin, world, method, rule, endpoint, htmx
):
    with app.test_request_context():
        rule_object = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        missing = set(rule_object.arguments) - set(world)
        assert not missing, f"add a value for {missing} to the world fixture"
        url = app.url_for(endpoint, **{name: world[name] for name in rule_object.arguments})
    headers = {"HX-Request": "true"} if htmx else {}
    kwargs: dict = {"headers": headers, "csrf": False}
    if endpoint.startswith("api."):
        kwargs["json"] = {"name": "Forged", "values": {"import": 99}, "is_active": False}
    else:
        kwargs["data"] = {"name": "Forged", "email": "forged@example.com", "value": "99"}
    before = _snapshot()

    response = signed_in_admin.open(url, method=method, **kwargs)

    assert response.status_code == 400, (url, response.status_code, response.data[:300])
    if endpoint.startswith("api."):
        assert response.is_json and "CSRF" in response.get_json()["detail"]
    assert _snapshot() == before
    # Still signed in: the refused request did not sign anyone out either.
    assert signed_in_admin.get("/account").status_code == 200
