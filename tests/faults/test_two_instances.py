"""Two app instances on one PostgreSQL and one Redis, as a hosted service runs them.

Two gunicorn servers on different ports share the private PostgreSQL, a Redis (for the
per-address sign-in limits) and SECRET_KEY. A browser session made on one works on the
other and a sign-out on either ends it on both; sign-in throttling counts across both; sync
batches and edits sent through both at once leave every reading once, and a client reading
the change feed through either sees every change.

Redis must be reachable (127.0.0.1:6379, or REDIS_URL): skipped without it, except in CI
(CI=true), where that fails the run.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from homelog import throttle
from tests.live import Gunicorn, request, start_gunicorn

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "a long fault passphrase"


@pytest.fixture(scope="module")
def redis_url() -> str:
    """Return the URL of a Redis that answers PING."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"Redis at {REDIS_URL} is unreachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def two_servers(tmp_path, private_postgres, redis_url) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    """Yield two gunicorn instances sharing the database, Redis and SECRET_KEY."""
    env = {
        "DATABASE_URL": private_postgres.url,
        "RATELIMIT_STORAGE_URI": redis_url,
        # A prefix of this test's own: counts of other runs sharing the Redis stay apart.
        "RATELIMIT_KEY_PREFIX": f"homelog-test-{secrets.token_hex(4)}",
        "SECRET_KEY": "one secret key for every instance",
    }
    first = start_gunicorn(tmp_path, env, workers=1, threads=4)
    try:
        second = start_gunicorn(tmp_path, env, workers=1, threads=4)
    except Exception:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
    for server in (first, second):
        assert "Traceback" not in server.log, server.log[-3000:]


