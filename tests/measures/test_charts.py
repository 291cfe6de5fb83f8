"""Trajectory charts drawn as SVG from a template: well-formed, labelled, banded, marked, and safe with odd data."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from kapstone import svgchart
from kapstone.measures import charts
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import get_instrument
from kapstone.measures.selectors import Trajectory

SVG = "{http://www.w3.org/2000/svg}"


def trajectory(instrument_id: str, totals_by_day: list[tuple[datetime.datetime, int]], changes=None) -> Trajectory:
    points = [Assessment(instrument_id=instrument_id, total=total, completed_at=at) for at, total in totals_by_day]
    return Trajectory(instrument=get_instrument(instrument_id), points=points, changes=changes or [None] * len(points))


def parsed(svg: str) -> ET.Element:
    # WeasyPrint (the PDF reports) and browsers alike need well-formed XML for inline SVG.
    return ET.fromstring(svg)  # noqa: S314 - our own rendered output, not untrusted input


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def test_a_chart_has_a_title_a_description_and_one_point_per_result():
    svg = parsed(charts.trajectory_svg(trajectory("phq9", [(days_ago(60), 18), (days_ago(30), 11), (days_ago(1), 4)])))
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "PHQ-9 over time"
    assert svg.get("aria-labelledby") == "chart-phq9-title"
    description = svg.find(f"{SVG}desc").text
    assert "3 results from 0 to 27" in description and "severe 20-27" in description
    assert len(svg.findall(f"{SVG}circle")) == 3
    assert len(svg.find(f"{SVG}polyline").get("points").split()) == 3


def test_each_severity_band_is_shaded_and_named_lightest_first():
    svg = charts.trajectory_svg(trajectory("phq9", [(days_ago(10), 12)]))
    names = [band.name for band in get_instrument("phq9").bands]
    for name in names:
        assert f">{name}</text>" in svg
    fills = [rect.get("fill") for rect in parsed(svg).findall(f"{SVG}rect") if rect.get("fill-opacity") == "0.55"]
    assert fills[0] == charts.BAND_COLOURS[0] and fills[-1] == charts.BAND_COLOURS[-1] and len(fills) == len(names)


def test_an_instrument_without_bands_is_drawn_without_shading():
    svg = parsed(charts.trajectory_svg(trajectory("pcl5", [(days_ago(30), 40), (days_ago(1), 20)])))
    assert not [rect for rect in svg.findall(f"{SVG}rect") if rect.get("fill-opacity") == "0.55"]
    assert len(svg.findall(f"{SVG}circle")) == 2


def test_response_and_remission_are_marked_and_listed_in_the_legend():
    changes = [None, {"response": True, "remission": False}, {"response": True, "remission": True}]
    svg = charts.trajectory_svg(
        trajectory("phq9", [(days_ago(60), 20), (days_ago(30), 9), (days_ago(1), 3)], changes=changes)
    )
    tree = parsed(svg)
    squares = [r for r in tree.iter(f"{SVG}rect") if r.get("width") == "12"]
    stars = [p for p in tree.findall(f"{SVG}polygon")]
    assert len(squares) == 2 and len(stars) == 1
    assert "response (≥50% fall)" in svg and ">remission</text>" in svg


def test_no_legend_without_a_marker():
    svg = charts.trajectory_svg(trajectory("phq9", [(days_ago(30), 20), (days_ago(1), 18)], changes=[None, {}]))
    assert "remission" not in svg and "response" not in svg


def test_an_impossible_date_is_left_off_and_counted():
    chart = charts.trajectory_chart(
        trajectory("phq9", [(datetime.datetime(1, 1, 1, tzinfo=datetime.UTC), 10), (days_ago(1), 5)])
    )
    assert len(chart.points) == 1 and chart.footnote == "1 result with an impossible date not shown"
    assert "impossible date not shown" in charts.trajectory_svg(
        trajectory("phq9", [(datetime.datetime(1, 1, 1, tzinfo=datetime.UTC), 10), (days_ago(1), 5)])
    )


def test_only_impossible_dates_still_draw_an_empty_chart():
    svg = parsed(charts.trajectory_svg(trajectory("phq9", [(datetime.datetime(1, 1, 1, tzinfo=datetime.UTC), 10)])))
    assert svg.find(f"{SVG}polyline") is None and not svg.findall(f"{SVG}circle")


def test_text_is_escaped():
    chart = svgchart.Chart(
        chart_id="x",
        title="<script>alert(1)</script>",
        description="a & b",
        y_label="y",
        y_range=(0, 10),
        points=[svgchart.Point(at=days_ago(1), value=3)],
        line_colour="#000000",
        bands=[svgchart.Band(name="<b>", low=0, high=10, colour="#ffffff")],
    )
    svg = svgchart.render(chart)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg
    parsed(svg)


def test_points_fall_inside_the_frame_and_higher_totals_are_drawn_higher():
    svg = parsed(charts.trajectory_svg(trajectory("phq9", [(days_ago(90), 27), (days_ago(45), 0), (days_ago(0), 13)])))
    circles = [(float(c.get("cx")), float(c.get("cy"))) for c in svg.findall(f"{SVG}circle")]
    assert all(svgchart.PLOT_LEFT < x < svgchart.PLOT_RIGHT for x, _ in circles)
    assert all(svgchart.PLOT_TOP < y < svgchart.PLOT_BOTTOM for _, y in circles)
    assert circles[0][0] < circles[1][0] < circles[2][0]
    assert circles[0][1] < circles[2][1] < circles[1][1]


@pytest.mark.parametrize(
    "first, last",
    [
        (datetime.date(2024, 3, 1), datetime.date(2024, 3, 1)),
        (datetime.date(2024, 3, 1), datetime.date(2024, 3, 20)),
        (datetime.date(2024, 1, 15), datetime.date(2024, 6, 1)),
        (datetime.date(2023, 11, 3), datetime.date(2024, 2, 10)),
        (datetime.date(2015, 5, 5), datetime.date(2024, 2, 10)),
        (datetime.date(1900, 1, 1), datetime.date(2024, 2, 10)),
    ],
)
def test_date_ticks_are_few_regular_and_inside_the_span(first, last):
    ticks = svgchart.date_ticks(first, last)
    assert 1 <= len(ticks) <= svgchart.MAX_TICKS or (first == last and len(ticks) == 1)
    assert all(first <= day <= last for day, _ in ticks)
    assert [day for day, _ in ticks] == sorted(day for day, _ in ticks)
    assert all(label for _, label in ticks)


def test_value_ticks_are_round_numbers_within_the_range():
    assert svgchart.value_ticks(0, 27) == [0, 5, 10, 15, 20, 25]
    assert svgchart.value_ticks(0, 80) == [0, 20, 40, 60, 80]
    assert svgchart.value_ticks(3, 3) == [3]


def test_a_numbered_axis_draws_intervals_and_a_dashed_fitted_line_named_in_the_legend():
    chart = svgchart.Chart(
        chart_id="sessions",
        title="By session",
        description="means",
        y_label="total",
        x_label="Dosing sessions received",
        y_range=(0, 27),
        points=[svgchart.Point(at=n, value=20 - 3 * n, low=18 - 3 * n, high=22 - 3 * n) for n in range(4)],
        line_colour="#0f766e",
        line_label="Mean (95% CI)",
        connect=False,
        series=[
            svgchart.Series(
                name="Mixed model",
                points=[svgchart.Point(at=0, value=20), svgchart.Point(at=3, value=11)],
                colour="#64748b",
                dashed=True,
                shape="none",
            )
        ],
    )
    svg = parsed(svgchart.render(chart))
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert [t for t in texts if t in {"0", "1", "2", "3"}][-4:] == ["0", "1", "2", "3"]
    assert {"Dosing sessions received", "Mean (95% CI)", "Mixed model"} <= set(texts)
    assert len(list(svg.iter(f"{SVG}circle"))) == 4 + 1  # the means and the legend's dot
    assert len(svg.findall(f"{SVG}path")) == 4  # one whisker per mean
    [fitted] = svg.findall(f"{SVG}polyline")
    assert fitted.get("stroke-dasharray") and len(fitted.get("points").split()) == 2


def before_and_after(**chart) -> svgchart.BarChart:
    """A two-group bar chart ("Before", "After") with the given categories, bars and scales."""
    return svgchart.BarChart(
        chart_id="bars",
        description="means",
        y_label="mean",
        groups=[svgchart.BarGroup("Before", "#111111"), svgchart.BarGroup("After", "#222222")],
        **{"title": "Before and after", **chart},
    )


def test_a_bar_chart_has_one_bar_per_group_and_category_and_escapes_its_labels():
    chart = before_and_after(
        title="<b>Before and after</b>",
        categories=[("PHQ-9", "n = 40"), ("<i>GAD-7</i>", "n = 38")],
        bars=[[svgchart.Bar(17, 16, 18), svgchart.Bar(8)], [svgchart.Bar(12, 11, 13), svgchart.Bar(6, 5, 7)]],
    )
    rendered = svgchart.render_bars(chart)
    assert "<b>" not in rendered and "&lt;i&gt;GAD-7&lt;/i&gt;" in rendered
    svg = parsed(rendered)
    assert svg.find(f"{SVG}title").text == "<b>Before and after</b>"
    fills = [rect.get("fill") for rect in svg.iter(f"{SVG}rect")]
    assert fills.count("#111111") == 2 + 1 and fills.count("#222222") == 2 + 1  # bars and the legend's keys
    assert len(svg.findall(f"{SVG}path")) == 3  # a whisker where a bar has an interval


def _legend_and_plots(svg):
    """The legend's keys (10 x 10 squares) and the plots' frames (the axes' lines), as drawn."""
    keys = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("width") == "10"]
    axes = [line for line in svg.iter(f"{SVG}line") if line.get("stroke") == "#333333"]
    return keys, axes


