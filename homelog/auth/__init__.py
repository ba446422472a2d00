"""Sign-in, first-run setup and the account page; the session user loader lives here."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import login_user, logout_user

from homelog import access, sessions
from homelog.extensions import login_manager
from homelog.i18n import _l
from homelog.models import User

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to see that page.")
# Flash the message as translated text: a lazy string would be stored in the session as markup.
login_manager.localize_callback = str
login_manager.login_message_category = "info"


def remember_lifetime() -> timedelta:
    """Return how long a remembered browser stays signed in (REMEMBER_COOKIE_DURATION)."""
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION", sessions.REMEMBER_LIFETIME)
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Return the user of the browser session the cookie names, or None when it has ended."""
    hashed = sessions.key_hash(identity)
    if hashed is None:
        return None
    found = access.load_session_user(hashed)
    if found is None:
        return None
    user_session, user = found
    if not sessions.live(user_session, user, lifetime=remember_lifetime()):
        return None
    user.session_key = identity
    g.user_session = user_session
    return user


def _new_csrf_token() -> None:
    # Flask-WTF makes a new one when the page next asks for a token.
    session.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def sign_in(user: User, remember: bool = False) -> None:
    """Sign user in in this browser: a new server-side session and a new CSRF token."""
    lifetime = remember_lifetime()
    sessions.start(user, remember=remember, user_agent=request.user_agent.string, lifetime=lifetime)
    _new_csrf_token()
    login_user(user, remember=remember, duration=lifetime)
    g.user_session = None  # looked up again on the next request


def sign_out() -> None:
    """End this browser's session on the server and forget its cookies."""
    sessions.revoke(g.get("user_session"))
    logout_user()
    _new_csrf_token()
