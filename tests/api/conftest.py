"""API fixtures: bearer-token headers for users, and a JSON client helper."""

from __future__ import annotations

import pytest

from homelog import tokens


@pytest.fixture
def make_headers(app):
    """Return a factory of request headers carrying a fresh bearer token of a user."""

    def factory(user, device_name: str = "test phone") -> dict[str, str]:
        raw, _ = tokens.issue_token(user, device_name)
        return {"Authorization": f"Bearer {raw}"}

    return factory


@pytest.fixture
def api_headers(make_headers, user) -> dict[str, str]:
    """Return headers with a bearer token of `user`."""
    return make_headers(user)


@pytest.fixture
def admin_headers(make_headers, admin) -> dict[str, str]:
    """Return headers with a bearer token of `admin`."""
    return make_headers(admin)


@pytest.fixture
def other(make_user):
    """Return a second ordinary user (whose things the first must never see)."""
    return make_user("other@example.com", name="Otto Other")


@pytest.fixture
def other_headers(make_headers, other) -> dict[str, str]:
    """Return headers with a bearer token of `other`."""
    return make_headers(other)
