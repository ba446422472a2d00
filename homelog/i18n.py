"""The interface's language, and numbers and dates in the reader's locale (Flask-Babel).

Pages speak the language the person chose on the account page, else the best match for
their browser's Accept-Language, else English. The JSON API always speaks English: its
messages are part of a contract that clients match on. Messages live in
homelog/translations/<lang>/LC_MESSAGES/messages.po; `make i18n-extract`, `make i18n-update`
and `make i18n-compile` keep them current (see docs/architecture.md, "Languages").

Modules mark text with `_` (translated now, inside a request) or `_l` (translated when shown:
module-level constants, form labels, messages built outside a request).

This module imports no Flask at the top: domain modules use `_l` and stay free of Flask when
imported (by the CLI, a worker or a test). Flask-Babel is imported when a text is shown.
"""

from __future__ import annotations

import functools
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import LazyProxy

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "LANGUAGES",
    "_",
    "_l",
    "init_app",
    "is_lazy",
    "locale_code",
    "ngettext",
    "plain",
    "select_locale",
]

#: The languages the interface speaks, by locale code, each named in itself.
LANGUAGES = {"en": "English", "de": "Deutsch"}
#: The conventions numbers and dates follow in each language. English writes days before
#: months ("24–30 Nov", "2 Dec 2026") as British English does; German as in Germany.
FORMAT_LOCALES = {"en": "en_GB", "de": "de_DE"}


def _(text: str, /, **variables: Any) -> str:
    """Return text translated into the current request's language, variables filled in."""
    from flask_babel import gettext

    return gettext(text, **variables)


def ngettext(singular: str, plural: str, num: int, /, **variables: Any) -> str:
    """Return the singular or plural text for num, translated, `%(num)s` and variables filled in."""
    from flask_babel import ngettext as babel_ngettext

    return babel_ngettext(singular, plural, num, **variables)


def _translate_when_shown(text: str, variables: dict[str, Any]) -> str:
    if "flask" in sys.modules:
        from flask import has_app_context

        if has_app_context():
            return _(text, **variables)
    return text % variables if variables else text


def _l(text: str, /, **variables: Any) -> LazyProxy:
    """Return text to translate when shown (str() of it), in the language of that moment.

    Outside an app (the CLI, a domain function in a test) it reads as the English text.
    Never cached: one module constant is shown to people with different languages.
    """
    return LazyProxy(_translate_when_shown, text, variables, enable_cache=False)


def is_lazy(value: Any) -> bool:
    """Return True for a text made by `_l`, not yet turned into a str."""
    return isinstance(value, LazyProxy)


def plain(value: Any) -> Any:
    """Return value with every lazy text in it (in dicts, lists, tuples) turned into a str.

    JSON encoders and pydantic take str, not lazy texts: whatever leaves as JSON goes
    through here (homelog.web.json_error, the app's JSON provider).
    """
    if isinstance(value, LazyProxy):
        return str(value)
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(plain(item) for item in value)
    return value


def select_locale() -> str:
    """Return the locale code of the current request (English outside a request).

    The signed-in person's choice on the account page, else the best match for the
    browser's Accept-Language, else English; always English under /api/.
    """
    from flask import has_request_context, request

    if not has_request_context() or request.path == "/api" or request.path.startswith("/api/"):
        return "en"
    chosen = _chosen_locale()
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES.keys()) or "en"


def _chosen_locale() -> str | None:
    from flask import g
    from flask_login import current_user

    if g.get("_i18n_loading_user"):
        return None  # a text shown while the user loads: the browser's language
    g._i18n_loading_user = True
    try:
        if current_user and current_user.is_authenticated:
            return getattr(current_user, "locale", None)
        return None
    finally:
        g._i18n_loading_user = False


def locale_code() -> str:
    """Return the current locale's code, like "de" (for `<html lang>` and `Intl` in scripts)."""
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale).replace("_", "-") if locale is not None else "en"


# ---- Numbers and dates ----------------------------------------------------------------------


def language() -> str:
    """Return the language code in use now ("en" outside a request, the CLI included)."""
    if "flask_babel" in sys.modules:
        from flask import has_request_context

        if has_request_context():
            from flask_babel import get_locale

            locale = get_locale()
            if locale is not None and locale.language in LANGUAGES:
                return locale.language
    return "en"


def format_locale() -> Locale:
    """Return the Babel locale numbers and dates are written in now."""
    return _locale(FORMAT_LOCALES[language()])


@functools.cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@functools.cache
def _skeleton_pattern(skeleton: str, code: str) -> str:
    """Return the date pattern of a CLDR skeleton in a locale (matched once, then kept)."""
    skeletons = _locale(code).datetime_skeletons
    if skeleton not in skeletons:
        skeleton = babel_dates.match_skeleton(skeleton, skeletons)
    return skeletons[skeleton]


