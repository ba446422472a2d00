"""Gunicorn settings; every value can be overridden from the environment."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# In production the app writes one JSON line per request itself (homelog/observability.py).
accesslog = os.environ.get(
    "GUNICORN_ACCESSLOG", None if os.environ.get("HOMELOG_ENV") == "production" else "-"
) or None
# Never log query strings or headers that may carry secrets.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
preload_app = False
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


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
