"""API routes: homes, the people they are shared with, and invitations.

What the home pages do, for a native app: the same domain functions (homelog.homes) and
the same rules. Someone else's home answers 404; a member asking for an owner's action 403.
"""

from __future__ import annotations

from flask import url_for
from werkzeug.exceptions import Forbidden, NotFound

from homelog import homes
from homelog.api.core import AUTH_ERRORS, BODY_ERRORS, api_user, dump, error_responses, operation
from homelog.api.homes_schemas import (
    HomeCreate,
    HomeList,
    HomeOut,
    HomeUpdate,
    InvitationIn,
    InvitationList,
    InvitationOut,
    MemberList,
    MemberOut,
    MemberUpdate,
    ReceivedInvitationList,
)
from homelog.extensions import db
from homelog.models import Home, HomeInvitation, HomeMember, User

TAGS = ("homes",)
HOME_ERRORS = (*AUTH_ERRORS, 404)


def _home_or_404(home_id: int) -> Home:
    home = homes.get_home_for(api_user(), home_id)
    if home is None:
        raise NotFound("No such home.")
    return home


def _own_home(home_id: int) -> Home:
    home = _home_or_404(home_id)
    if home.owner_id != api_user().id:
        raise Forbidden("Only the owner of this home can do that.")
    return home


def _home_out(home: Home) -> dict:
    owner = db.session.get(User, home.owner_id)
    return {
        "id": home.id,
        "name": home.name,
        "timezone": home.timezone,
        "owner_id": home.owner_id,
        "owner_name": owner.display_name,
        "role": homes.role_in(api_user(), home),
        "source_ids": [source.id for source in homes.sources_in(home)],
        "created_at": home.created_at,
    }


def _member_out(member: HomeMember) -> dict:
    return {
        "id": member.id,
        "user_id": member.user_id,
        "name": member.user.display_name,
        "email": member.user.email,
        "role": member.role,
        "created_at": member.created_at,
    }


def _invitation_out(invitation: HomeInvitation) -> dict:
    return {
        "id": invitation.id,
        "home_id": invitation.location_id,
        "email": invitation.email,
        "role": invitation.role,
        "created_at": invitation.created_at,
    }


@operation(
    "/homes",
    tags=TAGS,
    responses={200: (HomeList, "Own homes first."), **error_responses(*AUTH_ERRORS)},
)
def list_homes():
    """List the homes the user owns or is a member of."""
    return dump(HomeList, [_home_out(home) for home in homes.visible_homes(api_user())])


@operation(
    "/homes",
    ["POST"],
    tags=TAGS,
    body=HomeCreate,
    responses={
        201: (HomeOut, "Created; `Location` names it."),
        **error_responses(*AUTH_ERRORS, *BODY_ERRORS),
    },
)
def create_home(body: HomeCreate):
    """Create a home, with some of the user's sources in it."""
    home = homes.create_home(api_user(), body.name, body.timezone, body.source_ids)
    return (
        dump(HomeOut, _home_out(home)),
        201,
        {"Location": url_for("api.get_home", home_id=home.id)},
    )


@operation(
    "/homes/<int:home_id>",
    tags=TAGS,
    responses={200: (HomeOut, "The home."), **error_responses(*HOME_ERRORS)},
)
def get_home(home_id: int):
    """Show one home."""
    return dump(HomeOut, _home_out(_home_or_404(home_id)))


@operation(
    "/homes/<int:home_id>",
    ["PUT", "PATCH"],
    tags=TAGS,
    body=HomeUpdate,
    responses={
        200: (HomeOut, "The changed home."),
        **error_responses(*HOME_ERRORS, 403, *BODY_ERRORS),
    },
)
def update_home(home_id: int, body: HomeUpdate):
    """Rename a home, change its timezone or its sources (its owner only)."""
    home = _own_home(home_id)
    homes.update_home(
        home,
        body.name if body.name is not None else home.name,
        body.timezone if body.timezone is not None else home.timezone,
        body.source_ids,
    )
    return dump(HomeOut, _home_out(home))


@operation(
    "/homes/<int:home_id>",
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Deleted; its sources stay, without a home."),
        **error_responses(*HOME_ERRORS, 403),
    },
)
def delete_home(home_id: int):
    """Delete a home (its owner only): members lose access, sources are kept."""
    homes.delete_home(_own_home(home_id))
    return "", 204


@operation(
    "/homes/<int:home_id>/members",
    tags=TAGS,
    responses={200: (MemberList, "The members, by name."), **error_responses(*HOME_ERRORS)},
)
def list_members(home_id: int):
    """List the people a home is shared with (the owner is the home's owner_id)."""
    home = _home_or_404(home_id)
    return dump(MemberList, [_member_out(m) for m in homes.members_of(home)])


def _member_or_404(home: Home, member_id: int) -> HomeMember:
    member = homes.get_member(home, member_id)
    if member is None:
        raise NotFound("No such member.")
    return member


