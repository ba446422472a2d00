"""API routes: the current user, and account administration (admins; anyone for themselves)."""

from __future__ import annotations

from flask import request, url_for
from sqlalchemy import select

from homelog import accounts, throttle
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    dump,
    error_responses,
    next_link,
    operation,
)
from homelog.api.schemas import PageQuery, UserCreate, UserList, UserOut, UserUpdate
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.models import User, parse_id
from homelog.timeutil import is_valid_timezone
from homelog.web import json_error

TAGS = ("users",)


def _visible_user(user_id: int) -> User | None:
    """Return the user with user_id if the current user may see them (admins: anyone)."""
    me = api_user()
    if user_id == me.id:
        return me
    if not me.is_admin or parse_id(user_id) is None:
        return None
    return db.session.get(User, user_id)


def _forbidden_unless_admin():
    if not api_user().is_admin:
        return json_error(403, "Only administrators may do this.")
    return None


def _changes_email(user: User, body: UserUpdate) -> bool:
    """Return True when body gives user another email address."""
    return body.email is not None and accounts.normalize_email(body.email) != user.email


def _apply_profile(user: User, body: UserUpdate) -> None:
    """Check and set email, name and timezone from body (not committed).

    Raises:
        ValidationFailed: a field breaks the account rules.
    """
    errors: dict[str, list[str]] = {}
    if body.email is not None:
        email = accounts.normalize_email(body.email)
        if problem := accounts.email_problem(email):
            errors["email"] = [problem]
        elif email != user.email and accounts.find_by_email(email) is not None:
            errors["email"] = ["An account with this email already exists."]
    if body.timezone is not None and not is_valid_timezone(body.timezone):
        errors["timezone"] = ["Choose an IANA timezone, like Europe/Berlin."]
    if errors:
        raise ValidationFailed(errors)
    if body.email is not None:
        user.email = accounts.normalize_email(body.email)
    if body.name is not None:
        user.name = body.name.strip()
    if body.timezone is not None:
        user.timezone = body.timezone


@operation(
    "/users/me",
    tags=TAGS,
    responses={
        200: (UserOut, "The signed-in user."),
        **error_responses(*AUTH_ERRORS),
    },
)
def me():
    """Show the signed-in user."""
    return dump(UserOut, api_user())


@operation(
    "/users",
    tags=TAGS,
    query=PageQuery,
    responses={
        200: (UserList, 'Users by email; `Link: rel="next"` when there are more.'),
        **error_responses(*AUTH_ERRORS, 403, 422),
    },
)
def list_users(query: PageQuery):
    """List every account (admins only)."""
    if denied := _forbidden_unless_admin():
        return denied
    rows = db.session.scalars(
        select(User).order_by(User.email, User.id).limit(query.limit + 1).offset(query.offset)
    ).all()
    headers = {}
    if len(rows) > query.limit:
        headers["Link"] = next_link(
            "api.list_users", limit=query.limit, offset=query.offset + query.limit
        )
    return dump(UserList, rows[: query.limit]), 200, headers


@operation(
    "/users",
    ["POST"],
    tags=TAGS,
    body=UserCreate,
    responses={
        201: (UserOut, "Created; `Location` names it."),
        **error_responses(*AUTH_ERRORS, 403, *BODY_ERRORS),
    },
)
def create_user(body: UserCreate):
    """Create an account (admins only)."""
    if denied := _forbidden_unless_admin():
        return denied
    user = accounts.create_user(
        body.email, body.password, name=body.name, is_admin=body.is_admin, timezone=body.timezone
    )
    return dump(UserOut, user), 201, {"Location": url_for("api.get_user", user_id=user.id)}


@operation(
    "/users/<int:user_id>",
    tags=TAGS,
    responses={
        200: (UserOut, "The user."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_user(user_id: int):
    """Show one account (admins: any; others: themselves)."""
    user = _visible_user(user_id)
    if user is None:
        return json_error(404, "No such user.")
    return dump(UserOut, user)


@operation(
    "/users/<int:user_id>",
    ["PUT", "PATCH"],
    tags=TAGS,
    body=UserUpdate,
    responses={
        200: (UserOut, "The changed user."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS, 429),
    },
)
def update_user(user_id: int, body: UserUpdate):
    """Change an account; fields left out keep their value.

    Anyone may change their own email (with `current_password`), name, timezone; only admins
    change roles, activity and (as a temporary one) passwords of others. Deactivating revokes
    the user's tokens and ends their browser sessions.
    """
    me = api_user()
    user = _visible_user(user_id)
    if user is None:
        return json_error(404, "No such user.")
    if not me.is_admin and (body.is_admin or body.is_active is False or body.password):
        return json_error(403, "Only administrators may do this.")
    if body.password is not None and user.id == me.id:
        return json_error(403, "Change your own password with PUT /api/auth/password.")
    if user.id == me.id and _changes_email(user, body):
        # Whoever holds a session or token must not take the account over by its email.
        if not body.current_password:
            raise ValidationFailed(
                {"current_password": ["Enter your current password to change your email."]}
            )
        try:
            correct = accounts.check_current_password(
                me, body.current_password, throttle.Client(request.remote_addr)
            )
        except throttle.Throttled as error:
            return json_error(
                429,
                throttle.message(error.retry_after),
                headers={"Retry-After": str(error.retry_after)},
            )
        if not correct:
            raise ValidationFailed({"current_password": ["That is not your current password."]})
    _apply_profile(user, body)
    if body.is_admin is not None and body.is_admin != user.is_admin:
        accounts.set_admin(me, user, body.is_admin)
    if body.is_active is not None and body.is_active != user.is_active:
        accounts.set_active(me, user, body.is_active)
    if body.password is not None:
        try:
            accounts.set_password(user, body.password, must_change=True)
        except accounts.AccountError as error:
            raise ValidationFailed({"password": [str(error)]}) from None
    db.session.commit()
    return dump(UserOut, user)


@operation(
    "/users/<int:user_id>",
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted, with all of the user's data."),
        **error_responses(*AUTH_ERRORS, 403, 404),
    },
)
def delete_user(user_id: int):
    """Delete an account and all its data (admins only; never yourself or the last admin)."""
    user = _visible_user(user_id)
    if user is None:
        return json_error(404, "No such user.")
    if denied := _forbidden_unless_admin():
        return denied
    accounts.delete_user(api_user(), user)
    return "", 204
