"""Routes: usage and costs of a source (chart + table), and the whole home's costs.

Registered on the `sources` blueprint. The usage panel is a fragment the source page loads
with htmx (and reloads on `readings-changed`); without JavaScript the same panel is a page of
its own, and switching the period is a plain link. Numbers come from homelog.usage_db.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_login import current_user, login_required

from homelog import charts, datasources, homes, htmx, i18n, readings, timeutil, views
from homelog.errors import ValidationFailed
from homelog.extensions import db
from homelog.i18n import _, _l
from homelog.sources.routes import bp
from homelog.usage import money, period_of
from homelog.usage.projection import add_years
from homelog.usage_db.comparison import compare
from homelog.usage_db.costs import HomeCosts, home_costs, projection
from homelog.usage_db.labels import chart_label, display_label, month_axis_label
from homelog.usage_db.query import SourceUsage, usage_for, usage_over
from homelog.usage_db.stream import count_readings
from homelog.views import READINGS_CHANGED

LINE_POINTS = 300
#: Charts one panel draws at most (one per unit, or per sensor metric); the table has all.
MAX_CHARTS = 6
PERIOD_NAMES = {
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
    "year": _l("Year"),
    "cycle": _l("Billing cycle"),
}
#: A period kind inside a phrase ("usage per day", "Verbrauch pro Tag").
PERIOD_UNITS = {
    "day": _l("day"),
    "week": _l("week"),
    "month": _l("month"),
    "year": _l("year"),
    "cycle": _l("billing cycle"),
}
#: Why a range shows nothing although the source has readings, per period kind.
EMPTY_RANGE = {
    "day": _l("There are no readings in these days."),
    "week": _l("There are no readings in these weeks."),
    "month": _l("There are no readings in these months."),
    "year": _l("There are no readings in these years."),
    "cycle": _l("There are no readings in these billing cycles."),
}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


# ---- Formatting -----------------------------------------------------------------------------


@bp.app_template_filter("amount")
def amount_filter(value: float | None, places: int = 2) -> str:
    """Format a usage figure: thousands separated, at most `places` decimals, no float noise.

    In the reader's locale ("1,234.5"; "1.234,5" in German).
    """
    if value is None:
        return "—"
    return i18n.format_decimal(value, places)


@bp.app_template_filter("money")
def money_filter(value: Decimal | None, currency: str = "EUR") -> str:
    """Format an amount of money with its currency (114.15 €; 114,15 € in German)."""
    if value is None:
        return "—"
    rounded = money(Decimal(value))
    symbol = SYMBOLS.get(currency, currency)
    # A no-break space: the currency never wraps away from its number.
    return f"{i18n.format_fixed(rounded)}\N{NO-BREAK SPACE}{symbol}"


@bp.app_template_filter("price")
def price_filter(value: Decimal, currency: str = "EUR") -> str:
    """Format a price: at least cents, more decimals only where set (0.40 €, 0.2815 €)."""
    amount = Decimal(value).normalize()
    symbol = SYMBOLS.get(currency, currency)
    return f"{i18n.format_fixed(amount)}\N{NO-BREAK SPACE}{symbol}"


@bp.app_template_filter("change")
def change_filter(value: float | None) -> str:
    """Format a relative change (+12 %, −5 %)."""
    if value is None:
        return ""
    percent = round(value * 100)
    sign = "+" if percent > 0 else "−" if percent < 0 else "±"
    return f"{sign}{i18n.format_decimal(abs(percent))}\N{NO-BREAK SPACE}%"


# ---- The usage panel ------------------------------------------------------------------------


@dataclass
class Cell:
    """One metric in one period, as the table shows it."""

    value: float | None
    partial: bool = False
    estimated: bool = False
    cost: Decimal | None = None
    last_year: float | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class Row:
    """One period of the table."""

    label: str
    period: object
    cells: dict[str, Cell] = field(default_factory=dict)
    cost: Decimal | None = None


def _parse_day(name: str) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        abort(400, _("“%(text)s” is not a date like 2026-03-31.", text=text[:20]))
    try:
        return timeutil.check_day(day)
    except ValueError as error:
        abort(400, str(error))


def _last_year(source, result: SourceUsage):
    """Return last year's usage for the same periods (months and billing cycles), or None."""
    if source.kind != "meter" or result.kind not in ("month", "cycle") or not result.periods:
        return None
    shifted = [
        period_of(result.kind, add_years(p.first_day, -1), result.zone, source.cycle_day or 1)
        for p in result.periods
    ]
    return usage_over(source, shifted)


