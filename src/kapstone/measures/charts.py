"""Trajectory charts: matplotlib (Agg) draws an SVG of one instrument's totals over time, with the
instrument's severity bands shaded and response and remission marked.

The SVG is returned as a base64 data URI for an <img>. The site's Content-Security-Policy forbids inline
styles, and matplotlib's SVG is styled inline, so an inline <svg> would lose its colours; an image is its
own document and keeps them. Every text in the chart comes from Kapstone's instrument data and dates, never
from what a user typed, and the image cannot run script.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kapstone.measures.dates import is_plausible  # noqa: E402
from kapstone.measures.selectors import Trajectory  # noqa: E402

# Lightest for the mildest band, darkest for the most severe; colour-blind-safe sequential ramp (ColorBrewer YlOrRd).
BAND_COLOURS = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c"]
LINE_COLOUR = "#1f4e79"


def _band_colours(count: int) -> list[str]:
    """One colour per band; none for an instrument without bands (PCL-5, OCI-R, EDE-Q)."""
    if count <= 1:
        return BAND_COLOURS[:count]
    step = (len(BAND_COLOURS) - 1) / (count - 1)
    return [BAND_COLOURS[round(index * step)] for index in range(count)]


def trajectory_svg(trajectory: Trajectory) -> str:
    """The chart as SVG text."""
    instrument = trajectory.instrument
    # A stored date no calendar axis can hold (0001-01-01) is left off and counted, never allowed to break the page.
    drawn = [
        (point, change)
        for point, change in zip(trajectory.points, trajectory.changes, strict=True)
        if is_plausible(point.completed_at)
    ]
    left_off = len(trajectory.points) - len(drawn)
    dates = [point.completed_at for point, _ in drawn]
    totals = [point.total for point, _ in drawn]
    changes = [change for _, change in drawn]
    figure = Figure(figsize=(6.4, 3.0), dpi=100)
    axes = figure.add_subplot()
    low, high = instrument.total_range or (min(totals, default=0), max(totals, default=1))
    for band, colour in zip(instrument.bands, _band_colours(len(instrument.bands)), strict=True):
        # Bands hold whole-number totals, so each is drawn to the half-point boundary with the next.
        axes.axhspan(band.minimum - 0.5, band.maximum + 0.5, color=colour, alpha=0.55, linewidth=0)
        axes.text(
            1.01,
            (band.minimum + band.maximum) / 2,
            band.name,
            transform=axes.get_yaxis_transform(),
            fontsize=7,
            va="center",
            color="#333333",
        )
    axes.plot(dates, totals, color=LINE_COLOUR, marker="o", linewidth=2, label="total")
    responses = [(d, t) for d, t, c in zip(dates, totals, changes, strict=True) if c and c.get("response")]
    remissions = [(d, t) for d, t, c in zip(dates, totals, changes, strict=True) if c and c.get("remission")]
    if responses:
        axes.scatter(
            *zip(*responses, strict=True),
            marker="s",
            s=90,
            facecolors="none",
            edgecolors="#006d2c",
            linewidths=2,
            label="response (≥50% fall)",
            zorder=3,
        )
    if remissions:
        axes.scatter(*zip(*remissions, strict=True), marker="*", s=140, color="#006d2c", label="remission", zorder=4)
    axes.set_ylim(low - 0.5, high + 0.5)
    axes.set_ylabel(f"{instrument.short_name} total")
    axes.set_title(f"{instrument.short_name} over time", fontsize=10)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if left_off:
        axes.set_xlabel(f"{left_off} result{'s' if left_off > 1 else ''} with an impossible date not shown", fontsize=7)
    if responses or remissions:
        axes.legend(loc="upper right", fontsize=7, framealpha=0.8)
    figure.subplots_adjust(left=0.1, right=0.82, top=0.88, bottom=0.15)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
    return buffer.getvalue()


def trajectory_data_uri(trajectory: Trajectory) -> str:
    encoded = base64.b64encode(trajectory_svg(trajectory).encode()).decode()
    return f"data:image/svg+xml;base64,{encoded}"
