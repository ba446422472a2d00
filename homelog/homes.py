"""Homes and the people they are shared with.

A home has an owner, a name and a timezone; the owner's sources may belong to one, and then
their days, weeks and months follow the home's timezone (homelog.usage_db.inputs.source_zone).
The owner invites people by email address as a viewer (sees everything in it) or an editor
(also adds, edits and deletes readings); nothing is shared until the invitee accepts. An
invitation is addressed to the email, not to an account, and the owner gets the same answer
whatever the address: inviting does not tell which addresses have accounts here. Only the
owner changes the home, its sources and its members; removing a member ends their access at
once (every request checks).

A home is the model homelog.models.Home; its table, the column that points at it and the
API's field keep the older name `locations` / `location_id`.

Free of request objects; bad input raises `homelog.errors.ValidationFailed` keyed by field
("name", "timezone", "email", "role", "sources").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from homelog import accounts, timeutil
from homelog.datasources import has_control_characters
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, _l
from homelog.models import (
    ROLES,
    DataSource,
    Home,
    HomeInvitation,
    HomeMember,
    User,
    parse_id,
)

MAX_NAME_LENGTH = 100
#: Invitations a home may have waiting at once.
MAX_PENDING_INVITATIONS = 50
ROLE_LABELS = {
    "viewer": _l("Viewer (sees readings and usage)"),
    "editor": _l("Editor (also adds and edits readings)"),
}


def visible_homes(user: User) -> list[Home]:
    """Return the homes user owns or is a member of, own ones first, then by name."""
    shared = select(HomeMember.location_id).where(HomeMember.user_id == user.id)
    homes = db.session.scalars(
        select(Home)
        .where(or_(Home.owner_id == user.id, Home.id.in_(shared)))
        .order_by(Home.owner_id != user.id, func.lower(Home.name), Home.id)
    )
    return list(homes)


def get_home_for(user: User, location_id: object) -> Home | None:
    """Return the home with location_id if user owns it or is a member, else None."""
    wanted = parse_id(location_id)
    if wanted is None:
        return None
    return next((home for home in visible_homes(user) if home.id == wanted), None)


def role_in(user: User, home: Home) -> str | None:
    """Return user's role in home: "owner", "editor", "viewer", or None."""
    if home.owner_id == user.id:
        return "owner"
    return db.session.scalar(
        select(HomeMember.role).where(
            HomeMember.location_id == home.id, HomeMember.user_id == user.id
        )
    )


def members_of(home: Home) -> list[HomeMember]:
    """Return home's members, by name."""
    return list(
        db.session.scalars(
            select(HomeMember)
            .join(User, User.id == HomeMember.user_id)
            .where(HomeMember.location_id == home.id)
            .order_by(func.lower(User.name), func.lower(User.email))
        )
    )


def sources_in(home: Home) -> list[DataSource]:
    """Return the sources in home, by name."""
    return list(
        db.session.scalars(
            select(DataSource)
            .where(DataSource.location_id == home.id)
            .order_by(func.lower(DataSource.name), DataSource.id)
        )
    )


def clean_home(name: object, timezone: object) -> tuple[str, str]:
    """Return a home's (name, timezone) checked as typed in.

    Raises:
        ValidationFailed: keys "name", "timezone".
    """
    errors: dict[str, list[str]] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = [_("Enter a name, like “Home” or “Cabin”.")]
    elif len(clean_name) > MAX_NAME_LENGTH:
        errors["name"] = [_("Use at most %(count)s characters.", count=MAX_NAME_LENGTH)]
    elif has_control_characters(clean_name):
        errors["name"] = [_("Use letters, digits and punctuation only.")]
    zone = timezone.strip() if isinstance(timezone, str) else ""
    if not timeutil.is_valid_timezone(zone):
        errors["timezone"] = [_("Choose a timezone from the list, like Europe/Berlin.")]
    if errors:
        raise ValidationFailed(errors)
    return clean_name, zone


