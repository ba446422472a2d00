"""Routes: a source's reading reminder (daily, weekly on a weekday, monthly on a day).

Registered on the `sources` blueprint; only the source's owner sets it (homelog/access.py).
The dashboard lists what is due (homelog/sources/routes.py), the API the same list.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from homelog import reminders, views
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _
from homelog.sources.reminder_forms import ReminderForm
from homelog.sources.routes import bp


@bp.route("/sources/<int:source_id>/reminder", methods=["GET", "POST"])
@login_required
def reminder(source_id: int):
    """Choose how often to be reminded to read a source."""
    source = views.source_or_404(source_id)
    if request.method == "GET":
        form = ReminderForm(
            formdata=None,
            every=source.reminder_every or "",
            weekday=str(source.reminder_day or 0) if source.reminder_every == "week" else "0",
            month_day=source.reminder_day if source.reminder_every == "month" else 1,
        )
        return render_template("sources/reminder.html", source=source, form=form)
    form = ReminderForm()
    if form.validate_on_submit():
        try:
            reminders.set_schedule(source, form.every.data, form.day())
        except ValidationFailed as error:
            db.session.rollback()
            form.apply_errors(error)
        else:
            flash(
                _(
                    "Reminder for “%(name)s”: %(schedule)s.",
                    name=source.name,
                    schedule=reminders.describe(source.reminder_every, source.reminder_day),
                ),
                "success",
            )
            return redirect(url_for("sources.detail", source_id=source.id))
    return render_template("sources/reminder.html", source=source, form=form), 422


@bp.app_template_global("reminder_text")
def reminder_text(source) -> str:
    """Return source's reminder schedule in words (for templates)."""
    return reminders.describe(source.reminder_every, source.reminder_day)
