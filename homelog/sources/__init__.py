"""Dashboard, sources and their readings in the browser."""
