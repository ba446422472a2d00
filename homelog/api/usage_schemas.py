"""Schemas of the usage API: usage per period, value at an instant, tariffs, swaps, settings.

Money is a decimal string (exact; "114.15"), never a float. Kept beside homelog/api/schemas.py
in the same style (Request / Response / Query bases) so the OpenAPI document lists them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, RootModel

from homelog import timeutil
from homelog.api.schemas import Number, Query, Request, Response, Text, Timestamp

Day = Annotated[date, Field(ge=timeutil.FIRST_DAY, le=timeutil.LAST_DAY)]
Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]+$", examples=["114.15"])]
Price = Annotated[
    Decimal,
    Field(
        allow_inf_nan=False,
        max_digits=20,
        description="A decimal number or a string of one.",
        examples=["0.3412"],
    ),
]


# ---- Usage ----------------------------------------------------------------------------------


class UsageQuery(Query):
    """Which periods: a kind, and local dates (end exclusive); default: the recent ones."""

    period: Literal["day", "week", "month", "year", "cycle"] = Field(
        "month",
        description="Calendar periods in the source's timezone; `cycle`: billing "
        "cycles starting on the source's cycle day.",
    )
    start: Day | None = Field(None, description="First local day wanted (its whole period).")
    end: Day | None = Field(None, description="Local day after the last one wanted.")
    format: Literal["json", "csv"] = Field("json", description="`csv` downloads a table.")


class CostOut(Response):
    """What a period cost: usage × unit prices, standing charges, and their sum."""

    energy: Money
    standing: Money
    total: Money


class SuspectOut(Response):
    """A reading below the previous one, left out of usage until fixed or confirmed."""

    reading_id: uuid.UUID | None
    timestamp: datetime
    value: float
    previous_timestamp: datetime
    previous_value: float


class MeterPeriodOut(Response):
    """One metric's usage over one period.

    `usage` (and `cost`) only when readings cover the whole period (`complete`); the measured
    part of an incomplete period is in `measured_*`. `estimated`: an end of the period lies in
    a gap between readings longer than the source's gap setting, more than a fifth of the
    period from the nearest reading.
    """

    label: str = Field(examples=["2026-01"])
    display_label: str = Field(
        examples=["Jan 2026"], description="The label people read: Jan 2026, 24–30 Nov."
    )
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    usage: float | None = Field(examples=[310.0])
    complete: bool
    estimated: bool
    measured_start: datetime | None
    measured_end: datetime | None
    measured_usage: float | None
    cost: CostOut | None
    measured_cost: CostOut | None


class SensorPeriodOut(Response):
    """One metric's minimum, time-weighted average and maximum over one period."""

    label: str = Field(examples=["2026-01-15"])
    display_label: str = Field(
        examples=["Thu 15 Jan"], description="The label people read: Thu 15 Jan, 24–30 Nov."
    )
    start: datetime
    end: datetime
    first_day: date
    last_day: date
    minimum: float | None
    average: float | None
    maximum: float | None
    count: int = Field(description="Readings inside the period.")
    complete: bool
    estimated: bool


class MeterMetricOut(Response):
    """A meter metric's usage per period, and its suspect readings."""

    unit: str
    first_reading: datetime | None
    last_reading: datetime | None
    periods: list[MeterPeriodOut]
    suspects: list[SuspectOut]


class SensorMetricOut(Response):
    """A sensor metric's statistics per period."""

    unit: str
    periods: list[SensorPeriodOut]


class UsageOut(Response):
    """A source's usage (meters) or statistics (sensors) per period, per metric."""

    data_source_id: int
    kind: Literal["meter", "sensor"]
    period: Literal["day", "week", "month", "year", "cycle"]
    timezone: str = Field(examples=["Europe/Berlin"])
    currency: str = Field(examples=["EUR"])
    start: date = Field(description="First local day of the first period.")
    end: date = Field(description="Local day after the last period.")
    metrics: dict[str, MeterMetricOut | SensorMetricOut]
    period_costs: list[Money | None] = Field(
        description="Per period, the total cost over the metrics with tariffs (null: unknown "
        "or incomplete); empty without tariffs."
    )


