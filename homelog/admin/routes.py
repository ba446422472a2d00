"""Routes: user administration (admins only).

Every change is a POST (CSRF is global). The buttons in the users table are htmx requests
that get the updated row back (`admin/_user_row.html`) with the flash message swapped in out
of band; without JavaScript the same forms post, redirect back and flash.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from homelog import accounts, htmx, timeutil, views
from homelog.admin.forms import CreateUserForm, ResetPasswordForm
from homelog.auth.routes import safe_next
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import User, parse_id

bp = Blueprint("admin", __name__)

USERS_PER_PAGE = 25


@bp.before_request
@login_required
def require_admin():
    """Let only administrators in."""
    if not current_user.is_admin:
        abort(403)


@bp.after_request
def vary_on_htmx(response):
    """Tell caches that pages and fragments differ by the HTMX headers."""
    return htmx.add_vary(response)


def _get_user_or_404(user_id: int) -> User:
    # An id no row can have (beyond the column's range) finds no one: 404, not an overflow.
    wanted = parse_id(user_id)
    user = db.session.get(User, wanted) if wanted is not None else None
    if user is None:
        abort(404, _("There is no such user."))
    return user


def _actor() -> User:
    return current_user._get_current_object()


def _back(user: User) -> str:
    """Return where a plain form goes after a change: the page it came from, if local."""
    return safe_next(request.form.get("next")) or url_for("admin.user", user_id=user.id)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users")
def users():
    """List users, searched by email or name and paged."""
    query = request.args.get("q", "").strip()[: accounts.MAX_SEARCH_LENGTH]
    page = request.args.get("page", 1, type=int)
    results = accounts.search_users(query, page, USERS_PER_PAGE)
    template = "admin/_users_results.html" if htmx.is_fragment_request() else "admin/users.html"
    return render_template(template, results=results, q=query, back=request.full_path)


@bp.route("/users/new", methods=["GET", "POST"])
def create_user():
    """Create a user with a temporary password they must change at first sign-in."""
    form = CreateUserForm()
    if form.validate_on_submit():
        password = form.password.data or accounts.generate_temporary_password()
        try:
            user = accounts.create_user(
                form.email.data,
                password,
                name=form.name.data,
                is_admin=form.is_admin.data,
                timezone=form.timezone.data,
                must_change_password=True,
            )
        except accounts.AccountError as error:
            db.session.rollback()
            getattr(form, error.field or "email").errors.append(str(error))
        else:
            # Shown once, on this response only: never put in a redirect, a flash or a log.
            return _no_store(
                make_response(
                    render_template(
                        "admin/password_shown.html", user=user, password=password, created=True
                    )
                )
            )
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/create.html", form=form, timezones=timeutil.timezone_names()
    ), status


@bp.route("/users/<int:user_id>")
def user(user_id: int):
    """Show one user with every action an admin can take."""
    user = _get_user_or_404(user_id)
    sources, readings = accounts.user_data_counts(user)
    return render_template("admin/user.html", user=user, sources=sources, readings=readings)


def _change(user_id: int, change: Callable[[User, User], None], done: Callable[[str], str]):
    """Apply change(actor, user); answer the row fragment (htmx) or redirect with a flash.

    done(name) words the success message for the user's display name.
    """
    user = _get_user_or_404(user_id)
    try:
        change(_actor(), user)
    except accounts.AccountError as error:
        db.session.rollback()
        if htmx.is_fragment_request():
            return render_template("errors/_message.html", message=str(error)), 409
        flash(str(error), "error")
        return redirect(_back(user))
    flash(done(user.display_name), "success")
    if htmx.is_fragment_request():
        back = safe_next(request.form.get("next")) or url_for("admin.users")
        return views.fragment("admin/_user_row.html", user=user, back=back)
    return redirect(_back(user))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    """Deactivate a user: they cannot sign in, and their open sessions end."""
    return _change(
        user_id,
        lambda actor, user: accounts.set_active(actor, user, False),
        lambda name: _("%(user)s is deactivated and signed out everywhere.", user=name),
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
def reactivate(user_id: int):
    """Let a deactivated user sign in again."""
    return _change(
        user_id,
        lambda actor, user: accounts.set_active(actor, user, True),
        lambda name: _("%(user)s can sign in again.", user=name),
    )


@bp.route("/users/<int:user_id>/make-admin", methods=["POST"])
def make_admin(user_id: int):
    """Give a user the administrator role."""
    return _change(
        user_id,
        lambda actor, user: accounts.set_admin(actor, user, True),
        lambda name: _("%(user)s is now an administrator.", user=name),
    )


@bp.route("/users/<int:user_id>/remove-admin", methods=["POST"])
def remove_admin(user_id: int):
    """Take the administrator role away from a user."""
    return _change(
        user_id,
        lambda actor, user: accounts.set_admin(actor, user, False),
        lambda name: _("%(user)s is no longer an administrator.", user=name),
    )


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
def reset_password(user_id: int):
    """Set a new temporary password; the user must change it at their next sign-in."""
    user = _get_user_or_404(user_id)
    form = ResetPasswordForm(user.email)
    if form.validate_on_submit():
        try:
            password = accounts.reset_password(_actor(), user, form.password.data or None)
        except accounts.AccountError as error:
            db.session.rollback()
            if error.field == "password":
                form.password.errors.append(str(error))
            else:
                flash(str(error), "error")
                return redirect(url_for("admin.user", user_id=user.id))
        else:
            return _no_store(
                make_response(
                    render_template(
                        "admin/password_shown.html", user=user, password=password, created=False
                    )
                )
            )
    status = 422 if form.is_submitted() else 200
    return render_template("admin/reset_password.html", user=user, form=form), status


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
def delete_user(user_id: int):
    """Ask for confirmation (GET), then delete a user and all their data (POST)."""
    user = _get_user_or_404(user_id)
    if request.method == "GET":
        sources, readings = accounts.user_data_counts(user)
        return render_template("admin/delete.html", user=user, sources=sources, readings=readings)
    name = user.display_name
    try:
        accounts.delete_user(_actor(), user)
    except accounts.AccountError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("admin.user", user_id=user_id))
    flash(_("%(user)s and all their data are deleted.", user=name), "success")
    return redirect(url_for("admin.users"))
