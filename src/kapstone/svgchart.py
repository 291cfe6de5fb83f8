"""Charts drawn as inline SVG, fast enough to draw on every request.

The caller describes a chart (title, value range, shaded bands, points dated or numbered, with optional
markers, confidence intervals and further series); `layout` turns it into coordinates and tick labels, and
`render` writes them out (`_draw`). A `BarChart` (grouped bars with intervals) is laid out by
`bar_layout` and drawn by `render_bars` from templates/charts/bars.svg. Colours are SVG
presentation attributes (fill, stroke), which the site's Content-Security-Policy allows, unlike style
attributes; so the chart looks the same on a page, in a PDF rendered by WeasyPrint and on its own. Every text
is escaped as a template's autoescaping does (formrender.shown). The <title> and <desc> name the chart for assistive technology;
pages put the values in a table beside it.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from kapstone.formrender import shown

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
    at: datetime.datetime | datetime.date | int  # a whole number puts the chart on a numbered axis (sessions)
    value: float
    markers: tuple[str, ...] = ()  # keys of Chart.markers, drawn over the point in that order
    low: float | None = None  # an interval drawn as a whisker through the point (a 95% CI)
    high: float | None = None


@dataclass(frozen=True)
class Series:
    """A further line on the same axes, named in the legend."""

    name: str
    points: list[Point]
    colour: str
    dashed: bool = False
    shape: str = "circle"  # "square", or "none" for a line without dots (a fitted line)
    connect: bool = True


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
    line_label: str = ""  # the main line's name in the legend, where further series share the axes
    series: list[Series] = field(default_factory=list)
    connect: bool = True  # False: points (and their intervals) only, no line through them
    y_pad: float = 0.5  # whole-number totals sit half a point inside the frame
    x_label: str = ""
    empty_note: str = ""  # written across the plot when no series has a point
    days: tuple[datetime.date, datetime.date] | None = None  # a dated axis spanning at least these days (charts
    # stacked on one page share their dates this way)


def _is_numbered(at: datetime.datetime | datetime.date | int) -> bool:
    return not isinstance(at, datetime.date)


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


def _canvas(chart: Chart | BarChart) -> dict:
    """What every chart template draws its frame with: the chart itself, the picture's size and the plot's edges."""
    return {
        "chart": chart,
        "width": WIDTH,
        "height": HEIGHT,
        "left": PLOT_LEFT,
        "right": PLOT_RIGHT,
        "top": PLOT_TOP,
        "bottom": PLOT_BOTTOM,
    }


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


def _x_axis(every: list[Point], span: tuple[datetime.date, datetime.date] | None):
    """The x position of a point's `at`, and the ticks, for dated or numbered points."""
    if every and all(_is_numbered(point.at) for point in every):
        numbers = [float(point.at) for point in every]  # type: ignore[arg-type]
        first, last = min(numbers), max(numbers)
        start, end = first - 0.5, last + 0.5
        whole = sorted({int(n) for n in numbers})
        steps = whole if len(whole) <= MAX_TICKS * 2 else [int(v) for v in value_ticks(first, last)]
        ticks = [(float(n), str(n)) for n in steps]

        def seconds(at) -> float:
            return float(at)

    else:
        days = [_local_day(point.at) for point in every] + list(span or ())  # type: ignore[arg-type]
        day_first, day_last = (min(days), max(days)) if days else (timezone.localdate(), timezone.localdate())
        if (day_last - day_first).days < 6:
            # A week at least, centred on the results, so one result is not drawn against a single day.
            pad = (7 - (day_last - day_first).days) // 2
            day_first, day_last = day_first - datetime.timedelta(days=pad), day_last + datetime.timedelta(days=pad)
        start, end = _midnight(day_first), _midnight(day_last + datetime.timedelta(days=1))
        # A margin either side so the first and last points are not drawn on the frame.
        margin = (end - start) * 0.04
        start, end = start - margin, end + margin
        ticks = [(_midnight(day), label) for day, label in date_ticks(day_first, day_last)]
        seconds = _timestamp

    def x(at) -> float:
        return PLOT_LEFT + (seconds(at) - start) / (end - start) * (PLOT_RIGHT - PLOT_LEFT)

    return x, [
        {"x": _at(PLOT_LEFT + (at - start) / (end - start) * (PLOT_RIGHT - PLOT_LEFT)), "label": label}
        for at, label in ticks
    ]


