"""Schemas of the sync snapshot (`GET /api/sync/latest`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from homelog.api.schemas import ReadingOut, Response, SourceOut


class SourceWithRoleOut(SourceOut):
    """A source and what the caller may do with it."""

    role: Literal["owner", "editor", "viewer"] = Field(
        description="owner and editor may record readings; a viewer may only read them."
    )


class SnapshotOut(Response):
    """Every source the caller may see with its newest reading, and where the feed goes on."""

    sources: list[SourceWithRoleOut] = Field(description="By name.")
    readings: list[ReadingOut] = Field(
        description="The newest reading of each source that has one."
    )
    next_cursor: str = Field(
        description="Pass as `since` to `/api/sync/changes` for what changes after this.",
        examples=["1042"],
    )
