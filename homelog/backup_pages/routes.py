"""Routes: download the whole account as one JSON file, and restore one into an empty account.

The backup is streamed as it is written (homelog.backup.iter_backup); the restore parses the
uploaded file in small chunks from the request's temporary file, so neither end holds the
whole account in memory.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_number
from flask_login import current_user, login_required

from homelog import backup
from homelog.backup_pages.forms import RestoreForm
from homelog.errors import ValidationFailed
from homelog.extensions import csrf
from homelog.i18n import _, ngettext

bp = Blueprint("backups", __name__)

DEFAULT_MAX_RESTORE = 1024 * 1024 * 1024  # the file goes to a temporary file, not to memory


@bp.route("/account/backup.json")
@login_required
def download():
    """Download everything in this account as one JSON file (streamed)."""
    response = Response(
        stream_with_context(backup.iter_backup(current_user)), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{backup.filename(current_user)}"'
    )
    return response


@bp.route("/account/restore", methods=["GET", "POST"])
@login_required
def restore():
    """Restore a backup into this account, which must be empty."""
    if request.method == "POST":
        # A backup can be far larger than an ordinary form: raise the limit for this view and
        # check the CSRF token here, after that (the app-wide check would read the form first).
        request.max_content_length = current_app.config.get(
            "RESTORE_MAX_BYTES", DEFAULT_MAX_RESTORE
        )
        csrf.protect()
    form = RestoreForm()
    empty = backup.is_empty(current_user)
    status = 200
    if request.method == "POST":
        storage = form.file.data
        if storage is None or not getattr(storage, "filename", ""):
            form.file.errors = [_("Choose the backup file.")]
        elif not form.confirm.data:
            form.confirm.errors = [_("Tick this to restore.")]
        else:
            try:
                counts = backup.restore(current_user, storage.stream)
            except ValidationFailed as error:
                form.file.errors = [str(e) for e in error.errors.get("file", [error.detail])]
            else:
                flash(_restored_message(counts), "success")
                skipped = counts["members_skipped"]
                if skipped:
                    flash(
                        ngettext(
                            "%(num)d home member was in the backup and not added: invite them "
                            "again from each home's page.",
                            "%(num)d home members were in the backup and not added: invite "
                            "them again from each home's page.",
                            skipped,
                        ),
                        "warning",
                    )
                return redirect(url_for("sources.index"))
        status = 422
    return render_template("backups/restore.html", form=form, empty=empty), status


csrf.exempt(restore)


def _restored_message(counts: dict[str, int]) -> str:
    """Return what a restore brought back, e.g. "Restored 2 sources with 20 readings, …"."""
    readings = counts["readings"]
    return _(
        "Restored %(sources)s with %(readings)s, %(homes)s, %(prices)s and %(swaps)s.",
        sources=ngettext("%(num)d source", "%(num)d sources", counts["sources"]),
        readings=ngettext(
            "%(count)s reading", "%(count)s readings", readings, count=format_number(readings)
        ),
        homes=ngettext("%(num)d home", "%(num)d homes", counts["locations"]),
        prices=ngettext("%(num)d price", "%(num)d prices", counts["tariffs"]),
        swaps=ngettext("%(num)d meter swap", "%(num)d meter swaps", counts["swaps"]),
    )
