"""Time one sync batch in-process: wall and CPU per `POST /api/sync/readings` of 1,000 readings.

Builds the production app (bench/cpu.py's build_app) against a benchmark database, signs the
first user's token and sends batches of new readings (client ids, timestamps after
2035-01-01, the shape bench/lua/sync.lua sends) to the first meter source straight through
WSGI. Prints wall and CPU (`process_time`: the database server's share is not in it) per
batch and the statements each batch sends; `--resend` also times sending every batch again
(all unchanged). With `--profile` it writes a pyinstrument report (`--cprofile`: cProfile).
Deletes what it wrote (readings, their change-feed rows, the token) at the end.

    .venv/bin/python bench/sync_cpu.py [--readings 10000000] [-n 20] [--batch 1000]
                                       [--resend] [--profile] [--cprofile]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import build_app, call, environ_for  # noqa: E402
from bench.datagen import database_url  # noqa: E402

START = datetime(2035, 1, 1, tzinfo=UTC)
TOKEN_NAME = "bench-sync-cpu"


def batches(source_id: int, count: int, size: int) -> list[str]:
    """Return count JSON bodies of size new readings each, timestamps one second apart."""
    bodies = []
    for b in range(count):
        items = [
            {
                "id": str(uuid.uuid4()),
                "data_source_id": source_id,
                "timestamp": (START + timedelta(seconds=b * size + n)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "values": {"import": 30000 + n + 0.5, "export": n + 0.25},
            }
            for n in range(size)
        ]
        bodies.append(json.dumps({"readings": items}))
    return bodies


def clean_up(app) -> int:
    """Delete the readings this script wrote, their change-feed rows and its token."""
    from homelog.extensions import db

    with app.app_context():
        db.session.execute(
            db.text(
                "DELETE FROM sync_changes WHERE kind = 'reading' AND object_id IN "
                "(SELECT id::text FROM readings WHERE timestamp >= :start)"
            ),
            {"start": START},
        )
        deleted = db.session.execute(
            db.text("DELETE FROM readings WHERE timestamp >= :start"), {"start": START}
        ).rowcount
        db.session.execute(
            db.text("DELETE FROM api_tokens WHERE name = :name"), {"name": TOKEN_NAME}
        )
        db.session.commit()
    return deleted


def main() -> int:
    """Run the batches and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("-n", type=int, default=20, help="measured batches")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--resend", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after start-up, as a server could after forking",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or database_url(args.readings)
    app = build_app(url)
    from sqlalchemy import event

    from homelog import tokens
    from homelog.extensions import db
    from homelog.models import DataSource, User

    statements = [0]
    with app.app_context():
        event.listen(
            db.engine,
            "before_cursor_execute",
            lambda *a: statements.__setitem__(0, statements[0] + 1),
        )
        user = db.session.scalars(db.select(User).order_by(User.id)).first()
        source_id = db.session.scalar(
            db.select(DataSource.id)
            .where(DataSource.owner_id == user.id, DataSource.kind == "meter")
            .order_by(DataSource.id)
        )
        raw, _ = tokens.issue_token(user, TOKEN_NAME)
    headers = {"Authorization": f"Bearer {raw}"}
    bodies = batches(source_id, args.warmup + args.n, args.batch)
    if args.gc_freeze:
        import gc

        gc.collect()
        gc.freeze()
    try:
        for body in bodies[: args.warmup]:
            assert call(app, environ_for("POST", "/api/sync/readings", headers, body)) == 200

        def run(label: str, measured: list[str]) -> None:
            environs = [
                environ_for("POST", "/api/sync/readings", headers, body) for body in measured
            ]
            statements[0] = 0
            profiler = None
            if args.profile or args.cprofile:
                if args.cprofile:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                else:
                    from pyinstrument import Profiler

                    profiler = Profiler(interval=0.0005)
                    profiler.start()
            walls, cpus = [], []
            for environ in environs:
                cpu, wall = time.process_time(), time.perf_counter()
                assert call(app, environ) == 200
                cpus.append((time.process_time() - cpu) * 1000)
                walls.append((time.perf_counter() - wall) * 1000)
            if profiler is not None:
                if args.cprofile:
                    import pstats

                    profiler.disable()
                    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(40)
                else:
                    profiler.stop()
                    print(profiler.output_text(unicode=False, color=False, show_all=False))
            print(
                f"{label:6} {len(measured)} batches of {args.batch}: "
                f"wall p50 {statistics.median(walls):5.1f} ms, "
                f"mean {statistics.mean(walls):5.1f}, "
                f"max {max(walls):5.1f}; cpu p50 {statistics.median(cpus):5.1f} ms, "
                f"mean {statistics.mean(cpus):5.1f}, max {max(cpus):5.1f}; "
                f"statements/batch {statements[0] / len(measured):.1f}"
            )

        run("new", bodies[args.warmup :])
        if args.resend:
            run("resend", bodies[args.warmup :])
    finally:
        print(f"cleaned up {clean_up(app)} readings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
