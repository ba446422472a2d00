"""Routes: homes (create, edit, delete, sources in them) and sharing them with others.

Someone else's home is a 404, like one that does not exist; a member who may see a home but
not manage it gets 403 on the owner's pages. Plain forms with post-redirect-get.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from homelog import homes, timeutil
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.home_pages.forms import HomeForm, InviteForm, RoleForm, role_name
from homelog.i18n import _
from homelog.models import DataSource, Home, User

bp = Blueprint("homes", __name__)
# Pages show a role ("viewer", "editor", "owner") by its name in the reader's language.
bp.add_app_template_global(role_name, "role_name")


def _home_or_404(location_id: int) -> Home:
    home = homes.get_home_for(current_user, location_id)
    if home is None:
        abort(404)
    return home


def _own_home_or_403(location_id: int) -> Home:
    home = _home_or_404(location_id)
    if home.owner_id != current_user.id:
        abort(403, _("Only the owner of this home can do that."))
    return home


def _own_sources() -> list[DataSource]:
    return list(
        db.session.scalars(
            select(DataSource)
            .where(DataSource.owner_id == current_user.id)
            .order_by(DataSource.name)
        )
    )


def _form_page(form: HomeForm, home: Home | None, status: int = 200):
    return render_template(
        "homes/form.html", form=form, home=home, timezones=timeutil.timezone_names()
    ), status


@bp.route("/homes")
@login_required
def index():
    """List the user's homes and the homes shared with them."""
    visible = homes.visible_homes(current_user)
    rows = [
        (
            home,
            homes.role_in(current_user, home),
            len(homes.sources_in(home)),
            len(homes.members_of(home)),
        )
        for home in visible
    ]
    return render_template("homes/index.html", rows=rows)


@bp.route("/homes/new", methods=["GET", "POST"])
@login_required
def create():
    """Create a home: name, timezone and which sources are in it."""
    form = HomeForm()
    form.offer(_own_sources())
    if request.method == "GET":
        form.timezone.data = current_user.timezone
        # "Share…" on a source without a home lands here with that source ticked.
        chosen = request.args.get("source", type=int)
        form.sources.data = (
            [chosen] if chosen in {choice.value for choice in form.sources.choices} else []
        )
        return _form_page(form, None)
    if form.validate_on_submit():
        try:
            home = homes.create_home(
                current_user, form.name.data, form.timezone.data, form.sources.data or []
            )
        except ValidationFailed as error:
            db.session.rollback()
            form.apply_errors(error)
        else:
            flash(
                _(
                    "“%(name)s” is ready. Invite the people you share it with below.",
                    name=home.name,
                ),
                "success",
            )
            return redirect(url_for("homes.detail", location_id=home.id))
    return _form_page(form, None, 422)


@bp.route("/homes/<int:location_id>")
@login_required
def detail(location_id: int):
    """Show a home: its sources and members; its owner also invites and manages members."""
    home = _home_or_404(location_id)
    return _detail_page(home, homes.role_in(current_user, home), InviteForm(formdata=None))


def _detail_page(home: Home, role: str | None, invite: InviteForm, status: int = 200):
    members = homes.members_of(home)
    return render_template(
        "homes/detail.html",
        home=home,
        role=role,
        members=members,
        sources=homes.sources_in(home),
        invite=invite,
        invitations=homes.pending_invitations(home) if role == "owner" else [],
        role_forms={m.id: RoleForm(formdata=None, role=m.role, prefix=f"m{m.id}") for m in members},
        owner=home_owner(home),
    ), status


def home_owner(home: Home) -> User:
    """Return the owner of home."""
    return db.session.get(User, home.owner_id)


@bp.route("/homes/<int:location_id>/edit", methods=["GET", "POST"])
@login_required
def edit(location_id: int):
    """Change a home's name, timezone and sources (its owner only)."""
    home = _own_home_or_403(location_id)
    form = HomeForm(obj=home if request.method == "GET" else None)
    form.offer(_own_sources())
    if request.method == "GET":
        form.sources.data = [source.id for source in homes.sources_in(home)]
        return _form_page(form, home)
    if form.validate_on_submit():
        try:
            homes.update_home(home, form.name.data, form.timezone.data, form.sources.data or [])
        except ValidationFailed as error:
            db.session.rollback()
            form.apply_errors(error)
        else:
            flash(_("“%(name)s” is saved.", name=home.name), "success")
            return redirect(url_for("homes.detail", location_id=home.id))
    return _form_page(form, home, 422)