def layout(chart: Chart) -> dict:
    """Everything the template draws, in drawing coordinates."""
    low, high = chart.y_range
    y_low, y_high = low - chart.y_pad, high + chart.y_pad

    def y(value: float) -> float:
        return PLOT_BOTTOM - (value - y_low) / (y_high - y_low) * (PLOT_BOTTOM - PLOT_TOP)

    every_series = [
        Series(name=chart.line_label, points=chart.points, colour=chart.line_colour, connect=chart.connect),
        *chart.series,
    ]
    x, x_ticks = _x_axis([point for series in every_series for point in series.points], chart.days)
    lines = []
    marked = []
    for index, series in enumerate(every_series):
        placed = [(x(point.at), y(point.value), point) for point in series.points]
        lines.append(
            {
                "colour": series.colour,
                "dashed": series.dashed,
                "shape": series.shape,
                "connect": series.connect and len(placed) > 1,
                "line": " ".join(f"{_at(px)},{_at(py)}" for px, py, _ in placed),
                "points": [
                    {"x": _at(px), "y": _at(py), "sx": _at(px - 3.5), "sy": _at(py - 3.5)} for px, py, _ in placed
                ],
                "whiskers": [
                    {
                        "x": _at(px),
                        "x1": _at(px - 4),
                        "x2": _at(px + 4),
                        "y1": _at(y(max(point.low, y_low))),
                        "y2": _at(y(min(point.high, y_high))),
                    }
                    for px, _, point in placed
                    if point.low is not None and point.high is not None
                ],
                "main": index == 0,
            }
        )
        for px, py, point in placed:
            for marker in (chart.markers[key] for key in point.markers):
                marked.append(
                    {"x": _at(px - 6), "y": _at(py - 6), "star": _star(px, py, 8), "shape": marker.shape}
                    | {"colour": marker.colour}
                )
    named = [
        {"label": series.name, "shape": "line" if series.connect else "dot", "colour": series.colour}
        | {"dashed": series.dashed}
        for series in every_series
        if series.name
    ]
    shown = {key for series in every_series for point in series.points for key in point.markers}
    legend = [
        entry | {"y": 16 * index}
        for index, entry in enumerate(
            named
            + [
                {"label": marker.label, "shape": marker.shape, "colour": marker.colour}
                for key, marker in chart.markers.items()
                if key in shown
            ]
        )
    ]
    bands = []
    for band in chart.bands:
        top, bottom = y(min(band.high + chart.y_pad, y_high)), y(max(band.low - chart.y_pad, y_low))
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
        **_canvas(chart),
        "plot_width": PLOT_RIGHT - PLOT_LEFT,
        "plot_height": PLOT_BOTTOM - PLOT_TOP,
        "centre": _at((PLOT_LEFT + PLOT_RIGHT) / 2),
        "middle": _at((PLOT_TOP + PLOT_BOTTOM) / 2),
        "label_x": PLOT_RIGHT + 6,
        "bands": bands,
        "lines": lines,
        "empty": not any(series.points for series in every_series),
        "marked": marked,
        "legend": legend,
        "legend_x": PLOT_RIGHT - 150,
        "legend_height": 8 + 16 * len(legend),
        "legend_star": _star(8, 0, 6),
        "x_ticks": x_ticks,
        "y_ticks": [{"y": _at(y(value)), "label": _number(value)} for value in value_ticks(low, high)],
    }


