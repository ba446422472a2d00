"""API routes: a source's usage and costs per period (JSON or CSV), value at an instant,
tariffs, meter swaps and usage settings.

The numbers come from homelog.usage_db (one streaming pass per request); someone else's
source is a 404 like everywhere in the API.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

from flask import Response, url_for
from werkzeug.exceptions import NotFound

from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    aware,
    dump,
    error_responses,
    operation,
)
from homelog.api.sources import source_or_404
from homelog.api.usage_schemas import (
    SwapIn,
    SwapList,
    SwapOut,
    SwapPatch,
    TariffIn,
    TariffList,
    TariffOut,
    TariffPatch,
    UsageOut,
    UsageQuery,
    UsageSettingsIn,
    UsageSettingsOut,
    ValueOut,
    ValueQuery,
)
from homelog.csvsafe import neutralise
from homelog.models import DataSource, Tariff
from homelog.usage import Cost, money
from homelog.usage_db import swaps, tariffs
from homelog.usage_db.inputs import currency_of, swaps_of, tariffs_of
from homelog.usage_db.labels import display_label, period_label
from homelog.usage_db.query import SourceUsage, usage_for, value_at
from homelog.usage_db.settings import update_settings

TAGS = ("usage",)
USAGE_RULE = "/sources/<int:source_id>/usage"


# ---- Shaping --------------------------------------------------------------------------------


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(money(amount))


def _cost(cost: Cost | None) -> dict | None:
    if cost is None:
        return None
    return {
        "energy": _money(cost.energy),
        "standing": _money(cost.standing),
        "total": _money(cost.total),
    }


def _decimal_text(value: Decimal | None, places: int = 2) -> str | None:
    """Return a stored decimal without trailing zeros beyond `places` (0.300000 → 0.30)."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(places, '0')}"


def usage_document(result: SourceUsage) -> dict:
    """Return the JSON shape of a usage result (see UsageOut)."""
    periods = result.periods
    labels = [period_label(result.kind, p) for p in periods]
    shown = [display_label(result.kind, p) for p in periods]
    units = result.source.metrics
    metrics: dict[str, dict] = {}
    for metric in result.metrics:
        if result.source.kind == "sensor":
            metrics[metric] = {
                "unit": units[metric],
                "periods": [
                    {
                        "label": label,
                        "display_label": title,
                        "start": s.period.start,
                        "end": s.period.end,
                        "first_day": s.period.first_day,
                        "last_day": s.period.last_day,
                        "minimum": s.minimum,
                        "average": s.average,
                        "maximum": s.maximum,
                        "count": s.count,
                        "complete": s.complete,
                        "estimated": s.estimated,
                    }
                    for label, title, s in zip(labels, shown, result.sensor[metric], strict=True)
                ],
            }
            continue
        found = result.meter[metric]
        metrics[metric] = {
            "unit": units[metric],
            "first_reading": found.first_reading,
            "last_reading": found.last_reading,
            "periods": [
                {
                    "label": label,
                    "display_label": title,
                    "start": p.period.start,
                    "end": p.period.end,
                    "first_day": p.period.first_day,
                    "last_day": p.period.last_day,
                    "usage": p.usage,
                    "complete": p.complete,
                    "estimated": p.estimated,
                    "measured_start": p.measured_start,
                    "measured_end": p.measured_end,
                    "measured_usage": p.measured_usage,
                    "cost": _cost(p.cost),
                    "measured_cost": _cost(p.measured_cost),
                }
                for label, title, p in zip(labels, shown, found.periods, strict=True)
            ],
            "suspects": [
                {
                    "reading_id": s.key,
                    "timestamp": s.timestamp,
                    "value": s.value,
                    "previous_timestamp": s.previous_timestamp,
                    "previous_value": s.previous_value,
                }
                for s in found.suspects
            ],
        }
    return {
        "data_source_id": result.source.id,
        "kind": result.source.kind,
        "period": result.kind,
        "timezone": result.zone.key,
        "currency": result.currency,
        "start": periods[0].first_day if periods else None,
        "end": periods[-1].last_day + timedelta(days=1) if periods else None,
        "metrics": metrics,
        "period_costs": [_money(c) for c in result.period_costs()] if result.has_costs else [],
    }


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def usage_csv(result: SourceUsage) -> str:
    """Return a usage result as CSV: one row per period, columns per metric."""
    units = result.source.metrics
    sensor = result.source.kind == "sensor"
    header = ["period", "start", "end", "first_day", "last_day"]
    for metric in result.metrics:
        name = f"{metric} ({units[metric]})" if units[metric] else metric
        if sensor:
            header += [
                f"{name} min",
                f"{name} avg",
                f"{name} max",
                f"{name} complete",
                f"{name} estimated",
            ]
        else:
            header += [f"{name} usage", f"{name} measured", f"{name} complete", f"{name} estimated"]
            if metric in result.tariff_metrics:
                header.append(f"{metric} cost ({result.currency})")
    if result.has_costs:
        header.append(f"total cost ({result.currency})")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    costs = result.period_costs()
    for index, period in enumerate(result.periods):
        row = [
            period_label(result.kind, period),
            period.start.isoformat(),
            period.end.isoformat(),
            period.first_day,
            period.last_day,
        ]
        for metric in result.metrics:
            if sensor:
                s = result.sensor[metric][index]
                row += [s.minimum, s.average, s.maximum, s.complete, s.estimated]
            else:
                p = result.meter[metric].periods[index]
                row += [p.usage, p.measured_usage, p.complete, p.estimated]
                if metric in result.tariff_metrics:
                    row.append(_money(p.cost.total) if p.cost else None)
        if result.has_costs:
            row.append(_money(costs[index]))
        writer.writerow([neutralise(_cell(value)) for value in row])
    return out.getvalue()


