"""A real gunicorn serving the app (as gunicorn.conf.py configures it) for tests, and HTTP helpers.

Uses only the standard library for HTTP so the tests need no extra client package.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        """Return the body parsed as JSON."""
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body=None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Send one request on a new connection to 127.0.0.1:port and return the answer."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        headers.setdefault("Content-Type", "application/json")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


@dataclass
class Gunicorn:
    """A gunicorn master process serving wsgi:app on a local port."""

    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def log(self) -> str:
        """Return what gunicorn and the app wrote to stderr and stdout so far."""
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """Return the pids of the master's worker processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def get(self, path: str, **kwargs) -> Reply:
        """Send a GET to this server."""
        return request(self.port, "GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> Reply:
        """Send a POST with a JSON body to this server."""
        return request(self.port, "POST", path, body, **kwargs)

    def wait_ready(self, timeout: float = 20.0, workers: int | None = None) -> None:
        """Wait until /healthz answers (and, if given, that many workers run)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log}")
            try:
                if self.get("/healthz", timeout=2).status == 200 and (
                    workers is None or len(self.worker_pids()) >= workers
                ):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log}")

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(
    tmp_path: Path, env: Mapping[str, str], *, workers: int = 2, threads: int = 2, wait: bool = True
) -> Gunicorn:
    """Start gunicorn with gunicorn.conf.py and env on a free port; wait until it answers."""
    port = free_port()
    full_env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "HOMELOG_ENV": "production",
        "SECRET_KEY": "test-secret-key-for-a-live-server",
        **env,
    }
    log_path = tmp_path / f"gunicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [GUNICORN, "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Gunicorn(port, process, log_path, full_env)
    if wait:
        try:
            server.wait_ready(workers=workers)
        except Exception:
            server.stop()
            raise
    return server
