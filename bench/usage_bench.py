"""Time monthly usage and cost over 10 years of hourly readings (87,600), in pure Python.

Run: .venv/bin/python bench/usage_bench.py. Only the computation is timed (period bounds,
the streaming pass, usage and costs per month): the readings are built first, as a database
cursor would hand them over.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homelog.usage import (  # noqa: E402
    MeterConfig,
    Tariff,
    TariffPlan,
    meter_usage,
    periods_between,
)

TZ = "Europe/Berlin"
HOURS = 87_600


def readings() -> list[tuple[datetime, dict[str, float]]]:
    """Return 10 years of hourly readings of a register that wraps at 100000."""
    start = datetime(2016, 1, 1, tzinfo=UTC)
    rows, value = [], 99_000.0
    for hour in range(HOURS):
        value = (value + 0.4 + (hour % 24) * 0.05) % 100_000
        rows.append((start + timedelta(hours=hour), {"import": round(value, 3)}))
    return rows


def main() -> None:
    """Print the median and best time of a monthly usage-and-cost run."""
    rows = readings()
    plan = TariffPlan(
        [
            Tariff(date(2015, 1, 1), Decimal("0.28"), Decimal("0.40")),
            Tariff(date(2019, 7, 1), Decimal("0.31"), Decimal("0.45")),
            Tariff(date(2022, 10, 17), Decimal("0.42"), Decimal("0.50")),
        ],
        TZ,
    )
    config = MeterConfig(rollover_at={"import": 100_000})
    times = []
    for _ in range(9):
        began = time.perf_counter()
        periods = periods_between("month", rows[0][0], rows[-1][0], TZ)
        report = meter_usage(iter(rows), periods, ["import"], config, {"import": plan})
        times.append(time.perf_counter() - began)
    usage = report.metrics["import"]
    total = sum(p.usage for p in usage.periods if p.usage is not None)
    cost = sum(p.cost.total for p in usage.periods if p.cost is not None)
    print(
        f"{len(rows):,} hourly readings, {len(usage.periods)} months, "
        f"{total:,.1f} kWh, {cost:,.2f} in costs, {len(usage.suspects)} suspect"
    )
    print(
        f"monthly usage + cost, one pass: median {statistics.median(times) * 1000:.1f} ms, "
        f"best {min(times) * 1000:.1f} ms (of {len(times)} runs)"
    )
    times = []
    for _ in range(5):
        began = time.perf_counter()
        days = periods_between("day", rows[0][0], rows[-1][0], TZ)
        meter_usage(iter(rows), days, ["import"], config, {"import": plan})
        times.append(time.perf_counter() - began)
    print(
        f"daily usage + cost ({len(days):,} days): median {statistics.median(times) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
