"""Routes: a source's prices, and its meter's settings and swaps.

Registered on the `sources` blueprint; only the source's owner reaches them (homelog.access).
The rules live in homelog.usage_db (tariffs, swaps, settings), shared with the API.
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user, login_required

from homelog import timeutil, views
from homelog.errors import ValidationFailed
from homelog.i18n import _
from homelog.sources.routes import bp
from homelog.sources.usage_forms import settings_form, swap_form, tariff_form
from homelog.usage_db import swaps
from homelog.usage_db import tariffs as usage_tariffs  # `tariffs` is the prices page below
from homelog.usage_db.inputs import currency_of, swaps_of, tariffs_of
from homelog.usage_db.settings import update_settings
from homelog.web import user_zone

# ---- Prices ---------------------------------------------------------------------------------


def _submit_tariff(source, save, message: str, editing=None):
    """Validate the posted price form and save it with save(metric, from, price, standing)."""
    form = tariff_form(source)
    fields = (form.metric, form.effective_from, form.unit_price, form.standing_charge)
    if form.saved(lambda: save(*(field.data for field in fields))):
        flash(message, "success")
        return views.redirect(url_for("sources.tariffs", source_id=source.id))
    return _tariff_page(source, form, 422, editing=editing)


def _tariff_page(source, form, status: int = 200, editing=None):
    return render_template(
        "sources/tariffs.html",
        source=source,
        form=form,
        editing=editing,
        tariffs=tariffs_of(source),
        currency=currency_of(source),
    ), status


@bp.route("/sources/<int:source_id>/tariffs", methods=["GET", "POST"])
@login_required
def tariffs(source_id: int):
    """List a meter's prices and add one (a new price never changes earlier costs)."""
    source = views.source_or_404(source_id)
    if request.method == "GET":
        return _tariff_page(source, tariff_form(source, formdata=None))
    return _submit_tariff(
        source, lambda *fields: usage_tariffs.create_tariff(source, *fields), _("Price saved.")
    )


@bp.route("/sources/<int:source_id>/tariffs/<int:tariff_id>/edit", methods=["GET", "POST"])
@login_required
def edit_tariff(source_id: int, tariff_id: int):
    """Change a price."""
    source = views.source_or_404(source_id)
    tariff = usage_tariffs.get_tariff(source, tariff_id) or abort(404)
    if request.method == "GET":
        return _tariff_page(source, tariff_form(source, tariff), editing=tariff)
    return _submit_tariff(
        source,
        lambda *fields: usage_tariffs.update_tariff(tariff, *fields),
        _("Price updated."),
        editing=tariff,
    )


@bp.route("/sources/<int:source_id>/tariffs/<int:tariff_id>/delete", methods=["POST"])
@login_required
def delete_tariff(source_id: int, tariff_id: int):
    """Delete a price."""
    source = views.source_or_404(source_id)
    tariff = usage_tariffs.get_tariff(source, tariff_id) or abort(404)
    usage_tariffs.delete_tariff(tariff)
    flash(_("Price deleted."), "success")
    return views.redirect(url_for("sources.tariffs", source_id=source.id))


# ---- Meter: settings and swaps --------------------------------------------------------------


def _meter_page(source, settings=None, swap=None, status: int = 200):
    return render_template(
        "sources/meter.html",
        source=source,
        settings=settings or settings_form(source, formdata=None, prefix="settings"),
        swap=swap or swap_form(source, formdata=None, prefix="swap"),
        swaps=swaps_of(source),
        currency=currency_of(source),
    ), status


@bp.route("/sources/<int:source_id>/meter", methods=["GET", "POST"])
@login_required
def meter(source_id: int):
    """Show and save how a source's usage is counted: register sizes, billing, gaps."""
    source = views.source_or_404(source_id)
    if request.method == "GET":
        return _meter_page(source)
    form = settings_form(source, prefix="settings")
    saved = form.saved(
        lambda: update_settings(
            source,
            rollover_at=form.sizes(),
            cycle_day=form.cycle_day.data or 1,
            monthly_advance=form.monthly_advance.data or None,
            billing_year_start=form.billing_year_start.data or None,
            max_gap_hours=form.max_gap_hours.data or 48,
        )
    )
    if saved:
        flash(_("Settings saved."), "success")
        return views.redirect(url_for("sources.meter", source_id=source.id))
    return _meter_page(source, settings=form, status=422)


@bp.route("/sources/<int:source_id>/swaps", methods=["POST"])
@login_required
def record_swap(source_id: int):
    """Record a meter replacement so usage continues across it without a spike."""
    source = views.source_or_404(source_id)
    form = swap_form(source, prefix="swap")
    if form.saved(lambda: _create_swap(source, form)):
        flash(_("Meter swap recorded: usage continues across it."), "success")
        return views.redirect(url_for("sources.meter", source_id=source.id))
    return _meter_page(source, swap=form, status=422)


def _create_swap(source, form) -> None:
    """Record the swap form's replacement, its time typed in the user's timezone."""
    try:
        at = timeutil.parse_local(form.at.data, user_zone())
    except ValueError as error:
        raise ValidationFailed({"at": [str(error)]}) from None
    swaps.create_swap(
        source,
        current_user,
        at,
        form.values("old_final"),
        form.values("new_start"),
        form.values("rollover_at"),
        form.note.data,
    )


@bp.route("/sources/<int:source_id>/swaps/<int:swap_id>/delete", methods=["POST"])
@login_required
def delete_swap(source_id: int, swap_id: int):
    """Delete a recorded meter swap."""
    source = views.source_or_404(source_id)
    event = swaps.get_swap(source, swap_id) or abort(404)
    swaps.delete_swap(event)
    flash(_("Meter swap deleted."), "success")
    return views.redirect(url_for("sources.meter", source_id=source.id))