@bp.route("/homes/<int:location_id>/delete", methods=["GET", "POST"])
@login_required
def delete(location_id: int):
    """Ask, then delete a home (its sources stay, without a home; members lose access)."""
    home = _own_home_or_403(location_id)
    if request.method == "POST":
        name = home.name
        homes.delete_home(home)
        flash(_("“%(name)s” is deleted; its sources are kept.", name=name), "success")
        return redirect(url_for("homes.index"))
    return render_template(
        "homes/delete.html",
        home=home,
        sources=homes.sources_in(home),
        members=homes.members_of(home),
    )


@bp.route("/homes/<int:location_id>/members", methods=["POST"])
@login_required
def invite(location_id: int):
    """Invite someone by email as viewer or editor; they accept or decline it."""
    home = _own_home_or_403(location_id)
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = homes.invite(home, form.email.data, form.role.data, current_user)
        except ValidationFailed as error:
            db.session.rollback()
            form.apply_errors(error)
        else:
            # The same words whether or not the address has an account here.
            flash(
                _(
                    "Invitation to %(email)s as %(role)s is waiting: once they sign in with "
                    "that address, they can accept it on their dashboard.",
                    email=invitation.email,
                    role=role_name(invitation.role),
                ),
                "success",
            )
            return redirect(url_for("homes.detail", location_id=home.id))
    return _detail_page(home, "owner", form, 422)


@bp.route("/homes/<int:location_id>/invitations/<int:invitation_id>/withdraw", methods=["POST"])
@login_required
def withdraw(location_id: int, invitation_id: int):
    """Withdraw an invitation that is still waiting."""
    home = _own_home_or_403(location_id)
    invitation = homes.get_pending_invitation(home, invitation_id) or abort(404)
    email = invitation.email
    homes.drop_invitation(invitation)
    flash(_("The invitation to %(email)s is withdrawn.", email=email), "success")
    return redirect(url_for("homes.detail", location_id=home.id))


@bp.route("/invitations/<int:invitation_id>/accept", methods=["POST"])
@login_required
def accept(invitation_id: int):
    """Accept an invitation to a home: it appears on the dashboard."""
    invitation = homes.get_invitation_for(current_user, invitation_id) or abort(404)
    try:
        member = homes.accept_invitation(current_user, invitation)
    except ValidationFailed as error:
        flash(str(error.detail), "error")
        return redirect(url_for("sources.index"))
    flash(
        _(
            "“%(name)s” is shared with you as %(role)s.",
            name=member.home.name,
            role=role_name(member.role),
        ),
        "success",
    )
    return redirect(url_for("homes.detail", location_id=member.location_id))


@bp.route("/invitations/<int:invitation_id>/decline", methods=["POST"])
@login_required
def decline(invitation_id: int):
    """Decline an invitation to a home."""
    invitation = homes.get_invitation_for(current_user, invitation_id) or abort(404)
    name = invitation.home.name
    homes.drop_invitation(invitation)
    flash(_("You declined the invitation to “%(name)s”.", name=name), "success")
    return redirect(url_for("sources.index"))


@bp.route("/homes/<int:location_id>/members/<int:member_id>", methods=["POST"])
@login_required
def change_role(location_id: int, member_id: int):
    """Change a member's role."""
    home = _own_home_or_403(location_id)
    member = homes.get_member(home, member_id) or abort(404)
    form = RoleForm(prefix=f"m{member.id}")
    if form.validate_on_submit():
        homes.change_role(member, form.role.data)
        flash(
            _(
                "%(name)s is now %(role)s.",
                name=member.user.display_name,
                role=role_name(member.role),
            ),
            "success",
        )
    else:
        flash(_("Choose viewer or editor."), "error")
    return redirect(url_for("homes.detail", location_id=home.id))


@bp.route("/homes/<int:location_id>/members/<int:member_id>/remove", methods=["POST"])
@login_required
def remove_member(location_id: int, member_id: int):
    """Remove a member: their access ends at once."""
    home = _own_home_or_403(location_id)
    member = homes.get_member(home, member_id) or abort(404)
    name = member.user.display_name
    homes.remove_member(member)
    flash(_("%(name)s no longer has access to “%(home)s”.", name=name, home=home.name), "success")
    return redirect(url_for("homes.detail", location_id=home.id))


@bp.route("/homes/<int:location_id>/leave", methods=["POST"])
@login_required
def leave(location_id: int):
    """Leave a home someone shared with you."""
    home = _home_or_404(location_id)
    if home.owner_id == current_user.id:
        abort(403, _("You own this home: delete it instead."))
    homes.leave_home(current_user, home)
    flash(_("You left “%(name)s”.", name=home.name), "success")
    return redirect(url_for("sources.index"))
