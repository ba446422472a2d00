"""What every page view needs besides its domain call: load the user's source, answer htmx.

- `source_or_404(source_id)`: the current user's source (their own or one shared with them),
  else 404, so a stranger learns nothing. The access check (homelog/access.py) loaded the
  same row before the view ran; this reuses it.
- `fragment(template, ...)`: a fragment for htmx, with the flashed messages swapped into
  `#flashes` out of band and, after a write, `HX-Trigger` events (`READINGS_CHANGED`) so the
  other panels refresh themselves.
- `redirect(url)`: post-redirect-get for a plain request; under htmx a full navigation
  (`HX-Redirect`) instead of a page swapped into a fragment's place.

Whether a request wants a fragment at all is homelog.htmx.is_fragment_request.
"""

from __future__ import annotations

import flask
from flask import Response, abort, make_response, render_template
from flask_login import current_user

from homelog import access, htmx
from homelog.models import DataSource

#: The event after a write to readings: the chart, the usage summary and the cards reload.
READINGS_CHANGED = "readings-changed"


def source_or_404(source_id: object) -> DataSource:
    """Return the current user's source with source_id; 404 when it is not theirs to see."""
    source = access.request_source(current_user, source_id)
    if source is None:
        abort(404)
    return source


def fragment(
    template: str,
    status: int = 200,
    *,
    events: tuple[str, ...] = (),
    headers: dict | None = None,
    **context,
) -> Response:
    """Render template as an htmx answer, with any flashed messages and events.

    events: HX-Trigger names (e.g. READINGS_CHANGED); headers: more headers, such as
    HX-Retarget and HX-Reswap when the answer goes somewhere else than the request's target.
    """
    body = render_template(template, **context) + render_template("_flash_oob.html")
    response = make_response(body, status)
    if events:
        htmx.trigger(response, *events)
    response.headers.update(headers or {})
    return response


def redirect(url: str) -> Response:
    """Redirect a plain request to url; ask htmx for a full navigation there instead."""
    if htmx.is_fragment_request():
        return htmx.hx_redirect(make_response("", 200), url)
    return flask.redirect(url)