def _series(series: dict) -> str:
    """One series' line, whiskers and dots."""
    colour = shown(series["colour"])
    parts = []
    if series["connect"]:
        dashed = ' stroke-dasharray="5 3"' if series["dashed"] else ""
        parts.append(
            f'<polyline points="{shown(series["line"])}" fill="none" stroke="{colour}" '
            f'stroke-width="{"2" if series["main"] else "1.5"}" stroke-linejoin="round"{dashed}/>\n'
        )
    for whisker in series["whiskers"]:
        x, x1, x2, y1, y2 = (shown(whisker[key]) for key in ("x", "x1", "x2", "y1", "y2"))
        parts.append(
            f'<path d="M{x} {y1}V{y2}M{x1} {y1}H{x2}M{x1} {y2}H{x2}" stroke="{colour}" stroke-width="1.2" fill="none"/>\n'
        )
    if series["shape"] == "square":
        parts.extend(
            f'<rect x="{shown(point["sx"])}" y="{shown(point["sy"])}" width="7" height="7" fill="{colour}"/>\n'
            for point in series["points"]
        )
    elif series["shape"] != "none":
        parts.extend(
            f'<circle cx="{shown(point["x"])}" cy="{shown(point["y"])}" r="4" fill="{colour}"/>\n'
            for point in series["points"]
        )
    return "".join(parts)


def _legend_entry(entry: dict, star: str) -> str:
    colour = shown(entry["colour"])
    shape = entry["shape"]
    if shape == "line":
        dashed = ' stroke-dasharray="5 3"' if entry.get("dashed") else ""
        symbol = f'<line x1="0" x2="16" y1="0" y2="0" stroke="{colour}" stroke-width="2"{dashed}/>'
    elif shape == "dot":
        symbol = f'<circle cx="8" cy="0" r="4" fill="{colour}"/>'
    elif shape == "star":
        symbol = f'<polygon points="{star}" fill="{colour}"/>'
    else:
        symbol = f'<rect x="3" y="-5" width="10" height="10" fill="none" stroke="{colour}" stroke-width="2"/>'
    return f'<g transform="translate(8 {entry["y"] + 12})">{symbol}\n<text x="22" y="3">{shown(entry["label"])}</text></g>\n'


def _draw(drawn: dict) -> str:
    """The time-series chart from layout()'s values, exactly as the template it replaces drew it, line breaks
    included (tests/foundation/test_svgchart_drawing.py draws charts of every kind both ways against that
    template, kept there): drawn by the template, a patient's measures page spent a third of its CPU time on
    its four charts (issue 19)."""
    chart = drawn["chart"]
    chart_id = shown(chart.chart_id)
    title = shown(chart.title)
    width, height, left, top, bottom = (shown(drawn[key]) for key in ("width", "height", "left", "top", "bottom"))
    plot_width, centre, middle = shown(drawn["plot_width"]), shown(drawn["centre"]), shown(drawn["middle"])
    parts = [
        f'\n<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="10" fill="#333333">\n'
        f'<title id="{chart_id}-title">{title}</title>\n'
        f'<desc id="{chart_id}-desc">{shown(chart.description)}</desc>\n'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n'
    ]
    label_x = shown(drawn["label_x"])
    parts.extend(
        f'<rect x="{left}" y="{shown(band["y"])}" width="{plot_width}" height="{shown(band["height"])}" '
        f'fill="{shown(band["colour"])}" fill-opacity="0.55"/>\n'
        f'<text x="{label_x}" y="{shown(band["label_y"])}" dy="3" font-size="8">{shown(band["name"])}</text>\n'
        for band in drawn["bands"]
    )
    parts.extend(
        f'<line x1="{drawn["left"] - 4}" x2="{left}" y1="{shown(tick["y"])}" y2="{shown(tick["y"])}" stroke="#333333"/>\n'
        f'<text x="{drawn["left"] - 7}" y="{shown(tick["y"])}" dy="3.5" text-anchor="end">{shown(tick["label"])}</text>\n'
        for tick in drawn["y_ticks"]
    )
    parts.extend(
        f'<line x1="{shown(tick["x"])}" x2="{shown(tick["x"])}" y1="{bottom}" y2="{drawn["bottom"] + 4}" '
        'stroke="#333333"/>\n'
        f'<text x="{shown(tick["x"])}" y="{drawn["bottom"] + 16}" text-anchor="middle">{shown(tick["label"])}</text>\n'
        for tick in drawn["x_ticks"]
    )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_width}" height="{shown(drawn["plot_height"])}" fill="none" '
        'stroke="#333333"/>\n'
    )
    parts.extend(_series(series) for series in drawn["lines"])
    if drawn["empty"] and chart.empty_note:
        parts.append(
            f'<text x="{centre}" y="{middle}" text-anchor="middle" fill="#4d5b63">{shown(chart.empty_note)}</text>\n'
        )
    for mark in drawn["marked"]:
        colour = shown(mark["colour"])
        parts.append(
            f'<polygon points="{shown(mark["star"])}" fill="{colour}"/>\n'
            if mark["shape"] == "star"
            else f'<rect x="{shown(mark["x"])}" y="{shown(mark["y"])}" width="12" height="12" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>\n'
        )
    if drawn["legend"]:
        star = shown(drawn["legend_star"])
        parts.append(
            f'<g transform="translate({shown(drawn["legend_x"])} {drawn["top"] + 6})" font-size="9">\n'
            f'<rect width="144" height="{shown(drawn["legend_height"])}" fill="#ffffff" fill-opacity="0.8" '
            'stroke="#cccccc"/>\n'
        )
        parts.extend(_legend_entry(entry, star) for entry in drawn["legend"])
        parts.append("</g>\n")
    parts.append(
        f'<text x="{centre}" y="20" text-anchor="middle" font-size="12">{title}</text>\n'
        f'<text transform="translate(18 {middle}) rotate(-90)" text-anchor="middle">{shown(chart.y_label)}</text>\n'
    )
    if chart.x_label:
        parts.append(
            f'<text x="{centre}" y="{drawn["bottom"] + 32}" text-anchor="middle">{shown(chart.x_label)}</text>\n'
        )
    parts.append("\n")
    if chart.footnote:
        parts.append(
            f'<text x="{centre}" y="{drawn["height"] - 8}" text-anchor="middle" font-size="8">'
            f"{shown(chart.footnote)}</text>\n"
        )
    parts.append("</svg>\n")
    return "".join(parts)


