"""Geometry of the server-rendered SVG charts: bars per period, a line of readings, axes.

No JavaScript and no inline styles (the CSP forbids both): templates draw these shapes with
SVG presentation attributes and CSS classes. The same data is always in a table beside the
chart, so the SVG is marked as an image with a summary, not read element by element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from homelog import i18n
from homelog.i18n import _


@dataclass(frozen=True)
class Bar:
    """One bar: position, size, series index and what it stands for."""

    x: float
    y: float
    width: float
    height: float
    series: int
    estimated: bool
    partial: bool
    title: str


@dataclass(frozen=True)
class Marker:
    """A short horizontal mark: last year's value over a bar, or a sensor's average."""

    x1: float
    x2: float
    y: float
    title: str
    kind: str = "previous"


@dataclass(frozen=True)
class Tick:
    """An axis tick: where, and its label."""

    position: float
    label: str


@dataclass
class Chart:
    """Everything a template needs to draw one chart."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    line: str = ""
    line_ticks: list[Tick] = field(default_factory=list)
    whiskers: list[tuple[float, float, float, int]] = field(default_factory=list)
    zero: float = 0.0  # y of the value axis' zero line


@dataclass(frozen=True)
class Value:
    """One bar's value and flags (None: no bar)."""

    value: float | None
    estimated: bool = False
    partial: bool = False
    low: float | None = None  # sensors: whisker from low to high
    high: float | None = None
    previous: float | None = None  # last year's value, drawn as a marker
    mean: float | None = None  # sensors: the average, drawn as a marker on the whisker
    title: str = ""


#: Beyond this size a value is no reading or cost homelog makes: the axis just spans it.
HUGE = 1e300
#: A step is at least this many float steps of the values, so adding it always moves a tick.
MIN_STEP_ULPS = 64


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Return round tick values covering [low, high] (1, 2, 2.5 or 5 × a power of ten).

    At most count + 3 ticks, whatever the values: ticks are counted by index, never by
    adding a step that may be too small to change a float near 10^15.
    """
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if max(abs(low), abs(high)) > HUGE:
        return [min(low, 0.0), max(high, 0.0)]
    if high == low:
        high = low + (abs(low) or 1.0)
    spacing = math.ulp(max(abs(low), abs(high)))
    raw = max((high - low) / max(count, 1), spacing * MIN_STEP_ULPS)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    last = max(math.ceil(high / step - 1e-9), first + 1)
    digits = max(10, 3 - math.floor(math.log10(step)))
    return [round(index * step, digits) for index in range(first, last + 1)]


def label(value: float) -> str:
    """Return a short axis label (1.5k, 12, 0.25; 1,5k and 0,25 in German)."""
    size = abs(value)
    if size >= 1_000_000:
        return f"{_short(value / 1_000_000)}M"
    if size >= 10_000:
        return f"{_short(value / 1000)}k"
    return _short(value)


def _short(value: float) -> str:
    """Return value in at most six significant digits, with the reader's decimal mark."""
    return i18n.format_decimal(float(f"{value:g}"))


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Sequence[Value]],
    *,
    width: int = 760,
    height: int = 280,
    max_labels: int = 12,
    line: Sequence[tuple[datetime, float]] = (),
    span: tuple[datetime, datetime] | None = None,
    include_zero: bool = True,
    line_on_value_axis: bool = False,
    stacked: bool = False,
) -> Chart:
    """Lay out grouped bars (one group per period, one bar per series) and a line.

    stacked: the series of a period are stacked into one bar (registers of one unit, so the
    bar's height is their total); a period's `previous` is then the stack's total a year
    earlier. line: (instant, value) points drawn across span on their own scale (right axis).
    """
    own_axis = bool(line) and not line_on_value_axis
    chart = Chart(
        width, height, left=46, top=24, right=width - (44 if own_axis else 10), bottom=height - 26
    )
    count = len(labels)
    values = _plotted_values(series, count, stacked)
    if line_on_value_axis:
        values += [v for _, v in line]
    low = min(values, default=0.0)
    high = max(values, default=1.0)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    ticks = nice_ticks(low, high)
    y_of = _y_scale(chart, ticks[0], ticks[-1])
    chart.zero = y_of(max(ticks[0], min(0.0, ticks[-1])))
    chart.y_ticks = [Tick(round(y_of(t), 1), label(t)) for t in ticks]
    slot = (chart.right - chart.left) / max(count, 1)
    groups = 1 if stacked else max(len(series), 1)
    gap = slot * (0.25 if count > 1 else 0.5)
    layout = _Layout(chart, y_of, max((slot - gap) / groups, 0.5), stacked, include_zero)
    for index in range(count):
        x0 = chart.left + index * slot + gap / 2
        _lay_out_period(layout, [s[index] for s in series], x0, labels[index])
    every = max(1, math.ceil(count / max_labels))
    chart.x_ticks = [
        Tick(round(chart.left + (i + 0.5) * slot, 1), text)
        for i, text in enumerate(labels)
        if i % every == 0
    ]
    if line and span is not None:
        _lay_out_line(chart, line, span, y_of if line_on_value_axis else None)
    return chart


