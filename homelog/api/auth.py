"""API routes: sign in for a token, check it, sign out, change the password."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request
from flask_login import login_user, logout_user

from homelog import accounts, tokens
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    dump,
    error_responses,
    operation,
)
from homelog.api.schemas import LoginIn, PasswordIn, TokenOut, ValidateOut
from homelog.errors import ValidationFailed
from homelog.extensions import limiter
from homelog.web import json_error

TAGS = ("auth",)


def _login_account_key() -> str:
    data = request.get_json(silent=True)
    username = data.get("username") if isinstance(data, dict) else None
    name = accounts.normalize_email(username if isinstance(username, str) else "")[:254]
    return "api-login-account:" + name


def _failed_login(response) -> bool:
    # Only failed attempts use up the allowance, so a household's devices can sign in freely.
    return response.status_code != 200


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
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], deduct_when=_failed_login)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"],
    key_func=_login_account_key,
    deduct_when=_failed_login,
)
def login(body: LoginIn):
    """Sign in with email and password and get a bearer token for this device."""
    user = accounts.authenticate(body.username, body.password)
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
        logout_user()
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
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS),
    },
)
def change_password(body: PasswordIn):
    """Change the password; every other token and browser session stops working."""
    user = api_user()
    if not accounts.verify_password(user, body.current_password):
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
        login_user(user)  # the session identity changed with the password; keep this one
    return "", 204
