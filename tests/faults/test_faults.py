"""Faults under traffic against a real gunicorn: the database stops, a worker is killed,
and 20 clients sync the same batches at once with retries."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tests.live import Reply, request, start_gunicorn

CONNECT_TIMEOUT_S = 2


def _server(tmp_path, private_postgres, **kwargs):
    return start_gunicorn(
        tmp_path,
        {
            "DATABASE_URL": private_postgres.url,
            "DB_CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
            "DB_STATEMENT_TIMEOUT_MS": "5000",
            "RATELIMIT_ENABLED": "0",
        },
        **kwargs,
    )


def _timed(port: int, method: str, path: str, **kwargs) -> tuple[Reply | None, float]:
    started = time.monotonic()
    try:
        reply = request(port, method, path, timeout=20, **kwargs)
    except OSError:
        reply = None
    return reply, time.monotonic() - started


def test_database_stop_answers_503_fast_then_recovers_without_restart(
    tmp_path, private_postgres, household
):
    server = _server(tmp_path, private_postgres, workers=2, threads=2)
    api_path = f"/api/sources/{household.source_id}"
    try:
        for _ in range(4):
            assert server.get(api_path, headers=household.headers).status == 200
            assert server.get("/login").status == 200
        workers_before = set(server.worker_pids())

        private_postgres.stop("fast")
        down: list[tuple[str, Reply | None, float]] = []
        for _ in range(6):
            for path, headers in ((api_path, household.headers), ("/login", {}), ("/readyz", {})):
                reply, seconds = _timed(server.port, "GET", path, headers=headers)
                down.append((path, reply, seconds))
        for path, reply, seconds in down:
            assert reply is not None, f"{path}: connection failed"
            assert reply.status == 503, (path, reply.status, reply.body[:300])
            assert seconds < CONNECT_TIMEOUT_S + 3, (path, seconds)
            if path != "/readyz":
                assert reply.headers.get("retry-after")
            if path == api_path:
                assert reply.headers["content-type"].startswith("application/json")
                assert reply.json()["detail"] == "Database unavailable."
            elif path == "/login":
                assert reply.headers["content-type"].startswith("text/html")
                assert b"database is not reachable" in reply.body
        # Writes fail the same way, and nothing answers 500.
        write = server.post(
            f"{api_path}/readings",
            {"timestamp": "2026-01-01T00:00:00Z", "values": {"import": 1}},
            headers=household.headers,
        )
        assert write.status == 503

        private_postgres.start()
        back_at = time.monotonic()
        while True:
            reply, _ = _timed(server.port, "GET", api_path, headers=household.headers)
            if reply is not None and reply.status == 200:
                break
            assert reply is None or reply.status == 503, reply.status
            assert time.monotonic() - back_at < 10, "no recovery within 10 s"
            time.sleep(0.2)
        # Every worker recovered: a run of requests on new connections all succeed.
        for _ in range(10):
            assert server.get(api_path, headers=household.headers).status == 200
            assert server.get("/login").status == 200
        assert server.get("/readyz").status == 200
        assert set(server.worker_pids()) == workers_before, "gunicorn restarted workers"
    finally:
        server.stop()
    assert "Traceback" not in server.log


def test_killed_worker_is_replaced_and_no_acknowledged_write_is_lost(
    tmp_path, private_postgres, household, private_db
):
    server = _server(tmp_path, private_postgres, workers=2, threads=2)
    acknowledged: list[uuid.UUID] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    path = f"/api/sources/{household.source_id}/readings"

    def client(number: int) -> None:
        count = 0
        while not stop.is_set():
            count += 1
            reading_id = uuid.uuid4()
            body = {
                "id": str(reading_id),
                "values": {"import": count},
                "timestamp": f"2026-02-01T{number:02d}:00:{count % 60:02d}Z",
            }
            reply, _ = _timed(server.port, "POST", path, body=body, headers=household.headers)
            with lock:
                if reply is not None and reply.status in (200, 201):
                    acknowledged.append(reading_id)
                elif reply is not None and reply.status >= 500 and reply.status != 503:
                    failures.append(f"{reply.status} {reply.body[:200]!r}")

    try:
        victims = server.worker_pids()
        with ThreadPoolExecutor(8) as pool:
            for number in range(8):
                pool.submit(client, number)
            time.sleep(2)
            killed = victims[0]
            os.kill(killed, signal.SIGKILL)
            time.sleep(3)
            stop.set()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pids = server.worker_pids()
            if len(pids) == 2 and killed not in pids:
                break
            time.sleep(0.2)
        pids = server.worker_pids()
        assert len(pids) == 2 and killed not in pids, pids
        assert server.get(path, headers=household.headers).status == 200
    finally:
        server.stop()
    assert not failures, failures[:5]
    assert len(acknowledged) > 50, "too little traffic to mean anything"
    with private_db.connect() as conn:
        stored = set(
            conn.execute(
                sa.text("SELECT id FROM readings WHERE data_source_id = :s"),
                {"s": household.source_id},
            ).scalars()
        )
    missing = [str(i) for i in acknowledged if i not in stored]
    assert not missing, f"{len(missing)} acknowledged readings are missing: {missing[:3]}"


def test_concurrent_sync_with_retries_stores_each_reading_exactly_once(
    tmp_path, private_postgres, household, private_db
):
    server = _server(tmp_path, private_postgres, workers=2, threads=4)
    rng = random.Random(6)
    batches = [
        [
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "data_source_id": household.source_id,
                "timestamp": f"2026-03-{1 + b:02d}T{n // 60:02d}:{n % 60:02d}:00Z",
                "values": {"import": b * 1000 + n},
            }
            for n in range(200)
        ]
        for b in range(5)
    ]
    all_ids = {item["id"] for batch in batches for item in batch}
    created: dict[str, int] = {}
    bad: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        local = random.Random(number)
        order = list(range(len(batches))) * 2
        local.shuffle(order)
        for index in order:
            while True:  # retry until acknowledged; some tries give up early, like a phone
                timeout = 0.05 if local.random() < 0.3 else 20
                try:
                    reply = request(
                        server.port,
                        "POST",
                        "/api/sync/readings",
                        {"readings": batches[index]},
                        household.headers,
                        timeout=timeout,
                    )
                except OSError:
                    time.sleep(local.random() * 0.05)
                    continue
                if reply.status != 200:
                    with lock:
                        bad.append(f"{reply.status} {reply.body[:200]!r}")
                    return
                with lock:
                    for result in reply.json()["results"]:
                        if result["status"] == "created":
                            created[result["id"]] = created.get(result["id"], 0) + 1
                        elif result["status"] != "unchanged":
                            bad.append(f"{result['status']}: {result}")
                break

    try:
        with ThreadPoolExecutor(20) as pool:
            list(pool.map(client, range(20)))
    finally:
        server.stop()
    assert not bad, bad[:3]
    assert all(count == 1 for count in created.values()), "an id was created twice"
    with private_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id::text, count(*) FROM readings WHERE data_source_id = :s GROUP BY id"
            ),
            {"s": household.source_id},
        ).all()
        changes = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT seq) FROM sync_changes "
                "WHERE kind = 'reading' AND data_source_id = :s"
            ),
            {"s": household.source_id},
        ).one()
    assert {row[0] for row in rows} == all_ids
    assert all(row[1] == 1 for row in rows)
    # The change feed holds each reading once, each with its own change number.
    assert tuple(changes) == (len(all_ids), len(all_ids))