class ValueQuery(Query):
    """The instant to estimate the meter at."""

    at: Timestamp = Field(description="Without an offset, in the user's timezone.")


class MetricValueOut(Response):
    """A metric's value at an instant."""

    value: float | None = Field(description="As the meter then in place showed it.")
    estimated: bool = Field(description="Interpolated between readings.")
    gap_seconds: float | None = Field(description="Time between the readings it came from.")


class ValueOut(Response):
    """Each metric's value at one instant (null outside the readings)."""

    at: datetime
    values: dict[str, MetricValueOut]


# ---- Tariffs --------------------------------------------------------------------------------


class TariffOut(Response):
    """A price of one metric, in force from local midnight of `effective_from`."""

    id: int
    data_source_id: int
    metric: str = Field(examples=["import"])
    effective_from: date
    unit_price: str = Field(description="Per unit of the metric.", examples=["0.3412"])
    standing_charge: str = Field(description="Per day.", examples=["0.45"])
    currency: str = Field(examples=["EUR"])
    created_at: datetime
    updated_at: datetime


class TariffIn(Request):
    """A new price (or all of a price's fields, for PUT)."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "data_source_id", "currency", "created_at", "updated_at"}
    )

    metric: Text = Field(max_length=50, examples=["import"])
    effective_from: Day
    unit_price: Price
    standing_charge: Price = Decimal(0)


class TariffPatch(Request):
    """Changes to a price; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = TariffIn.read_only

    metric: Text | None = Field(None, max_length=50)
    effective_from: Day | None = None
    unit_price: Price | None = None
    standing_charge: Price | None = None


class TariffList(RootModel[list[TariffOut]]):
    """A source's prices, by metric, oldest first."""


# ---- Meter swaps ----------------------------------------------------------------------------


class SwapOut(Response):
    """A meter replaced: usage continues from the old meter's final value, without a spike."""

    id: int
    data_source_id: int
    at: datetime
    old_final: dict[str, float] = Field(examples=[{"import": 10700.0}])
    new_start: dict[str, float] = Field(examples=[{"import": 0.0}])
    rollover_at: dict[str, float] | None = Field(
        description="The new meter's register sizes, where they differ."
    )
    note: str | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class SwapIn(Request):
    """A meter swap (or all of its fields, for PUT)."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "data_source_id", "created_by_id", "created_at", "updated_at"}
    )

    at: Timestamp
    old_final: dict[str, Number] = Field(examples=[{"import": 10700.0}])
    new_start: dict[str, Number] = Field(examples=[{"import": 0.0}])
    rollover_at: dict[str, Number] | None = None
    note: Text | None = Field(None, max_length=500)


class SwapPatch(Request):
    """Changes to a swap; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = SwapIn.read_only

    at: Timestamp | None = None
    old_final: dict[str, Number] | None = None
    new_start: dict[str, Number] | None = None
    rollover_at: dict[str, Number] | None = None
    note: Text | None = Field(None, max_length=500)


class SwapList(RootModel[list[SwapOut]]):
    """A source's meter swaps, oldest first."""


# ---- Settings -------------------------------------------------------------------------------


class UsageSettingsOut(Response):
    """How a source's usage is counted and billed."""

    rollover_at: dict[str, float] = Field(
        description="Register size per metric where it wraps to 0 (100000 for 99999).",
        examples=[{"import": 100000.0}],
    )
    cycle_day: int = Field(ge=1, le=31, description="Day of the month billing cycles start.")
    monthly_advance: str | None = Field(examples=["85.00"])
    billing_year_start: date | None
    max_gap_hours: int = Field(description="Longer gaps make interpolated usage `estimated`.")
    currency: str


class UsageSettingsIn(Request):
    """Changes to the settings; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = frozenset({"currency"})

    rollover_at: dict[str, Number] | None = None
    cycle_day: Annotated[int, Field(strict=True, ge=1, le=31)] | None = None
    monthly_advance: Price | None = None
    billing_year_start: Day | None = None
    max_gap_hours: Annotated[int, Field(strict=True, ge=1, le=8784)] | None = None
