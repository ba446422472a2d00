"""Schemas of the sync snapshot (`GET /api/sync/latest`)."""

from __future__ import annotations

from pydantic import Field

from homelog.api.schemas import ReadingOut, Response, SourceOut


class SnapshotOut(Response):
    """Every source the caller may see with its newest reading, and where the feed goes on."""

    sources: list[SourceOut] = Field(description="By name, each with the caller's role.")
    readings: list[ReadingOut] = Field(
        description="The newest reading of each source that has one."
    )
    next_cursor: str = Field(
        description="Pass as `since` to `/api/sync/changes` for what changes after this.",
        examples=["1042"],
    )
