"""The interface's language, and numbers and dates in the reader's locale (Flask-Babel).

Pages speak the language the person chose on the account page, else the best match for
their browser's Accept-Language, else English. The JSON API always speaks English: its
messages are part of a contract that clients match on. Messages live in
homelog/translations/<lang>/LC_MESSAGES/messages.po; `make i18n-extract`, `make i18n-update`
and `make i18n-compile` keep them current (see docs/architecture.md, "Languages").

Modules mark text with `_` (translated now, inside a request) or `_l` (translated when shown:
module-level constants, form labels, messages built outside a request).
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import Babel, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

__all__ = ["LANGUAGES", "_", "_l", "babel", "init_app", "ngettext", "select_locale"]

#: The languages the interface speaks, by locale code, each named in itself.
LANGUAGES = {"en": "English", "de": "Deutsch"}

babel = Babel()


def select_locale() -> str:
    """Return the locale code of the current request (English outside a request)."""
    if not has_request_context() or request.path.startswith("/api/"):
        return "en"
    return request.accept_languages.best_match(LANGUAGES.keys()) or "en"


def init_app(app: Flask) -> None:
    """Set Babel up for app and make `{% trans %}` blocks trim their whitespace."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
