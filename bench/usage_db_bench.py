"""Time monthly usage over 10 years of hourly readings read from PostgreSQL, in a big table.

Run:
    .venv/bin/python bench/usage_db_bench.py --total 2000000
    .venv/bin/python bench/usage_db_bench.py --total 10000000 --layout clustered

One source has 87,600 hourly readings (10 years); other sources fill the table up to --total
readings. --layout interleaved (default) inserts hour by hour across all sources, as data
from many households arrives, so one source's rows are spread over the whole heap (the
worst case for reading one source); --layout clustered then CLUSTERs the table on
(data_source_id, timestamp, id). The database (--url, default a `homelog_bench` database on
the local server) is created, migrated and filled once; later runs reuse it when it already
holds --total readings.

Timed: homelog.usage_db.query.usage_for(source, "month", ...) end to end — the window queries,
the reduced query (index probes for the readings beside each period boundary and each break;
see usage_db.stream.reduced_rows) and the engine's pass with tariffs — cold (first run) and warm
(median and p95 of the rest); then right after each of --runs new readings (the breaks are
recomputed from the new reading on); then with one suspect reading 30 days and 5 years before
the end (every reading from it on is read); then the full streaming query alone, which
sensors use. EXPLAIN ANALYZE shows the reduced query's plan.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homelog import create_app  # noqa: E402
from homelog.extensions import db  # noqa: E402
from homelog.models import DataSource, Tariff, User  # noqa: E402
from homelog.usage_db import inputs, query, stream  # noqa: E402

HOURS = 87_600
START = datetime(2016, 1, 1, tzinfo=UTC)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homelog_bench"


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist."""
    target = sa.make_url(url)
    server = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        )
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


def fill(total: int, layout: str) -> int:
    """Create the user, the measured source and filler sources; return the source's id."""
    sources = max(1, -(-total // HOURS))  # every source: 10 years hourly (the last fewer)
    print(f"filling {total:,} readings: {sources} sources × up to {HOURS:,} hours ({layout})")
    db.session.execute(
        sa.text(
            "TRUNCATE readings, tariffs, meter_events, data_sources, users RESTART IDENTITY CASCADE"
        )
    )
    user = User(email="bench@example.com", password_hash="x", timezone="Europe/Berlin")
    db.session.add(user)
    db.session.flush()
    ids = []
    for number in range(sources):
        source = DataSource(
            owner_id=user.id,
            name=f"Meter {number}",
            kind="meter",
            metric_list=[["import", "kWh"]],
            rollover_at={"import": 100000},
        )
        db.session.add(source)
        db.session.flush()
        ids.append(source.id)
    for day, price, standing in [
        (date(2015, 1, 1), "0.28", "0.40"),
        (date(2019, 7, 1), "0.31", "0.45"),
        (date(2022, 10, 17), "0.42", "0.50"),
    ]:
        db.session.add(
            Tariff(
                data_source_id=ids[0],
                metric="import",
                effective_from=day,
                unit_price=price,
                standing_charge=standing,
            )
        )
    db.session.commit()
    began = time.perf_counter()
    # Hour by hour across sources (ORDER BY hour, source), in chunks of 1,000 hours.
    step = 1000
    for first in range(0, HOURS, step):
        db.session.execute(
            sa.text("""
            INSERT INTO readings (id, data_source_id, timestamp, "values", confirmed,
                                  created_at, updated_at)
            SELECT gen_random_uuid(), s, :start + make_interval(hours => h),
                   json_build_object('import',
                       round(mod((99000 + s + h * 0.5 + 0.3 * sin(h * 0.2618))::numeric,
                                 100000), 3)),
                   false, now(), now()
            FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS h
            CROSS JOIN unnest(CAST(:ids AS integer[])) AS s
            WHERE (s - :base) * :hours + h < :total
            ORDER BY h, s
        """),
            {
                "start": START,
                "first": first,
                "last": min(first + step, HOURS) - 1,
                "ids": ids,
                "base": ids[0],
                "hours": HOURS,
                "total": total,
            },
        )
        db.session.commit()
    print(f"  inserted in {time.perf_counter() - began:.0f} s")
    if layout == "clustered":
        began = time.perf_counter()
        db.session.execute(sa.text("CLUSTER readings USING ix_readings_source_timestamp"))
        db.session.commit()
        print(f"  clustered in {time.perf_counter() - began:.0f} s")
    db.session.execute(sa.text("ANALYZE readings"))
    db.session.commit()
    return ids[0]


def explain(source: DataSource, periods) -> None:
    """Print EXPLAIN (ANALYZE, BUFFERS) of the query usage_for runs (the reduced one)."""
    plans = inputs.tariff_plans(source)
    config = inputs.meter_config(source)
    low, high = stream.reading_window(source, periods[0].start, periods[-1].end)
    sql, params = stream.reduced_query(source, low, high, query.boundaries(periods, plans, config))
    plan = db.session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params).scalars()
    print("\n".join("  " + line for line in plan))


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share / 100 * len(ordered)) - 1))]


