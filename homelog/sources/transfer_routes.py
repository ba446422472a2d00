"""Routes: import readings from CSV (upload or paste, preview, confirm) and export them as CSV.

Registered on the `sources` blueprint. The upload is kept in the database between preview and
confirmation (homelog.importer.save_upload), keyed by a random id scoped to the user and the
source, so neither the cookie session nor one worker's disk holds it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Response, flash, render_template, request, stream_with_context, url_for
from flask_babel import format_decimal
from flask_login import current_user, login_required

from homelog import export, htmx, importer, timeutil, views
from homelog.errors import ValidationFailed
from homelog.extensions import csrf
from homelog.i18n import _, ngettext
from homelog.models import DataSource
from homelog.sources.routes import bp
from homelog.sources.transfer_forms import ExportForm, ImportForm
from homelog.usage_db.inputs import source_zone
from homelog.views import READINGS_CHANGED

#: Problem lines listed on the page (the API lists them all).
SHOWN_PROBLEMS = 300
SHOWN_ROWS = 8


def _render(
    source: DataSource,
    form: ImportForm,
    report: importer.ImportReport | None = None,
    upload=None,
    status: int = 200,
    export_form: ExportForm | None = None,
):
    """Answer the preview fragment to htmx, else the whole import/export page."""
    context = {
        "source": source,
        "form": form,
        "report": report,
        "upload": upload,
        "export_form": export_form or ExportForm(formdata=None),
        "shown_problems": SHOWN_PROBLEMS,
        "shown_rows": SHOWN_ROWS,
        "zone": source_zone(source),
        "max_import_bytes": importer.MAX_IMPORT_BYTES,
    }
    if htmx.is_fragment_request() and report is not None:
        return views.fragment("sources/_import_preview.html", status, **context)
    return render_template("sources/import.html", **context), status


def _midnight(day: date, zone) -> datetime:
    """Return the start of day in zone (as UTC), also where the clocks skip midnight."""
    try:
        return timeutil.localize(datetime.combine(day, time()), zone)
    except ValueError:
        return datetime.combine(day, time(1), tzinfo=zone)


@bp.route("/sources/<int:source_id>/import")
@login_required
def import_page(source_id: int):
    """Show the import/export page: upload or paste a CSV, or download the readings."""
    source = views.source_or_404(source_id)
    return _render(source, ImportForm(formdata=None))


@bp.route("/sources/<int:source_id>/import", methods=["POST"])
@login_required
def import_preview(source_id: int):
    """Preview a CSV: what would be imported, and every problem line with its reason."""
    # Pasted text may be larger than Flask's default limit for one form field; raise it for
    # this view and check the CSRF token here (the app-wide check would read the form first).
    request.max_form_memory_size = importer.MAX_IMPORT_BYTES
    csrf.protect()
    source = views.source_or_404(source_id)
    form = ImportForm()
    upload = None
    if form.upload.data:
        upload = importer.get_upload(current_user, source, form.upload.data)
        if upload is None:
            form.file.errors = [_("This upload has expired; choose the file again.")]
            return _render(source, form, status=422)
    else:
        try:
            text, name = form.content()
        except ValidationFailed as error:
            form.file.errors = error.errors["file"]
            if htmx.is_fragment_request():
                return views.fragment(
                    "sources/_import_upload.html",
                    422,
                    source=source,
                    form=form,
                    max_import_bytes=importer.MAX_IMPORT_BYTES,
                    headers={"HX-Retarget": "#import-upload", "HX-Reswap": "outerHTML"},
                )
            return _render(source, form, status=422)
        upload = importer.save_upload(current_user, source, text, name)
        form.upload.data, form.text.data = upload.id, ""
    report = importer.preview(
        source, upload.content, form.options(request.form, source.metric_names)
    )
    return _render(source, form, report, upload, 200 if report.ok else 422)


csrf.exempt(import_preview)


@bp.route("/sources/<int:source_id>/import/confirm", methods=["POST"])
@login_required
def import_confirm(source_id: int):
    """Import every valid line of the previewed upload at once, then show the source."""
    source = views.source_or_404(source_id)
    form = ImportForm()
    upload = importer.get_upload(current_user, source, form.upload.data)
    if upload is None:
        flash(_("This upload has expired; choose the file again."), "error")
        return views.redirect(url_for("sources.import_page", source_id=source.id))
    report = importer.import_csv(
        source,
        current_user,
        upload.content,
        form.options(request.form, source.metric_names),
        upload,
    )
    if not report.ok:
        return _render(source, form, report, upload, 422)
    flash(_imported_message(report), "success")
    response = views.redirect(url_for("sources.detail", source_id=source.id))
    return htmx.trigger(response, READINGS_CHANGED)


def _imported_message(report: importer.ImportReport) -> str:
    """Return what an import did, in a sentence or two."""
    if report.nothing_new:
        return ngettext(
            "The %(n)s reading is already stored: nothing to do.",
            "All %(n)s readings are already stored: nothing to do.",
            report.lines,
            n=_count(report.lines),
        )
    message = ngettext(
        "%(n)s reading imported.",
        "%(n)s readings imported.",
        report.created,
        n=_count(report.created),
    )
    skipped = report.skipped
    if skipped and report.already_stored:
        message += " " + ngettext(
            "%(n)s line left out (%(stored)s already stored).",
            "%(n)s lines left out (%(stored)s already stored).",
            skipped,
            n=_count(skipped),
            stored=_count(report.already_stored),
        )
    elif skipped:
        message += " " + ngettext(
            "%(n)s line left out.", "%(n)s lines left out.", skipped, n=_count(skipped)
        )
    return message


def _count(number: int) -> str:
    """Return a count with its thousands separated in the reader's locale (1,234 or 1.234)."""
    return format_decimal(number)


@bp.route("/sources/<int:source_id>/import/cancel", methods=["POST"])
@login_required
def import_cancel(source_id: int):
    """Forget a previewed upload without importing it, and show the empty import page."""
    source = views.source_or_404(source_id)
    form = ImportForm()
    upload = importer.get_upload(current_user, source, form.upload.data)
    if upload is not None:
        importer.discard_upload(upload)
    return views.redirect(url_for("sources.import_page", source_id=source.id))


@bp.route("/sources/<int:source_id>/export.csv")
@login_required
def export_csv(source_id: int):
    """Download a source's readings as CSV (all, or the days chosen), streamed."""
    source = views.source_or_404(source_id)
    form = ExportForm(request.args)
    if request.args and not form.validate():
        return _render(source, ImportForm(formdata=None), status=422, export_form=form)
    zone = source_zone(source)
    start = _midnight(form.start.data, zone) if form.start.data else None
    end = _midnight(form.end.data + timedelta(days=1), zone) if form.end.data else None
    response = Response(
        stream_with_context(export.iter_csv(source, start, end)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export.filename(source, form.start.data, form.end.data)}"'
    )
    return response