ESTIMATED_HINT = _l(
    "Estimated: an edge of this period lies far from any reading, so how the usage between "
    "the readings on either side is split across the edge is a guess (spread evenly). The "
    "total across the readings is exact."
)
PARTIAL_HINT = _l("Readings cover only part of this period: this is the measured part.")


def _rows(result: SourceUsage, previous) -> list[Row]:
    rows = []
    costs = result.period_costs()
    for index, period in enumerate(result.periods):
        row = Row(
            display_label(result.kind, period),
            period,
            cost=costs[index] if result.has_costs else None,
        )
        for metric in result.metrics:
            if result.source.kind == "sensor":
                s = result.sensor[metric][index]
                if s.count == 0:
                    # No reading inside: the line across the gap is no statistic.
                    row.cells[metric] = Cell(None)
                    continue
                row.cells[metric] = Cell(
                    s.average,
                    not s.complete,
                    s.estimated,
                    minimum=s.minimum,
                    maximum=s.maximum,
                )
                continue
            p = result.meter[metric].periods[index]
            value = p.usage if p.complete else p.measured_usage
            cost = p.cost if p.complete else p.measured_cost
            if not p.complete and p.measured_start == p.measured_end:
                value = cost = None  # one reading: no span measured yet
            before = None
            if previous is not None:
                before = previous.meter[metric].periods[index].usage
            row.cells[metric] = Cell(
                value,
                not p.complete and value is not None,
                p.estimated,
                cost.total if cost is not None else None,
                before,
            )
        rows.append(row)
    return rows


def _has_figures(result: SourceUsage, rows: list[Row]) -> bool:
    """Return True when some period has a usage or a statistic to show."""
    return any(cell.value is not None for row in rows for cell in row.cells.values())


def _bar_title(row: Row, metric: str, cell: Cell, unit: str) -> str:
    title = f"{row.label}: {metric} {amount_filter(cell.value)} {unit}".rstrip()
    if cell.partial:
        title += " (" + _("so far: readings cover only part of this period") + ")"
    if cell.estimated:
        title += ". " + str(ESTIMATED_HINT)
    return title


@dataclass
class ChartGroup:
    """One chart (wide and narrow) of the metrics that share a unit, and its legend."""

    unit: str
    metrics: list[str]
    wide: charts.Chart
    narrow: charts.Chart
    title: str
    line_metric: str | None = None