def csv_filename(source: DataSource, kind: str) -> str:
    """Return a safe download name like electricity-usage-month.csv."""
    slug = re.sub(r"[^a-z0-9]+", "-", source.name.lower()).strip("-")[:40] or "source"
    return f"{slug}-usage-{kind}.csv"


def _usage(source_id: int, query: UsageQuery, csv_format: bool):
    source = source_or_404(source_id)
    result = usage_for(source, query.period, query.start, query.end)
    if not csv_format:
        return dump(UsageOut, usage_document(result))
    return Response(
        usage_csv(result),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{csv_filename(source, result.kind)}"'
        },
    )


# ---- Usage ----------------------------------------------------------------------------------


@operation(
    USAGE_RULE,
    tags=TAGS,
    query=UsageQuery,
    responses={
        200: (UsageOut, "Usage (meters) or statistics (sensors) per period and metric."),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def get_usage(source_id: int, query: UsageQuery):
    """Show a source's usage and cost per day, week, month, year or billing cycle.

    Periods are calendar periods in the source's timezone (a day may last 23 or 25 hours).
    `format=csv` (or `/usage.csv`) answers the same numbers as a CSV download.
    """
    return _usage(source_id, query, query.format == "csv")


@operation(
    USAGE_RULE + ".csv",
    tags=TAGS,
    query=UsageQuery,
    responses={
        200: (None, "text/csv: one row per period, columns per metric."),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def get_usage_csv(source_id: int, query: UsageQuery):
    """Download a source's usage and cost per period as CSV."""
    return _usage(source_id, query, True)


@operation(
    "/sources/<int:source_id>/value",
    tags=TAGS,
    query=ValueQuery,
    responses={
        200: (ValueOut, "Each metric's value then; `estimated` unless a reading is at `at`."),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def get_value(source_id: int, query: ValueQuery):
    """Estimate what the meter showed at an instant (moving in or out, switching supplier)."""
    source = source_or_404(source_id)
    at = aware(query.at, api_user(), "at")
    found = value_at(source, at)
    return dump(
        ValueOut,
        {
            "at": at,
            "values": {
                metric: {
                    "value": v.value,
                    "estimated": v.estimated,
                    "gap_seconds": v.gap.total_seconds() if v.gap else None,
                }
                for metric, v in found.items()
            },
        },
    )


# ---- Tariffs --------------------------------------------------------------------------------

TARIFF_RULE = "/sources/<int:source_id>/tariffs/<int:tariff_id>"


def _tariff_data(tariff: Tariff) -> dict:
    return {
        "id": tariff.id,
        "data_source_id": tariff.data_source_id,
        "metric": tariff.metric,
        "effective_from": tariff.effective_from,
        "unit_price": _decimal_text(tariff.unit_price),
        "standing_charge": _decimal_text(tariff.standing_charge),
        "currency": currency_of(tariff.source),
        "created_at": tariff.created_at,
        "updated_at": tariff.updated_at,
    }


def _tariff_or_404(source_id: int, tariff_id: int):
    tariff = tariffs.get_tariff(source_or_404(source_id), tariff_id)
    if tariff is None:
        raise NotFound("No such tariff.")
    return tariff


@operation(
    "/sources/<int:source_id>/tariffs",
    tags=TAGS,
    responses={
        200: (TariffList, "By metric, oldest first."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def list_tariffs(source_id: int):
    """List a meter's prices (unit price and standing charge per day, from a date on)."""
    source = source_or_404(source_id)
    return dump(TariffList, [_tariff_data(t) for t in tariffs_of(source)])


@operation(
    "/sources/<int:source_id>/tariffs",
    ["POST"],
    tags=TAGS,
    body=TariffIn,
    responses={
        201: (TariffOut, "Created; `Location` names it."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def create_tariff(source_id: int, body: TariffIn):
    """Add a price from a date on; earlier periods keep their cost."""
    source = source_or_404(source_id)
    tariff = tariffs.create_tariff(
        source, body.metric, body.effective_from, body.unit_price, body.standing_charge
    )
    location = url_for("api.get_tariff", source_id=source.id, tariff_id=tariff.id)
    return dump(TariffOut, _tariff_data(tariff)), 201, {"Location": location}


@operation(
    TARIFF_RULE,
    tags=TAGS,
    responses={
        200: (TariffOut, "The price."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_tariff(source_id: int, tariff_id: int):
    """Show one price."""
    return dump(TariffOut, _tariff_data(_tariff_or_404(source_id, tariff_id)))


@operation(
    TARIFF_RULE,
    ["PUT", "PATCH"],
    tags=TAGS,
    body=TariffPatch,
    responses={
        200: (TariffOut, "The changed price."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def update_tariff(source_id: int, tariff_id: int, body: TariffPatch):
    """Change a price; fields left out keep their value."""
    tariff = _tariff_or_404(source_id, tariff_id)
    tariff = tariffs.update_tariff(
        tariff,
        body.metric if body.metric is not None else tariff.metric,
        body.effective_from or tariff.effective_from,
        body.unit_price if body.unit_price is not None else tariff.unit_price,
        body.standing_charge if body.standing_charge is not None else tariff.standing_charge,
    )
    return dump(TariffOut, _tariff_data(tariff))


@operation(
    TARIFF_RULE,
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def delete_tariff(source_id: int, tariff_id: int):
    """Delete a price."""
    tariff = _tariff_or_404(source_id, tariff_id)
    tariffs.delete_tariff(tariff)
    return "", 204


# ---- Meter swaps ----------------------------------------------------------------------------

SWAP_RULE = "/sources/<int:source_id>/swaps/<int:swap_id>"


def _swap_or_404(source_id: int, swap_id: int):
    event = swaps.get_swap(source_or_404(source_id), swap_id)
    if event is None:
        raise NotFound("No such meter swap.")
    return event


@operation(
    "/sources/<int:source_id>/swaps",
    tags=TAGS,
    responses={
        200: (SwapList, "Oldest first."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def list_swaps(source_id: int):
    """List a meter's recorded replacements."""
    source = source_or_404(source_id)
    return dump(SwapList, swaps_of(source))


@operation(
    "/sources/<int:source_id>/swaps",
    ["POST"],
    tags=TAGS,
    body=SwapIn,
    responses={
        201: (SwapOut, "Created; `Location` names it."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def create_swap(source_id: int, body: SwapIn):
    """Record a meter replacement: when, the old meter's final and the new one's start values."""
    source = source_or_404(source_id)
    user = api_user()
    event = swaps.create_swap(
        source,
        user,
        aware(body.at, user, "at"),
        body.old_final,
        body.new_start,
        body.rollover_at,
        body.note,
    )
    location = url_for("api.get_swap", source_id=source.id, swap_id=event.id)
    return dump(SwapOut, event), 201, {"Location": location}


@operation(
    SWAP_RULE,
    tags=TAGS,
    responses={
        200: (SwapOut, "The swap."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_swap(source_id: int, swap_id: int):
    """Show one meter swap."""
    return dump(SwapOut, _swap_or_404(source_id, swap_id))


@operation(
    SWAP_RULE,
    ["PUT", "PATCH"],
    tags=TAGS,
    body=SwapPatch,
    responses={
        200: (SwapOut, "The changed swap."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def update_swap(source_id: int, swap_id: int, body: SwapPatch):
    """Change a meter swap; fields left out keep their value."""
    event = _swap_or_404(source_id, swap_id)
    sent = body.model_fields_set
    event = swaps.update_swap(
        event,
        aware(body.at, api_user(), "at") if body.at is not None else event.at,
        body.old_final if body.old_final is not None else event.old_final,
        body.new_start if body.new_start is not None else event.new_start,
        body.rollover_at if "rollover_at" in sent else event.rollover_at,
        body.note if "note" in sent else event.note,
    )
    return dump(SwapOut, event)


@operation(
    SWAP_RULE,
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def delete_swap(source_id: int, swap_id: int):
    """Delete a meter swap."""
    event = _swap_or_404(source_id, swap_id)
    swaps.delete_swap(event)
    return "", 204


# ---- Settings -------------------------------------------------------------------------------

SETTINGS_RULE = "/sources/<int:source_id>/usage-settings"


def _settings_data(source: DataSource) -> dict:
    return {
        "rollover_at": {k: float(v) for k, v in (source.rollover_at or {}).items()},
        "cycle_day": source.cycle_day,
        "monthly_advance": _decimal_text(source.monthly_advance),
        "billing_year_start": source.billing_year_start,
        "max_gap_hours": source.max_gap_hours,
        "currency": currency_of(source),
    }


@operation(
    SETTINGS_RULE,
    tags=TAGS,
    responses={
        200: (UsageSettingsOut, "The settings."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_usage_settings(source_id: int):
    """Show how a source's usage is counted: register sizes, billing cycle, advance."""
    source = source_or_404(source_id)
    return dump(UsageSettingsOut, _settings_data(source))


@operation(
    SETTINGS_RULE,
    ["PUT", "PATCH"],
    tags=TAGS,
    body=UsageSettingsIn,
    responses={
        200: (UsageSettingsOut, "The changed settings."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def update_usage_settings(source_id: int, body: UsageSettingsIn):
    """Change how a source's usage is counted; fields left out keep their value."""
    source = source_or_404(source_id)
    sent = body.model_fields_set
    update_settings(
        source,
        rollover_at=body.rollover_at if "rollover_at" in sent else source.rollover_at,
        cycle_day=body.cycle_day if body.cycle_day is not None else source.cycle_day,
        monthly_advance=(
            body.monthly_advance if "monthly_advance" in sent else source.monthly_advance
        ),
        billing_year_start=(
            body.billing_year_start if "billing_year_start" in sent else source.billing_year_start
        ),
        max_gap_hours=(
            body.max_gap_hours if body.max_gap_hours is not None else source.max_gap_hours
        ),
    )
    return dump(UsageSettingsOut, _settings_data(source))
