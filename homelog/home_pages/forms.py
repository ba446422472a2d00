"""Forms of the home pages: a home, an invitation, a member's role."""

from __future__ import annotations

from wtforms import EmailField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import InputRequired, Length

from homelog.forms import DomainForm, TimezoneField, strip_filter
from homelog.homes import MAX_NAME_LENGTH, ROLE_LABELS
from homelog.models import DataSource


class HomeForm(DomainForm):
    """A home's name and timezone, and which of the owner's sources are in it."""

    name = StringField(
        "Name",
        filters=[strip_filter],
        validators=[
            InputRequired("Enter a name, like “Home” or “Cabin”."),
            Length(max=MAX_NAME_LENGTH, message=f"Use at most {MAX_NAME_LENGTH} characters."),
        ],
    )
    timezone = TimezoneField("Timezone")
    sources = SelectMultipleField(
        "Sources in this home",
        coerce=int,
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )

    def offer(self, sources: list[DataSource]) -> None:
        """Offer sources as checkboxes."""
        self.sources.choices = [(source.id, source.name) for source in sources]


class InviteForm(DomainForm):
    """Share a home with an existing user."""

    email = EmailField("Their email address", filters=[strip_filter])
    role = SelectField("Role", choices=list(ROLE_LABELS.items()), default="viewer")


class RoleForm(DomainForm):
    """Change a member's role."""

    role = SelectField("Role", choices=[("viewer", "Viewer"), ("editor", "Editor")])
