"""API tokens: issue, verify, list and revoke the bearer tokens of the mobile app.

A token is 32 random bytes (URL-safe text with an `hl_` prefix so it is recognisable in a
secret scanner). It is shown once, when issued; the database keeps only its SHA-256 hash,
so a leaked database does not leak usable tokens. A plain hash (not argon2) is right here:
the token has 256 bits of entropy, and every API request must look it up quickly.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import contains_eager

from homelog.extensions import db
from homelog.models import ApiToken, User, parse_id, utcnow

PREFIX = "hl_"
DEFAULT_LIFETIME = timedelta(days=90)
MAX_DEVICE_NAME_LENGTH = 100
# last_used_at is refreshed at most this often, so reads do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(raw: str) -> str:
    """Return the hex SHA-256 of a raw token (what the database stores)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(
    user: User, device_name: str = "", lifetime: timedelta = DEFAULT_LIFETIME
) -> tuple[str, ApiToken]:
    """Create and commit a token for user; return the raw token (shown once) and its row."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=(device_name or "").strip()[:MAX_DEVICE_NAME_LENGTH],
        token_hash=hash_token(raw),
        expires_at=utcnow() + lifetime,
    )
    db.session.add(token)
    db.session.commit()
    return raw, token


# Every API request runs this, so it is built once: the user comes in the same round trip
# (an inner join: a token without its user is no token), and constructing the statement per
# request cost as much CPU as running it (bench/README.md).
TOKEN_WITH_USER = (
    select(ApiToken)
    .join(ApiToken.user)
    .options(contains_eager(ApiToken.user))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def lookup_hash(raw: str) -> str | None:
    """Return the hash to look raw up by, or None when raw cannot be one of our tokens."""
    if not raw or len(raw) > 200 or not raw.startswith(PREFIX):
        return None
    return hash_token(raw)


def verify_token(raw: str, now: datetime | None = None) -> ApiToken | None:
    """Return the live token for raw (not revoked, not expired, its user active), else None."""
    token_hash = lookup_hash(raw)
    if token_hash is None:
        return None
    return live(db.session.scalar(TOKEN_WITH_USER, {"token_hash": token_hash}), now)


def live(token: ApiToken | None, now: datetime | None = None) -> ApiToken | None:
    """Return token when it still works (loaded with its user), else None.

    Notes the time it was used, at most every LAST_USED_RESOLUTION.
    """
    now = now or utcnow()
    if token is None or not works(token.revoked_at, token.expires_at, token.user.is_active, now):
        return None
    if needs_touch(token.last_used_at, now):
        token.last_used_at = now
        db.session.commit()
    return token


def works(
    revoked_at: datetime | None, expires_at: datetime | None, user_active: bool, now: datetime
) -> bool:
    """Return True when a token with these times, of a user active or not, is accepted now."""
    if revoked_at is not None or not user_active:
        return False
    return expires_at is None or expires_at > now


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    """Return True when a token used now should note it (at most every LAST_USED_RESOLUTION)."""
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def user_tokens(user: User) -> list[ApiToken]:
    """Return user's tokens that still work, newest first (for the account page)."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def get_user_token(user: User, token_id: object) -> ApiToken | None:
    """Return user's token with token_id, or None (also for other users' tokens and junk ids)."""
    wanted = parse_id(token_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(ApiToken).where(ApiToken.id == wanted, ApiToken.user_id == user.id)
    )


def revoke_token(token: ApiToken) -> None:
    """Revoke token (idempotent) and commit."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    db.session.commit()


def revoke_user_tokens(user: User, keep: ApiToken | None = None, *, commit: bool = True) -> int:
    """Revoke every live token of user except keep; return how many were revoked."""
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep is not None:
        query = query.where(ApiToken.id != keep.id)
    result = db.session.execute(query.values(revoked_at=utcnow()))
    if commit:
        db.session.commit()
    return result.rowcount or 0
