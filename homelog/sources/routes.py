"""Routes: the dashboard, source pages and reading rows."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from homelog.extensions import db
from homelog.models import DataSource

bp = Blueprint("sources", __name__)


@bp.route("/")
@login_required
def index():
    """Show the dashboard of the user's sources."""
    sources = db.session.scalars(
        select(DataSource).where(DataSource.owner_id == current_user.id).order_by(DataSource.name)
    ).all()
    return render_template("sources/index.html", sources=sources)
