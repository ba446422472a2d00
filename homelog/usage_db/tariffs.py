"""A meter's prices: per metric, from a date on, a unit price and a daily standing charge."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, format_day
from homelog.models import DataSource, Tariff, parse_id
from homelog.usage_db.fields import check_amount, check_date, commit_unique

MAX_PRICE = Decimal("999999.999999")


def check_tariff(
    source: DataSource,
    metric: object,
    effective_from: object,
    unit_price: object,
    standing_charge: object,
) -> tuple:
    """Return a price's (metric, first day, unit price, standing charge) checked as typed in.

    Raises:
        ValidationFailed: keys "metric", "effective_from", "unit_price", "standing_charge".
    """
    errors: dict[str, list[str]] = {}
    if source.kind != "meter":
        raise ValidationFailed({"metric": [_("Prices apply to meters only.")]})
    if metric not in source.metric_names:
        errors["metric"] = [_("Choose one of this source's metrics.")]
    day = check_date(effective_from, "effective_from", errors)
    price = check_amount(unit_price, "unit_price", errors, low=-MAX_PRICE, high=MAX_PRICE, places=6)
    standing = check_amount(
        standing_charge if standing_charge not in (None, "") else "0",
        "standing_charge",
        errors,
        low=Decimal(0),
        high=MAX_PRICE,
        places=6,
    )
    if errors:
        raise ValidationFailed(errors)
    return metric, day, price, standing


def get_tariff(source: DataSource, tariff_id: object) -> Tariff | None:
    """Return source's tariff with tariff_id, or None (also for junk ids and other sources)."""
    wanted = parse_id(tariff_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(Tariff).where(Tariff.id == wanted, Tariff.data_source_id == source.id)
    )


def create_tariff(
    source: DataSource,
    metric: str,
    effective_from: date | str,
    unit_price: object,
    standing_charge: object = 0,
) -> Tariff:
    """Add a price for one metric of a meter from a date on, and commit.

    Raises:
        ValidationFailed: keys "metric", "effective_from", "unit_price", "standing_charge";
            also when the metric already has a price starting that day.
    """
    metric, day, price, standing = check_tariff(
        source, metric, effective_from, unit_price, standing_charge
    )
    tariff = Tariff(
        data_source_id=source.id,
        metric=metric,
        effective_from=day,
        unit_price=price,
        standing_charge=standing,
    )
    db.session.add(tariff)
    commit_unique(
        "effective_from",
        _(
            "“%(metric)s” already has a price starting on %(day)s.",
            metric=metric,
            day=format_day(day),
        ),
    )
    return tariff


def update_tariff(
    tariff: Tariff,
    metric: str,
    effective_from: date | str,
    unit_price: object,
    standing_charge: object = 0,
) -> Tariff:
    """Change a tariff (all fields) and commit; raises ValidationFailed like create_tariff."""
    metric, day, price, standing = check_tariff(
        tariff.source, metric, effective_from, unit_price, standing_charge
    )
    tariff.metric, tariff.effective_from = metric, day
    tariff.unit_price, tariff.standing_charge = price, standing
    commit_unique(
        "effective_from",
        _(
            "“%(metric)s” already has a price starting on %(day)s.",
            metric=metric,
            day=format_day(day),
        ),
    )
    return tariff


def delete_tariff(tariff: Tariff) -> None:
    """Delete a tariff and commit."""
    db.session.delete(tariff)
    db.session.commit()
