"""Forms of the home pages: a home, an invitation, a member's role."""

from __future__ import annotations

from wtforms import EmailField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from homelog.forms import DomainForm, TimezoneField, strip_filter
from homelog.homes import MAX_NAME_LENGTH, ROLE_LABELS
from homelog.i18n import _l
from homelog.models import DataSource


class HomeForm(DomainForm):
    """A home's name and timezone, and which of the owner's sources are in it."""

    name = StringField(
        _l("Name"),
        filters=[strip_filter],
        validators=[
            InputRequired(_l("Enter a name, like “Home” or “Cabin”.")),
            Length(
                max=MAX_NAME_LENGTH,
                message=_l("Use at most %(count)s characters.", count=MAX_NAME_LENGTH),
            ),
        ],
    )
    timezone = TimezoneField(_l("Timezone"))
    sources = SelectMultipleField(
        _l("Sources in this home"),
        coerce=int,
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )

    def offer(self, sources: list[DataSource]) -> None:
        """Offer sources as checkboxes."""
        self.sources.choices = [SelectChoice(source.id, source.name) for source in sources]


class InviteForm(DomainForm):
    """Share a home with an existing user."""

    email = EmailField(_l("Their email address"), filters=[strip_filter])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()],
        default="viewer",
    )


class RoleForm(DomainForm):
    """Change a member's role."""

    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("viewer", _l("Viewer")), SelectChoice("editor", _l("Editor"))],
    )


#: A role's name inside a sentence ("… is shared with you as editor").
ROLE_NAMES = {"owner": _l("owner"), "viewer": _l("viewer"), "editor": _l("editor")}


def role_name(role: str) -> str:
    """Return role's name in the reader's language (the stored value when unknown)."""
    return str(ROLE_NAMES.get(role, role))
