"""Time a CSV import of 100,000 readings: preview, import, and a re-import that adds nothing.

Calls the domain functions (homelog.importer) the page and the API use, against the database
in BENCH_DATABASE_URL (PostgreSQL by default; `sqlite:///...` works too), migrated to the
newest schema. Makes its own user and source; add --cleanup to delete them afterwards.
--api sends the file through POST /api/sources/{id}/import instead.

    .venv/bin/python bench/import_bench.py [--rows 100000] [--api] [--cleanup]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from homelog import accounts, create_app, datasources, importer, tokens  # noqa: E402
from homelog.config import normalize_database_url  # noqa: E402
from homelog.extensions import db  # noqa: E402
from homelog.models import DataSource, User  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def make_csv(rows: int) -> str:
    """Return a semicolon-separated, decimal-comma file: a quarter-hourly meter."""
    start = datetime(2020, 1, 1)
    lines = ["Datum;Import (kWh);Export (kWh)"]
    for n in range(rows):
        moment = start + timedelta(minutes=15 * n)
        imported = f"{1000 + n * 0.25:.2f}".replace(".", ",")
        exported = f"{n * 0.01:.2f}".replace(".", ",")
        lines.append(f"{moment:%d.%m.%Y %H:%M};{imported};{exported}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the benchmark and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--api", action="store_true")
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
    text = make_csv(args.rows)
    print(f"file: {args.rows:,} rows, {len(text.encode()) / 1e6:.1f} MB, {url.split(':')[0]}")
    with app.app_context():
        upgrade()
        user = accounts.create_user(
            f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        )
        source = datasources.create_source(
            user, "Bench meter", kind="meter", metrics={"import": "kWh", "export": "kWh"}
        )
        source_id, user_id = source.id, user.id
        raw, _ = tokens.issue_token(user, "bench")

        def timed(label, function):
            began = time.perf_counter()
            report = function()
            elapsed = time.perf_counter() - began
            print(
                f"{label:<10} {elapsed:6.2f} s  to import {report.to_import:>7,}  "
                f"created {report.created if report.created is not None else '-':>7}  "
                f"problems {len(report.problems):,}"
            )
            return report

        if args.api:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {raw}", "Content-Type": "text/csv"}
            for label, query in (("dry run", "?dry_run=true"), ("import", ""), ("re-import", "")):
                began = time.perf_counter()
                response = client.post(
                    f"/api/sources/{source_id}/import{query}", data=text.encode(), headers=headers
                )
                body = response.get_json()
                print(
                    f"{label:<10} {time.perf_counter() - began:6.2f} s  "
                    f"HTTP {response.status_code}  created {body.get('created')}  "
                    f"problems {len(body.get('problems', []))}"
                )
        else:
            source = db.session.get(DataSource, source_id)
            user = db.session.get(User, user_id)
            timed("preview", lambda: importer.preview(source, text))
            timed("import", lambda: importer.import_csv(source, user, text))
            timed("re-import", lambda: importer.import_csv(source, user, text))
        if args.cleanup:
            db.session.delete(db.session.get(User, user_id))
            db.session.commit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
