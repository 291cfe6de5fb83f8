"""Time-series charts drawn as inline SVG by a Django template, fast enough to draw on every request.

The caller describes a chart (title, value range, shaded bands, dated points with optional markers); `layout`
turns it into coordinates and tick labels, and `render` fills templates/charts/time_series.svg. Colours are SVG
presentation attributes (fill, stroke), which the site's Content-Security-Policy allows, unlike style
attributes; so the chart looks the same on a page, in a PDF rendered by WeasyPrint and on its own. Every text
passes through the template's autoescaping. The <title> and <desc> name the chart for assistive technology;
pages put the values in a table beside it.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

# The drawing's own coordinate system (the image scales to its container): 6.4 x 3 in at 100 dpi.
WIDTH, HEIGHT = 640, 300
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 525, 34, 255
MAX_TICKS = 7
DAY = 86400.0
# Tick steps in days; past 28, whole months (and past 12 of those, whole years) so labels fall on the 1st.
DAY_STEPS = (1, 2, 7, 14)
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)


@dataclass(frozen=True)
class Band:
    name: str
    low: float
    high: float
    colour: str


@dataclass(frozen=True)
class Point:
    at: datetime.datetime | datetime.date
    value: float
    markers: tuple[str, ...] = ()  # keys of Chart.markers, drawn over the point in that order


@dataclass(frozen=True)
class Marker:
    label: str  # as the legend says it
    shape: str  # "square" (outlined) or "star" (filled)
    colour: str


@dataclass
class Chart:
    chart_id: str  # unique on its page: the <title> and <desc> ids hang on it
    title: str
    description: str
    y_label: str
    y_range: tuple[float, float]
    points: list[Point]
    line_colour: str
    bands: list[Band] = field(default_factory=list)
    markers: dict[str, Marker] = field(default_factory=dict)
    footnote: str = ""


def _timestamp(at: datetime.datetime | datetime.date) -> float:
    if isinstance(at, datetime.datetime):
        return at.timestamp()
    return datetime.datetime.combine(at, datetime.time(12), tzinfo=timezone.get_current_timezone()).timestamp()


def _local_day(at: datetime.datetime | datetime.date) -> datetime.date:
    return timezone.localdate(at) if isinstance(at, datetime.datetime) else at


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def date_ticks(first: datetime.date, last: datetime.date) -> list[tuple[datetime.date, str]]:
    """At most MAX_TICKS dates covering first..last on a regular step, each with its label."""
    span = (last - first).days
    for step in DAY_STEPS:
        if span // step + 1 <= MAX_TICKS:
            # Weekly and fortnightly ticks fall on Mondays, so the labels read as a calendar.
            start = first - datetime.timedelta(days=first.weekday()) if step >= 7 else first
            start = start if start >= first else start + datetime.timedelta(days=7)
            days = [start + datetime.timedelta(days=n) for n in range(0, span + 1, step)]
            days = [day for day in days if day <= last]
            years = {day.year for day in days}
            return [(day, f"{day.day} {day:%b}" + (f" {day.year}" if len(years) > 1 else "")) for day in days]
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    steps = [*MONTH_STEPS, *(12 * m * 10**k for k in range(1, 4) for m in (1, 2, 5))]
    step = next(s for s in steps if months // s + 1 <= MAX_TICKS)
    start = _add_months(first.replace(day=1), 1) if first.day > 1 else first
    if step >= 12:
        start = datetime.date(start.year + (start.month > 1), 1, 1)
    days = []
    day = start
    while day <= last:
        days.append(day)
        day = _add_months(day, step)
    if step >= 12:
        return [(day, str(day.year)) for day in days]
    return [
        (day, f"{day:%b}" + (f" {day.year}" if day.month == 1 or index == 0 else "")) for index, day in enumerate(days)
    ]


def value_ticks(low: float, high: float) -> list[float]:
    """Round numbers from low to high, at most six."""
    span = high - low
    if span <= 0:
        return [low]
    magnitude = 10 ** math.floor(math.log10(span / 6))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if span / (m * magnitude) < 6)
    first = math.ceil(low / step) * step
    count = int(math.floor((high - first) / step + 1e-9)) + 1
    return [round(first + n * step, 6) for n in range(count)]


def _number(value: float) -> str:
    return f"{value:g}"


def _at(coordinate: float) -> str:
    """A coordinate as the template writes it: a tenth of a unit is finer than any screen or printer shows."""
    return f"{coordinate:.1f}"


def _midnight(day: datetime.date) -> float:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone()).timestamp()


def _star(x: float, y: float, radius: float) -> str:
    corners = []
    for index in range(10):
        angle = math.pi / 2 + index * math.pi / 5
        r = radius if index % 2 == 0 else radius * 0.45
        corners.append(f"{x + r * math.cos(angle):.1f},{y - r * math.sin(angle):.1f}")
    return " ".join(corners)


def layout(chart: Chart) -> dict:
    """Everything the template draws, in drawing coordinates."""
    low, high = chart.y_range
    y_low, y_high = low - 0.5, high + 0.5  # whole-number totals sit half a point inside the frame

    def y(value: float) -> float:
        return PLOT_BOTTOM - (value - y_low) / (y_high - y_low) * (PLOT_BOTTOM - PLOT_TOP)

    days = [_local_day(point.at) for point in chart.points]
    first, last = (min(days), max(days)) if days else (timezone.localdate(), timezone.localdate())
    if (last - first).days < 6:
        # A week at least, centred on the results, so one result is not drawn against a single day.
        pad = (7 - (last - first).days) // 2
        first, last = first - datetime.timedelta(days=pad), last + datetime.timedelta(days=pad)
    start, end = _midnight(first), _midnight(last + datetime.timedelta(days=1))
    # A margin either side so the first and last points are not drawn on the frame.
    margin = (end - start) * 0.04
    start, end = start - margin, end + margin

    def x(seconds: float) -> float:
        return PLOT_LEFT + (seconds - start) / (end - start) * (PLOT_RIGHT - PLOT_LEFT)

    placed = [(x(_timestamp(point.at)), y(point.value), point) for point in chart.points]
    marked = []
    for px, py, point in placed:
        for marker in (chart.markers[key] for key in point.markers):
            marked.append(
                {"x": _at(px - 6), "y": _at(py - 6), "star": _star(px, py, 8), "shape": marker.shape}
                | {"colour": marker.colour}
            )
    shown = {key for point in chart.points for key in point.markers}
    legend = [
        {"label": marker.label, "shape": marker.shape, "colour": marker.colour, "y": 16 * index}
        for index, marker in enumerate(marker for key, marker in chart.markers.items() if key in shown)
    ]
    bands = []
    for band in chart.bands:
        top, bottom = y(min(band.high + 0.5, y_high)), y(max(band.low - 0.5, y_low))
        bands.append(
            {
                "name": band.name,
                "colour": band.colour,
                "y": _at(top),
                "height": _at(bottom - top),
                "label_y": _at((top + bottom) / 2),
            }
        )
    return {
        "chart": chart,
        "width": WIDTH,
        "height": HEIGHT,
        "left": PLOT_LEFT,
        "right": PLOT_RIGHT,
        "top": PLOT_TOP,
        "bottom": PLOT_BOTTOM,
        "plot_width": PLOT_RIGHT - PLOT_LEFT,
        "plot_height": PLOT_BOTTOM - PLOT_TOP,
        "centre": _at((PLOT_LEFT + PLOT_RIGHT) / 2),
        "middle": _at((PLOT_TOP + PLOT_BOTTOM) / 2),
        "label_x": PLOT_RIGHT + 6,
        "bands": bands,
        "line": " ".join(f"{_at(px)},{_at(py)}" for px, py, _ in placed),
        "points": [{"x": _at(px), "y": _at(py)} for px, py, _ in placed],
        "marked": marked,
        "legend": legend,
        "legend_x": PLOT_RIGHT - 150,
        "legend_height": 8 + 16 * len(legend),
        "legend_star": _star(8, 0, 6),
        "x_ticks": [{"x": _at(x(_midnight(day))), "label": label} for day, label in date_ticks(first, last)],
        "y_ticks": [{"y": _at(y(value)), "label": _number(value)} for value in value_ticks(low, high)],
    }


def render(chart: Chart) -> SafeString:
    """The chart as an inline <svg> element, ready for a template."""
    return SafeString(render_to_string("charts/time_series.svg", layout(chart)).strip())
