"""Routes: user administration (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def require_admin():
    """Let only administrators in."""
    if not current_user.is_admin:
        abort(403)


@bp.route("/users")
def users():
    """List users."""
    return render_template("admin/users.html")
