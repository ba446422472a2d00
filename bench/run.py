"""Load-test homelog under gunicorn with wrk and record the figures.

Starts gunicorn with gunicorn.conf.py (bench.wsgi:app: the production app plus the ceiling
endpoint) against the benchmark database (bench/datagen.py fills it), signs in (bearer tokens
for the API, a session cookie for the pages), then for each endpoint runs wrk: a warm-up,
then a fixed duration at 100 connections. Prints requests/s, p50/p95/p99, non-2xx counts,
each figure as a fraction of the ceiling, how many connections each worker held, the
workers' RSS, a worker's cold start and PASS/FAIL per target (ratios to figures of the same
run: bench/README.md), and appends the run as one JSON line to bench/results/runs.jsonl.
Rows the run wrote are deleted afterwards, so the table keeps the size it was generated with.

    .venv/bin/python bench/run.py [--readings 10000000] [--duration 15] [--warmup 5]
                                  [--connections 100] [--only api_source,ceiling]

gunicorn's settings come from the environment as in production (WEB_CONCURRENCY,
GUNICORN_THREADS, ...). Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datagen import GENERATED_AT, PASSWORD, database_url, libpq_url  # noqa: E402

LUA = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results" / "runs.jsonl"
SECRET_KEY = "bench-secret-key-not-for-production"


@dataclass
class Endpoint:
    """One thing to load: a name, a path, a wrk script and who calls it."""

    name: str
    path: str
    script: str = "get.lua"
    auth: str = "bearer"  # bearer | cookie | none
    headers: dict[str, str] = field(default_factory=dict)
    connections: int | None = None  # None: --connections
    expect: tuple[int, ...] = (200,)


def endpoints(source_id: int, cursor: str) -> list[Endpoint]:
    """Return the endpoints to measure, in order (the ceiling first)."""
    return [
        Endpoint("ceiling", "/bench/ceiling", auth="none"),
        Endpoint("bare_flask", "/bench/bare/", auth="none"),
        Endpoint("api_readings_list", f"/api/sources/{source_id}/readings?limit=100"),
        Endpoint("api_source", f"/api/sources/{source_id}"),
        Endpoint(
            "api_reading_create",
            f"/api/sources/{source_id}/readings",
            script="post_reading.lua",
            expect=(201,),
        ),
        Endpoint("api_sync_1000", "/api/sync/readings", script="sync.lua"),
        Endpoint("api_sync_1000_c1", "/api/sync/readings", script="sync.lua", connections=1),
        Endpoint("html_source_page", f"/sources/{source_id}", auth="cookie"),
        Endpoint(
            "htmx_readings_fragment",
            f"/sources/{source_id}/readings?before={cursor}",
            auth="cookie",
            headers={"HX-Request": "true"},
        ),
        Endpoint("api_usage_month", f"/api/sources/{source_id}/usage?period=month"),
    ]


# ---- HTTP -----------------------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, bytes, list]:
    """Send one request; return status, headers (lower-case), body and Set-Cookie values."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
            cookies,
        )
    finally:
        connection.close()


def sign_in(port: int, email: str) -> str:
    """Sign in through the login form; return the Cookie header of the session."""
    status, _, body, cookies = http_request(port, "GET", "/login")
    session = cookies[0].split(";")[0]
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body).group(1).decode()
    form = urlencode({"csrf_token": token, "email": email, "password": PASSWORD}).encode()
    status, _, body, cookies = http_request(
        port,
        "POST",
        "/login",
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": session},
    )
    if status != 302 or not cookies:
        raise RuntimeError(f"sign-in failed: {status} {body[:300]!r}")
    return cookies[0].split(";")[0]


# ---- Server ---------------------------------------------------------------------------------


def free_port() -> int:
    """Return a free local TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, log_path: Path) -> subprocess.Popen:
    """Start gunicorn (gunicorn.conf.py) serving bench.wsgi:app; wait until it answers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "BIND": f"127.0.0.1:{port}",
        "HOMELOG_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",
        "BENCH_CEILING": "1",
        "RATELIMIT_ENABLED": "0",
    }
    log = open(log_path, "wb")  # noqa: SIM115 - gunicorn writes to it until stopped
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "gunicorn.conf.py",
            "bench.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers = int(env.get("WEB_CONCURRENCY", "4"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            if (
                http_request(port, "GET", "/healthz")[0] == 200
                and len(worker_pids(process.pid)) >= workers
            ):
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start; see {log_path}")


