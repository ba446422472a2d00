"""Routes: the dashboard, source pages and reading rows.

Every view answers a full page, or, for a real htmx request (homelog.htmx.is_fragment_request),
just the fragment that changed; the page templates include the same fragments, so markup lives
once. Without JavaScript every form posts, redirects and flashes (post-redirect-get).
Someone else's source or reading is a 404 everywhere: sources are loaded through
homelog.datasources.get_source_for and readings through their source.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from itsdangerous import BadData, URLSafeTimedSerializer

from homelog import (
    access,
    datasources,
    homes,
    htmx,
    meter_drops,
    reading_pages,
    readings,
    reminders,
    timeutil,
    views,
)
from homelog.errors import Conflict, ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, ngettext
from homelog.models import DataSource, Reading
from homelog.sources.forms import SourceForm, reading_form, reading_form_data
from homelog.sources.rows import reading_rows
from homelog.views import READINGS_CHANGED
from homelog.web import user_zone

bp = Blueprint("sources", __name__)
bp.add_app_template_global(reading_rows)

UNDO_SALT = "homelog.reading-undo"
UNDO_MAX_AGE = 60 * 60  # an undo offered an hour ago is stale: the user moved on


@bp.after_request
def vary_on_htmx(response):
    """Mark every answer as depending on the htmx headers (pages and fragments share URLs)."""
    return htmx.add_vary(response)


# ---- helpers --------------------------------------------------------------------------------


def _reading_or_404(source: DataSource, reading_id: object) -> Reading:
    reading = readings.get_reading(source, reading_id)
    if reading is None:
        abort(404)
    return reading


def _page_size() -> int:
    return int(current_app.config.get("READINGS_PAGE_SIZE", 25))


def _add_prefix(source: DataSource) -> str:
    """Return the field prefix of a source's add-reading form (unique on the dashboard)."""
    return f"s{source.id}"


def _edit_prefix(reading: Reading) -> str:
    return f"r{reading.id.hex}"


def _new_reading_form(source: DataSource):
    """Return an empty add-reading form with the time set to now in the user's timezone."""
    now = timeutil.input_value(datetime.now(UTC), user_zone())
    return reading_form(source, prefix=_add_prefix(source), formdata=None, data={"timestamp": now})


def _page(source: DataSource, before: str | None = None) -> reading_pages.Page:
    try:
        return reading_pages.page_of_readings(source, before, _page_size(), plain=True)
    except ValidationFailed as error:
        abort(400, error.errors["cursor"][0])


def _table_context(source: DataSource, page: reading_pages.Page, **extra) -> dict:
    """Return what the readings table templates need."""
    return {
        "source": source,
        "page": page,
        "flags": reading_pages.lower_flags(source, page),
        "highlight": None,
        **extra,
    }


def _panel_context(
    source: DataSource, form=None, before: str | None = None, highlight=None
) -> dict:
    return _table_context(
        source,
        _page(source, before),
        form=form if form is not None else _new_reading_form(source),
        before=before,
        # Counted in full once per change of the owner's readings, then remembered.
        total=datasources.remembered_reading_count(
            source, number=access.loaded_change_number(source)
        ),
        highlight=highlight,
    )


def _row_flags(source: DataSource, reading: Reading) -> dict:
    lower = readings.lower_than_previous(
        source, reading.timestamp, reading.values or {}, exclude_id=reading.id
    )
    return {reading.id: lower} if lower else {}


def _save_reading(source: DataSource, form, reading: Reading | None = None) -> Reading | None:
    """Validate the form and create (or update) the reading; None when the form shows why.

    For a meter, a value below the previous reading is not saved until the user confirms it
    (homelog.meter_drops; form.lower then lists the metrics and their previous values).
    """
    if not form.validate_on_submit():
        return None
    timestamp = form.parse_timestamp(user_zone(), original=reading)
    try:
        if timestamp is not None:
            timestamp = readings.clean_timestamp(timestamp)
    except ValidationFailed as error:
        form.apply_errors(error)
        timestamp = None
    ok = timestamp is not None
    try:
        values = readings.clean_values(source, form.raw_values())
    except ValidationFailed as error:
        form.apply_errors(error)
        values, ok = None, False
    try:
        note = readings.clean_note(form.note.data)
    except ValidationFailed as error:
        form.apply_errors(error)
        ok = False
    if not ok:
        return None
    try:
        # A confirmed drop counts in usage (homelog.usage_db) instead of being left out.
        confirmed = meter_drops.check_drop(
            source, timestamp, values, confirmed=form.confirm_lower.data, reading=reading
        )
    except meter_drops.UnconfirmedDrop as drop:
        form.lower, form.entered = drop.lower, values
        return None
    try:
        if reading is None:
            return readings.create_reading(
                source, current_user, timestamp, values, note, confirmed=confirmed
            )
        return readings.update_reading(
            reading, timestamp=timestamp, values=values, note=note, confirmed=confirmed
        )
    except ValidationFailed as error:
        db.session.rollback()
        form.apply_errors(error)
        return None


