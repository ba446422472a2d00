"""Routes: the JSON API (the contract: docs/api.md), gathered on one blueprint.

Each module registers its routes on `bp` (homelog/api/core.py) when imported.
"""

from __future__ import annotations

from homelog.api import (  # noqa: F401
    auth,
    homes,
    openapi,
    readings,
    reminders,
    snapshot,
    sources,
    sync,
    transfer,
    usage,
    users,
)
from homelog.api.core import bp

__all__ = ["bp"]
