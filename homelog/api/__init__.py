"""The JSON API used by the mobile app: token auth, sources, readings, offline sync, OpenAPI."""

# The change feed numbers every write, whichever face makes it: register that hook with the API.
from homelog import sync as _sync  # noqa: F401
