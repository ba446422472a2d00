"""Dashboard, sources and their readings in the browser."""

# Usage, prices and meter pages add their routes to the same blueprint.
from homelog.sources import (  # noqa: F401
    meter_routes,
    reminder_routes,
    transfer_routes,
    usage_routes,
)