def test_a_bar_chart_with_scales_draws_each_category_on_its_own_axis_up_to_its_highest_value():
    chart = before_and_after(
        categories=[("PHQ-9", "n = 40"), ("BDI-II", "n = 38")],
        bars=[[svgchart.Bar(27, 26, 27), svgchart.Bar(8)], [svgchart.Bar(63, 60, 63), svgchart.Bar(6, 5, 7)]],
        scales=[(0, 27), (0, 63)],
    )
    svg = parsed(svgchart.render_bars(chart))
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    # Each panel's axis ends on its own highest total: a full PHQ-9 bar is as tall as a full BDI-II bar.
    assert {"27", "63"} <= set(texts) and "56" not in texts
    full = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("fill") == "#111111" and rect.get("width") != "10"]
    assert full[0].get("height") == full[1].get("height") and full[0].get("y") == full[1].get("y")
    # Two panels, each with its own x and y axis line.
    keys, axes = _legend_and_plots(svg)
    assert len(axes) == 2 * 2


def test_a_bar_charts_legend_sits_above_every_plot_so_it_covers_no_bar_or_interval():
    chart = before_and_after(
        categories=[("PHQ-9", "n = 40"), ("GAD-7", "n = 38")],
        bars=[[svgchart.Bar(27, 26, 27), svgchart.Bar(21, 20, 21)], [svgchart.Bar(21, 20, 21), svgchart.Bar(20)]],
        scales=[(0, 27), (0, 21)],
    )
    svg = parsed(svgchart.render_bars(chart))
    keys, axes = _legend_and_plots(svg)
    assert len(keys) == 2
    # The legend's row ends above the highest plot's top.
    plot_top = min(min(float(line.get("y1")), float(line.get("y2"))) for line in axes)
    legend_bottom = max(
        float(group.get("transform").split()[1].rstrip(")")) + 2
        for group in svg.iter(f"{SVG}g")
        if group.get("transform", "").startswith("translate")
    )
    assert legend_bottom < plot_top
