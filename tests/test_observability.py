"""Operations: request ids, JSON request logs, Prometheus metrics, rate limits kept in Redis."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets

import pytest
from prometheus_client import REGISTRY

from homelog import create_app, observability, tokens
from tests.conftest import PASSWORD, app_config
from tests.live import start_gunicorn

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def json_log():
    """Configure JSON logging as production does; yield the stream it writes to."""
    logger = logging.getLogger("homelog")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    observability.configure_logging("json")
    stream = io.StringIO()
    for handler in logger.handlers:
        if isinstance(handler.formatter, observability.JsonFormatter):
            handler.setStream(stream)
    yield stream
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_id_is_generated_and_returned(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_request_id_from_the_client_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42:1"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.42:1"


@pytest.mark.parametrize("given", ["x" * 129, "a b", "<script>", 'ok"quote'])
def test_unsafe_request_id_is_replaced(client, given):
    returned = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    assert returned != given and len(returned) == 32


def test_one_json_line_per_request(client, json_log, user):
    raw, _ = tokens.issue_token(user, "phone")
    response = client.get(
        "/api/users/me?secret=query",
        headers={"Authorization": f"Bearer {raw}", "X-Request-ID": "req-1"},
    )
    assert response.status_code == 200
    client.get("/nowhere")
    lines = [line for line in _lines(json_log) if line["logger"] == "homelog.request"]
    assert len(lines) == 2
    first, missing = lines
    assert first["message"] == "request"
    assert first["method"] == "GET" and first["path"] == "/api/users/me"
    assert first["status"] == 200 and first["user_id"] == user.id
    assert first["request_id"] == "req-1"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert missing["status"] == 404 and missing["user_id"] is None
    assert raw not in json_log.getvalue() and "secret=query" not in json_log.getvalue()


def test_sign_in_logs_no_password_and_names_the_user(client, json_log, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    client.get("/account")
    text = json_log.getvalue()
    assert PASSWORD not in text and "Authorization" not in text
    lines = [line for line in _lines(json_log) if line["logger"] == "homelog.request"]
    assert [(line["method"], line["path"]) for line in lines] == [
        ("POST", "/login"),
        ("GET", "/account"),
    ]
    assert lines[1]["user_id"] == user.id


def test_warnings_carry_the_request_id(client, json_log, monkeypatch):
    from sqlalchemy import exc
    from sqlalchemy.orm import Session

    def broken(*args, **kwargs):
        raise exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "execute", broken)
    response = client.get("/api/sources", headers={"X-Request-ID": "req-db"})
    assert response.status_code in (401, 503)
    monkeypatch.setattr(Session, "scalar", broken)
    monkeypatch.setattr(Session, "scalars", broken)
    client.post(
        "/login",
        data={"email": "a@example.com", "password": "x" * 12},
        headers={"X-Request-ID": "req-db2"},
    )
    warnings = [line for line in _lines(json_log) if line["level"] == "WARNING"]
    assert warnings and all(line["request_id"] in {"req-db", "req-db2"} for line in warnings)


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


@pytest.fixture
def metrics_client(database_url, app):
    """Return a client of an app with metrics on (token "scrape-me")."""
    metered = create_app(app_config(database_url, METRICS_TOKEN="scrape-me"))
    return metered.test_client()


def test_metrics_need_the_token(metrics_client):
    assert metrics_client.get("/metrics").status_code == 401
    wrong = metrics_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    basic = metrics_client.get("/metrics", headers={"Authorization": "Basic scrape-me"})
    assert basic.status_code == 401


def test_metrics_count_requests_by_endpoint_and_status(metrics_client):
    labels = {"method": "GET", "endpoint": "healthz", "status": "200"}
    before = REGISTRY.get_sample_value("homelog_http_requests_total", labels) or 0
    for _ in range(3):
        metrics_client.get("/healthz")
    metrics_client.get("/api/sources")  # 401 without credentials
    metrics_client.get("/readyz")  # uses a pooled connection
    response = metrics_client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert REGISTRY.get_sample_value("homelog_http_requests_total", labels) == before + 3
    assert 'endpoint="api.list_sources",method="GET",status="401"' in text
    assert "homelog_http_request_duration_seconds_bucket" in text
    assert "homelog_db_pool_connections_in_use" in text
    # Every connection went back to the pool after its request.
    assert REGISTRY.get_sample_value("homelog_db_pool_connections_in_use") == 0


def test_gunicorn_in_production_logs_json_and_sums_metrics_of_all_workers(
    tmp_path, database_url, app
):
    server = start_gunicorn(
        tmp_path,
        {"DATABASE_URL": database_url, "METRICS_TOKEN": "t0k3n", "PROMETHEUS_MULTIPROC_DIR": ""},
        workers=2,
        threads=1,
    )
    try:
        for number in range(20):  # a new connection each: both workers answer some
            reply = server.get(f"/healthz?n={number}", headers={"X-Request-ID": f"r{number}"})
            assert reply.status == 200 and reply.headers["x-request-id"] == f"r{number}"
        scrape = server.get("/metrics", headers={"Authorization": "Bearer t0k3n"})
        assert scrape.status == 200
        wanted = 'homelog_http_requests_total{endpoint="healthz",method="GET",status="200"}'
        counts = [line for line in scrape.body.decode().splitlines() if line.startswith(wanted)]
        # The readiness probes of start_gunicorn count too: at least our 20, from both workers.
        assert counts and float(counts[0].split()[-1]) >= 20
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
    ours = [
        line
        for line in lines
        if line.get("request_id", "").startswith("r") and line["logger"] == "homelog.request"
    ]
    assert sorted(line["request_id"] for line in ours) == sorted(f"r{n}" for n in range(20))
    assert all(line["path"] == "/healthz" and line["status"] == 200 for line in ours)
    assert "n=1" not in server.log


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {error}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable")
    return client


def test_login_rate_limit_is_shared_by_workers_through_redis(tmp_path, database_url, user):
    redis_client = _redis()
    prefix = f"homelog-test-{secrets.token_hex(4)}"
    server = start_gunicorn(
        tmp_path,
        {
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
        },
        workers=2,
        threads=1,
    )
    try:
        # Each attempt names another account (so the per-account backoff, kept in the
        # database, never starts): this address's allowance of 20 a minute is what runs out.
        attempts = [
            {"username": f"nobody{n}@example.com", "password": "wrong password!"} for n in range(21)
        ]
        statuses = [server.post("/api/auth/login", attempt).status for attempt in attempts[:20]]
        assert statuses == [401] * 20
        # Each attempt came on a new connection, so both workers counted: only a shared
        # store (not one per worker) refuses the 21st.
        refused = server.post("/api/auth/login", attempts[20])
        assert refused.status == 429 and refused.json()["detail"]
        assert "retry-after" in refused.headers
        assert list(redis_client.scan_iter(f"*{prefix}*"))
    finally:
        server.stop()
        for key in redis_client.scan_iter(f"*{prefix}*"):
            redis_client.delete(key)
    assert not list(redis_client.scan_iter(f"*{prefix}*"))