def _undo_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=UNDO_SALT)


# ---- dashboard and sources ------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    """Show the dashboard: every source with its last reading and a quick add."""
    sources = db.session.scalars(datasources.visible_sources(current_user)).all()
    context = {
        "sources": sources,
        "latest": datasources.latest_readings(sources),
        "groups": homes.group_sources(current_user, sources),
        "reminders": reminders.reminders_for(current_user, sources=sources),
        "invitations": homes.invitations_for(current_user),
    }
    if htmx.is_fragment_request():
        return views.fragment("sources/_source_list.html", **context)
    return render_template("sources/index.html", **context)


def _render_source_form(form: SourceForm, source: DataSource | None, status: int = 200):
    context = {
        "form": form,
        "source": source,
        "units": datasources.COMMON_UNITS,
        "max_metrics": datasources.MAX_METRICS,
    }
    if htmx.is_fragment_request():
        return views.fragment("sources/_source_form.html", status, **context)
    return render_template("sources/source_form.html", **context), status


def _metric_rows_action(form: SourceForm, source: DataSource | None):
    """Handle the "add metric" / "remove" buttons; None when the form was really sent."""
    if "add_metric" in request.form:
        row_count = len(form.metrics.entries)
        entry = form.add_row() if row_count < datasources.MAX_METRICS else None
        if not htmx.is_fragment_request():
            if entry is None:
                form.other_errors.append(_("Use at most %(n)s metrics.", n=datasources.MAX_METRICS))
            return _render_source_form(form, source)
        if entry is None:
            flash(_("A source has at most %(n)s metrics.", n=datasources.MAX_METRICS), "error")
            return views.fragment("sources/_nothing.html", headers={"HX-Reswap": "none"})
        return views.fragment(
            "sources/_metric_row.html",
            entry=form.metrics.entries[-1],
            units=datasources.COMMON_UNITS,
        )
    if "remove_metric" in request.form:
        form.remove_row(request.form["remove_metric"])
        return _render_source_form(form, source)
    return None


@bp.route("/sources/new", methods=["GET", "POST"])
@login_required
def create():
    """Create a source: name, description, kind and its metrics."""
    form = SourceForm()
    if request.method == "GET":
        return _render_source_form(form, None)
    if (answer := _metric_rows_action(form, None)) is not None:
        return answer
    if form.validate_on_submit():
        try:
            source = datasources.create_source(
                current_user,
                form.name.data,
                form.description.data,
                form.kind.data,
                form.metric_pairs(),
            )
        except ValidationFailed as error:
            form.apply_errors(error)
        else:
            flash(
                _("“%(name)s” is ready. Add its first reading below.", name=source.name),
                "success",
            )
            return views.redirect(url_for("sources.detail", source_id=source.id))
    return _render_source_form(form, None, 422)


@bp.route("/sources/<int:source_id>/edit", methods=["GET", "POST"])
@login_required
def edit(source_id: int):
    """Change a source; renaming a metric keeps its readings, removing one asks first."""
    source = views.source_or_404(source_id)
    if request.method == "GET":
        return _render_source_form(SourceForm.for_source(source), source)
    form = SourceForm()
    if (answer := _metric_rows_action(form, source)) is not None:
        return answer
    if form.validate_on_submit():
        try:
            datasources.update_source(
                source,
                name=form.name.data,
                description=form.description.data,
                kind=form.kind.data,
                metrics=form.metric_pairs(),
                renames=form.renames(source),
                confirm_remove=form.confirm_remove.data,
            )
        except ValidationFailed as error:
            db.session.rollback()
            form.apply_errors(error)
        else:
            flash(_("“%(name)s” is saved.", name=source.name), "success")
            return views.redirect(url_for("sources.detail", source_id=source.id))
    return _render_source_form(form, source, 422)