def _charts(
    result: SourceUsage, rows: list[Row], with_line: bool, has_last_year: bool
) -> list[ChartGroup]:
    """Return the charts: a meter's registers of one unit stacked; a sensor's metrics each."""
    units = result.source.metrics
    sensor = result.source.kind == "sensor"
    if sensor:
        groups = [(units[m], [m]) for m in result.metrics]
    else:
        by_unit: dict[str, list[str]] = {}
        for metric in result.metrics:
            by_unit.setdefault(units[metric], []).append(metric)
        groups = list(by_unit.items())
    labels = [chart_label(result.kind, row.period, index) for index, row in enumerate(rows)]
    span = (result.periods[0].start, result.periods[-1].end)
    found = []
    kind_name = str(PERIOD_UNITS[result.kind])
    for unit, metrics in groups[:MAX_CHARTS]:
        series = []
        for number, metric in enumerate(metrics):
            values = []
            for row in rows:
                cell = row.cells[metric]
                title = _bar_title(row, metric, cell, unit)
                if sensor:
                    values.append(
                        charts.Value(
                            None,
                            cell.estimated,
                            low=cell.minimum,
                            high=cell.maximum,
                            mean=cell.value,
                            title=title,
                        )
                    )
                    continue
                previous = None
                if has_last_year and number == 0:
                    # The stack's total a year earlier, drawn once across the stack.
                    earlier = [row.cells[m].last_year for m in metrics]
                    if all(v is not None for v in earlier):
                        previous = sum(earlier)
                values.append(
                    charts.Value(
                        cell.value, cell.estimated, cell.partial, previous=previous, title=title
                    )
                )
            series.append(values)
        line_metric = metrics[0] if with_line else None
        line = result.line.get(line_metric, []) if line_metric else []
        options = {
            "line": line,
            "span": span,
            "include_zero": not sensor,
            "line_on_value_axis": sensor,
            "stacked": not sensor,
        }
        span_names = {"period": kind_name, "first": rows[0].label, "last": rows[-1].label}
        if sensor:
            title = _(
                "Range and average of %(metric)s per %(period)s, %(first)s to %(last)s; "
                "the table below has the numbers.",
                metric=metrics[0],
                **span_names,
            )
        elif len(metrics) > 1:
            title = _(
                "Usage of %(metrics)s stacked per %(period)s, %(first)s to %(last)s; "
                "the table below has the numbers.",
                metrics=" + ".join(metrics),
                **span_names,
            )
        else:
            title = _(
                "Usage per %(period)s, %(first)s to %(last)s; the table below has the numbers.",
                **span_names,
            )
        found.append(
            ChartGroup(
                unit,
                metrics,
                charts.bar_chart(labels, series, width=760, height=280, max_labels=12, **options),
                charts.bar_chart(labels, series, width=360, height=230, max_labels=4, **options),
                title,
                line_metric if line else None,
            )
        )
    return found


def _panel_context(
    source, kind: str, start: date | None, end: date | None, with_line: bool = False
) -> dict:
    try:
        result = usage_for(
            source,
            kind,
            start,
            end,
            line_points=LINE_POINTS if with_line else 0,
        )
    except ValidationFailed as error:
        abort(400, " ".join(str(m) for messages in error.errors.values() for m in messages))
    previous = _last_year(source, result)
    rows = _rows(result, previous)
    has_figures = _has_figures(result, rows)
    has_last_year = previous is not None and any(
        cell.last_year is not None for row in rows for cell in row.cells.values()
    )
    first = result.periods[0].first_day
    after = result.periods[-1].last_day + timedelta(days=1)
    length = after - first
    context = {
        "source": source,
        "usage": result,
        "rows": rows,
        "kind": kind,
        "period_names": PERIOD_NAMES,
        "period_units": PERIOD_UNITS,
        "empty_range": EMPTY_RANGE,
        "charts": _charts(result, rows, with_line, has_last_year) if has_figures else [],
        "has_figures": has_figures,
        "readings_count": None if has_figures else count_readings(source, 2),
        "has_last_year": has_last_year,
        "with_line": with_line,
        "earlier": {"start": (first - length).isoformat(), "end": first.isoformat()},
        "later": {"start": after.isoformat(), "end": (after + length).isoformat()},
        "start": start,
        "end": end,
        "comparison": None,
        "projection": None,
        "estimated_hint": ESTIMATED_HINT,
        "partial_hint": PARTIAL_HINT,
        # A part-covered period that has not ended is "so far"; an ended one only "partly".
        "today": datetime.now(result.zone).date(),
    }
    if source.kind == "meter" and (has_figures or context["readings_count"] >= 2):
        context["comparison"] = compare(source)
        if source.billing_year_start is not None:
            context["projection"] = projection(source)
    return context


