"""User accounts: password hashing and policy, creation, sign-in and administration rules."""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from homelog import sessions, throttle, tokens
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import ApiToken, DataSource, Reading, User, utcnow
from homelog.timeutil import is_valid_timezone

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Return a hash to verify when the email is unknown, so a sign-in takes as long either way.

    Made on first use, not at import: hashing would lengthen every worker's cold start.
    """
    return _hasher.hash("homelog-dummy-password")


MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS = frozenset(
    """password password1 password12 password123 password1234 passw0rd 1234567890 0123456789
    12345678910 qwertyuiop qwerty1234 qwerty12345 1q2w3e4r5t iloveyou12 letmein123 welcome123
    administrator admin12345 abcdefghij abc1234567 homelog123 changeme12 trustno1234
    football12 baseball12 monkey1234 dragon1234 sunshine12 princess12 1111111111 0000000000
    aaaaaaaaaa superman12 starwars12 michael123 whatever12""".split()  # noqa: SIM905 (readable)
)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Letters and digits that cannot be mistaken for one another when read aloud or retyped.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_SEARCH_LENGTH = 100


class AccountError(ValueError):
    """A rule about accounts was broken; the message is fit to show the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    """Return an argon2id hash of password."""
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Return True when password matches user's hash (constant work when user is None)."""
    try:
        stored = user.password_hash if user else _dummy_hash()
        return _hasher.verify(stored, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, email: str = "") -> str | None:
    """Return why password is too weak, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Use at most %(count)s characters.", count=MAX_PASSWORD_LENGTH)
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        return _("This password is too easy to guess; choose a less common one.")
    if email and lowered == email.lower():
        return _("Do not use your email address as your password.")
    return None


def normalize_email(email: str) -> str:
    """Return email trimmed and lower-cased (emails are the login name, compared so)."""
    return (email or "").strip().lower()


def email_problem(email: str) -> str | None:
    """Return why email is not a usable address, or None."""
    if not email:
        return _("Enter an email address.")
    if len(email) > 254 or not EMAIL_RE.match(email):
        return _("Enter a valid email address, like name@example.com.")
    return None


def find_by_email(email: str) -> User | None:
    """Return the user with this email (case-insensitive), if any."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def user_count() -> int:
    """Return how many users exist."""
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def admin_count(active_only: bool = True) -> int:
    """Return how many (active) administrators exist."""
    query = select(func.count()).select_from(User).where(User.is_admin.is_(True))
    if active_only:
        query = query.where(User.is_active.is_(True))
    return db.session.scalar(query) or 0