def main() -> None:
    """Fill (once) and time monthly usage of one source over 10 years."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument(
        "--total", type=int, default=2_000_000, help="readings in the table (default 2,000,000)"
    )
    parser.add_argument("--layout", choices=("interleaved", "clustered"), default="interleaved")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument(
        "--covering",
        action="store_true",
        help="add a covering index (INCLUDE values, confirmed) to the bench "
        "database, for index-only scans; not part of the migrations",
    )
    args = parser.parse_args()
    ensure_database(args.url)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.url,
            "SECRET_KEY": "bench",
            "RATELIMIT_STORAGE_URI": "memory://",
            "DB_STATEMENT_TIMEOUT_MS": 0,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        count = db.session.scalar(sa.text("SELECT count(*) FROM readings"))
        layout_now = db.session.scalar(
            sa.text(
                "SELECT indisclustered FROM pg_index WHERE indexrelid = "
                "'ix_readings_source_timestamp'::regclass"
            )
        )
        wanted_clustered = args.layout == "clustered"
        if args.refill or count != args.total or bool(layout_now) != wanted_clustered:
            source_id = fill(args.total, args.layout)
        else:
            source_id = db.session.scalar(sa.select(sa.func.min(DataSource.id)))
        if args.covering:
            began = time.perf_counter()
            db.session.execute(
                sa.text(
                    "CREATE INDEX IF NOT EXISTS ix_bench_covering ON readings "
                    '(data_source_id, "timestamp", id) INCLUDE ("values", confirmed)'
                )
            )
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE readings"))
            print(f"  covering index ready in {time.perf_counter() - began:.0f} s")
        size = db.session.scalar(
            sa.text("SELECT pg_size_pretty(pg_total_relation_size('readings'))")
        )
        print(f"table: {args.total:,} readings, {size} with indexes; layout {args.layout}")
        source = db.session.get(DataSource, source_id)
        if db.session.scalar(
            sa.text("SELECT count(*) FROM reading_breaks_stale WHERE data_source_id = :s"),
            {"s": source_id},
        ):
            # Once after the migration or a refill: every reading of the source is read.
            began = time.perf_counter()
            stream.refresh_breaks(source_id)
            print(
                f"  breaks of the source computed in {(time.perf_counter() - began) * 1000:.0f}"
                " ms (once)"
            )
        times = []
        for _ in range(args.runs):
            db.session.expire_all()
            began = time.perf_counter()
            result = query.usage_for(source, "month", date(2016, 1, 1), date(2026, 1, 1))
            times.append((time.perf_counter() - began) * 1000)
        appended = []
        last = db.session.scalar(
            sa.text("SELECT max(timestamp) FROM readings WHERE data_source_id = :s"),
            {"s": source_id},
        )
        for number in range(1, args.runs + 1):
            # A new reading makes the breaks stale from its time on: recomputed for that bit.
            db.session.execute(
                sa.text("""
                INSERT INTO readings (id, data_source_id, timestamp, "values", confirmed,
                                      created_at, updated_at)
                VALUES (gen_random_uuid(), :s, :t, json_build_object('import', 99999.0 + :n),
                        false, now(), now())
            """),
                {"s": source_id, "t": last + timedelta(hours=number), "n": number},
            )
            db.session.commit()
            db.session.expire_all()
            began = time.perf_counter()
            query.usage_for(source, "month", date(2016, 1, 1), date(2026, 1, 1))
            appended.append((time.perf_counter() - began) * 1000)
        db.session.execute(
            sa.text("DELETE FROM readings WHERE data_source_id = :s AND timestamp > :t"),
            {"s": source_id, "t": last},
        )
        db.session.commit()
        suspect = {}
        for days in (30, 5 * 365):
            # An unfixed typo (a suspect reading): every reading from it on is read.
            typo = db.session.scalar(
                sa.text("""
                INSERT INTO readings (id, data_source_id, timestamp, "values", confirmed,
                                      created_at, updated_at)
                VALUES (gen_random_uuid(), :s, :t, json_build_object('import', 1.0), false,
                        now(), now()) RETURNING id
            """),
                {"s": source_id, "t": last - timedelta(days=days, minutes=30)},
            )
            db.session.commit()
            found = []
            for _ in range(max(3, args.runs // 3)):
                db.session.expire_all()
                began = time.perf_counter()
                typo_usage = query.usage_for(source, "month", date(2016, 1, 1), date(2026, 1, 1))
                found.append((time.perf_counter() - began) * 1000)
            assert len(typo_usage.suspects) == 1
            suspect[days] = found
            db.session.execute(sa.text("DELETE FROM readings WHERE id = :id"), {"id": typo})
            db.session.commit()
        usage = result.meter["import"]
        total = sum(p.usage for p in usage.periods if p.usage is not None)
        cost = sum(p.cost.total for p in usage.periods if p.cost is not None)
        print(
            f"monthly usage + cost of one source, {len(result.periods)} months, "
            f"{total:,.1f} kWh, {cost:,.2f} in costs, {len(usage.suspects)} suspect"
        )
        print(
            f"  first run {times[0]:.1f} ms; warm: median {statistics.median(times[1:]):.1f}"
            f" ms, p95 {percentile(times[1:], 95):.1f} ms, best {min(times[1:]):.1f} ms "
            f"(of {args.runs - 1})"
        )
        print(
            f"  right after a new reading each time: median {statistics.median(appended):.1f}"
            f" ms, p95 {percentile(appended, 95):.1f} ms (of {len(appended)})"
        )
        for days, found in suspect.items():
            print(
                f"  with a suspect reading {days} days before the end: median "
                f"{statistics.median(found):.1f} ms (of {len(found)})"
            )
        print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        began = time.perf_counter()
        rows = sum(
            1
            for _ in stream.stream_readings(source, result.periods[0].start, result.periods[-1].end)
        )
        print(
            f"  the streaming query alone: {rows:,} rows in "
            f"{(time.perf_counter() - began) * 1000:.1f} ms"
        )
        explain(source, result.periods)


if __name__ == "__main__":
    main()