@bp.route("/sources/<int:source_id>/usage")
@login_required
def usage(source_id: int):
    """Show usage (or sensor statistics) per period: chart, table, comparisons, costs."""
    source = views.source_or_404(source_id)
    kind = request.args.get("period") or ("month" if source.kind == "meter" else "day")
    if kind not in PERIOD_NAMES:
        abort(400, _("Choose day, week, month, year or cycle."))
    with_line = request.args.get("line") == "1"
    context = _panel_context(source, kind, _parse_day("start"), _parse_day("end"), with_line)
    if htmx.is_fragment_request():
        return views.fragment("sources/_usage_panel.html", **context)
    return render_template("sources/usage.html", **context)


@bp.route("/sources/<int:source_id>/usage/summary")
@login_required
def usage_summary(source_id: int):
    """Answer a dashboard card's usage and cost this month vs last month and last year."""
    source = views.source_or_404(source_id)
    if not htmx.is_fragment_request():
        return redirect(url_for("sources.usage", source_id=source.id))
    comparison = compare(source) if source.kind == "meter" else None
    return views.fragment("sources/_usage_summary.html", source=source, comparison=comparison)


# ---- The whole home -------------------------------------------------------------------------


@dataclass
class HomeView:
    """One home's costs on the dashboard: the figures and their chart (wide and narrow)."""

    group: object
    costs: HomeCosts
    labels: list[str]
    wide: charts.Chart | None = None
    narrow: charts.Chart | None = None


def _home_chart(costs: HomeCosts, labels: list[str], width: int, height: int, ticks):
    series = []
    for source in costs.sources:
        values = []
        for index, label in enumerate(labels):
            cost = costs.costs[source.id][index]
            title = f"{label}: {source.name} {money_filter(cost, costs.currency)}"
            if costs.partial[source.id][index]:
                title += " (" + _("so far: readings cover only part of the month") + ")"
            values.append(
                charts.Value(
                    float(cost) if cost is not None else None,
                    partial=costs.partial[source.id][index],
                    title=title,
                )
            )
        series.append(values)
    axis = [month_axis_label(day, index) for index, day in enumerate(costs.months)]
    return charts.bar_chart(
        axis, series, width=width, height=height, max_labels=ticks, stacked=True
    )


@bp.route("/usage/home")
@login_required
def home_usage():
    """Show every meter's costs per month by home, the year so far and the projected balance."""
    sources = db.session.scalars(datasources.visible_sources(current_user)).all()
    home_views = []
    for group in homes.group_sources(current_user, sources):
        if not any(s.kind == "meter" for s in group.sources):
            continue
        costs = home_costs(group.sources)
        labels = [format_date(day, "MMM yyyy") for day in costs.months]
        view = HomeView(group, costs, labels)
        if costs.has_costs:
            view.wide = _home_chart(costs, labels, 760, 260, 13)
            view.narrow = _home_chart(costs, labels, 360, 220, 5)
        home_views.append(view)
    context = {"views": home_views, "several": len(home_views) > 1}
    if htmx.is_fragment_request():
        return views.fragment("sources/_home_usage.html", **context)
    return render_template("sources/home_usage.html", **context)


@bp.route("/sources/<int:source_id>/readings/<reading_id>/confirm", methods=["POST"])
@login_required
def confirm_reading(source_id: int, reading_id: str):
    """Confirm a reading below the one before: usage then counts it (as a rollover if sized)."""
    source = views.source_or_404(source_id)
    reading = readings.get_reading(source, reading_id)
    if reading is None:
        abort(404)
    reading.confirmed = True
    db.session.commit()
    flash(_("Reading confirmed: usage now counts it."), "success")
    if htmx.is_fragment_request():
        return views.fragment("sources/_nothing.html", events=(READINGS_CHANGED,))
    return redirect(url_for("sources.usage", source_id=source.id))