@bp.route("/sources/<int:source_id>/delete", methods=["GET", "POST"])
@login_required
def delete(source_id: int):
    """Ask before deleting a source (saying how many readings go with it), then delete it."""
    source = views.source_or_404(source_id)
    if request.method == "POST":
        name = source.name
        count = datasources.delete_source(source)
        flash(
            ngettext(
                "“%(name)s” and its %(num)d reading are deleted.",
                "“%(name)s” and its %(num)d readings are deleted.",
                count,
                name=name,
            ),
            "success",
        )
        if htmx.is_fragment_request():
            # The card that asked is replaced by nothing.
            return views.fragment("sources/_nothing.html", events=(READINGS_CHANGED,))
        return redirect(url_for("sources.index"))
    context = {"source": source, "count": datasources.reading_count(source)}
    if htmx.is_fragment_request():
        return views.fragment("sources/_delete_source.html", inline=True, **context)
    return render_template("sources/delete.html", **context)


@bp.route("/sources/<int:source_id>")
@login_required
def detail(source_id: int):
    """Show a source: the add-reading form and its readings, newest first."""
    source = views.source_or_404(source_id)
    context = _panel_context(source, before=request.args.get("before") or None)
    if htmx.is_fragment_request():
        return views.fragment("sources/_readings_panel.html", **context)
    return render_template("sources/detail.html", **context)


# ---- readings -------------------------------------------------------------------------------


@bp.route("/sources/<int:source_id>/readings")
@login_required
def readings_page(source_id: int):
    """Answer the next page of readings (rows plus a new "load more" row)."""
    source = views.source_or_404(source_id)
    before = request.args.get("before") or None
    if not htmx.is_fragment_request():
        return redirect(url_for("sources.detail", source_id=source.id, before=before))
    return views.fragment(
        "sources/_reading_rows.html", **_table_context(source, _page(source, before), before=before)
    )


@bp.route("/sources/<int:source_id>/readings", methods=["POST"])
@login_required
def add_reading(source_id: int):
    """Save a new reading; htmx gets the refreshed panel with the row in its place."""
    source = views.source_or_404(source_id)
    form = reading_form(source, prefix=_add_prefix(source))
    reading = _save_reading(source, form)
    if reading is None:
        if htmx.is_fragment_request():
            return views.fragment(
                "sources/_reading_form.html",
                422,
                form=form,
                source=source,
                headers={"HX-Retarget": "#add-reading", "HX-Reswap": "outerHTML"},
            )
        return render_template("sources/detail.html", **_panel_context(source, form)), 422
    flash(_("Reading saved."), "success")
    if htmx.is_fragment_request():
        return views.fragment(
            "sources/_readings_panel.html",
            events=(READINGS_CHANGED,),
            **_panel_context(source, highlight=reading.id),
        )
    return redirect(url_for("sources.detail", source_id=source.id))


@bp.route("/sources/<int:source_id>/quick-add", methods=["GET", "POST"])
@login_required
def quick_add(source_id: int):
    """Offer the add-reading form inline on the dashboard and save it there."""
    source = views.source_or_404(source_id)
    if request.method == "GET":
        if not htmx.is_fragment_request():
            return redirect(url_for("sources.detail", source_id=source.id, _anchor="add-reading"))
        return views.fragment(
            "sources/_quick_add.html", form=_new_reading_form(source), source=source
        )
    form = reading_form(source, prefix=_add_prefix(source))
    reading = _save_reading(source, form)
    if reading is None:
        if htmx.is_fragment_request():
            return views.fragment("sources/_quick_add.html", 422, form=form, source=source)
        return render_template("sources/detail.html", **_panel_context(source, form)), 422
    flash(_("Reading of “%(name)s” saved.", name=source.name), "success")
    if htmx.is_fragment_request():
        return views.fragment(
            "sources/_source_card.html",
            events=(READINGS_CHANGED,),
            source=source,
            # The card shows the newest reading, which a backdated one is not.
            latest=datasources.latest_readings([source]),
            headers={"HX-Retarget": f"#source-{source.id}", "HX-Reswap": "outerHTML"},
        )
    return redirect(url_for("sources.index"))


