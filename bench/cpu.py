"""CPU per request, in-process: where a worker's time goes, without wrk or gunicorn.

Builds the production app against the benchmark database, then calls it as WSGI (no test
client in between) for each endpoint, N times after a warm-up, and prints the CPU time per
request (`process_time`, so the database server's share is not counted) and the statements
each request sends. With `--profile NAME` it also writes a pyinstrument or cProfile report.

    .venv/bin/python bench/cpu.py [--readings 10000] [-n 2000] [--only api_source]
                                      [--profile api_readings_list] [--cprofile]

This is the quick loop for an optimisation; `bench/run.py` gives the figures under load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datagen import PASSWORD, database_url  # noqa: E402


def build_app(url: str):
    """Return bench/wsgi.py's app (production settings plus /bench/ceiling) on url."""
    os.environ.update(
        {
            "HOMELOG_ENV": "production",
            "DATABASE_URL": url,
            "BENCH_CEILING": "1",
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "LOG_FORMAT": "json",
        }
    )
    os.environ.pop("METRICS_TOKEN", None)
    import bench.wsgi

    return bench.wsgi.app


def prepare(app):
    """Return (source id, bearer token, session cookie, a cursor) for the first user."""
    import re
    from urllib.parse import urlencode

    from homelog import tokens
    from homelog.extensions import db
    from homelog.models import DataSource, User

    with app.app_context():
        user = db.session.scalars(db.select(User).order_by(User.id)).first()
        source = db.session.scalar(
            db.select(DataSource)
            .where(DataSource.owner_id == user.id, DataSource.kind == "meter")
            .order_by(DataSource.id)
        )
        raw, _ = tokens.issue_token(user, "bench-profile")
        email, source_id = user.email, source.id
    client = app.test_client()
    page = client.get("/login").get_data()
    csrf = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page).group(1).decode()
    response = client.post(
        "/login",
        data=urlencode({"csrf_token": csrf, "email": email, "password": PASSWORD}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302, response.status_code
    cookie = client.get_cookie("session").value
    listing = client.get(
        f"/api/sources/{source_id}/readings?limit=100", headers={"Authorization": f"Bearer {raw}"}
    )
    link = listing.headers.get("Link", "")
    cursor = re.search(r"cursor=([^&>]+)", link).group(1)
    return source_id, raw, cookie, cursor


def requests_for(source_id: int, token: str, cookie: str, cursor: str) -> dict:
    from datetime import UTC, datetime, timedelta

    bearer = {"Authorization": f"Bearer {token}"}
    session = {"Cookie": f"session={cookie}"}
    start = datetime(2030, 1, 1, tzinfo=UTC)
    counter = iter(range(10**9))

    def create():
        seconds = next(counter)
        when = start + timedelta(seconds=seconds)
        # Both values grow with the timestamp and start above the generated readings' (the
        # export register ends near 14): no request is a meter drop.
        return (
            "POST",
            f"/api/sources/{source_id}/readings",
            bearer,
            json.dumps(
                {
                    "timestamp": when.isoformat(),
                    "values": {"import": 20000 + seconds, "export": 100 + seconds},
                }
            ),
        )

    return {
        "ceiling": lambda: ("GET", "/bench/ceiling", {}, None),
        "api_readings_list": lambda: (
            "GET",
            f"/api/sources/{source_id}/readings?limit=100",
            bearer,
            None,
        ),
        "api_source": lambda: ("GET", f"/api/sources/{source_id}", bearer, None),
        "api_reading_create": create,
        "html_source_page": lambda: ("GET", f"/sources/{source_id}", session, None),
        "htmx_readings_fragment": lambda: (
            "GET",
            f"/sources/{source_id}/readings?before={cursor}",
            {**session, "HX-Request": "true"},
            None,
        ),
        "api_usage_month": lambda: (
            "GET",
            f"/api/sources/{source_id}/usage?period=month",
            bearer,
            None,
        ),
    }


def environ_for(method, path, headers, body):
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path=path,
        method=method,
        headers=headers,
        data=body,
        content_type="application/json" if body else None,
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app, environ) -> int:
    status = []

    def start_response(s, _headers, _exc=None):
        status.append(int(s[:3]))

    body = app(environ, start_response)
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return status[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=10_000)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--only", default="")
    parser.add_argument("--profile", default="")
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or database_url(args.readings)
    app = build_app(url)
    from sqlalchemy import event

    from homelog.extensions import db

    statements = [0]
    with app.app_context():
        event.listen(
            db.engine,
            "before_cursor_execute",
            lambda *a: statements.__setitem__(0, statements[0] + 1),
        )
    source_id, token, cookie, cursor = prepare(app)
    wanted = [name for name in args.only.split(",") if name]
    results = {}
    for name, make in requests_for(source_id, token, cookie, cursor).items():
        if wanted and name not in wanted:
            continue
        n = args.n if name != "api_usage_month" else max(args.n // 10, 20)
        for _ in range(min(n, 200)):  # warm-up: caches, compiled statements, pool
            call(app, environ_for(*make()))
        environs = [environ_for(*make()) for _ in range(n)]
        statements[0] = 0
        profiler = None
        if args.profile == name:
            if args.cprofile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU, not wall
                profiler.enable()
            else:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002)
                profiler.start()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        codes = {}
        for environ in environs:
            code = call(app, environ)
            codes[code] = codes.get(code, 0) + 1
        cpu = (time.process_time() - started_cpu) / n * 1000
        wall = (time.perf_counter() - started_wall) / n * 1000
        if profiler is not None:
            if args.cprofile:
                import pstats

                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stdout).sort_stats(
                    os.environ.get("BENCH_SORT", "cumulative")
                )
                stats.print_stats(45)
                if os.environ.get("BENCH_CALLERS"):  # who calls these (a regular expression)
                    stats.print_callers(os.environ["BENCH_CALLERS"])
            else:
                profiler.stop()
                print(
                    profiler.output_text(unicode=False, color=False, show_all=False),
                )
        results[name] = {
            "cpu_ms": round(cpu, 3),
            "wall_ms": round(wall, 3),
            "statements": round(statements[0] / n, 2),
            "status": codes,
        }
        print(
            f"{name:24} cpu {cpu:7.3f} ms  wall {wall:7.3f} ms  "
            f"statements {statements[0] / n:5.2f}  {codes}"
        )
    clean_up(url)
    return 0


def clean_up(url: str) -> None:
    """Delete what the run wrote (its token, readings and their change-feed rows)."""
    from bench.run import clean_up as delete_written_rows

    delete_written_rows(url)  # readings and change-feed rows written after generation
    import psycopg

    from bench.datagen import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DELETE FROM api_tokens WHERE name = 'bench-profile'")


if __name__ == "__main__":
    raise SystemExit(main())
