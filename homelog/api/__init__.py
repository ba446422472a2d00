"""The JSON API used by the mobile app: token auth, sources, readings, offline sync, OpenAPI."""
