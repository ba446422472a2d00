"""A source's usage settings: register sizes, billing cycle day, advance, billing year, gap."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.models import DataSource
from homelog.usage_db.fields import (
    check_amount,
    check_date,
    check_register_values,
    check_whole_number,
)

MAX_ADVANCE = Decimal("9999999999.99")


def update_settings(
    source: DataSource,
    *,
    rollover_at: Mapping | None = None,
    cycle_day: object = 1,
    monthly_advance: object = None,
    billing_year_start: object = None,
    max_gap_hours: object = 48,
) -> DataSource:
    """Set source's register sizes, billing cycle day, advance, billing year and gap; commit.

    Raises:
        ValidationFailed: keys "rollover_at[.metric]", "cycle_day", "monthly_advance",
            "billing_year_start", "max_gap_hours".
    """
    settings = clean_settings(
        source,
        rollover_at=rollover_at,
        cycle_day=cycle_day,
        monthly_advance=monthly_advance,
        billing_year_start=billing_year_start,
        max_gap_hours=max_gap_hours,
    )
    for name, value in settings.items():
        setattr(source, name, value)
    db.session.commit()
    return source


def clean_settings(
    source: DataSource,
    *,
    rollover_at: Mapping | None = None,
    cycle_day: object = 1,
    monthly_advance: object = None,
    billing_year_start: object = None,
    max_gap_hours: object = 48,
) -> dict:
    """Return source's usage settings checked as typed in: {field name: clean value}.

    Raises:
        ValidationFailed: as update_settings.
    """
    errors: dict[str, list[str]] = {}
    sizes = check_register_values(source, rollover_at, "rollover_at", errors, positive=True)
    day = check_whole_number(
        cycle_day, "cycle_day", errors, 1, 31, _("Enter a day of the month from 1 to 31.")
    )
    gap = check_whole_number(
        max_gap_hours,
        "max_gap_hours",
        errors,
        1,
        24 * 366,
        _("Enter a number of hours from 1 to 8784."),
    )
    advance = check_amount(
        monthly_advance,
        "monthly_advance",
        errors,
        low=Decimal(0),
        high=MAX_ADVANCE,
        places=2,
        required=False,
    )
    year_start = check_date(billing_year_start, "billing_year_start", errors, required=False)
    if errors:
        raise ValidationFailed(errors)
    return {
        "rollover_at": sizes,
        "cycle_day": day,
        "max_gap_hours": gap,
        "monthly_advance": advance,
        "billing_year_start": year_start,
    }
