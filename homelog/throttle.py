"""Sign-in throttling per account, kept in the database so every worker and host counts alike.

Each failed sign-in (browser or API) and each wrong current password counts against the
account name that was typed, whether an account has it or not (so the answers reveal
nothing). The first FREE_FAILURES cost nothing; after that each failure makes the next try
wait twice as long as the one before, from FIRST_WAIT up to MAX_WAIT. A day without
failures starts the count afresh, and so does a successful sign-in.

The backoff holds strangers off without locking the owner out: a client that signed in to
the account before (a browser holding its device cookie, or the same address) may still try
while it lasts. Per-address limits apply on top (Flask-Limiter, see the sign-in routes).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from homelog.extensions import db
from homelog.i18n import ngettext
from homelog.models import SignInThrottle, TrustedClient, User, utcnow

FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)
#: A client that has not signed in to an account for this long is a stranger to it again.
TRUST_FOR = timedelta(days=90)
#: The browser cookie naming a device that signed in before (a random key, no user data).
DEVICE_COOKIE = "homelog_device"
# About one failure in this many also deletes the rows of accounts whose count has lapsed.
PRUNE_ONE_IN = 100
_DEVICE_PREFIX = "d_"


class Throttled(Exception):
    """Too many failed sign-ins for an account from a client it does not know."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed sign-ins; try again in {retry_after} s.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Client:
    """Who is trying: their address and, for a browser, its device key."""

    address: str | None
    device: str | None = None


def message(retry_after: int) -> str:
    """Return what to tell someone whose sign-in must wait retry_after seconds."""
    minutes = max(1, -(-retry_after // 60))
    return ngettext(
        "Too many failed sign-ins for this account. Try again in %(num)d minute, or from a "
        "device that signed in before.",
        "Too many failed sign-ins for this account. Try again in %(num)d minutes, or from a "
        "device that signed in before.",
        minutes,
    )


def new_device_key() -> str:
    """Return a new random device key for a browser's device cookie."""
    return _DEVICE_PREFIX + secrets.token_urlsafe(24)


def valid_device_key(value: str | None) -> str | None:
    """Return value when it looks like one of our device keys, else None."""
    if value and value.startswith(_DEVICE_PREFIX) and 10 < len(value) <= 64:
        return value
    return None


def account_name(email: str) -> str:
    """Return the name failures are counted under: the email as sign-in compares it."""
    return (email or "").strip().lower()[:254]


def backoff(failures: int) -> timedelta:
    """Return how long after its last failure an account with this many failures waits."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** min(failures - FREE_FAILURES, 16), MAX_WAIT)


def seconds_to_wait(account: str, now: datetime | None = None) -> int:
    """Return how many seconds account must wait before its next try (0: try now)."""
    now = now or utcnow()
    row = db.session.execute(
        select(SignInThrottle.failures, SignInThrottle.last_failure_at).where(
            SignInThrottle.account == account
        )
    ).first()
    if row is None or now - row.last_failure_at > FORGET_AFTER:
        return 0
    remaining = (row.last_failure_at + backoff(row.failures) - now).total_seconds()
    return max(0, math.ceil(remaining))


def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _client_hashes(client: Client) -> list[tuple[str, str]]:
    found = []
    if client.address:
        found.append(("address", _hash("address", client.address)))
    if valid_device_key(client.device):
        found.append(("device", _hash("device", client.device)))
    return found


def is_trusted(user: User | None, client: Client, now: datetime | None = None) -> bool:
    """Return True when client signed in to user's account within TRUST_FOR."""
    wanted = _client_hashes(client)
    if user is None or not wanted:
        return False
    now = now or utcnow()
    return (
        db.session.scalar(
            select(TrustedClient.id)
            .where(
                TrustedClient.user_id == user.id,
                tuple_(TrustedClient.kind, TrustedClient.value_hash).in_(wanted),
                TrustedClient.last_used_at > now - TRUST_FOR,
            )
            .limit(1)
        )
        is not None
    )


def check(account: str, user: User | None, client: Client) -> None:
    """Let client try a password of account (user, when it exists) now.

    Raises:
        Throttled: the account's backoff holds and client never signed in to it.
    """
    wait = seconds_to_wait(account)
    if wait and not is_trusted(user, client):
        raise Throttled(wait)


def _insert(table):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def record_failure(account: str, now: datetime | None = None) -> None:
    """Count a failed try against account (one atomic statement: workers cannot lose one)."""
    now = now or utcnow()
    table = SignInThrottle.__table__
    statement = _insert(table).values(account=account, failures=1, last_failure_at=now)
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        # Failures of names nobody tried for a day are forgotten anyway: drop their rows, so
        # tries with ever new names cannot grow the table without end.
        db.session.execute(
            delete(SignInThrottle).where(SignInThrottle.last_failure_at < now - FORGET_AFTER)
        )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["account"],
            set_={
                "failures": case(
                    (table.c.last_failure_at < now - FORGET_AFTER, 1),
                    else_=table.c.failures + 1,
                ),
                "last_failure_at": now,
            },
        )
    )
    db.session.commit()


def succeeded(account: str, user: User, client: Client, now: datetime | None = None) -> None:
    """Forget account's failures and remember client as one that signed in to user's account."""
    now = now or utcnow()
    db.session.execute(delete(SignInThrottle).where(SignInThrottle.account == account))
    db.session.execute(
        delete(TrustedClient).where(
            TrustedClient.user_id == user.id, TrustedClient.last_used_at < now - TRUST_FOR
        )
    )
    table = TrustedClient.__table__
    for kind, value_hash in _client_hashes(client):
        statement = _insert(table).values(
            user_id=user.id, kind=kind, value_hash=value_hash, last_used_at=now
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "kind", "value_hash"], set_={"last_used_at": now}
            )
        )
    db.session.commit()
