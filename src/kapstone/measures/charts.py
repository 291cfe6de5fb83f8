"""Trajectory charts: one instrument's totals over time as an inline SVG, with the instrument's severity bands
shaded and response and remission marked.

Drawn by kapstone.svgchart on every request (under a millisecond; the earlier matplotlib figure
took a large share of a worker per chart). The pages put the same values in a table below each chart.
"""

from __future__ import annotations

from django.utils.safestring import SafeString

from kapstone import svgchart
from kapstone.measures.dates import is_plausible
from kapstone.measures.selectors import Trajectory

# Lightest for the mildest band, darkest for the most severe; colour-blind-safe sequential ramp (ColorBrewer YlOrRd).
BAND_COLOURS = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c"]
LINE_COLOUR = "#1f4e79"
MARKERS = {
    "response": svgchart.Marker(label="response (≥50% fall)", shape="square", colour="#006d2c"),
    "remission": svgchart.Marker(label="remission", shape="star", colour="#006d2c"),
}


def _band_colours(count: int) -> list[str]:
    """One colour per band; none for an instrument without bands (PCL-5, OCI-R, EDE-Q)."""
    if count <= 1:
        return BAND_COLOURS[:count]
    step = (len(BAND_COLOURS) - 1) / (count - 1)
    return [BAND_COLOURS[round(index * step)] for index in range(count)]


def severity_bands(instrument) -> list[svgchart.Band]:
    """The instrument's severity bands, shaded as on the patient's trajectory chart (every chart of totals uses
    these, so a band looks the same wherever it is drawn)."""
    bands = instrument.bands
    return [
        svgchart.Band(name=band.name, low=band.minimum, high=band.maximum, colour=colour)
        for band, colour in zip(bands, _band_colours(len(bands)), strict=True)
    ]


def trajectory_chart(trajectory: Trajectory, *, id_prefix: str = "chart") -> svgchart.Chart:
    """What the chart shows, before it is laid out."""
    instrument = trajectory.instrument
    # A stored date no calendar can hold (0001-01-01) is left off and counted, never allowed to break the page.
    drawn = [
        (point.completed_at, point.total, change)
        for point, change in zip(trajectory.points, trajectory.changes, strict=True)
        if point.completed_at is not None and is_plausible(point.completed_at) and point.total is not None
    ]
    left_off = len(trajectory.points) - len(drawn)
    totals = [total for _, total, _ in drawn]
    low, high = instrument.total_range or (min(totals, default=0), max(totals, default=1))
    bands = instrument.bands
    described = f"{len(drawn)} result{'s' if len(drawn) != 1 else ''} from {low:g} to {high:g}"
    if bands:
        described += "; shaded bands: " + ", ".join(f"{b.name} {b.minimum}-{b.maximum}" for b in bands)
    return svgchart.Chart(
        chart_id=f"{id_prefix}-{instrument.id}",
        title=f"{instrument.short_name} over time",
        description=f"{instrument.short_name} totals over time, {described}. The values are in the table below.",
        y_label=f"{instrument.short_name} total",
        y_range=(low, high),
        line_colour=LINE_COLOUR,
        bands=severity_bands(instrument),
        points=[
            svgchart.Point(
                at=completed_at,
                value=total,
                markers=tuple(key for key in MARKERS if change and change.get(key)),
            )
            for completed_at, total, change in drawn
        ],
        markers=MARKERS,
        footnote=f"{left_off} result{'s' if left_off > 1 else ''} with an impossible date not shown"
        if left_off
        else "",
    )


def trajectory_svg(trajectory: Trajectory, *, id_prefix: str = "chart") -> SafeString:
    """The chart as an inline <svg> element; `id_prefix` keeps its ids unique where a page holds several."""
    return svgchart.render(trajectory_chart(trajectory, id_prefix=id_prefix))
