"""Routes: sign in and out, first-run setup, the account page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from homelog import accounts, htmx, sessions, throttle, timeutil, tokens
from homelog.auth import sign_in, sign_out
from homelog.auth.forms import ChangePasswordForm, LoginForm, ProfileForm, SetupForm
from homelog.extensions import db, limiter
from homelog.i18n import _

bp = Blueprint("auth", __name__)

# Endpoints a user who must choose a new password may still reach.
_OPEN_WHILE_PASSWORD_EXPIRED = {"auth.password", "auth.logout", "static", "healthz"}


def safe_next(target: str | None) -> str | None:
    """Return target when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# Browsers keep Secure cookies on these hosts even over http (they are secure contexts).
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def cookies_need_https() -> bool:
    """Return True when this browser will drop the sign-in cookie: Secure cookies, plain http.

    In production the session cookie is sent over HTTPS only; opened as http://192.168.1.20
    the browser discards it, so every sign-in (and every form) fails without a word.
    """
    if not current_app.config.get("SESSION_COOKIE_SECURE") or request.is_secure:
        return False
    host = request.host
    name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    return name.lower() not in _LOOPBACK_HOSTS


def client() -> throttle.Client:
    """Return who is signing in: the address and this browser's device key (made if new)."""
    device = throttle.valid_device_key(request.cookies.get(throttle.DEVICE_COOKIE))
    return throttle.Client(request.remote_addr, device or throttle.new_device_key())


