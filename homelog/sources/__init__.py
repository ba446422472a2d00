"""Dashboard, sources and their readings in the browser."""

# Usage, prices and meter pages add their routes to the same blueprint.
from homelog.sources import reminder_routes, transfer_routes, usage_routes  # noqa: F401
