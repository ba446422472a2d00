"""Fill a PostgreSQL database with deterministic benchmark data: users, sources, readings.

Users and sources go through the ORM (so defaults and the change feed are right); readings
and their change-feed rows go in with COPY, secondary indexes dropped during the load and
rebuilt after it, then VACUUM ANALYZE. The same seed and sizes give the same rows.

Every user is `bench<n>@example.com` with the password in PASSWORD; each has an electricity
meter (import/export kWh) and a climate sensor (temperature/humidity). Readings are spread
evenly over all sources, one every 15 minutes, ending 2026-01-01 00:00 UTC.

The database comes from DATABASE_URL, else `homelog_bench_<readings>` on the local server
(created when missing). A database already filled with the same parameters is left alone
(they are kept as the database's comment); --force fills it again.

    .venv/bin/python bench/datagen.py [--readings 10000000] [--users 10] [--seed 42] [--force]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from homelog import accounts, create_app  # noqa: E402
from homelog.config import normalize_database_url  # noqa: E402
from homelog.extensions import db  # noqa: E402
from homelog.models import DataSource, User  # noqa: E402

PASSWORD = "bench passphrase 1"
SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
END = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
GENERATED_AT = datetime(2026, 1, 1, 12, tzinfo=UTC)  # created_at of every generated row
CHUNK = 50_000
BULK_TABLES = ("readings", "sync_changes")


def database_url(readings: int) -> str:
    """Return the benchmark database URL: DATABASE_URL, else one named after the size."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalize_database_url(url)
    return (
        sa.make_url(SERVER_URL)
        .set(database=f"homelog_bench_{readings}")
        .render_as_string(hide_password=False)
    )


def libpq_url(url: str) -> str:
    """Return url without SQLAlchemy's driver suffix, for psycopg.connect()."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database of url when it does not exist."""
    name = sa.make_url(url).database
    with psycopg.connect(
        libpq_url(sa.make_url(url).set(database="postgres").render_as_string(hide_password=False)),
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


def stored_parameters(url: str) -> dict | None:
    """Return the parameters the database was filled with (its comment), if any."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    try:
        return json.loads(row[0]) if row and row[0] else None
    except ValueError:
        return None


def uuid7_text(millis: int, rand: int) -> str:
    """Return a version-7 UUID (as text) from a millisecond time and 74 random bits."""
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62 | (rand & ((1 << 62) - 1))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def reading_rows(source: dict, count: int, rng: random.Random):
    """Yield (id, timestamp text, values JSON) for count readings of source, oldest first."""
    first = END - STEP * count
    epoch_ms = int(first.timestamp() * 1000)
    step_ms = int(STEP.total_seconds() * 1000)
    imported, exported = 10_000.0, 0.0
    for n in range(count):
        millis = epoch_ms + n * step_ms
        stamp = datetime.fromtimestamp(millis / 1000, UTC).isoformat()
        if source["kind"] == "meter":
            imported += round(rng.random() * 0.5, 3)
            if rng.random() < 0.3:
                exported += round(rng.random() * 0.2, 3)
            values = f'{{"import": {round(imported, 3)}, "export": {round(exported, 3)}}}'
        else:
            values = (
                f'{{"temperature": {round(19 + rng.random() * 4, 2)}, '
                f'"humidity": {round(40 + rng.random() * 20, 1)}}}'
            )
        yield uuid7_text(millis, rng.getrandbits(74)), stamp, values


def secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Return (name, definition) of the bulk tables' indexes that back no constraint."""
    return conn.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        (list(BULK_TABLES),),
    ).fetchall()


