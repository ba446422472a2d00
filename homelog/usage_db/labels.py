"""How a period is named: in the API and CSV files, in tables, and on a chart's axis."""

from __future__ import annotations

from datetime import date

from homelog import i18n
from homelog.usage import Period


def period_label(kind: str, period: Period) -> str:
    """Return a short label for a calendar period ("2026-03", "2026-W13", ...)."""
    first = period.first_day
    if first is None:
        return f"{period.start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M}"
    if kind == "day":
        return first.isoformat()
    if kind == "week":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{first:%Y-%m}"
    if kind == "year":
        return str(first.year)
    return f"{first.isoformat()} – {period.last_day.isoformat()}"


def _day_month(day: date) -> str:
    return i18n.format_date(day, "MMMd")


def display_label(kind: str, period: Period) -> str:
    """Return a label people read for a period ("Nov 2026", "24–30 Nov", "Wed 2 Dec").

    In the reader's locale ("Nov. 2026", "24.–30. Nov." in German).
    """
    first, last = period.first_day, period.last_day
    if first is None or last is None:
        return period_label(kind, period)
    if kind == "day":
        return i18n.format_date(first, "MMMEd")
    if kind == "month":
        return i18n.format_date(first, "yMMM")
    if kind == "year":
        return str(first.year)
    text = i18n.format_date_interval(first, last, "MMMd")
    return text if kind == "week" else f"{text} {last.year}"


def month_axis_label(first: date, index: int) -> str:
    """Return a month's axis label: "Nov", with the year on January and on the first bar."""
    # Not on the first bar when January stands right beside it: the labels would collide.
    with_year = first.month == 1 or (index == 0 and first.month != 12)
    return i18n.format_date(first, "yMMM" if with_year else "MMM")


def chart_label(kind: str, period: Period, index: int = 0) -> str:
    """Return a short axis label for a period ("Nov", "Jan 2027", "24 Nov", "2 Dec")."""
    first = period.first_day
    if first is None:
        return period_label(kind, period)
    if kind == "month":
        return month_axis_label(first, index)
    if kind == "year":
        return str(first.year)
    return _day_month(first)
