"""Time a phone's worth of offline sync: 10,000 readings in batches of 1,000, then a resend.

Runs the whole request path (JSON parsing, validation, auth, database) through the Flask
test client against the database in BENCH_DATABASE_URL (PostgreSQL by default), migrated to
the newest schema. It makes its own user and source, so it can run against a database in
use; add --cleanup to delete them afterwards.

    .venv/bin/python bench/sync_bench.py [--readings 10000] [--batch 1000] [--cleanup]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from homelog import accounts, create_app, datasources, tokens  # noqa: E402
from homelog.config import normalize_database_url  # noqa: E402
from homelog.extensions import db  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def main() -> int:
    """Run the benchmark and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--cleanup", action="store_true")
    args = parser.parse_args()
    url = normalize_database_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        user = accounts.create_user(
            f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        )
        source = datasources.create_source(
            user, "Bench meter", kind="meter", metrics={"import": "kWh", "export": "kWh"}
        )
        raw, _ = tokens.issue_token(user, "bench")
        source_id, user_id = source.id, user.id
    headers = {"Authorization": f"Bearer {raw}"}
    start = datetime(2020, 1, 1, tzinfo=UTC)
    items = [
        {
            "id": str(uuid.uuid4()),
            "data_source_id": source_id,
            "timestamp": (start + timedelta(minutes=15 * n)).isoformat(),
            "values": {"import": 1000 + n * 0.25, "export": n * 0.01},
        }
        for n in range(args.readings)
    ]
    batches = [items[i : i + args.batch] for i in range(0, len(items), args.batch)]
    client = app.test_client()

    def run(label: str, expect: str) -> float:
        began = time.perf_counter()
        for batch in batches:
            response = client.post("/api/sync/readings", json={"readings": batch}, headers=headers)
            body = response.get_json()
            assert response.status_code == 200, body
            assert body[expect] == len(batch), {
                k: body[k] for k in ("created", "unchanged", "conflict", "invalid")
            }
        seconds = time.perf_counter() - began
        print(
            f"{label}: {len(items):,} readings in {len(batches)} batches: {seconds:.2f} s "
            f"({len(items) / seconds:,.0f} readings/s)"
        )
        return seconds

    print(f"database: {url.split('@')[-1]}")  # no credentials in the output
    first = run("first upload", "created")
    run("resend (all unchanged)", "unchanged")
    with app.app_context():
        from sqlalchemy import func, select

        from homelog.models import Reading

        stored = db.session.scalar(
            select(func.count()).select_from(Reading).where(Reading.data_source_id == source_id)
        )
        print(f"stored: {stored:,} readings (expected {len(items):,})")
        if args.cleanup:
            from homelog.models import User

            db.session.delete(db.session.get(User, user_id))
            db.session.commit()
    return 0 if stored == len(items) and first < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
