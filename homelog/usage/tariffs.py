"""Tariffs with effective dates, and the cost of usage over any interval.

A tariff is in force from local midnight of its effective date (in the plan's timezone) until
the next tariff's effective date. Cost over [a, b) is

    Σ over the parts of [a, b) split at tariff changes: usage in the part × its unit price
  + Σ over the local calendar days touched: standing charge of that day × the share of the day
    inside [a, b)   (a whole day counts 1, so a calendar period pays one charge per day)

so a cost is additive over any split of an interval and a new tariff never changes the cost of
anything before its effective date. Money is Decimal throughout; round only to show it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from homelog.usage.periods import as_zone, local_midnight

ZERO = Decimal(0)
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Tariff:
    """Prices in force from local midnight of `effective_from` until the next tariff."""

    effective_from: date
    unit_price: Decimal
    standing_charge: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Cost:
    """What an interval cost: usage × unit prices, plus standing charges."""

    energy: Decimal
    standing: Decimal

    @property
    def total(self) -> Decimal:
        """Return energy plus standing charges."""
        return self.energy + self.standing


def money(amount: Decimal, places: int = 2) -> Decimal:
    """Round an amount for display (half up), only at presentation time."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_decimal(value: float | int | Decimal) -> Decimal:
    """Return a float as the Decimal of its shortest repr (0.1 → Decimal('0.1'))."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


class TariffPlan:
    """The tariffs of one metric, in the timezone their effective dates are read in."""

    def __init__(self, tariffs: Iterable[Tariff], tz: ZoneInfo | str):
        self.tz = as_zone(tz)
        self.tariffs: list[Tariff] = sorted(tariffs, key=lambda t: t.effective_from)
        days = [t.effective_from for t in self.tariffs]
        if len(set(days)) != len(days):
            raise ValueError("two tariffs take effect on the same day")
        self.starts: list[float] = [local_midnight(d, self.tz).timestamp() for d in days]

    def change_instants(self) -> list[float]:
        """Return the POSIX instants at which a tariff takes effect, in order."""
        return list(self.starts)

    def _index(self, instant: float) -> int:
        return bisect_right(self.starts, instant) - 1

    def tariff_at(self, instant: datetime) -> Tariff | None:
        """Return the tariff in force at instant, None before the first one."""
        index = self._index(instant.timestamp())
        return self.tariffs[index] if index >= 0 else None

    def day_position(self, instant: float) -> Decimal:
        """Return the local day number of instant plus the elapsed share of that day.

        Its difference over an interval counts local days: exactly 1 for any whole day,
        whether it lasts 23, 24 or 25 hours.
        """
        day = datetime.fromtimestamp(instant, UTC).astimezone(self.tz).date()
        start = local_midnight(day, self.tz).timestamp()
        # Rounding can put an instant just before midnight on the previous day: fix it up.
        if instant < start:
            day -= timedelta(days=1)
            start = local_midnight(day, self.tz).timestamp()
        whole = Decimal((day - _EPOCH).days)
        if instant == start:
            return whole
        end = local_midnight(day + timedelta(days=1), self.tz).timestamp()
        if instant >= end:
            return whole + 1
        return whole + Decimal(instant - start) / Decimal(end - start)

    def _pieces(self, a: float, b: float) -> list[tuple[float, float, Tariff | None]]:
        index = self._index(a)
        pieces = []
        start = a
        while start < b:
            nxt = self.starts[index + 1] if index + 1 < len(self.starts) else b
            end = min(nxt, b)
            pieces.append((start, end, self.tariffs[index] if index >= 0 else None))
            start = end
            index += 1
        return pieces

    def standing(self, a: float, b: float) -> Decimal | None:
        """Return the standing charges over [a, b), None if a part has no tariff."""
        total = ZERO
        for start, end, tariff in self._pieces(a, b):
            if tariff is None:
                return None
            if tariff.standing_charge:
                days = self.day_position(end) - self.day_position(start)
                total += tariff.standing_charge * days
        return total

    def energy(
        self, a: float, b: float, value_at: Callable[[float], float | None]
    ) -> Decimal | None:
        """Return Σ usage × unit price over [a, b); value_at gives the register at an instant.

        None when a part has no tariff or a register value is unknown.
        """
        total = ZERO
        for start, end, tariff in self._pieces(a, b):
            if tariff is None:
                return None
            first, last = value_at(start), value_at(end)
            if first is None or last is None:
                return None
            total += to_decimal(last - first) * tariff.unit_price
        return total

    def cost(self, a: float, b: float, value_at: Callable[[float], float | None]) -> Cost | None:
        """Return the cost of [a, b), None where a tariff or a register value is missing."""
        if b <= a:
            return None
        energy = self.energy(a, b, value_at)
        if energy is None:
            return None
        standing = self.standing(a, b)
        return None if standing is None else Cost(energy, standing)