def render(chart: Chart) -> SafeString:
    """The chart as an inline <svg> element, ready for a template."""
    return SafeString(_draw(layout(chart)).strip())


@dataclass(frozen=True)
class Bar:
    value: float
    low: float | None = None  # the interval's ends (a 95% CI), drawn as a whisker
    high: float | None = None


@dataclass(frozen=True)
class BarGroup:
    name: str  # as the legend says it
    colour: str


@dataclass
class BarChart:
    """Bars in groups: one category (a questionnaire) holds one bar of each group. With `scales`, each category
    is drawn in its own panel on its own axis, from its scale's lowest to its highest possible value, so
    questionnaires of different ranges are never read against one another's axis; without, every category shares
    one axis from zero. The legend sits under the title, outside every plot, so it never covers a bar or an
    interval."""

    chart_id: str
    title: str
    description: str
    y_label: str
    groups: list[BarGroup]
    categories: list[tuple[str, str]]  # each category's label and a second line under it (e.g. "n = 40")
    bars: list[list[Bar]]  # per category, one bar per group, in the groups' order
    scales: list[tuple[float, float]] | None = None  # per category, the axis's (lowest, highest) value


BAR_PANELS_PER_ROW = 4
BAR_AREA_LEFT, BAR_AREA_RIGHT = 34, WIDTH - 8
BAR_FIRST_ROW_TOP = 58  # under the title (y 20) and the legend's row (y 38)
BAR_ROW_HEIGHT, BAR_PLOT_HEIGHT = 180, 136
BAR_AXIS_ROOM = 30  # left of each panel's axis, for its tick labels


def _axis_ticks(low: float, high: float) -> list[float]:
    """Round ticks from low to high that end on high itself, so the top of a questionnaire's axis says its
    highest possible total."""
    ticks = value_ticks(low, high)
    if ticks[-1] != high:
        step = ticks[1] - ticks[0] if len(ticks) > 1 else high - low
        if high - ticks[-1] < step * 0.75 and len(ticks) > 1:
            ticks.pop()
        ticks.append(high)
    return ticks


