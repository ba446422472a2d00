"""gunicorn as gunicorn.conf.py configures it: long streamed answers arrive whole."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from homelog import tokens
from homelog.extensions import db
from homelog.models import Reading
from tests.live import start_gunicorn

NOTE = "n" * 200  # long lines: a few MB of CSV from a few tens of thousands of readings
READINGS = 45_000
TIMEOUT_S = 4


def _slow_download(port: int, path: str, headers: dict[str, str], seconds: float) -> bytes:
    """Return the raw HTTP/1.0 answer to GET path, read slowly over about seconds.

    A small receive buffer keeps the server writing (it blocks on a full socket) for most of
    the download, as a phone on a slow network would.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", port))
        lines = [
            f"GET {path} HTTP/1.0",
            "Host: 127.0.0.1",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = bytearray()
        deadline = time.monotonic() + seconds
        while chunk := sock.recv(16 * 1024):
            received += chunk
            if time.monotonic() < deadline:
                time.sleep(0.016)
        return bytes(received)


def test_a_slow_download_outlasting_the_worker_timeout_arrives_whole(
    tmp_path, database_url, user, make_source
):
    """A sync worker is killed `timeout` seconds into a request; the default worker is not.

    With GUNICORN_WORKER_CLASS=sync this export ends truncated after 4 s (checked).
    """
    source = make_source(user)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    db.session.execute(
        insert(Reading),
        [
            {
                "id": uuid.uuid4(),
                "data_source_id": source.id,
                "timestamp": start + timedelta(minutes=15 * n),
                "values": {"import": 1000.0 + n},
                "note": NOTE,
                "confirmed": False,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(READINGS)
        ],
    )
    db.session.commit()
    raw, _ = tokens.issue_token(user, "slow phone")
    server = start_gunicorn(
        tmp_path,
        {"DATABASE_URL": database_url, "GUNICORN_TIMEOUT": str(TIMEOUT_S)},
        workers=1,
        threads=1,
    )
    try:
        started = time.monotonic()
        answer = _slow_download(
            server.port,
            f"/api/sources/{source.id}/export.csv",
            {"Authorization": f"Bearer {raw}"},
            seconds=3 * TIMEOUT_S,
        )
        took = time.monotonic() - started
    finally:
        server.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head[:200]
    lines = body.decode().splitlines()
    assert took > 1.5 * TIMEOUT_S, f"the download took {took:.1f} s: too fast to test anything"
    assert len(lines) == 1 + READINGS, f"{len(lines) - 1} of {READINGS} readings arrived"
    assert "WORKER TIMEOUT" not in server.log
    assert lines[-1].split(",")[1] == str(1000 + READINGS - 1)  # the newest, whole


def _keep_alive_get(sock: socket.socket, path: str) -> bytes:
    """Send GET path over an HTTP/1.1 keep-alive connection; return the answer's head."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(
            (
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            b"0",
        )
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_connections_beyond_a_workers_limit_wait_and_are_served(tmp_path, database_url):
    """A worker holding worker_connections connections stops accepting; later ones are
    answered once it closes a finished one, never refused (gunicorn.conf.py)."""
    server = start_gunicorn(
        tmp_path,
        {"DATABASE_URL": database_url, "GUNICORN_WORKER_CONNECTIONS": "2"},
        workers=1,
        threads=1,
    )
    sockets = []
    try:
        heads = []
        for _ in range(4):  # twice the worker's limit, all kept open by the client
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
            sockets.append(sock)
            heads.append(_keep_alive_get(sock, "/healthz"))
        # The first connection again: the worker may have closed it once it was full, and a
        # client then does what browsers do on a closed keep-alive connection: reconnect.
        try:
            head = _keep_alive_get(sockets[0], "/healthz")
        except ConnectionError:
            head = b""
        if not head:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
            sockets.append(sock)
            head = _keep_alive_get(sock, "/healthz")
        heads.append(head)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
    # Every connection is answered, none refused. Which ones the worker closes after their
    # answer depends on when it notices it is full, so that is not asserted.
    assert all(head.startswith(b"HTTP/1.1 200") for head in heads), heads