@dataclass
class Browser:
    """A browser's cookie jar over plain HTTP, sending each request to the port it is given."""

    cookies: dict[str, str] = field(default_factory=dict)

    def open(
        self, port: int, method: str, path: str, form: dict | None = None
    ) -> tuple[int, str, dict[str, str]]:
        """Send a request with the jar's cookies; keep the ones set. Return status, body,
        headers."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if "Expires=Thu, 01 Jan 1970" in cookie or "Max-Age=0" in cookie:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return response.status, response.read().decode(), dict(response.getheaders())
        finally:
            connection.close()

    def csrf_token(self, port: int, path: str) -> str:
        """Return the CSRF token of the page at path."""
        status, page, _ = self.open(port, "GET", path)
        assert status == 200, (path, status)
        return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)

    def sign_in(self, port: int, email: str, password: str = PASSWORD) -> int:
        """Sign in through the form on port; return the status."""
        token = self.csrf_token(port, "/login")
        form = {"csrf_token": token, "email": email, "password": password}
        return self.open(port, "POST", "/login", form)[0]


def _user(private_db, email: str) -> int:
    from homelog.accounts import hash_password

    with private_db.begin() as conn:
        return conn.execute(
            sa.text(
                "INSERT INTO users (email, name, password_hash, is_admin, is_active, "
                "must_change_password, timezone, currency, created_at) VALUES "
                "(:email, 'Two', :hash, false, true, false, 'UTC', 'EUR', now()) RETURNING id"
            ),
            {"email": email, "hash": hash_password(PASSWORD)},
        ).scalar_one()


def test_a_session_made_on_one_instance_works_on_the_other_and_ends_on_both(
    two_servers, private_db
):
    first, second = two_servers
    email = f"two-{time.time_ns()}@example.com"
    _user(private_db, email)
    browser = Browser()
    assert browser.sign_in(first.port, email) == 302
    assert browser.open(second.port, "GET", "/account")[0] == 200
    assert browser.open(first.port, "GET", "/account")[0] == 200
    copied = Browser(dict(browser.cookies))

    token = browser.csrf_token(second.port, "/account")
    assert browser.open(second.port, "POST", "/logout", {"csrf_token": token})[0] == 302
    status, _, headers = copied.open(first.port, "GET", "/account")
    assert status == 302 and "/login" in headers["Location"]
    assert copied.open(second.port, "GET", "/account")[0] == 302


def test_sign_in_throttling_counts_across_instances(two_servers, private_db):
    first, second = two_servers
    email = f"two-{time.time_ns()}@example.com"
    _user(private_db, email)
    servers = [first, second]
    for attempt in range(throttle.FREE_FAILURES):
        reply = servers[attempt % 2].post(
            "/api/auth/login", {"username": email, "password": "wrong wrong wrong"}
        )
        assert reply.status == 401
    for server in servers:
        reply = server.post("/api/auth/login", {"username": email, "password": PASSWORD})
        assert reply.status == 429 and int(reply.headers["retry-after"]) > 0
        assert Browser().sign_in(server.port, email) == 429

    # The per-address limit (20 failures a minute) is counted in Redis: failures at both
    # instances, on accounts of their own, add up; each instance alone saw only half.
    replies = [
        servers[n % 2].post(
            "/api/auth/login",
            {"username": f"nobody-{n}-{time.time_ns()}@example.com", "password": "wrong"},
        )
        for n in range(22)
    ]
    statuses = [reply.status for reply in replies]
    # The throttled sign-ins above spent some of this address's allowance already.
    assert 429 in statuses[:21], statuses
    assert statuses[-1] == 429 and statuses[-2] == 429, statuses


class _Traffic:
    """Sync batches, edits and a change-feed reader sent through both instances at once."""

    def __init__(self, servers: list[Gunicorn], headers: dict, source_id: int):
        self.servers, self.headers, self.source_id = servers, headers, source_id
        rng = random.Random(7)
        self.batches = [
            [
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "data_source_id": source_id,
                    "timestamp": f"2026-04-{1 + b:02d}T{n // 60:02d}:{n % 60:02d}:00Z",
                    "values": {"t": 20 + n / 10},
                }
                for n in range(100)
            ]
            for b in range(4)
        ]
        self.all_ids = [item["id"] for batch in self.batches for item in batch]
        self.problems: list[str] = []
        self.created: dict[str, int] = {}
        self.lock = threading.Lock()
        self.writers_done = threading.Event()
        self.replica: dict[str, tuple] = {}

    def note(self, problem: str) -> None:
        with self.lock:
            self.problems.append(problem)

    def syncer(self, number: int) -> None:
        order = list(range(len(self.batches)))
        random.Random(number).shuffle(order)
        for index in order:
            server = self.servers[(number + index) % 2]
            reply = server.post(
                "/api/sync/readings", {"readings": self.batches[index]}, headers=self.headers
            )
            if reply.status != 200:
                self.note(f"sync {reply.status} {reply.body[:200]!r}")
                continue
            for result in reply.json()["results"]:
                # conflict: an editor changed the reading since; the batch does not undo it.
                if result["status"] not in ("created", "unchanged", "conflict"):
                    self.note(f"sync item {result}")
                elif result["status"] == "created":
                    with self.lock:
                        self.created[result["id"]] = self.created.get(result["id"], 0) + 1

    def editor(self, number: int) -> None:
        local = random.Random(100 + number)
        for count in range(25):
            reading_id = local.choice(self.all_ids)
            server = self.servers[count % 2]
            reply = request(
                server.port,
                "PATCH",
                f"/api/sources/{self.source_id}/readings/{reading_id}",
                {"values": {"t": local.randint(-200, 400) / 10}, "note": f"edit {number}-{count}"},
                self.headers,
            )
            # Before a batch arrives the reading does not exist yet: 404 is fine.
            if reply.status not in (200, 404):
                self.note(f"edit {reply.status} {reply.body[:200]!r}")

    def read_feed(self, cursor: str | None, turn: int) -> tuple[str | None, bool]:
        query = f"?since={cursor}" if cursor else ""
        reply = self.servers[turn % 2].get(f"/api/sync/changes{query}", headers=self.headers)
        assert reply.status == 200, reply.body
        page = reply.json()
        for reading in page["readings"]:
            if reading["data_source_id"] == self.source_id:
                self.replica[reading["id"]] = (reading["values"], reading["note"])
        for gone in page["deleted"]:
            self.replica.pop(gone["id"], None)
        return page["next_cursor"], page["has_more"]

    def reader(self) -> None:
        cursor, turn = None, 0
        while not self.writers_done.is_set():
            cursor, _ = self.read_feed(cursor, turn)
            turn += 1
        # Everything is written: the rest of the feed, to its end.
        has_more = True
        while has_more:
            cursor, has_more = self.read_feed(cursor, turn)
            turn += 1

    def run(self) -> None:
        """Run 6 syncers and 4 editors against both instances while the reader follows."""
        with ThreadPoolExecutor(11) as pool:
            feed = pool.submit(self.reader)
            writers = [pool.submit(self.syncer, n) for n in range(6)]
            writers += [pool.submit(self.editor, n) for n in range(4)]
            for future in writers:
                future.result()
            self.writers_done.set()
            feed.result()


def test_sync_and_edits_through_both_instances_keep_each_reading_once_and_the_feed_whole(
    two_servers, household, private_db
):
    first, second = two_servers
    headers = household.headers
    created = first.post(
        "/api/sources",
        {"name": "Living room", "kind": "sensor", "metrics": {"t": "°C"}},
        headers=headers,
    )
    assert created.status == 201, created.body
    source_id = created.json()["id"]
    traffic = _Traffic([first, second], headers, source_id)
    traffic.run()

    all_ids = traffic.all_ids
    assert not traffic.problems, traffic.problems[:5]
    assert sorted(traffic.created) == sorted(all_ids) and set(traffic.created.values()) == {1}
    with private_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id::text, values, note FROM readings WHERE data_source_id = :s ORDER BY id"
            ),
            {"s": source_id},
        ).all()
    assert sorted(row[0] for row in rows) == sorted(all_ids)  # each reading once
    stored = {row[0]: (_values(row[1]), row[2]) for row in rows}
    # A feed with a gap would have left an older value (or no row) in the replica.
    assert traffic.replica == stored


def _values(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value
