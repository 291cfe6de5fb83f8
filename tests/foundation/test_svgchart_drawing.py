"""Time-series charts, written out in Python (svgchart._draw), come out exactly as the template they replace
(time_series_template.svg beside this file) drew them from the same layout: dated and numbered axes, one point,
none, long lists, bands, markers, further series dashed or not, squares and fitted lines, intervals, an empty
note, axis labels, footnotes, and awkward text wherever the chart writes text."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

from kapstone import svgchart

TEMPLATE = Template(Path(__file__).with_name("time_series_template.svg").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'
MARKERS = {
    "response": svgchart.Marker(label=AWKWARD, shape="square", colour="#006d2c"),
    "remission": svgchart.Marker(label="remission", shape="star", colour='"#0&6<'),
}
BANDS = [
    svgchart.Band(name="minimal", low=0, high=4, colour="#ffffcc"),
    svgchart.Band(name=AWKWARD, low=5, high=27, colour="#e31a1c"),
]


def _dated(count: int, *, dates: bool = False) -> list[svgchart.Point]:
    start = datetime.datetime(2025, 12, 30, 23, 30, tzinfo=datetime.UTC)
    points = []
    for index in range(count):
        at = start + datetime.timedelta(days=index * 9 + index % 3)
        points.append(
            svgchart.Point(
                at=at.date() if dates else at,
                value=(index * 7) % 28 - 0.5 * (index % 2),
                markers=(("response",), ("remission",), ("response", "remission"), ())[index % 4],
                low=None if index % 3 else (index * 7) % 28 - 3,
                high=None if index % 3 else (index * 7) % 28 + 40,
            )
        )
    return points


def _numbered(count: int) -> list[svgchart.Point]:
    return [
        svgchart.Point(at=index + 1, value=20 - index * 0.75, low=17 - index, high=23 - index) for index in range(count)
    ]


def _series(points: list[svgchart.Point]) -> list[list[svgchart.Series]]:
    return [
        [],
        [svgchart.Series(name=AWKWARD, points=points[::2], colour="#64748b", dashed=True)],
        [
            svgchart.Series(name="fitted", points=points[:1] + points[-1:], colour="#111", dashed=True, shape="none"),
            svgchart.Series(name="", points=points, colour="#222", shape="square", connect=False),
            svgchart.Series(name="squares", points=points[1:], colour="#333", shape="square"),
        ],
    ]


# Joined or not, awkward label or none, awkward note or none: half of the eight combinations, in which each pair of the
# three still meets in all four of its combinations (a half fraction of the 2x2x2 design). The three are drawn apart
# from each other (the line, the title and axis, the footnote), so it is their pairs with the rest that can go wrong,
# and the product with everything else below holds every one of those.
CONNECT_LABEL_NOTE = [(True, "", ""), (True, AWKWARD, AWKWARD), (False, "", AWKWARD), (False, AWKWARD, "")]


def _charts():
    for count, axis in itertools.product((0, 1, 2, 7, 60), ("datetime", "date", "numbered")):
        points = _numbered(count) if axis == "numbered" else _dated(count, dates=axis == "date")
        for series, bands, markers, (connect, label, note), days in itertools.product(
            _series(points),
            ([], BANDS),
            ({}, MARKERS),
            CONNECT_LABEL_NOTE,
            (None, (datetime.date(2025, 6, 1), datetime.date(2026, 9, 30))),
        ):
            if markers == {} and any(point.markers for point in points):
                continue  # a point names only markers its chart declares
            if days and axis == "numbered":
                continue
            yield svgchart.Chart(
                chart_id=f"c-{count}-{axis}" if label else AWKWARD,
                title=label or "PHQ-9 over time",
                description=f"{count} results{label}",
                y_label=label or "total",
                y_range=(0, 27),
                points=points,
                line_colour="#1f4e79",
                bands=bands,
                markers=markers,
                footnote=note,
                line_label=label,
                series=series,
                connect=connect,
                y_pad=0.5 if connect else 0,
                x_label=note,
                empty_note=label,
                days=days,
            )


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland"])
def test_every_kind_of_chart_comes_out_as_the_template_drew_it(settings, zone):
    settings.TIME_ZONE = zone
    drawn = 0
    with timezone.override(zone):
        for chart in _charts():
            expected = TEMPLATE.render(Context(svgchart.layout(chart))).strip()
            assert svgchart.render(chart) == expected, chart.chart_id
            drawn += 1
    assert drawn > 800


def test_awkward_text_is_escaped_as_the_template_escapes_it():
    chart = next(chart for chart in _charts() if chart.chart_id == AWKWARD and chart.points and chart.markers)
    svg = svgchart.render(chart)
    assert "<b>" not in svg and "&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;" in svg
