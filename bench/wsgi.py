"""WSGI entry point for benchmarks: the production app plus, with BENCH_CEILING=1, a ceiling.

`GET /bench/ceiling` answers a fixed list of 100 readings serialised per request, through the
same app and hooks (request id, log line, session, rate limiter) but with no database: what
our stack can do at best on this machine. `GET /bench/bare/` answers the same JSON from a bare
Flask app (none of homelog's hooks) served by the same gunicorn: the issue's own ceiling ("a
bare Flask app on gunicorn returning the same 100-reading JSON from memory"), to scale its
targets to this machine. Neither exists in production (wsgi.py).

    gunicorn -c gunicorn.conf.py bench.wsgi:app
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from homelog import create_app

app = create_app()


def _fixed_readings() -> list[dict]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": str(uuid.UUID(int=n)),
            "data_source_id": 1,
            "timestamp": (start - timedelta(minutes=15 * n)).isoformat(),
            "values": {"import": 10_000 + n * 0.25, "export": n * 0.01},
            "note": None,
            "created_by_id": 1,
            "created_at": start.isoformat(),
            "updated_at": start.isoformat(),
        }
        for n in range(100)
    ]


if os.environ.get("BENCH_CEILING") == "1":
    FIXED = _fixed_readings()

    @app.route("/bench/ceiling")
    def bench_ceiling():
        """Answer a fixed JSON list of 100 readings (the benchmark's ceiling)."""
        return jsonify(FIXED)

    bare = Flask("bench_bare")
    bare.add_url_rule("/", "bare", lambda: jsonify(FIXED))
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/bench/bare": bare})
