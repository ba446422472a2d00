"""Forms for user administration."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional, ValidationError

from homelog import accounts
from homelog.forms import TimezoneField, strip_filter
from homelog.i18n import _l


def _valid_email(form, field) -> None:
    field.data = accounts.normalize_email(field.data)
    if problem := accounts.email_problem(field.data):
        raise ValidationError(problem)
    if accounts.find_by_email(field.data) is not None:
        raise ValidationError(_l("An account with this email already exists."))


def _strong_or_empty_password(form, field) -> None:
    email = form.email.data if hasattr(form, "email") else form.user_email
    if field.data and (problem := accounts.password_problem(field.data, email or "")):
        raise ValidationError(problem)


class CreateUserForm(FlaskForm):
    """A new account with a temporary password."""

    email = StringField(_l("Email"), [_valid_email])
    name = StringField(
        _l("Name"),
        [Length(max=100, message=_l("Use at most %(count)s characters.", count=100))],
        filters=[strip_filter],
    )
    timezone = TimezoneField(_l("Timezone"), default="UTC")
    # A text input: the admin has to read the temporary password out to the user anyway.
    password = StringField(
        _l("Temporary password"), [Optional(strip_whitespace=False), _strong_or_empty_password]
    )
    is_admin = BooleanField(_l("Administrator (can manage users)"))


class ResetPasswordForm(FlaskForm):
    """A new temporary password for someone else; empty means generate one."""

    password = StringField(
        _l("New temporary password"),
        [Optional(strip_whitespace=False), _strong_or_empty_password],
    )

    def __init__(self, user_email: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_email = user_email
