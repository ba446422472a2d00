"""Gunicorn settings; every value can be overridden from the environment."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Chosen by measurement (bench/README.md): on 2 cores with PostgreSQL on the same machine,
# 4 single-threaded workers served the readings list faster than 2 workers x 4 threads
# (no GIL shared between request threads; queries are short).
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A gthread worker keeps the keep-alive connections it accepted and answers them one at a
# time, and the first worker to wake takes most of a burst: wrk's 100 connections ended
# 53/45/2/0 or 74/17/5/4 over the 4 workers (up to 100/0/0/0 elsewhere), the busy workers
# queueing while the others idled. With at most 25 per worker they spread 25/25/25/25
# (bench/README.md). A worker holding that many stops accepting and closes a finished
# keep-alive connection instead of keeping it, so connections beyond workers x 25 wait in the
# listen backlog for a moment and are then served; none is refused (tests/test_serving.py).
# A household's browser opens a few.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "25"))
# gthread: the worker's main thread keeps telling the master it is alive while a request
# runs, so a long streamed answer (a backup of a million readings to a slow client) is never
# cut off by `timeout`. "sync" queues requests more fairly under saturation (a lower p95) but
# is killed mid-request after `timeout` seconds, so a slow client's backup download ends
# truncated (bench/README.md). Only behind a buffering proxy.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# In production the app writes one JSON line per request itself (homelog/observability.py).
accesslog = (
    os.environ.get(
        "GUNICORN_ACCESSLOG", None if os.environ.get("HOMELOG_ENV") == "production" else "-"
    )
    or None
)
# Never log query strings or headers that may carry secrets.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# The master imports the app once and forks workers from it: a worker starts without
# importing anything and shares the master's pages until it writes to them. Code changes
# need a restart (a HUP re-forks workers from the code already loaded).
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))

# Prometheus metrics of every worker (homelog/observability.py): multiprocess mode keeps them
# in a directory the workers share, emptied at start; a dead worker's live gauges are dropped.
if os.environ.get("METRICS_TOKEN") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="homelog-metrics-")


def on_starting(server):
    """Forget the metrics of an earlier run."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def pre_fork(server, worker):
    """Keep the preloaded app's objects out of the workers' garbage collections.

    A collection writes to every object it examines, which copies the page it is on into the
    worker; frozen objects are never examined (what it saves: bench/README.md).
    """
    import gc

    gc.freeze()


def post_fork(server, worker):
    """Give each worker its own database connections, never ones opened in the master."""
    if server.cfg.threads == 1:
        _one_malloc_arena()
    if not server.cfg.preload_app:
        return
    from homelog.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)  # the master's sockets stay the master's


def _one_malloc_arena():
    """Keep a one-thread worker's memory in one glibc malloc arena (no-op elsewhere).

    A gthread worker answers on a thread of its own, and glibc gives that thread a second
    arena; what a 1,000-reading sync batch frees there stays in the worker. With one arena
    the worker keeps less after the benchmark at the same speed (bench/README.md). With more
    threads per worker, per-thread arenas avoid lock contention, so they stay.
    MALLOC_ARENA_MAX in the environment wins.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc
        return
    m_arena_max = -8  # malloc.h
    mallopt(m_arena_max, 1)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
