"""Settings read from the environment (12-factor), with safe defaults for development."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def normalize_database_url(url: str) -> str:
    """Make a PostgreSQL URL use the psycopg 3 driver (`postgres://` is common in PaaS)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, not {value!r}.") from None
    if number <= 0:
        raise RuntimeError(f"{name} must be positive, not {number}.")
    return number


def development_secret_key(instance_path: str) -> str:
    """Return a random key kept under instance/ so development sessions survive restarts."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def from_environment(instance_path: str) -> dict:
    """Build the settings mapping from environment variables.

    Raises:
        RuntimeError: in production (HOMELOG_ENV=production) without SECRET_KEY.
    """
    env = os.environ.get("HOMELOG_ENV", "development").strip().lower()
    production = env == "production"
    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise RuntimeError(
                "SECRET_KEY is not set. Production (HOMELOG_ENV=production) needs a long random "
                "SECRET_KEY in the environment, e.g. `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`."
            )
        secret_key = development_secret_key(instance_path)

    database_url = normalize_database_url(os.environ.get("DATABASE_URL", "sqlite:///homelog.db"))
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(
            database_url,
            statement_timeout_ms=int(os.environ.get("DB_STATEMENT_TIMEOUT_MS", "15000")),
            connect_timeout_s=int(os.environ.get("DB_CONNECT_TIMEOUT_S", "5")),
            # One connection per gunicorn thread (a request holds one at a time), plus a few
            # for bursts: workers x (threads + overflow) must stay below max_connections.
            pool_size=int(os.environ.get("DB_POOL_SIZE", os.environ.get("GUNICORN_THREADS", "1"))),
            max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "2")),
        ),
        "HOMELOG_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        # Several apps (or test runs) can share one Redis without sharing their counts.
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "homelog"),
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "TRUST_PROXY": _env_bool("TRUST_PROXY", False),
        # Observability (homelog/observability.py): JSON log lines in production; metrics only
        # with a token.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json" if production else "text"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # JSON API: browser origins allowed to call it (comma-separated; none by default),
        # how long a device's token lives, and the largest request body accepted.
        "CORS_ORIGINS": os.environ.get("CORS_ORIGINS", ""),
        "API_TOKEN_DAYS": _env_int("API_TOKEN_DAYS", 90),
        "API_MAX_BODY_BYTES": _env_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024),
        "DB_IDLE_PING_SECONDS": float(os.environ.get("DB_IDLE_PING_SECONDS", "5")),
    }


def engine_options(
    database_url: str,
    *,
    statement_timeout_ms: int = 15000,
    connect_timeout_s: int = 5,
    pool_size: int = 4,
    max_overflow: int = 2,
) -> dict:
    """Return SQLAlchemy engine options: a stuck query or an unreachable server fails fast."""
    # No pool_pre_ping: a ping before every checkout cost a round trip per request. A
    # connection idle for a while is tested instead (homelog/web.py, DB_IDLE_PING_SECONDS),
    # and a connection that breaks in use invalidates the whole pool, so after a database
    # restart a worker reconnects by itself either way (tests/faults).
    options: dict = {}
    if database_url.startswith("postgresql"):
        options["connect_args"] = {
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
        }
        options["pool_timeout"] = 10
        options["pool_size"] = pool_size
        options["max_overflow"] = max_overflow
    return options


# Settings that do not depend on the environment.
DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "API_MAX_BODY_BYTES": 2 * 1024 * 1024,
    "READINGS_PAGE_SIZE": 25,
    # The PostgreSQL fast path of the busiest API routes (homelog/pgdirect.py); off, they take
    # the ORM path as on SQLite (the contract tests run both).
    "API_HOT_PATH": True,
    "DB_IDLE_PING_SECONDS": 5.0,
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis down: count in memory per worker rather than refuse every sign-in with a 500.
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "LOGIN_RATE_LIMIT_IP": "20 per minute",
}