def _assign(owner: User, home: Home, source_ids: Iterable[int]) -> None:
    """Put exactly the owner's sources source_ids in home (others in it leave it)."""
    wanted = set(source_ids)
    own = db.session.scalars(select(DataSource).where(DataSource.owner_id == owner.id))
    found = set()
    for source in own:
        if source.id in wanted:
            found.add(source.id)
            if source.location_id != home.id:
                source.location_id = home.id
        elif source.location_id == home.id:
            source.location_id = None
    if wanted - found:
        raise ValidationFailed({"sources": [_("Choose among your own sources.")]})


def create_home(owner: User, name: str, timezone: str, source_ids: Sequence[int] = ()) -> Home:
    """Create owner's home with the given sources in it, and commit."""
    clean_name, zone = clean_home(name, timezone)
    home = Home(owner_id=owner.id, name=clean_name, timezone=zone)
    db.session.add(home)
    db.session.flush()
    _assign(owner, home, source_ids)
    db.session.commit()
    return home


def update_home(
    home: Home, name: str, timezone: str, source_ids: Sequence[int] | None = None
) -> Home:
    """Change a home (and which of its owner's sources are in it), and commit."""
    home.name, home.timezone = clean_home(name, timezone)
    if source_ids is not None:
        _assign(db.session.get(User, home.owner_id), home, source_ids)
    db.session.commit()
    return home


def delete_home(home: Home) -> None:
    """Delete a home and commit; its sources stay (without a home), its members lose access."""
    for source in sources_in(home):
        source.location_id = None  # recorded in the change feed, unlike ON DELETE SET NULL
    db.session.delete(home)
    db.session.commit()


def invite(home: Home, email: str, role: str, invited_by: User | None = None) -> HomeInvitation:
    """Invite whoever signs in with email to home as role, and commit.

    The answer does not depend on whether an account has that address. Inviting an address
    again changes the waiting invitation's role.

    Raises:
        ValidationFailed: not an email address, the owner's own, already a member, too many
            invitations waiting, or a role other than viewer or editor.
    """
    if role not in ROLES:
        raise ValidationFailed({"role": [_("Choose viewer or editor.")]})
    address = accounts.normalize_email(email or "")
    problem = accounts.email_problem(address)
    if problem:
        raise ValidationFailed({"email": [problem]})
    owner = db.session.get(User, home.owner_id)
    if owner is not None and accounts.normalize_email(owner.email) == address:
        raise ValidationFailed({"email": [_("That is you: you own this home.")]})
    member = db.session.scalar(
        select(User)
        .join(HomeMember, HomeMember.user_id == User.id)
        .where(HomeMember.location_id == home.id, func.lower(User.email) == address)
    )
    if member is not None:
        raise ValidationFailed(
            {"email": [_("%(name)s is already a member.", name=member.display_name)]}
        )
    invitation = db.session.scalar(
        select(HomeInvitation).where(
            HomeInvitation.location_id == home.id, HomeInvitation.email == address
        )
    )
    if invitation is None:
        waiting = db.session.scalar(
            select(func.count())
            .select_from(HomeInvitation)
            .where(HomeInvitation.location_id == home.id)
        )
        if waiting >= MAX_PENDING_INVITATIONS:
            raise ValidationFailed(
                {
                    "email": [
                        _(
                            "%(count)s invitations are waiting already: withdraw some first.",
                            count=MAX_PENDING_INVITATIONS,
                        )
                    ]
                }
            )
        invitation = HomeInvitation(location_id=home.id, email=address)
        db.session.add(invitation)
    invitation.role = role
    invitation.invited_by_id = invited_by.id if invited_by is not None else home.owner_id
    try:
        db.session.commit()
    except IntegrityError:  # the same address invited twice at once: the other one stands
        db.session.rollback()
        return db.session.scalars(
            select(HomeInvitation).where(
                HomeInvitation.location_id == home.id, HomeInvitation.email == address
            )
        ).one()
    return invitation


def pending_invitations(home: Home) -> list[HomeInvitation]:
    """Return the invitations to home not yet accepted or declined, oldest first."""
    return list(
        db.session.scalars(
            select(HomeInvitation)
            .where(HomeInvitation.location_id == home.id)
            .order_by(HomeInvitation.created_at, HomeInvitation.id)
        )
    )


