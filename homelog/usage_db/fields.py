"""Checks of typed-in values shared by prices, meter swaps and usage settings.

Each check appends a message for people to `errors[key]` and returns None (or a fallback)
instead of raising, so a form shows every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from homelog import timeutil
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource
from homelog.readings import clean_value

MIN_DATE, MAX_DATE = timeutil.FIRST_DAY, timeutil.LAST_DAY


def check_amount(
    value: object,
    key: str,
    errors: dict,
    *,
    low: Decimal,
    high: Decimal,
    places: int,
    required: bool = True,
) -> Decimal | None:
    """Return value as a Decimal within [low, high] with at most `places` decimals.

    Text is read as people type it ("0,32" too); a float by its shortest repr.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.setdefault(key, []).append(_("Enter an amount."))
        return None
    if isinstance(value, bool):
        errors.setdefault(key, []).append(_("Enter an amount, like 0.32."))
        return None
    try:
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            if "," in text and "." not in text:
                text = text.replace(",", ".")
            number = Decimal(text)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault(key, []).append(_("Enter an amount, like 0.32."))
        return None
    if not number.is_finite():
        errors.setdefault(key, []).append(_("Enter a finite amount."))
        return None
    if not low <= number <= high:
        errors.setdefault(key, []).append(
            _("Enter an amount from %(low)s to %(high)s.", low=low, high=high)
        )
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.setdefault(key, []).append(
            _("Use at most %(places)s decimal places.", places=places)
        )
        return None
    return number


def check_date(value: object, key: str, errors: dict, required: bool = True) -> date | None:
    """Return value (a date, or ISO text) as a date within the range homelog stores."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            value = None
        else:
            try:
                value = date.fromisoformat(text)
            except ValueError:
                errors.setdefault(key, []).append(_("Enter a date like 2026-03-31."))
                return None
    if value is None:
        if required:
            errors.setdefault(key, []).append(_("Enter a date."))
        return None
    if not isinstance(value, date):
        errors.setdefault(key, []).append(_("Enter a date like 2026-03-31."))
        return None
    if not MIN_DATE <= value <= MAX_DATE:
        errors.setdefault(key, []).append(timeutil.range_message())
        return None
    return value


def check_register_values(
    source: DataSource, values: object, key: str, errors: dict, *, positive: bool = False
) -> dict[str, float]:
    """Return {metric: number} for source's metrics, 0 or more (above 0 when positive).

    Empty values are skipped; a message per metric goes to errors["key.metric"].
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        errors.setdefault(key, []).append(_("Give the values as {metric: number}."))
        return {}
    cleaned: dict[str, float] = {}
    for metric, raw in values.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if metric not in source.metric_names:
            errors.setdefault(key, []).append(
                _("“%(name)s” is not a metric of this source.", name=str(metric)[:40])
            )
            continue
        try:
            number = clean_value(raw)
        except ValueError as error:
            errors.setdefault(f"{key}.{metric}", []).append(str(error))
            continue
        if number < 0 or (positive and number == 0):
            errors.setdefault(f"{key}.{metric}", []).append(
                _("Enter a number above 0.") if positive else _("Enter 0 or more.")
            )
            continue
        cleaned[metric] = number
    return cleaned


def check_whole_number(
    value: object, key: str, errors: dict, low: int, high: int, message: str
) -> int:
    """Return value as a whole number in [low, high]; otherwise add message to errors[key]."""
    try:
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise ValueError
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        errors.setdefault(key, []).append(message)
        return low
    if not low <= number <= high:
        errors.setdefault(key, []).append(message)
    return number


def commit_unique(message_key: str, message: str) -> None:
    """Commit; a unique constraint's refusal becomes ValidationFailed({message_key: [message]})."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed({message_key: [message]}) from None