def keep_device(response, signed_in: throttle.Client):
    """Keep (or refresh) the device cookie of a browser that just signed in."""
    response.set_cookie(
        throttle.DEVICE_COOKIE,
        signed_in.device or "",
        max_age=int(throttle.TRUST_FOR.total_seconds()),
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response


def _failed(response) -> bool:
    # Successful sign-ins and password changes redirect; only failures use up the allowance.
    return response.status_code != 302


def _ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_IP"]


@bp.before_app_request
def require_new_password():
    """Send a user with a temporary password to choose their own first."""
    if (
        not request.path.startswith("/api/")  # first: an API request never loads the session user
        and current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in _OPEN_WHILE_PASSWORD_EXPIRED
    ):
        flash(_("Please choose a new password before you go on."), "info")
        return redirect(url_for("auth.password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(_ip_limit, scope="sign-in", methods=["POST"], deduct_when=_failed)
def login():
    """Sign in with email and password."""
    if accounts.user_count() == 0:
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("sources.index"))
    form = LoginForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        who = client()
        try:
            user = accounts.sign_in(form.email.data, form.password.data, who)
        except throttle.Throttled as error:
            form.password.errors.append(throttle.message(error.retry_after))
            status, headers = 429, {"Retry-After": str(error.retry_after)}
        else:
            if user is not None:
                sign_in(user, remember=form.remember.data)
                if not user.must_change_password:  # a first sign-in is welcomed after it
                    flash(_("Welcome back, %(name)s.", name=user.display_name), "success")
                target = safe_next(request.args.get("next")) or url_for("sources.index")
                return keep_device(redirect(target), who)
            form.password.errors.append(
                _("Email or password is wrong, or the account is inactive.")
            )
            status = 401
    elif form.is_submitted():
        status = 422
    page = render_template(
        "auth/login.html",
        form=form,
        cookies_need_https=cookies_need_https(),
        signed_out=request.args.get("signed_out") == "1",
    )
    return page, status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: this browser's session ends on the server, and its cookies are forgotten."""
    sign_out()
    flash(_("You are signed out."), "success")
    # The sign-in page then clears the Record screen's cached meters on this device.
    return redirect(url_for("auth.login", signed_out=1))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first administrator; gone once any user exists."""
    if accounts.user_count() > 0:
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                form.email.data,
                form.password.data,
                name=form.name.data,
                is_admin=True,
                timezone=form.timezone.data,
            )
        except accounts.AccountError as error:
            db.session.rollback()
            getattr(form, error.field or "email").errors.append(str(error))
        else:
            sign_in(user)
            flash(
                _("Your administrator account is ready. Add your first meter or sensor."),
                "success",
            )
            return redirect(url_for("sources.index"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "auth/setup.html",
        form=form,
        timezones=timeutil.timezone_names(),
        cookies_need_https=cookies_need_https(),
    ), status


def _render_account(profile: ProfileForm, status: int = 200):
    this_session = g.get("user_session")
    return render_template(
        "auth/account.html",
        profile=profile,
        timezones=timeutil.timezone_names(),
        devices=tokens.user_tokens(current_user),
        browsers=sessions.user_sessions(current_user),
        this_session_id=this_session.id if this_session is not None else None,
        describe_browser=sessions.describe,
    ), status


@bp.route("/account")
@login_required
def account():
    """Show the account page: profile, timezone, password and signed-in devices."""
    return _render_account(ProfileForm(obj=current_user))


@bp.route("/account/tokens/<token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: str):
    """Revoke one of the user's API tokens (a device signs out)."""
    token = tokens.get_user_token(current_user, token_id)
    if token is None:
        abort(404)
    tokens.revoke_token(token)
    message = _("“%(device)s” is signed out.", device=token.name or _("Unnamed device"))
    if htmx.is_fragment_request():
        # An empty body removes the row; the message arrives out of band.
        return render_template("auth/_token_revoked.html", message=message)
    flash(message, "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/<session_id>/revoke", methods=["POST"])
@login_required
def revoke_session(session_id: str):
    """Sign out one of the user's other browsers."""
    user_session = sessions.get_user_session(current_user, session_id)
    if user_session is None:
        abort(404)
    this_browser = user_session.id == getattr(g.get("user_session"), "id", None)
    sessions.revoke(user_session)
    if this_browser:
        sign_out()
        flash(_("You are signed out."), "success")
        return redirect(url_for("auth.login"))
    message = _("“%(device)s” is signed out.", device=sessions.describe(user_session.user_agent))
    if htmx.is_fragment_request():
        return render_template("auth/_token_revoked.html", message=message)
    flash(message, "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/profile", methods=["POST"])
@login_required
def profile():
    """Save the display name, timezone, language and currency."""
    form = ProfileForm()
    if form.validate_on_submit():
        current_user.name = form.name.data
        current_user.timezone = form.timezone.data
        if form.locale.data is not None:
            current_user.locale = form.locale.data or None
        current_user.currency = form.currency.data or current_user.currency
        db.session.commit()
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("auth.account"))
    return _render_account(form, 422)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(_ip_limit, scope="sign-in", methods=["POST"], deduct_when=_failed)
def password():
    """Change the password (required after an admin set a temporary one)."""
    form = ChangePasswordForm()
    # A first password replaces one an administrator chose: a new account's first sign-in.
    first = current_user.must_change_password
    status, headers = (422 if form.is_submitted() else 200), {}
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            correct = accounts.check_current_password(user, form.current_password.data, client())
        except throttle.Throttled as error:
            form.current_password.errors.append(throttle.message(error.retry_after))
            return (
                render_template("auth/password.html", form=form),
                429,
                {"Retry-After": str(error.retry_after)},
            )
        if not correct:
            form.current_password.errors.append(_("That is not your current password."))
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append(_("Choose a password different from the current one."))
        else:
            try:
                accounts.set_password(user, form.new_password.data)
            except accounts.AccountError as error:
                form.new_password.errors.append(str(error))
            else:
                # Every session ended with the password; this browser gets a new one.
                sign_in(user, remember=getattr(g.get("user_session"), "remember", False))
                if first:
                    flash(
                        _(
                            "Welcome to homelog, %(name)s. Your password is set; "
                            "here is everything shared with you.",
                            name=current_user.display_name,
                        ),
                        "success",
                    )
                    return redirect(url_for("sources.index"))
                flash(_("Your password is changed. Other devices were signed out."), "success")
                return redirect(url_for("auth.account"))
    elif form.is_submitted() and form.new_password.data and not form.new_password.errors:
        # Say what is wrong with the new password now too, not after the next try.
        problem = accounts.password_problem(form.new_password.data, current_user.email)
        if problem:
            form.new_password.errors.append(problem)
    return render_template("auth/password.html", form=form), status, headers
