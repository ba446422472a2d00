"""Small helpers for answering HTMX requests: fragment or full page, redirects, triggers."""

from __future__ import annotations

from flask import Response, request


def is_fragment_request() -> bool:
    """Return True for a real HTMX request that wants a fragment (not boosted, not a restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def add_vary(response: Response) -> Response:
    """Mark a response as depending on the HTMX headers the server branches on."""
    response.vary.add("HX-Request")
    response.vary.add("HX-Boosted")
    response.vary.add("HX-History-Restore-Request")
    return response


def hx_redirect(response: Response, url: str) -> Response:
    """Ask htmx to do a full-page navigation to url."""
    response.headers["HX-Redirect"] = url
    return response


def trigger(response: Response, *events: str) -> Response:
    """Add HX-Trigger events (comma-separated) so other panels refresh themselves."""
    existing = response.headers.get("HX-Trigger")
    names = [e for e in (existing.split(", ") if existing else []) if e] + list(events)
    response.headers["HX-Trigger"] = ", ".join(dict.fromkeys(names))
    return response
