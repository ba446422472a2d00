"""Browser sessions kept on the server: start, look up, list and revoke them.

The signed session cookie (and the remember-me cookie, when asked for) carries a random key;
the database keeps only its SHA-256 hash with the session's times. A copied cookie stops
working when its session is revoked (signing out, a password change, deactivation) or
expires: after IDLE_LIFETIME without a request, or REMEMBER_LIFETIME after signing in with
"remember me". Every instance of the app reads the same rows, so a sign-out on one ends the
session on all.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from homelog.extensions import db
from homelog.i18n import _
from homelog.models import User, UserSession, parse_id, utcnow

#: A session without "remember me" ends after this long without a request.
IDLE_LIFETIME = timedelta(hours=24)
#: Any session ends this long after signing in (the remember-me cookie's lifetime too).
REMEMBER_LIFETIME = timedelta(days=30)
# last_seen_at (and an idle session's expiry) is moved on at most this often.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
MAX_USER_AGENT_LENGTH = 200
_KEY_PREFIX = "s_"


def key_hash(key: str) -> str | None:
    """Return the stored hash of a session key, or None when it cannot be one of ours."""
    if not key or len(key) > 100 or not key.startswith(_KEY_PREFIX):
        return None
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def start(
    user: User,
    *,
    remember: bool = False,
    user_agent: str = "",
    lifetime: timedelta = REMEMBER_LIFETIME,
    now: datetime | None = None,
) -> str:
    """Create and commit a session of user; return its key (also set as user.session_key)."""
    now = now or utcnow()
    # The user's ended sessions are of no more use: each sign-in clears them away.
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            (UserSession.revoked_at.is_not(None)) | (UserSession.expires_at <= now),
        )
    )
    key = _KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            key_hash=key_hash(key),
            remember=remember,
            user_agent=(user_agent or "")[:MAX_USER_AGENT_LENGTH],
            created_at=now,
            last_seen_at=now,
            expires_at=now + (lifetime if remember else min(IDLE_LIFETIME, lifetime)),
        )
    )
    db.session.commit()
    user.session_key = key
    return key


def live(
    session: UserSession | None,
    user: User | None,
    now: datetime | None = None,
    lifetime: timedelta = REMEMBER_LIFETIME,
) -> bool:
    """Return True when session still works for its (active) user; note that it was used.

    An idle session's expiry moves on with use, never beyond lifetime after signing in.
    """
    now = now or utcnow()
    if session is None or user is None or not user.is_active:
        return False
    if session.revoked_at is not None or session.expires_at <= now:
        return False
    if now - session.last_seen_at > LAST_SEEN_RESOLUTION:
        session.last_seen_at = now
        if not session.remember:
            session.expires_at = min(now + IDLE_LIFETIME, session.created_at + lifetime)
        db.session.commit()
    return True


def revoke(session: UserSession | None) -> None:
    """Revoke session (idempotent; None does nothing) and commit."""
    if session is not None and session.revoked_at is None:
        session.revoked_at = utcnow()
        db.session.commit()


def revoke_user_sessions(user: User, *, commit: bool = True) -> int:
    """Revoke every open session of user; return how many were open."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if commit:
        db.session.commit()
    return result.rowcount or 0


def user_sessions(user: User) -> list[UserSession]:
    """Return user's sessions that still work, most recently used first (account page)."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str) -> str:
    """Return a short name for a browser from its User-Agent, e.g. "Firefox on Linux"."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")


def get_user_session(user: User, session_id: object) -> UserSession | None:
    """Return user's session with session_id, or None (other users' sessions and junk too)."""
    wanted = parse_id(session_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(UserSession).where(UserSession.id == wanted, UserSession.user_id == user.id)
    )
