"""Forms for signing in, first-run setup and the account page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from homelog import accounts
from homelog.forms import TimezoneField, strip_filter
from homelog.i18n import LANGUAGES, _l


class LoginForm(FlaskForm):
    """Email and password."""

    email = StringField(
        _l("Email"),
        [DataRequired(_l("Enter your email.")), Length(max=254)],
        filters=[strip_filter],
    )
    password = PasswordField(
        _l("Password"), [DataRequired(_l("Enter your password.")), Length(max=256)]
    )
    remember = BooleanField(_l("Remember me on this device"))


def _strong_password(form, field) -> None:
    email = form.email.data if hasattr(form, "email") else ""
    if problem := accounts.password_problem(field.data or "", email or ""):
        raise ValidationError(problem)


def _valid_email(form, field) -> None:
    field.data = accounts.normalize_email(field.data)
    if problem := accounts.email_problem(field.data):
        raise ValidationError(problem)


class SetupForm(FlaskForm):
    """The first administrator."""

    name = StringField(_l("Your name"), [Length(max=100)], filters=[strip_filter])
    email = StringField(_l("Email"), [_valid_email])
    password = PasswordField(_l("Password"), [_strong_password])
    confirm = PasswordField(
        _l("Repeat password"), [EqualTo("password", _l("The passwords differ."))]
    )
    timezone = TimezoneField(_l("Timezone"), default="UTC")


class ChangePasswordForm(FlaskForm):
    """Current password, then the new one twice."""

    current_password = PasswordField(
        _l("Current password"), [DataRequired(_l("Enter your current password."))]
    )
    new_password = PasswordField(_l("New password"), [DataRequired(_l("Enter a new password."))])
    confirm = PasswordField(
        _l("Repeat new password"), [EqualTo("new_password", _l("The passwords differ."))]
    )


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


class LanguageField(SelectField):
    """The interface's language: "" follows the browser, else a code of homelog.i18n.LANGUAGES."""

    def __init__(self, label=None, validators=None, **kwargs):
        choices = [SelectChoice("", _l("Automatic (from your browser)"))]
        # Each language is named in itself, so a person finds theirs whatever is shown now.
        choices += [SelectChoice(code, name) for code, name in LANGUAGES.items()]
        super().__init__(label, validators, choices=choices, coerce=_language_code, **kwargs)

    def pre_validate(self, form) -> None:
        if self.data is None:  # not sent: the stored choice stays
            return
        if self.data not in ("", *LANGUAGES):
            raise ValidationError(_l("Choose a language from the list."))


def _language_code(value) -> str:
    return value.strip() if isinstance(value, str) else ""


class ProfileForm(FlaskForm):
    """Display name, timezone, language and the currency prices are in."""

    name = StringField(_l("Name"), [Length(max=100)], filters=[strip_filter])
    timezone = TimezoneField(_l("Timezone"))
    locale = LanguageField(_l("Language"))
    currency = StringField(
        _l("Currency"),
        [
            Optional(),
            Regexp(
                r"^[A-Z]{3}$", message=_l("Enter a three-letter currency code, like EUR or USD.")
            ),
        ],
        filters=[_upper],
        default="EUR",
    )
