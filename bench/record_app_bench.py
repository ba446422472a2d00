"""Benchmark the Record app in Debian's Chromium at phone size (not a test; figures in README).

Measures, against the app served in-process on a temporary SQLite database (or
BENCH_DATABASE_URL, migrated first):
- the Record screen's first paint offline: a new page opened with the network off, served by
  the service worker and painted from IndexedDB (first contentful paint, and the moment the
  meters with their last values are on screen: the `record-painted` mark);
- an outbox of 200 readings (over 5 meters) synced: the outbox's own send (2 batches), and
  from reconnecting (the page sends by itself) until the outbox badge is gone.

    .venv/bin/python bench/record_app_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homelog import create_app  # noqa: E402
from homelog.accounts import hash_password  # noqa: E402
from homelog.extensions import db  # noqa: E402
from homelog.models import DataSource, User  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

EMAIL, PASSWORD = "bench@example.com", "a long bench passphrase"
METERS = 5


def make_app(workdir: str):
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
    app = create_app(
        {
            "SECRET_KEY": "bench-secret-key",
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        user = db.session.scalar(db.select(User).where(User.email == EMAIL))
        if user is None:
            user = User(email=EMAIL, password_hash=hash_password(PASSWORD), name="Bench")
            db.session.add(user)
            db.session.flush()
            for n in range(METERS):
                source = DataSource(owner_id=user.id, name=f"Meter {n}", kind="meter")
                source.metrics = {"import": "kWh", "export": "kWh"}
                db.session.add(source)
            db.session.commit()
    return app


def serve(app) -> str:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def first_paint_offline(context) -> tuple[float, float]:
    """Open /record in a new page with the network off: (first contentful paint, meters), ms."""
    page = context.new_page()
    page.goto("/record")
    expect(page.locator("form.record-source").first).to_be_visible()
    figures = page.evaluate(
        """() => [
            performance.getEntriesByName("first-contentful-paint")[0].startTime,
            performance.getEntriesByName("record-painted")[0].startTime,
        ]"""
    )
    page.close()
    return figures[0], figures[1]


def fill_outbox(page, count: int) -> None:
    page.evaluate(
        """async ([count, meters]) => {
            const user = (await HomelogStore.load()).session.user_id;
            const ids = [...document.querySelectorAll("form.record-source")]
                .map((form) => Number(form.dataset.source));
            for (let n = 0; n < count; n++) {
                const value = 1000 + n;
                await HomelogStore.add(user, ids[n % meters], {import: value, export: n}, false);
            }
        }""",
        [count, METERS],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, sync_playwright() as playwright:
        base = serve(make_app(workdir))
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            base_url=base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")
        page.goto("/record")
        expect(page.locator("#app-version")).to_contain_text("App version")
        expect(page.locator("form.record-source")).to_have_count(METERS)

        context.set_offline(True)
        paints = [first_paint_offline(context) for _ in range(args.runs)]
        context.set_offline(False)
        fcp = statistics.median(p[0] for p in paints)
        shown = statistics.median(p[1] for p in paints)
        print(
            f"first paint offline (median of {args.runs}): FCP {fcp:.0f} ms, meters {shown:.0f} ms"
        )

        store_runs, tap_runs = [], []
        for _ in range(args.runs):
            fill_outbox(page, 200)
            store_runs.append(
                page.evaluate(
                    """async () => {
                        const started = performance.now();
                        const done = await HomelogStore.sendOutbox();
                        if (done.length !== 200) throw new Error("sent " + done.length);
                        return performance.now() - started;
                    }"""
                )
            )
            page.reload()
            expect(page.locator("#outbox-badge")).to_be_hidden()
            context.set_offline(True)
            fill_outbox(page, 200)
            page.reload()
            expect(page.locator("#outbox-count")).to_have_text("200")
            started = time.perf_counter()
            context.set_offline(False)  # back online: the page sends the outbox itself
            expect(page.locator("#outbox-badge")).to_be_hidden(timeout=30_000)
            tap_runs.append((time.perf_counter() - started) * 1000)
        print(
            f"outbox of 200 synced (median of {args.runs}): "
            f"sendOutbox {statistics.median(store_runs):.0f} ms, "
            f"reconnect to empty outbox {statistics.median(tap_runs):.0f} ms"
        )
        browser.close()


if __name__ == "__main__":
    main()
