"""What a source's usage depends on besides its readings: timezone, currency, swaps, prices.

`meter_config` and `tariff_plans` turn the stored rows into the inputs of `homelog.usage`;
`rename_metrics` keeps them in step when a source's metrics are renamed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from homelog import timeutil
from homelog.extensions import db
from homelog.models import DataSource, MeterEvent, Tariff
from homelog.usage import MeterConfig, MeterSwap, TariffPlan
from homelog.usage import Tariff as EngineTariff


def source_zone(source: DataSource) -> ZoneInfo:
    """Return the timezone periods of source are counted in: its home's, else its owner's."""
    if source.home is not None and source.home.timezone:
        return timeutil.zone(source.home.timezone)
    return timeutil.zone(source.owner.timezone if source.owner else "UTC")


def currency_of(source: DataSource) -> str:
    """Return the currency source's tariffs and costs are in (its owner's)."""
    return (source.owner.currency if source.owner else None) or "EUR"


def swaps_of(source: DataSource) -> list[MeterEvent]:
    """Return source's recorded meter swaps, oldest first."""
    return list(
        db.session.scalars(
            select(MeterEvent)
            .where(MeterEvent.data_source_id == source.id)
            .order_by(MeterEvent.at, MeterEvent.id)
        )
    )


def tariffs_of(source: DataSource) -> list[Tariff]:
    """Return source's tariffs ordered by metric (in the source's order), then date."""
    order = {name: index for index, name in enumerate(source.metric_names)}
    rows = db.session.scalars(select(Tariff).where(Tariff.data_source_id == source.id))
    return sorted(rows, key=lambda t: (order.get(t.metric, len(order)), t.effective_from))


def meter_config(source: DataSource, swaps: Sequence[MeterEvent] | None = None) -> MeterConfig:
    """Return the engine's view of source's registers: rollover sizes, swaps, gap threshold."""
    events = swaps_of(source) if swaps is None else swaps
    return MeterConfig(
        rollover_at={k: float(v) for k, v in (source.rollover_at or {}).items() if v},
        swaps=[
            MeterSwap(
                at=e.at,
                old_final=e.old_final or {},
                new_start=e.new_start or {},
                rollover_at=e.rollover_at,
            )
            for e in events
        ],
        max_gap=timedelta(hours=source.max_gap_hours or 48),
    )


def tariff_plans(source: DataSource, rows: Sequence[Tariff] | None = None) -> dict[str, TariffPlan]:
    """Return a tariff plan per metric that has tariffs."""
    rows = tariffs_of(source) if rows is None else rows
    grouped: dict[str, list[EngineTariff]] = {}
    for row in rows:
        grouped.setdefault(row.metric, []).append(
            EngineTariff(
                row.effective_from, Decimal(row.unit_price), Decimal(row.standing_charge or 0)
            )
        )
    zone = source_zone(source)
    return {metric: TariffPlan(items, zone) for metric, items in grouped.items()}


def rename_metrics(
    source: DataSource, rename_map: Mapping[str, str], removed: Sequence[str]
) -> None:
    """Move tariffs, swap values and register sizes to renamed metrics; drop removed ones.

    Called by homelog.datasources.update_source inside its transaction (it commits).
    """
    if not rename_map and not removed:
        return
    gone = set(removed)

    def rekey(values: Mapping | None) -> dict | None:
        if values is None:
            return None
        return {rename_map.get(k, k): v for k, v in values.items() if k not in gone}

    source.rollover_at = rekey(source.rollover_at) or {}
    for event in swaps_of(source):
        event.old_final = rekey(event.old_final)
        event.new_start = rekey(event.new_start)
        event.rollover_at = rekey(event.rollover_at) or None
    tariffs = list(db.session.scalars(select(Tariff).where(Tariff.data_source_id == source.id)))
    moving = [t for t in tariffs if t.metric in rename_map]
    for tariff in tariffs:
        if tariff.metric in gone:
            db.session.delete(tariff)
    # Two steps, so a swap of two names never meets the unique (source, metric, day) halfway.
    originals = {tariff.id: tariff.metric for tariff in moving}
    for tariff in moving:
        tariff.metric = f"~{tariff.id}"
    db.session.flush()
    for tariff in moving:
        tariff.metric = rename_map[originals[tariff.id]]
    db.session.flush()