def create_user(
    email: str,
    password: str,
    *,
    name: str = "",
    is_admin: bool = False,
    timezone: str = "UTC",
    must_change_password: bool = False,
) -> User:
    """Create and commit a user.

    Raises:
        AccountError: invalid or taken email, weak password, unknown timezone.
    """
    email = normalize_email(email)
    if problem := email_problem(email):
        raise AccountError(problem, "email")
    if find_by_email(email) is not None:
        raise AccountError(_("An account with this email already exists."), "email")
    if problem := password_problem(password, email):
        raise AccountError(problem, "password")
    if not is_valid_timezone(timezone):
        raise AccountError(_("Choose a timezone from the list."), "timezone")
    name = (name or "").strip()
    if len(name) > 100:
        raise AccountError(_("Use at most %(count)s characters.", count=100), "name")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        timezone=timezone,
        must_change_password=must_change_password,
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (never says which part failed)."""
    user = find_by_email(email)
    if not verify_password(user, password) or user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def sign_in(email: str, password: str, client: throttle.Client) -> User | None:
    """Return the active user with these credentials, or None; a failure counts against email.

    Raises:
        throttle.Throttled: too many recent failures for email, from a client it does not know.
    """
    account = throttle.account_name(email)
    wait = throttle.seconds_to_wait(account)
    if wait and not throttle.is_trusted(find_by_email(email), client):
        raise throttle.Throttled(wait)
    user = authenticate(email, password)
    if user is None:
        throttle.record_failure(account)
        return None
    throttle.succeeded(account, user, client)
    return user


def check_current_password(user: User, password: str, client: throttle.Client) -> bool:
    """Return True when password is user's; a wrong one counts as a failed sign-in.

    Raises:
        throttle.Throttled: as for sign_in.
    """
    account = throttle.account_name(user.email)
    throttle.check(account, user, client)
    if verify_password(user, password):
        return True
    throttle.record_failure(account)
    return False


def set_password(
    user: User, password: str, *, must_change: bool = False, keep_token: ApiToken | None = None
) -> None:
    """Give user a new password, end their browser sessions and revoke their API tokens.

    Commits. The browser making the change signs in again (homelog.auth.sign_in).

    Args:
        keep_token: the token of the device making the change, which stays valid.

    Raises:
        AccountError: the password is too weak.
    """
    if problem := password_problem(password, user.email):
        raise AccountError(problem, "password")
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    sessions.revoke_user_sessions(user, commit=False)
    tokens.revoke_user_tokens(user, keep=keep_token)  # commits


def set_active(actor: User, user: User, active: bool) -> None:
    """Activate or deactivate user; deactivation ends their sessions and revokes their tokens.

    Raises:
        AccountError: an admin deactivating themselves or the last active admin.
    """
    if not active:
        if user.id == actor.id:
            raise AccountError(_("You cannot deactivate your own account."))
        if user.is_admin and user.is_active and admin_count() <= 1:
            raise AccountError(_("The last active administrator cannot be deactivated."))
        sessions.revoke_user_sessions(user, commit=False)
        tokens.revoke_user_tokens(user, commit=False)
    user.is_active = active
    db.session.commit()


def set_admin(actor: User, user: User, admin: bool) -> None:
    """Grant or remove the administrator role.

    Raises:
        AccountError: an admin demoting themselves or the last active admin.
    """
    if not admin:
        if user.id == actor.id:
            raise AccountError(_("You cannot remove your own administrator role."))
        if user.is_admin and user.is_active and admin_count() <= 1:
            raise AccountError(_("The last administrator cannot be demoted."))
    user.is_admin = admin
    db.session.commit()


def delete_user(actor: User, user: User) -> None:
    """Delete user and all their data.

    Raises:
        AccountError: deleting yourself or the last active admin.
    """
    if user.id == actor.id:
        raise AccountError(_("You cannot delete your own account here."))
    if user.is_admin and user.is_active and admin_count() <= 1:
        raise AccountError(_("The last administrator cannot be deleted."))
    db.session.delete(user)
    db.session.commit()


def generate_temporary_password(groups: int = 4, size: int = 5) -> str:
    """Return a random password that is easy to retype, e.g. `k7m2p-9xq4r-...` (~99 bits)."""
    return "-".join(
        "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def reset_password(actor: User, user: User, password: str | None = None) -> str:
    """Give user a temporary password (generated when none is given) and end their sessions.

    The user must choose a new password at their next sign-in.

    Returns:
        The temporary password, to be shown to the administrator once.
    Raises:
        AccountError: resetting your own password here, or a weak password.
    """
    if user.id == actor.id:
        raise AccountError(_("Change your own password on your account page."))
    password = password or generate_temporary_password()
    set_password(user, password, must_change=True)
    return password


@dataclass(frozen=True)
class UserPage:
    """One page of a user search."""

    items: list[User]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Return True when there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Return True when there is a page after this one."""
        return self.page < self.pages


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_users(query: str = "", page: int = 1, per_page: int = 25) -> UserPage:
    """Return users whose email or name contains query (case-insensitive), ordered by email."""
    query = (query or "").strip()[:MAX_SEARCH_LENGTH]
    condition = sa.true()
    if query:
        pattern = _like_pattern(query.lower())
        condition = sa.or_(
            func.lower(User.email).like(pattern, escape="\\"),
            func.lower(User.name).like(pattern, escape="\\"),
        )
    total = db.session.scalar(select(func.count()).select_from(User).where(condition)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    items = db.session.scalars(
        select(User)
        .where(condition)
        .order_by(User.email)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return UserPage(list(items), total, page, per_page)


def user_data_counts(user: User) -> tuple[int, int]:
    """Return how many sources and readings user owns (what deleting them removes)."""
    sources = (
        db.session.scalar(
            select(func.count()).select_from(DataSource).where(DataSource.owner_id == user.id)
        )
        or 0
    )
    readings = (
        db.session.scalar(
            select(func.count())
            .select_from(Reading)
            .join(DataSource)
            .where(DataSource.owner_id == user.id)
        )
        or 0
    )
    return sources, readings