@operation(
    "/homes/<int:home_id>/members/<int:member_id>",
    ["PATCH"],
    tags=TAGS,
    body=MemberUpdate,
    responses={200: (MemberOut, "The member."), **error_responses(*HOME_ERRORS, 403, *BODY_ERRORS)},
)
def change_member_role(home_id: int, member_id: int, body: MemberUpdate):
    """Make a member a viewer or an editor (the owner only); it takes effect at once."""
    member = _member_or_404(_own_home(home_id), member_id)
    return dump(MemberOut, _member_out(homes.change_role(member, body.role)))


@operation(
    "/homes/<int:home_id>/members/<int:member_id>",
    ["DELETE"],
    tags=TAGS,
    responses={
        204: (None, "Removed: their access ends at once."),
        **error_responses(*HOME_ERRORS, 403),
    },
)
def remove_member(home_id: int, member_id: int):
    """Remove a member (the owner only)."""
    homes.remove_member(_member_or_404(_own_home(home_id), member_id))
    return "", 204


@operation(
    "/homes/<int:home_id>/leave",
    ["POST"],
    tags=TAGS,
    responses={
        204: (None, "Left: the home's sources are no longer shared with you."),
        **error_responses(*HOME_ERRORS, 403),
    },
)
def leave_home(home_id: int):
    """Leave a home someone shares with you."""
    home = _home_or_404(home_id)
    if home.owner_id == api_user().id:
        raise Forbidden("You own this home: delete it instead.")
    homes.leave_home(api_user(), home)
    return "", 204


@operation(
    "/homes/<int:home_id>/invitations",
    tags=TAGS,
    responses={
        200: (InvitationList, "Waiting invitations, oldest first."),
        **error_responses(*HOME_ERRORS, 403),
    },
)
def list_home_invitations(home_id: int):
    """List a home's invitations still waiting for an answer (its owner only)."""
    home = _own_home(home_id)
    return dump(InvitationList, [_invitation_out(i) for i in homes.pending_invitations(home)])


@operation(
    "/homes/<int:home_id>/invitations",
    ["POST"],
    tags=TAGS,
    body=InvitationIn,
    responses={
        201: (
            InvitationOut,
            "The invitation waits for its answer (whether or not the address has an account).",
        ),
        **error_responses(*HOME_ERRORS, 403, *BODY_ERRORS),
    },
)
def invite(home_id: int, body: InvitationIn):
    """Invite someone by email as viewer or editor (the owner only); they accept or decline.

    The answer is the same whether or not an account uses the address; inviting an address
    again changes the waiting invitation's role.
    """
    home = _own_home(home_id)
    invitation = homes.invite(home, body.email, body.role, api_user())
    return dump(InvitationOut, _invitation_out(invitation)), 201


@operation(
    "/homes/<int:home_id>/invitations/<int:invitation_id>",
    ["DELETE"],
    tags=TAGS,
    responses={204: (None, "Withdrawn."), **error_responses(*HOME_ERRORS, 403)},
)
def withdraw_invitation(home_id: int, invitation_id: int):
    """Withdraw an invitation still waiting (the owner only)."""
    invitation = homes.get_pending_invitation(_own_home(home_id), invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.")
    homes.drop_invitation(invitation)
    return "", 204


def _received_out(invitation: HomeInvitation) -> dict:
    return {
        "id": invitation.id,
        "home_id": invitation.location_id,
        "home_name": invitation.home.name,
        "invited_by_name": invitation.invited_by.display_name if invitation.invited_by else None,
        "role": invitation.role,
        "created_at": invitation.created_at,
    }


@operation(
    "/invitations",
    tags=TAGS,
    responses={200: (ReceivedInvitationList, "Oldest first."), **error_responses(*AUTH_ERRORS)},
)
def list_invitations():
    """List the invitations waiting for the user's answer (sent to their email address)."""
    return dump(
        ReceivedInvitationList, [_received_out(i) for i in homes.invitations_for(api_user())]
    )


def _received_or_404(invitation_id: int) -> HomeInvitation:
    invitation = homes.get_invitation_for(api_user(), invitation_id)
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


@operation(
    "/invitations/<int:invitation_id>/accept",
    ["POST"],
    tags=TAGS,
    responses={
        200: (HomeOut, "The home, now shared with you."),
        **error_responses(*AUTH_ERRORS, 404, 422),
    },
)
def accept_invitation(invitation_id: int):
    """Accept an invitation: the home's sources appear in /api/sources and the change feed."""
    member = homes.accept_invitation(api_user(), _received_or_404(invitation_id))
    return dump(HomeOut, _home_out(member.home))


@operation(
    "/invitations/<int:invitation_id>/decline",
    ["POST"],
    tags=TAGS,
    responses={204: (None, "Declined."), **error_responses(*AUTH_ERRORS, 404)},
)
def decline_invitation(invitation_id: int):
    """Decline an invitation."""
    homes.drop_invitation(_received_or_404(invitation_id))
    return "", 204