def decimal_symbol() -> str:
    """Return the locale's decimal separator ("." in English, "," in German)."""
    return babel_numbers.get_decimal_symbol(format_locale())


def format_decimal(value: float | int | Decimal, places: int | None = None) -> str:
    """Return value with the locale's separators ("1,234.5"; "1.234,5" in German).

    places: round to at most that many decimals (trailing zeros dropped); None keeps every
    decimal the value has (a float without binary noise: 12.3, not 12.300000000000001).
    """
    if isinstance(value, float):
        value = Decimal(f"{value:.10g}") if places is None else Decimal(repr(value))
    if places is None:
        return babel_numbers.format_decimal(
            value, format="#,##0.###", locale=format_locale(), decimal_quantization=False
        )
    value = Decimal(value).quantize(Decimal(1).scaleb(-places))
    if value == 0:
        value = abs(value)  # never "-0"
    pattern = "#,##0." + "#" * places if places else "#,##0"
    return babel_numbers.format_decimal(value, format=pattern, locale=format_locale())


def format_number_in_text(value: float | int) -> str:
    """Return a reading value inside a message: "14705.25" in English, "14.705,25" in German.

    English keeps the plain digits its messages (the API's among them) have always had;
    other languages get the separators their pages show.
    """
    if language() == "en":
        return f"{value:.10g}"
    return format_decimal(value)


def format_fixed(value: Decimal, min_places: int = 2) -> str:
    """Return value with at least min_places decimals and any further ones it has."""
    return babel_numbers.format_decimal(
        value,
        format="#,##0." + "0" * min_places,
        locale=format_locale(),
        decimal_quantization=False,
    )


def format_date(value: date, skeleton: str = "yMMdd") -> str:
    """Return a date in the locale's way for a CLDR skeleton ("02.12.2026" in German).

    Common skeletons: "yMMdd" (day, month, year in digits), "yMMMd" ("2 Dec 2026"),
    "yMMM" ("Dec 2026"), "MMMd" ("2 Dec").
    """
    code = FORMAT_LOCALES[language()]
    pattern = _skeleton_pattern(skeleton, code)
    if isinstance(value, datetime):
        return babel_dates.format_datetime(value, pattern, locale=_locale(code))
    return babel_dates.format_date(value, pattern, locale=_locale(code))


def format_date_interval(start: date, end: date, skeleton: str = "MMMd") -> str:
    """Return a span of days the locale's way ("24–30 Nov"; "24.–30. Nov." in German)."""
    text = babel_dates.format_interval(start, end, skeleton, locale=format_locale())
    if (start.year, start.month) == (end.year, end.month):
        # CLDR sets thin spaces around the dash of "24 – 30 Nov"; within one month the
        # days belong together ("24–30 Nov"), as German writes them ("24.–30. Nov.").
        return text.replace("\u2009–\u2009", "–")
    return text.replace("\u2009–\u2009", " – ")  # "30 Nov – 6 Dec", plain spaces


def format_time(value: datetime) -> str:
    """Return the hour and minute the locale's way (24-hour clock: "14:03")."""
    return babel_dates.format_datetime(value, "HH:mm", locale=format_locale())


def format_local_datetime(value: date, fmt: str) -> str:
    """Return a local date/time for a strftime format: as given in English, else localised.

    The English pages write ISO-like times ("2026-12-02 14:03"); other languages get the
    same parts (date, time, month name) in their own order and separators.
    """
    if language() == "en":
        return value.strftime(fmt)
    skeleton = "yMMMd" if ("%b" in fmt or "%B" in fmt) else "yMMdd"
    parts = []
    if "%d" in fmt or "%m" in fmt or "%Y" in fmt:
        parts.append(format_date(value, skeleton))
    if "%H" in fmt:
        parts.append(format_time(value))
    return " ".join(parts) if parts else value.strftime(fmt)


def format_day(value: date) -> str:
    """Return a calendar day as the pages write it ("2026-12-02"; "02.12.2026" in German)."""
    return format_local_datetime(value, "%Y-%m-%d")


def time_ago(value: datetime, now: datetime | None = None) -> str:
    """Return how long ago value was, in the current language ("3 hours ago", "vor 3 Stunden")."""
    now = now or datetime.now(UTC)
    delta = value - now
    if abs(delta.total_seconds()) < 60:
        return str(_l("just now"))
    return babel_dates.format_timedelta(
        delta,
        granularity="minute",
        threshold=1,
        add_direction=True,
        locale=format_locale(),
    )


def init_app(app: Flask) -> None:
    """Set Babel up for app and make `{% trans %}` blocks trim their whitespace."""
    from flask_babel import Babel

    Babel(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["locale_code"] = locale_code