def get_pending_invitation(home: Home, invitation_id: object) -> HomeInvitation | None:
    """Return home's waiting invitation with invitation_id (for its owner), or None."""
    wanted = parse_id(invitation_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(HomeInvitation).where(
            HomeInvitation.id == wanted, HomeInvitation.location_id == home.id
        )
    )


def _addressed_to(user: User):
    return select(HomeInvitation).where(
        HomeInvitation.email == accounts.normalize_email(user.email)
    )


def invitations_for(user: User) -> list[HomeInvitation]:
    """Return the invitations waiting for user (addressed to their email), oldest first."""
    if not user.is_active:
        return []
    return list(
        db.session.scalars(
            _addressed_to(user).order_by(HomeInvitation.created_at, HomeInvitation.id)
        )
    )


def get_invitation_for(user: User, invitation_id: object) -> HomeInvitation | None:
    """Return the invitation with invitation_id if it waits for user, else None."""
    wanted = parse_id(invitation_id)
    if wanted is None or not user.is_active:
        return None
    return db.session.scalar(_addressed_to(user).where(HomeInvitation.id == wanted))


def accept_invitation(user: User, invitation: HomeInvitation) -> HomeMember:
    """Make user a member of the invitation's home in its role; the invitation goes. Commit.

    Raises:
        ValidationFailed: user owns that home (their email changed since).
    """
    home = invitation.home
    if home.owner_id == user.id:
        db.session.delete(invitation)
        db.session.commit()
        message = _("You own this home already.")
        raise ValidationFailed({"invitation": [message]}, message)
    member = db.session.scalar(
        select(HomeMember).where(HomeMember.location_id == home.id, HomeMember.user_id == user.id)
    )
    if member is None:
        member = HomeMember(location_id=home.id, user_id=user.id, role=invitation.role)
        db.session.add(member)
    else:
        member.role = invitation.role
    db.session.delete(invitation)
    try:
        db.session.commit()
    except IntegrityError:  # accepted twice at once: the first one made the member
        db.session.rollback()
        member = db.session.scalars(
            select(HomeMember).where(
                HomeMember.location_id == home.id, HomeMember.user_id == user.id
            )
        ).one()
    return member


def drop_invitation(invitation: HomeInvitation) -> None:
    """Delete an invitation (declined by its invitee or withdrawn by the owner), and commit."""
    db.session.delete(invitation)
    db.session.commit()


def get_member(home: Home, member_id: object) -> HomeMember | None:
    """Return home's member with member_id, or None."""
    wanted = parse_id(member_id)
    if wanted is None:
        return None
    return db.session.scalar(
        select(HomeMember).where(HomeMember.id == wanted, HomeMember.location_id == home.id)
    )


def change_role(member: HomeMember, role: str) -> HomeMember:
    """Give member another role and commit."""
    if role not in ROLES:
        raise ValidationFailed({"role": [_("Choose viewer or editor.")]})
    member.role = role
    db.session.commit()
    return member


def remove_member(member: HomeMember) -> None:
    """End member's access to the home at once, and commit."""
    db.session.delete(member)
    db.session.commit()


def leave_home(user: User, home: Home) -> None:
    """Let a member leave a home shared with them, and commit."""
    member = db.session.scalar(
        select(HomeMember).where(HomeMember.location_id == home.id, HomeMember.user_id == user.id)
    )
    if member is not None:
        remove_member(member)


@dataclass
class Group:
    """Sources of one home on the dashboard (home None: sources without a home)."""

    home: Home | None
    role: str
    owner: User | None = None
    sources: list[DataSource] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        """Return True for a home someone else shares with the user."""
        return self.role != "owner"


def group_sources(user: User, sources: Sequence[DataSource]) -> list[Group]:
    """Group the sources user sees by home: own homes, then shared ones, then no home."""
    groups: dict[int | None, Group] = {}
    for home in visible_homes(user):
        role = role_in(user, home) or "viewer"
        groups[home.id] = Group(home, role, db.session.get(User, home.owner_id))
    loose = Group(None, "owner")
    for source in sources:
        group = groups.get(source.location_id)
        (group or loose).sources.append(source)
    ordered = [group for group in groups.values()]
    if loose.sources or not ordered:
        ordered.append(loose)
    return ordered