@dataclass(frozen=True)
class _Layout:
    """What placing one period's bars and marks needs: the chart, its scale, the bar width."""

    chart: Chart
    y_of: Callable[[float], float]
    bar_w: float
    stacked: bool
    include_zero: bool


def _plotted_values(series: Sequence[Sequence[Value]], count: int, stacked: bool) -> list[float]:
    """Return every value the value axis must span (stacked: each stack's top and bottom)."""
    values = [
        v
        for s in series
        for item in s
        for v in (item.value, item.low, item.high, item.previous, item.mean)
        if v is not None
    ]
    if stacked:
        for index in range(count):
            column = [s[index].value for s in series if s[index].value is not None]
            values.append(sum(v for v in column if v > 0))
            values.append(sum(v for v in column if v < 0))
    return values


def _y_scale(chart: Chart, low: float, high: float) -> Callable[[float], float]:
    """Return the function placing a value between low (the plot's bottom) and high (its top)."""
    plot_h = chart.bottom - chart.top

    def y_of(value: float) -> float:
        return chart.bottom - (value - low) / (high - low) * plot_h

    return y_of


def _lay_out_period(layout: _Layout, items: Sequence[Value], x0: float, name: str) -> None:
    """Add one period's bars (side by side, or stacked from x0), whiskers and markers."""
    above = below = 0.0  # stacked: the stack's top and bottom so far
    for number, item in enumerate(items):
        x = x0 if layout.stacked else x0 + number * layout.bar_w
        if item.value is not None and layout.stacked:
            above, below = _stack_bar(layout, item, number, x, above, below)
        elif item.value is not None:
            _add_bar(layout, item, number, x)
        _add_marks(layout, item, number, x, name)


def _bar(layout: _Layout, item: Value, number: int, x: float, top: float, height: float) -> Bar:
    return Bar(
        round(x, 2),
        round(top, 2),
        round(layout.bar_w, 2),
        round(height, 2),
        number,
        item.estimated,
        item.partial,
        item.title,
    )


def _stack_bar(
    layout: _Layout, item: Value, number: int, x: float, above: float, below: float
) -> tuple[float, float]:
    """Add item's bar on top of (or, negative, below) the stack; return the stack's new ends."""
    y_of = layout.y_of
    if item.value >= 0:
        top, base = y_of(above + item.value), y_of(above)
        above += item.value
    else:
        top, base = y_of(below), y_of(below + item.value)
        below += item.value
    layout.chart.bars.append(_bar(layout, item, number, x, top, max(base - top, 0.5)))
    return above, below


def _add_bar(layout: _Layout, item: Value, number: int, x: float) -> None:
    """Add item's bar from the zero line up (or down, for a negative value)."""
    chart, y_of = layout.chart, layout.y_of
    top, base = y_of(max(item.value, 0.0) if layout.include_zero else item.value), chart.zero
    if item.value < 0:
        top, base = chart.zero, y_of(item.value)
    chart.bars.append(_bar(layout, item, number, x, min(top, base), max(abs(base - top), 0.5)))


def _add_marks(layout: _Layout, item: Value, number: int, x: float, name: str) -> None:
    """Add item's whisker (low to high), last year's marker and its mean's marker."""
    chart, y_of, bar_w = layout.chart, layout.y_of, layout.bar_w
    if item.low is not None and item.high is not None:
        centre = round(x + bar_w / 2, 2)
        chart.whiskers.append((centre, round(y_of(item.high), 2), round(y_of(item.low), 2), number))
    if item.previous is not None:
        chart.markers.append(
            Marker(
                round(x - 1, 2),
                round(x + bar_w + 1, 2),
                round(y_of(item.previous), 2),
                _("%(period)s a year earlier", period=name),
            )
        )
    if item.mean is not None:
        chart.markers.append(
            Marker(round(x, 2), round(x + bar_w, 2), round(y_of(item.mean), 2), item.title, "mean")
        )


def _lay_out_line(
    chart: Chart,
    line: Sequence[tuple[datetime, float]],
    span: tuple[datetime, datetime],
    y_of: Callable[[float], float] | None,
) -> None:
    """Draw line across span: on the value axis with y_of, else on a right axis of its own."""
    start, end = span[0].timestamp(), span[1].timestamp()
    line_values = [v for _, v in line]
    line_ticks = nice_ticks(min(line_values), max(line_values), 3)
    line_y = y_of or _y_scale(chart, line_ticks[0], line_ticks[-1])
    points = []
    for instant, value in line:
        x = chart.left + (instant.timestamp() - start) / (end - start) * (chart.right - chart.left)
        points.append(f"{x:.1f},{line_y(value):.1f}")
    chart.line = " ".join(points)
    if y_of is None:
        chart.line_ticks = [Tick(round(line_y(t), 1), label(t)) for t in line_ticks]
