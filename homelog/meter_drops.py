"""A meter value below the one before it is saved only once the person confirms it.

A meter's register only counts up, so a drop is a typo or a replaced meter. The pages and
the single-reading API ask before storing one (check_drop raises UnconfirmedDrop); a
confirmed drop is stored with `confirmed` set and usage counts it (homelog/usage/meter.py).
A reading that only becomes a drop later (an earlier one arrives afterwards), a sync batch
of readings taken offline, an import with `accept_lower` and a restore are stored as they
come: usage leaves an unconfirmed drop out as suspect until someone confirms it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from homelog.errors import ValidationFailed
from homelog.i18n import _
from homelog.models import DataSource, Reading
from homelog.readings import format_value, lower_than_previous


class UnconfirmedDrop(ValidationFailed):
    """Values below the reading before, sent without confirmation.

    `lower` maps each such metric to the value before; `errors` says so per value and
    under `confirmed` (the API's 422 body).
    """

    def __init__(self, lower: dict[str, float]):
        errors: dict[str, list[str]] = {
            f"values.{metric}": [
                _(
                    "Lower than the reading before (%(value)s): a meter only counts up.",
                    value=format_value(before),
                )
            ]
            for metric, before in lower.items()
        }
        errors["confirmed"] = [
            _(
                "Check the meter: send the reading again with confirmed true if the value is "
                "right (a typo, or a replaced meter: record the swap first)."
            )
        ]
        super().__init__(errors, _("The value is lower than the reading before; confirm it."))
        self.lower = lower


def check_drop(
    source: DataSource,
    timestamp: datetime,
    values: Mapping[str, float],
    *,
    confirmed: bool,
    reading: Reading | None = None,
) -> bool:
    """Judge a new reading of source (or a change to reading); return whether it is a
    confirmed drop.

    An edit that keeps the time and the values (say, of the note) is not judged again and
    returns reading.confirmed. Sensors never drop. After a recorded meter swap, or where a
    register wraps round, the comparison is readings.lower_than_previous's.

    Raises:
        UnconfirmedDrop: a value is lower than the one before and confirmed is False.
    """
    if reading is not None and (timestamp, dict(values)) == (reading.timestamp, reading.values):
        return bool(reading.confirmed)
    lower = lower_than_previous(
        source, timestamp, values, exclude_id=reading.id if reading is not None else None
    )
    if lower and not confirmed:
        raise UnconfirmedDrop(lower)
    return bool(lower)
