"""API routes: sign in for a token, check it, sign out, change the password."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request

from homelog import accounts, throttle, tokens
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    dump,
    error_responses,
    operation,
)
from homelog.api.schemas import LoginIn, PasswordIn, TokenOut, ValidateOut
from homelog.auth import sign_in, sign_out
from homelog.errors import ValidationFailed
from homelog.extensions import limiter
from homelog.web import json_error

TAGS = ("auth",)


def _client() -> throttle.Client:
    """Return who is signing in: an API client is known by its address."""
    return throttle.Client(request.remote_addr)


def _ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_IP"]


def _throttled(error: throttle.Throttled):
    return json_error(
        429, throttle.message(error.retry_after), headers={"Retry-After": str(error.retry_after)}
    )


@operation(
    "/auth/login",
    ["POST"],
    tags=TAGS,
    body=LoginIn,
    public=True,
    responses={
        200: (TokenOut, "A new token (shown only now)."),
        **error_responses(400, 401, 413, 415, 422, 429),
    },
)
@limiter.shared_limit(
    _ip_limit, scope="sign-in", deduct_when=lambda response: response.status_code != 200
)
def login(body: LoginIn):
    """Sign in with email and password and get a bearer token for this device.

    Failed sign-ins (here and in the browser) count per account: after a few, a client that
    never signed in to the account waits before its next try (429 with Retry-After).
    """
    try:
        user = accounts.sign_in(body.username, body.password, _client())
    except throttle.Throttled as error:
        return _throttled(error)
    if user is None:
        return json_error(
            401,
            "Email or password is wrong, or the account is inactive.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    days = current_app.config.get("API_TOKEN_DAYS")
    lifetime = tokens.DEFAULT_LIFETIME if not days else timedelta(days=int(days))
    raw, token = tokens.issue_token(user, body.device_name, lifetime)
    return dump(
        TokenOut, {"access_token": raw, "token_type": "bearer", "expires_at": token.expires_at}
    )


@operation(
    "/auth/logout",
    ["POST"],
    tags=TAGS,
    responses={
        204: (None, "Signed out: the token no longer works."),
        **error_responses(*AUTH_ERRORS),
    },
)
def logout():
    """Revoke the token this request used (or end the browser session)."""
    if g.api_token is not None:
        tokens.revoke_token(g.api_token)
    else:
        sign_out()
    return "", 204


@operation(
    "/auth/validate",
    ["GET", "PUT"],
    tags=TAGS,
    responses={
        200: (ValidateOut, "The credentials work."),
        **error_responses(*AUTH_ERRORS),
    },
)
def validate_token():
    """Say whose the credentials are and until when the token works."""
    expires_at = g.api_token.expires_at if g.api_token is not None else None
    return dump(ValidateOut, {"user_id": api_user().id, "expires_at": expires_at})


@operation(
    "/auth/password",
    ["PUT"],
    tags=TAGS,
    body=PasswordIn,
    responses={
        204: (None, "Changed: other tokens and browser sessions are signed out."),
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS, 429),
    },
)
@limiter.shared_limit(
    _ip_limit, scope="sign-in", deduct_when=lambda response: response.status_code != 204
)
def change_password(body: PasswordIn):
    """Change the password; every other token and browser session stops working.

    A wrong current password counts as a failed sign-in of the account.
    """
    user = api_user()
    try:
        correct = accounts.check_current_password(user, body.current_password, _client())
    except throttle.Throttled as error:
        return _throttled(error)
    if not correct:
        raise ValidationFailed({"current_password": ["That is not your current password."]})
    if body.new_password == body.current_password:
        raise ValidationFailed(
            {"new_password": ["Choose a password different from the current one."]}
        )
    try:
        accounts.set_password(user, body.new_password, keep_token=g.api_token)
    except accounts.AccountError as error:
        raise ValidationFailed({"new_password": [str(error)]}) from None
    if g.api_token is None:
        # Every browser session ended with the password; this one gets a new one.
        sign_in(user, remember=getattr(g.get("user_session"), "remember", False))
    return "", 204
