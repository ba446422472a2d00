"""Schemas of the homes API: homes, their members and invitations (homelog/api/homes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, RootModel

from homelog.api.schemas import Request, Response, StrictId, Text

Role = Literal["viewer", "editor"]


class HomeOut(Response):
    """A home: the caller's own, or one shared with them."""

    id: int
    name: str = Field(examples=["Farmhouse"])
    timezone: str = Field(examples=["Europe/Vienna"])
    owner_id: int
    owner_name: str
    role: Literal["owner", "editor", "viewer"] = Field(description="The caller's role.")
    source_ids: list[int] = Field(description="The sources in this home.")
    created_at: datetime


class HomeList(RootModel[list[HomeOut]]):
    """The caller's homes, then those shared with them."""


class HomeCreate(Request):
    """A new home."""

    name: Text = Field(max_length=200, examples=["Farmhouse"])
    timezone: Text = Field(max_length=64, examples=["Europe/Vienna"])
    source_ids: list[StrictId] = Field(
        [], max_length=1000, description="Which of the caller's sources are in it."
    )


class HomeUpdate(Request):
    """Changes to a home; fields left out keep their value."""

    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "owner_id", "owner_name", "role", "created_at"}
    )

    name: Text | None = Field(None, max_length=200)
    timezone: Text | None = Field(None, max_length=64)
    source_ids: list[StrictId] | None = Field(
        None, max_length=1000, description="The complete list of the owner's sources in it."
    )


class MemberOut(Response):
    """Someone a home is shared with."""

    id: int
    user_id: int
    name: str
    email: str
    role: Role
    created_at: datetime


class MemberList(RootModel[list[MemberOut]]):
    """A home's members, by name."""


class MemberUpdate(Request):
    """A member's new role."""

    role: Role


class InvitationIn(Request):
    """Invite whoever signs in with this email address."""

    email: Text = Field(max_length=254, examples=["sam@example.com"])
    role: Role = "viewer"


class InvitationOut(Response):
    """An invitation waiting for an answer: for the home's owner."""

    id: int
    home_id: int
    email: str
    role: Role
    created_at: datetime


class InvitationList(RootModel[list[InvitationOut]]):
    """A home's invitations waiting for an answer, oldest first."""


class ReceivedInvitationOut(Response):
    """An invitation waiting for the caller's answer."""

    id: int
    home_id: int
    home_name: str
    invited_by_name: str | None
    role: Role
    created_at: datetime


class ReceivedInvitationList(RootModel[list[ReceivedInvitationOut]]):
    """Invitations waiting for the caller, oldest first."""