def fill(url: str, readings: int, users: int, seed: int) -> dict:
    """Empty the database and fill it; return counts and timings."""
    started = time.perf_counter()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        with db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE users RESTART IDENTITY CASCADE"))
        password_hash = accounts.hash_password(PASSWORD)
        sources = []
        for number in range(1, users + 1):
            user = User(
                email=f"bench{number}@example.com",
                name=f"Bench {number}",
                password_hash=password_hash,
                timezone="Europe/Berlin",
                created_at=GENERATED_AT,
            )
            db.session.add(user)
            db.session.flush()
            for name, kind, metrics in (
                ("Electricity", "meter", {"import": "kWh", "export": "kWh"}),
                ("Climate", "sensor", {"temperature": "°C", "humidity": "%"}),
            ):
                source = DataSource(
                    owner_id=user.id,
                    name=name,
                    kind=kind,
                    created_at=GENERATED_AT,
                    updated_at=GENERATED_AT,
                )
                source.metrics = metrics
                db.session.add(source)
                db.session.flush()
                sources.append({"id": source.id, "owner_id": user.id, "kind": kind})
        db.session.commit()
        db.engine.dispose()

    per_source, extra = divmod(readings, len(sources))
    stamp = GENERATED_AT.isoformat()
    with psycopg.connect(libpq_url(url)) as conn:
        indexes = secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        seq = dict(conn.execute("SELECT owner_id, value FROM sync_counters").fetchall())
        loaded = time.perf_counter()
        with conn.cursor() as cur:
            for index, source in enumerate(sources):
                rng = random.Random(seed * 1_000_003 + source["id"])
                count = per_source + (1 if index < extra else 0)
                owner = source["owner_id"]
                first_seq = seq.get(owner, 0) + 1
                seq[owner] = first_seq + count - 1
                ids: list[str] = []
                with cur.copy(
                    "COPY readings (id, data_source_id, timestamp, values, created_by_id, "
                    "created_at, updated_at) FROM STDIN"
                ) as copy:
                    buffer = io.StringIO()
                    for n, (ident, when, values) in enumerate(reading_rows(source, count, rng), 1):
                        ids.append(ident)
                        buffer.write(
                            f"{ident}\t{source['id']}\t{when}\t{values}\t{owner}\t"
                            f"{stamp}\t{stamp}\n"
                        )
                        if n % CHUNK == 0:
                            copy.write(buffer.getvalue())
                            buffer = io.StringIO()
                    copy.write(buffer.getvalue())
                with cur.copy(
                    "COPY sync_changes (kind, object_id, owner_id, data_source_id, seq, deleted, "
                    "changed_at) FROM STDIN"
                ) as copy:
                    buffer = io.StringIO()
                    for n, ident in enumerate(ids):
                        buffer.write(
                            f"reading\t{ident}\t{owner}\t{source['id']}\t"
                            f"{first_seq + n}\tf\t{stamp}\n"
                        )
                        if (n + 1) % CHUNK == 0:
                            copy.write(buffer.getvalue())
                            buffer = io.StringIO()
                    copy.write(buffer.getvalue())
                print(f"  source {source['id']}: {count:,} readings", flush=True)
            for owner, value in seq.items():
                cur.execute(
                    "UPDATE sync_counters SET value = %s WHERE owner_id = %s", (value, owner)
                )
        conn.commit()
        copied = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        indexed = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE readings")
        conn.execute("VACUUM ANALYZE sync_changes")
        conn.execute("ANALYZE")
        parameters = {"readings": readings, "users": users, "seed": seed, "sources": len(sources)}
        name = sa.make_url(url).database
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{json.dumps(parameters)}'")
    done = time.perf_counter()
    return {
        **parameters,
        "copy_s": round(copied - loaded, 1),
        "index_s": round(indexed - copied, 1),
        "vacuum_s": round(done - indexed, 1),
        "total_s": round(done - started, 1),
    }


def main() -> int:
    """Fill the benchmark database unless it already holds these parameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="fill again even if up to date")
    args = parser.parse_args()
    url = database_url(args.readings)
    if not url.startswith("postgresql"):
        parser.error("the benchmark database must be PostgreSQL")
    ensure_database(url)
    wanted = {
        "readings": args.readings,
        "users": args.users,
        "seed": args.seed,
        "sources": args.users * 2,
    }
    shown = sa.make_url(url).render_as_string(hide_password=True)
    if not args.force and stored_parameters(url) == wanted:
        print(f"{shown} already holds {args.readings:,} readings (seed {args.seed}).")
        return 0
    print(f"Filling {shown}: {args.users} users, {args.readings:,} readings, seed {args.seed}")
    print(json.dumps(fill(url, args.readings, args.users, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
