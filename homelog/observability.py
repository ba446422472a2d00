"""Operations: a request id on every request, one structured log line each, Prometheus metrics.

- Request id: taken from `X-Request-ID` when it is a sane token (letters, digits, `.-_:`, at
  most 128 characters), generated otherwise; returned in the `X-Request-ID` response header and
  put on every log line written while the request runs.
- Logs: with `LOG_FORMAT=json` (the default in production) the `homelog` logger writes one JSON
  object per line, and every request adds one line with method, path (never the query string),
  status, duration in ms, user id and request id. Nothing here reads bodies or headers other
  than `X-Request-ID`, so passwords, tokens and `Authorization` never reach a log.
- Metrics: off unless `METRICS_TOKEN` is set; then `GET /metrics` with
  `Authorization: Bearer <METRICS_TOKEN>` serves request counts and latency by endpoint and
  status, and the database pool's connections in use. Several gunicorn workers share their
  figures through prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set up by
  gunicorn.conf.py); without it each scrape sees one worker only.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler

from homelog.extensions import db

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
REQUEST_LOGGER = "homelog.request"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

request_log = logging.getLogger(REQUEST_LOGGER)


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return record as JSON: time, level, logger, message, request id and extra fields."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            data["request_id"] = g.request_id
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def request_id_from(value: str | None) -> str:
    """Return value when it is an acceptable request id, else a new random one."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_user_id() -> int | None:
    """Return the id of the user this request acted as, without touching the database."""
    caller = g.get("api_caller")  # a hot API route's (homelog.pgdirect)
    if caller is not None:
        return caller.user_id
    for user in (g.get("api_user"), g.get("_login_user")):
        # inspect() reads the identity key: no lazy load even after a rollback expired it.
        state = sa.inspect(user, raiseerr=False) if user is not None else None
        if state is not None and state.identity:
            return state.identity[0]
    return None


def configure_logging(log_format: str) -> None:
    """Make the `homelog` logger write JSON lines to stderr (for log_format "json")."""
    if log_format != "json":
        return
    logger = logging.getLogger("homelog")
    logger.removeHandler(default_handler)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


_metrics: SimpleNamespace | None = None


def metrics() -> SimpleNamespace:
    """Return the process's metric objects, created on first use (registered once)."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Gauge, Histogram

        labels = ["method", "endpoint", "status"]
        _metrics = SimpleNamespace(
            requests=Counter("homelog_http_requests", "HTTP requests served.", labels),
            latency=Histogram(
                "homelog_http_request_duration_seconds",
                "Time to answer an HTTP request.",
                labels,
                buckets=LATENCY_BUCKETS,
            ),
            pool_in_use=Gauge(
                "homelog_db_pool_connections_in_use",
                "Database connections checked out of the pool.",
                multiprocess_mode="livesum",
            ),
            pool_size=Gauge(
                "homelog_db_pool_size",
                "Connections the pool keeps open (without overflow).",
                multiprocess_mode="livesum",
            ),
        )
    return _metrics


def _watch_pool(app: Flask) -> None:
    """Track connections checked out of app's engine pool in the pool gauge."""
    gauges = metrics()
    with app.app_context():
        engine = db.engine
    size = getattr(engine.pool, "size", None)
    if callable(size):
        gauges.pool_size.set(size())
    sa.event.listen(engine, "checkout", lambda *_: gauges.pool_in_use.inc())
    sa.event.listen(engine, "checkin", lambda *_: gauges.pool_in_use.dec())


def exposition() -> Response:
    """Return the metrics of every worker (multiprocess mode) or of this process."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Give app request ids, per-request log lines and (with METRICS_TOKEN) /metrics."""
    configure_logging(app.config.get("LOG_FORMAT", "text"))
    token = app.config.get("METRICS_TOKEN") or ""
    if token:
        _watch_pool(app)

    @app.before_request
    def start_request() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))

    @app.after_request
    def finish_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:  # a before_request hook of another app answered first
            return response
        elapsed = time.perf_counter() - started
        response.headers[REQUEST_ID_HEADER] = g.request_id
        if token:
            endpoint = request.endpoint or "unmatched"
            labels = (request.method, endpoint, str(response.status_code))
            gauges = metrics()
            gauges.requests.labels(*labels).inc()
            gauges.latency.labels(*labels).observe(elapsed)
        if request_log.isEnabledFor(logging.INFO):
            request_log.info(
                "request",
                extra={
                    "fields": {
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 2),
                        "user_id": current_user_id(),
                    }
                },
            )
        return response

    if token:

        @app.route("/metrics")
        def prometheus_metrics():
            """Serve Prometheus metrics to a scraper holding METRICS_TOKEN."""
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                return {"detail": "Authentication required."}, 401, {"WWW-Authenticate": "Bearer"}
            return exposition()