@bp.route("/sources/<int:source_id>/readings/<reading_id>")
@login_required
def reading_row(source_id: int, reading_id: str):
    """Answer one reading's table row (e.g. to cancel an edit)."""
    source = views.source_or_404(source_id)
    reading = _reading_or_404(source, reading_id)
    if not htmx.is_fragment_request():
        return redirect(url_for("sources.detail", source_id=source.id))
    return views.fragment(
        "sources/_reading_row.html",
        source=source,
        reading=reading,
        flags=_row_flags(source, reading),
        highlight=None,
    )


@bp.route("/sources/<int:source_id>/readings/<reading_id>/edit", methods=["GET", "POST"])
@login_required
def edit_reading(source_id: int, reading_id: str):
    """Edit a reading in place (htmx swaps the row for a form) or on its own page."""
    source = views.source_or_404(source_id)
    reading = _reading_or_404(source, reading_id)
    fragment = htmx.is_fragment_request()
    if request.method == "GET":
        form = reading_form(
            source,
            prefix=_edit_prefix(reading),
            formdata=None,
            data=reading_form_data(reading, user_zone()),
        )
        status = 200
    else:
        old_timestamp = reading.timestamp
        form = reading_form(source, prefix=_edit_prefix(reading))
        if _save_reading(source, form, reading) is not None:
            flash(_("Reading updated."), "success")
            if not fragment:
                return redirect(url_for("sources.detail", source_id=source.id))
            if reading.timestamp != old_timestamp:
                # It may belong elsewhere in the table now: redraw the first page.
                return views.fragment(
                    "sources/_reading_rows.html",
                    events=(READINGS_CHANGED,),
                    headers={"HX-Retarget": "#readings-body", "HX-Reswap": "innerHTML"},
                    **_table_context(source, _page(source), highlight=reading.id),
                )
            return views.fragment(
                "sources/_reading_row.html",
                events=(READINGS_CHANGED,),
                source=source,
                reading=reading,
                highlight=reading.id,
                flags=_row_flags(source, reading),
            )
        status = 422
    context = {"form": form, "source": source, "reading": reading}
    if fragment:
        return views.fragment("sources/_reading_edit_row.html", status, **context)
    return render_template("sources/reading_edit.html", **context), status


@bp.route("/sources/<int:source_id>/readings/<reading_id>/delete", methods=["GET", "POST"])
@login_required
def delete_reading(source_id: int, reading_id: str):
    """Delete a reading (htmx: at once, with an undo; without JavaScript: after asking)."""
    source = views.source_or_404(source_id)
    reading = _reading_or_404(source, reading_id)
    if request.method == "GET":
        context = {"source": source, "reading": reading}
        if htmx.is_fragment_request():
            return views.fragment("sources/_reading_delete_row.html", **context)
        return render_template("sources/reading_delete.html", **context)
    timestamp = reading.timestamp
    saved = readings.delete_reading(reading)
    if not htmx.is_fragment_request():
        flash(_("The reading of %(time)s is deleted.", time=_local(timestamp)), "success")
        return redirect(url_for("sources.detail", source_id=source.id))
    return views.fragment(
        "sources/_reading_deleted_row.html",
        events=(READINGS_CHANGED,),
        source=source,
        saved=saved,
        timestamp=timestamp,
        token=_undo_serializer().dumps(saved),
    )


@bp.route("/sources/<int:source_id>/readings/restore", methods=["POST"])
@login_required
def restore_reading(source_id: int):
    """Undo a deletion: put the reading back exactly as it was (same id)."""
    source = views.source_or_404(source_id)
    try:
        saved = _undo_serializer().loads(request.form.get("token", ""), max_age=UNDO_MAX_AGE)
    except BadData:
        abort(400, _("This undo has expired; add the reading again if you need it."))
    if not isinstance(saved, dict) or saved.get("data_source_id") != source.id:
        abort(404)
    try:
        reading = readings.restore_reading(source, saved)
    except Conflict:
        db.session.rollback()
        abort(409, _("That reading already exists again."))
    except ValidationFailed:
        db.session.rollback()
        abort(409, _("The reading no longer fits this source's metrics and cannot be restored."))
    flash(_("Reading restored."), "success")
    if not htmx.is_fragment_request():
        return redirect(url_for("sources.detail", source_id=source.id))
    return views.fragment(
        "sources/_reading_row.html",
        events=(READINGS_CHANGED,),
        source=source,
        reading=reading,
        highlight=reading.id,
        flags=_row_flags(source, reading),
    )


def _local(value: datetime) -> str:
    return timeutil.to_local(value, user_zone()).strftime("%Y-%m-%d %H:%M")