def _shared_scale(chart: BarChart) -> tuple[float, float, list[float]]:
    """One axis from zero for every category: a little above the highest bar or interval."""
    tops = [max(bar.value, bar.high if bar.high is not None else bar.value) for row in chart.bars for bar in row]
    high = max(tops, default=1.0) or 1.0
    ticks = value_ticks(0, high * 1.05)
    return 0.0, max(high * 1.08, ticks[-1]), ticks


def bar_layout(chart: BarChart) -> dict:
    """Everything templates/charts/bars.svg draws, in drawing coordinates: one panel per category when the chart
    has scales, else one panel for all; panels run in rows of at most BAR_PANELS_PER_ROW."""
    if chart.scales is not None:
        panels = [(low, high, _axis_ticks(low, high), [index]) for index, (low, high) in enumerate(chart.scales)]
    else:
        panels = [(*_shared_scale(chart), list(range(len(chart.categories))))]
    per_row = max(1, min(len(panels), BAR_PANELS_PER_ROW if chart.scales is not None else 1))
    panel_width = (BAR_AREA_RIGHT - BAR_AREA_LEFT) / per_row
    drawn_panels = []
    for number, (low, high, ticks, members) in enumerate(panels):
        row, column = divmod(number, per_row)
        left = BAR_AREA_LEFT + panel_width * column + BAR_AXIS_ROOM
        right = BAR_AREA_LEFT + panel_width * (column + 1) - 8
        top = BAR_FIRST_ROW_TOP + BAR_ROW_HEIGHT * row
        bottom = top + BAR_PLOT_HEIGHT
        span = (high - low) or 1.0

        def y(value: float, top=top, bottom=bottom, low=low, high=high, span=span) -> float:
            return bottom - (min(max(value, low), high) - low) / span * (bottom - top)

        slot = (right - left) / max(len(members), 1)
        width = slot * 0.8 / max(len(chart.groups), 1)
        categories = []
        for index, member in enumerate(members):
            label, second = chart.categories[member]
            centre = left + slot * (index + 0.5)
            bars = []
            for position, (group, bar) in enumerate(zip(chart.groups, chart.bars[member], strict=True)):
                bar_left = centre - slot * 0.4 + width * position
                middle = bar_left + width / 2
                bars.append(
                    {
                        "x": _at(bar_left + 1),
                        "y": _at(y(bar.value)),
                        "width": _at(width - 2),
                        "height": _at(bottom - y(bar.value)),
                        "colour": group.colour,
                        "whisker": None
                        if bar.low is None or bar.high is None
                        else {
                            "x": _at(middle),
                            "x1": _at(middle - 4),
                            "x2": _at(middle + 4),
                            "y1": _at(y(bar.low)),
                            "y2": _at(y(bar.high)),
                        },
                    }
                )
            categories.append({"x": _at(centre), "label": label, "second": second, "bars": bars})
        drawn_panels.append(
            {
                "left": _at(left),
                "right": _at(right),
                "top": _at(top),
                "bottom": _at(bottom),
                "tick_left": _at(left - 4),
                "tick_label_x": _at(left - 6),
                "label_y": _at(bottom + 15),
                "second_y": _at(bottom + 27),
                "categories": categories,
                "y_ticks": [{"y": _at(y(value)), "label": _number(value)} for value in ticks],
            }
        )
    rows = -(-len(panels) // per_row)
    height = BAR_FIRST_ROW_TOP + BAR_ROW_HEIGHT * rows - 6
    key_width = 130
    legend_left = WIDTH / 2 - key_width * len(chart.groups) / 2
    return {
        "chart": chart,
        "width": WIDTH,
        "height": height,
        "centre": _at(WIDTH / 2),
        "middle": _at((BAR_FIRST_ROW_TOP + height) / 2),
        "panels": drawn_panels,
        "legend": [
            {"label": group.name, "colour": group.colour, "x": _at(legend_left + key_width * index)}
            for index, group in enumerate(chart.groups)
        ],
    }


def render_bars(chart: BarChart) -> SafeString:
    """The bar chart as an inline <svg> element, ready for a template."""
    return SafeString(render_to_string("charts/bars.svg", bar_layout(chart)).strip())
