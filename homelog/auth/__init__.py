"""Sign-in, first-run setup and the account page; the session user loader lives here."""

from __future__ import annotations

from homelog import access
from homelog.extensions import login_manager
from homelog.models import User

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Return the session's user, or None when the session was ended (see User.get_id)."""
    user_id, _, version = identity.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = access.load_session_user(int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user