def worker_pids(master: int) -> list[int]:
    """Return the pids of gunicorn's workers."""
    path = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def memory_mb(pid: int) -> dict[str, float]:
    """Return a process's RSS, PSS and USS in MB (/proc/<pid>/smaps_rollup).

    RSS counts every page a worker maps, including the preloaded app's pages it shares with
    the master and the other workers. PSS gives it a 1/n share of each shared page, USS only
    its own pages: what one more worker costs the machine.
    """
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {
        name: round(kb / 1024, 1)
        for name, kb in (("rss", fields.get("Rss", 0)), ("pss", fields.get("Pss", 0)), ("uss", uss))
    }


def cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Return the pids of the PostgreSQL server's processes on this machine (its backends)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def settle(pids: list[int], timeout: float = 60.0) -> None:
    """Wait until the workers are idle: requests wrk gave up on may still be running."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pids)
        if now - last < 0.05:  # under 10 % of one core
            return
        last = now


def cold_start_seconds(url: str) -> float:
    """Return how long a new process takes to import the app and answer its first request."""
    code = (
        "import time; t = time.perf_counter(); import wsgi; "
        "r = wsgi.app.test_client().get('/login'); "  # a page that reads the database
        "assert r.status_code < 500, r.data; print(time.perf_counter() - t)"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "HOMELOG_ENV": "production",
        "LOG_FORMAT": "text",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return round(float(out.strip().splitlines()[-1]), 3)


# ---- wrk ------------------------------------------------------------------------------------


def run_wrk(
    port: int,
    endpoint: Endpoint,
    seconds: int,
    connections: int,
    threads: int,
    env: dict[str, str],
    workers: list[int] | None = None,
) -> dict:
    """Run wrk on endpoint for seconds and return its summary.

    With workers (their pids), also how many of wrk's connections each one holds halfway
    through the run (`connections_per_worker`).
    """
    connections = endpoint.connections or connections
    command = [
        "wrk",
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / endpoint.script),
        f"http://127.0.0.1:{port}{endpoint.path}",
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, **env, "BENCH_LUA_DIR": str(LUA)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    split = None
    if workers:
        time.sleep(seconds / 2)
        split = connections_per_worker(workers, port)
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out}{err}")
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    summary = json.loads(line[len("BENCH_JSON ") :])
    seconds_run = summary["duration_us"] / 1e6
    errors = summary["errors"]
    figures = {
        "rps": round(summary["requests"] / seconds_run, 1),
        "p50_ms": round(summary["latency_us"]["p50"] / 1000, 1),
        "p95_ms": round(summary["latency_us"]["p95"] / 1000, 1),
        "p99_ms": round(summary["latency_us"]["p99"] / 1000, 1),
        "requests": summary["requests"],
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "connections": connections,
    }
    if split is not None:
        figures["connections_per_worker"] = split
    return figures


def connections_per_worker(pids: list[int], port: int) -> list[int]:
    """Return how many established connections to port each worker holds, most first.

    A gthread worker keeps the keep-alive connections it accepted: this shows whether wrk's
    connections are spread over the workers or held by one. Read from /proc: the sockets in
    each worker's file descriptors, matched by inode with /proc/net/tcp's established
    connections whose local port is the server's.
    """
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # TCP_ESTABLISHED
                established.add(fields[9])
    counts = []
    for pid in pids:
        count = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in established:
                    count += 1
        except OSError:
            pass
        counts.append(count)
    return sorted(counts, reverse=True)


# ---- Run ------------------------------------------------------------------------------------


def machine() -> dict:
    """Return what the figures were measured on, including the load at the start."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def commit() -> str:
    """Return the commit measured (with +dirty when the tree has changes)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + ("+dirty" if dirty else "")


def prepare(url: str) -> tuple[list[tuple[int, str]], int, int]:
    """Return (meter source id, bearer token) per user, the readings count and PG version."""
    import psycopg

    from homelog import create_app, tokens
    from homelog.extensions import db
    from homelog.models import DataSource, User

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False}
    )
    lanes = []
    with app.app_context():
        users = db.session.scalars(db.select(User).order_by(User.id)).all()
        for user in users:
            source = db.session.scalar(
                db.select(DataSource)
                .where(DataSource.owner_id == user.id, DataSource.kind == "meter")
                .order_by(DataSource.id)
            )
            raw, _ = tokens.issue_token(user, "bench")
            lanes.append((source.id, raw))
        db.engine.dispose()
    with psycopg.connect(libpq_url(url)) as conn:
        # The planner's estimate: exact enough to report, instant on 10 million rows.
        count = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'readings'"
        ).fetchone()[0]
        version = conn.execute("SHOW server_version").fetchone()[0]
    return lanes, count, version


def clean_up(url: str) -> int:
    """Delete the rows the run wrote (readings and their change-feed rows); return how many."""
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        deleted = conn.execute(
            "DELETE FROM readings WHERE created_at > %s", (GENERATED_AT,)
        ).rowcount
        conn.execute(
            "DELETE FROM sync_changes WHERE kind = 'reading' AND changed_at > %s", (GENERATED_AT,)
        )
        conn.execute("DELETE FROM api_tokens WHERE name = 'bench'")
        conn.execute("VACUUM ANALYZE readings")
        conn.execute("VACUUM ANALYZE sync_changes")
        # The estimate VACUUM ANALYZE just wrote, as prepare() reads it (no count of 10 M rows).
        kept = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'readings'"
        ).fetchone()[0]
        if deleted > kept:
            # A run writes ~1.4 M rows: on the 10 k table that left indexes of 75 MB for
            # 1.4 MB of rows, and PostgreSQL then chose a sequential scan + sort for the
            # readings list (0.75 ms instead of 0.03): the next run measured the bloat.
            # REINDEX also updates the indexes' sizes that the planner reads.
            conn.execute("REINDEX TABLE readings")
            conn.execute("REINDEX TABLE sync_changes")
    return deleted


#: The async design's requests/s (issue 6), which every JSON route is to triple.
ASYNC_DESIGN = {"api_readings_list": 420, "api_source": 1250, "api_reading_create": 450}
#: Where the HTML page and a worker's memory stood (bench/README.md): kept there.
PAGE_OF_BARE_FLASK = 0.10
WORKER_RSS_MB = 83.0


def check_targets(figures: dict[str, dict], rss_mb: list[float]) -> list[dict]:
    """Return each target with what this run measured and whether it is met.

    The targets are ratios to figures of the same run where they can be (machines of the
    same class differ up to threefold in speed), so a run on any machine can say PASS/FAIL.
    """
    results = []
    bare = figures.get("bare_flask", {}).get("rps")

    def add(target: str, measured: float | None, wanted: float, at_least: bool = True) -> None:
        if measured is None:
            results.append({"target": target, "measured": None, "result": "not measured"})
            return
        met = measured >= wanted if at_least else measured <= wanted
        results.append(
            {
                "target": target,
                "measured": round(measured, 3),
                "wanted": round(wanted, 3),
                "result": "PASS" if met else "FAIL",
            }
        )

    def share(name: str) -> float | None:
        rps = figures.get(name, {}).get("rps")
        return rps / bare if rps is not None and bare else None

    add("readings list ≥ ½ of bare Flask", share("api_readings_list"), 0.5)
    for name, rps in ASYNC_DESIGN.items():
        add(f"{name} ≥ 3× the async design ({rps}/s)", figures.get(name, {}).get("rps"), 3 * rps)
    add(
        f"HTML source page ≥ {PAGE_OF_BARE_FLASK:.0%} of bare Flask",
        share("html_source_page"),
        PAGE_OF_BARE_FLASK,
    )
    add(
        f"worker RSS ≤ {WORKER_RSS_MB} MB after the runs",
        max(rss_mb) if rss_mb else None,
        WORKER_RSS_MB,
        at_least=False,
    )
    return results


def print_targets(results: list[dict]) -> None:
    """Print PASS/FAIL per target."""
    print("\ntargets (measured in this run):")
    for r in results:
        if r["measured"] is None:
            print(f"  {'-':4}  {r['target']}: not measured in this run")
        else:
            print(f"  {r['result']:4}  {r['target']}: {r['measured']:,} (wanted {r['wanted']:,})")


def print_table(figures: dict[str, dict], ceiling: float | None) -> None:
    """Print the figures as a table."""
    print(
        f"\n{'endpoint':26} {'req/s':>9} {'of ceiling':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'non-2xx':>8} {'conn':>5} {'cpu ms/req':>10} {'db cpu ms':>9}  "
        "connections per worker"
    )
    for name, f in figures.items():
        share = f"{f['rps'] / ceiling:.0%}" if ceiling else "-"
        print(
            f"{name:26} {f['rps']:9.1f} {share:>10} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} "
            f"{f['p99_ms']:8.1f} {f['non_2xx'] + f['socket_errors']:8d} {f['connections']:5d} "
            f"{f.get('worker_cpu_ms', 0):10.2f} {f.get('db_cpu_ms', 0):9.2f}  "
            + "/".join(map(str, f.get("connections_per_worker", [])))
        )


def main() -> int:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--readings", type=int, default=10_000_000, help="which generated database (see datagen.py)"
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument("--note", default="", help="what this run is about (recorded)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        parser.error("wrk is not installed: apt-get install -y wrk")
    url = database_url(args.readings)
    info = machine()
    lanes, count, pg_version = prepare(url)
    port = free_port()
    log_path = Path(f"/tmp/homelog-bench-gunicorn-{port}.log")
    server = start_server(url, port, log_path)
    figures: dict[str, dict] = {}
    try:
        cookie = sign_in(port, "bench1@example.com")
        source_id, token = lanes[0]
        bearer = {"Authorization": f"Bearer {token}"}
        link = http_request(
            port, "GET", f"/api/sources/{source_id}/readings?limit=25", headers=bearer
        )[1].get("link", "")
        cursor = parse_qs(urlsplit(link.split(";")[0].strip("<>")).query).get("cursor", [""])[0]
        chosen = set(filter(None, args.only.split(",")))
        for endpoint in endpoints(source_id, cursor):
            if chosen and endpoint.name not in chosen:
                continue
            headers = dict(endpoint.headers)
            if endpoint.auth == "bearer":
                headers.update(bearer)
            elif endpoint.auth == "cookie":
                headers["Cookie"] = cookie
            if endpoint.script == "get.lua":
                status = http_request(port, "GET", endpoint.path, headers=headers)[0]
                if status not in endpoint.expect:
                    print(f"{endpoint.name}: answers {status}, skipped", file=sys.stderr)
                    continue
            env = {
                "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
                "BENCH_TOKENS": " ".join(f"{s}={t}" for s, t in lanes),
            }
            if args.warmup:
                run_wrk(port, endpoint, args.warmup, args.connections, args.threads, env)
                settle(worker_pids(server.pid))
            pids = worker_pids(server.pid)
            settle(pids)
            used, db_used = cpu_seconds(pids), cpu_seconds(postgres_pids())
            figures[endpoint.name] = run_wrk(
                port, endpoint, args.duration, args.connections, args.threads, env, pids
            )
            # CPU per request of the workers: comparable between runs whatever else loads
            # the machine (throughput is not, on a shared machine).
            done = max(figures[endpoint.name]["requests"], 1)
            figures[endpoint.name]["worker_cpu_ms"] = round(
                (cpu_seconds(pids) - used) * 1000 / done, 2
            )
            # PostgreSQL's share, the same way (all its processes: backends started during
            # the run are counted from zero, so this is a slight overestimate at worst).
            figures[endpoint.name]["db_cpu_ms"] = round(
                (cpu_seconds(postgres_pids()) - db_used) * 1000 / done, 2
            )
            print(f"{endpoint.name}: {json.dumps(figures[endpoint.name])}", flush=True)
        memory = {str(pid): memory_mb(pid) for pid in worker_pids(server.pid)}
        workers = {pid: m["rss"] for pid, m in memory.items()}
        shares = {pid: {"pss": m["pss"], "uss": m["uss"]} for pid, m in memory.items()}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    deleted = clean_up(url)
    cold = cold_start_seconds(url)
    ceiling = figures.get("ceiling", {}).get("rps")
    for name, f in figures.items():
        if ceiling and name != "ceiling":
            f["of_ceiling"] = round(f["rps"] / ceiling, 3)
    print_table(figures, ceiling)
    print(
        f"\nworker RSS (MB): {workers}; cold start {cold} s; readings in table ~{count:,}; "
        f"rows written and removed: {deleted:,}"
    )
    print(f"worker PSS / USS (MB): {shares}")
    targets = check_targets(figures, list(workers.values()))
    print_targets(targets)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"load average at start {info['loadavg_start']}, at end {info['loadavg_end']} "
        f"({info['cores']} cores)"
    )
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "note": args.note,
        "machine": info,
        "postgresql": pg_version,
        "readings_in_table": count,
        "gunicorn": {
            "workers": int(os.environ.get("WEB_CONCURRENCY", "4")),
            "threads": int(os.environ.get("GUNICORN_THREADS", "1")),
            "worker_connections": int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "25")),
            "worker_class": os.environ.get("GUNICORN_WORKER_CLASS", "gthread"),
            "cmd_args": os.environ.get("GUNICORN_CMD_ARGS", ""),
        },
        "wrk": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
        },
        "endpoints": figures,
        "worker_rss_mb": workers,
        "worker_pss_uss_mb": shares,
        "cold_start_s": cold,
        "targets": targets,
    }
    if not args.no_record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as out:
            out.write(json.dumps(record) + "\n")
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
