"""API routes: the user's sources (meters and sensors)."""

from __future__ import annotations

from flask import url_for
from werkzeug.exceptions import NotFound

from homelog import access, datasources
from homelog.api.core import (
    AUTH_ERRORS,
    BODY_ERRORS,
    api_user,
    caller,
    dump,
    error_responses,
    next_link,
    operation,
)
from homelog.api.schemas import PageQuery, SourceCreate, SourceList, SourceOut, SourceUpdate
from homelog.extensions import db
from homelog.models import DataSource

TAGS = ("sources",)


def source_out(source, role: str | None) -> dict:
    """Return source (a DataSource or a hot path's SourceRow) as SourceOut data with role."""
    data = {name: getattr(source, name) for name in SourceOut.model_fields if name != "role"}
    data["role"] = role
    return data


def load_source(source_id: int) -> DataSource | None:
    """Return the current user's source with source_id, or None (also when it is not theirs)."""
    return access.request_source(api_user(), source_id)


def source_or_404(source_id: int) -> DataSource:
    """Return the current user's source with source_id; answer 404 when there is none to see.

    A source that exists but is not the user's answers the same: a stranger learns nothing.
    """
    source = load_source(source_id)
    if source is None:
        raise NotFound("No such source.")
    return source


@operation(
    "/sources",
    tags=TAGS,
    query=PageQuery,
    responses={
        200: (SourceList, 'Newest first; `Link: rel="next"` when there are more.'),
        **error_responses(*AUTH_ERRORS, 422),
    },
)
def list_sources(query: PageQuery):
    """List the sources the user may see (their own and those shared with them), newest first."""
    user = api_user()
    select_sources = (
        datasources.visible_sources(user)
        .add_columns(datasources.role_of(user.id))
        .order_by(None)
        .order_by(DataSource.created_at.desc(), DataSource.id.desc())
    )
    rows = db.session.execute(select_sources.limit(query.limit + 1).offset(query.offset)).all()
    headers = {}
    if len(rows) > query.limit:
        headers["Link"] = next_link(
            "api.list_sources", limit=query.limit, offset=query.offset + query.limit
        )
    return (
        dump(SourceList, [source_out(source, role) for source, role in rows[: query.limit]]),
        200,
        headers,
    )


@operation(
    "/sources",
    ["POST"],
    tags=TAGS,
    body=SourceCreate,
    responses={
        201: (SourceOut, "Created; `Location` names it."),
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS),
    },
)
def create_source(body: SourceCreate):
    """Create a source."""
    source = datasources.create_source(
        api_user(), body.name, body.description, body.kind, body.metrics
    )
    return (
        dump(SourceOut, source_out(source, "owner")),
        201,
        {"Location": url_for("api.get_source", source_id=source.id)},
    )


@operation(
    "/sources/<int:source_id>",
    tags=TAGS,
    hot=True,
    responses={
        200: (SourceOut, "The source."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def get_source(source_id: int):
    """Show one source."""
    hot = caller()
    if hot is not None:
        return dump(SourceOut, source_out(hot.source, hot.role))
    source = source_or_404(source_id)
    return dump(SourceOut, source_out(source, datasources.role_for(api_user(), source)))


@operation(
    "/sources/<int:source_id>",
    ["PUT", "PATCH"],
    tags=TAGS,
    body=SourceUpdate,
    responses={
        200: (SourceOut, "The changed source."),
        **error_responses(*AUTH_ERRORS, 404, *BODY_ERRORS),
    },
)
def update_source(source_id: int, body: SourceUpdate):
    """Change a source; fields left out keep their value.

    `metrics` is the complete new list; `renames` moves values of renamed metrics, and
    removing a metric that has values needs `confirm_remove`.
    """
    source = source_or_404(source_id)
    source = datasources.update_source(
        source,
        name=body.name,
        description=body.description,
        kind=body.kind,
        metrics=body.metrics,
        renames=body.renames,
        confirm_remove=body.confirm_remove,
    )
    return dump(SourceOut, source_out(source, "owner"))  # only its owner may change it


@operation(
    "/sources/<int:source_id>",
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted, with its readings."),
        **error_responses(*AUTH_ERRORS, 404),
    },
)
def delete_source(source_id: int):
    """Delete a source and its readings."""
    source = source_or_404(source_id)
    datasources.delete_source(source)
    return "", 204
