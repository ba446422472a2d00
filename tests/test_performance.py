"""Performance guards: hot routes run a fixed number of statements, whatever the page or batch
size (no N+1)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import sqlalchemy as sa

from homelog import sync, tokens
from homelog.extensions import db
from tests.conftest import hour


@contextmanager
def counting_statements():
    """Count the SQL statements run inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_listing_readings_costs_the_same_statements_for_any_page_size(
    client, make_source, make_reading, user
):
    source = make_source(user)
    for n in range(60):
        make_reading(source, {"import": n}, timestamp=hour(n))
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    client.get(f"/api/sources/{source.id}/readings", headers=headers)  # token's last use noted
    counts = {}
    for limit in (1, 50):
        with counting_statements() as statements:
            response = client.get(
                f"/api/sources/{source.id}/readings?limit={limit}", headers=headers
            )
        assert response.status_code == 200 and len(response.json) == limit
        counts[limit] = len(statements)
    assert counts[1] == counts[50] <= 5, counts


def test_a_sync_batch_costs_the_same_statements_for_any_size(
    client, make_source, user, monkeypatch
):
    # A large batch also checks the planner statistics once (tests/test_statistics.py); that
    # is per batch, not per reading, and left out here.
    monkeypatch.setattr(sync, "BATCH_TO_CHECK_STATISTICS", 10**9)
    source = make_source(user)
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    client.get("/api/users/me", headers=headers)
    counts = {}
    for size in (2, 200):
        batch = [
            {
                "id": str(uuid.uuid4()),
                "data_source_id": source.id,
                "timestamp": hour(size * 1000 + n).isoformat(),
                "values": {"import": n},
            }
            for n in range(size)
        ]
        with counting_statements() as statements:
            response = client.post("/api/sync/readings", json={"readings": batch}, headers=headers)
        assert response.status_code == 200 and response.json["created"] == size
        counts[size] = len(statements)
    assert counts[2] == counts[200], counts


def test_a_source_is_loaded_once_per_request(client, logged_in, make_source, make_reading, user):
    source = make_source(user)
    make_reading(source, {"import": 1.0}, timestamp=hour(1))
    raw, _ = tokens.issue_token(user, "phone")
    headers = {"Authorization": f"Bearer {raw}"}
    client.get("/api/users/me", headers=headers)  # token's last use noted
    for url, kwargs in (
        (f"/api/sources/{source.id}", {"headers": headers}),
        (f"/sources/{source.id}/readings", {"headers": {"HX-Request": "true"}}),
    ):
        with counting_statements() as statements:
            response = logged_in.get(url, **kwargs)
        assert response.status_code == 200
        loads = [
            s
            for s in statements
            if ("FROM data_sources" in s or "JOIN data_sources" in s) and "count(" not in s.lower()
        ]
        assert len(loads) == 1, (url, loads)
        if url.startswith("/api/"):
            # The token, its user and the source come in one statement.
            assert len(statements) == 1 and "api_tokens" in loads[0], statements
        else:
            # So do the browser session, its user and the source (then the page of readings).
            assert "FROM user_sessions JOIN users" in loads[0], loads[0]
            assert len(statements) == 2, statements


def test_the_source_page_counts_readings_again_only_after_a_change(
    logged_in, make_source, make_reading, user
):
    source = make_source(user)
    make_reading(source, {"import": 1.0}, timestamp=hour(1))
    logged_in.get(f"/sources/{source.id}")

    def counts_on_a_view() -> int:
        with counting_statements() as statements:
            assert logged_in.get(f"/sources/{source.id}").status_code == 200
        return sum("count(" in statement.lower() for statement in statements)

    assert counts_on_a_view() == 0
    # The owner's change number comes with the user and the source: then only the page.
    url = f"/sources/{source.id}"
    with counting_statements() as statements:
        logged_in.get(url)
    assert len(statements) == 2 and "sync_counters" in statements[0], statements
    make_reading(source, {"import": 2.0}, timestamp=hour(2))
    assert counts_on_a_view() == 1
    assert counts_on_a_view() == 0
