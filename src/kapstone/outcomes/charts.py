"""The report's figures as SVG, drawn with matplotlib (Agg backend) through Figure objects (no
pyplot state, so two requests drawing at once cannot share a figure).

Figures are returned as data: URIs. The page's Content-Security-Policy forbids inline style attributes, which
matplotlib's SVG uses, but an SVG shown through <img> is its own document and keeps its styles; WeasyPrint
reads data: URIs too.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "kapstone-outcomes", "font.size": 9})

BASELINE_COLOUR = "#64748b"
END_COLOUR = "#0f766e"


def _data_uri(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def _error(estimate) -> tuple[float, float]:
    if estimate.low is None:
        return 0.0, 0.0
    return estimate.mean - estimate.low, estimate.high - estimate.mean


def overview_svg(report) -> str:
    """Baseline and end-of-course means with 95% CIs, one pair of bars per questionnaire."""
    shown = [o for o in report.instruments if o.comparison.n]
    if not shown:
        return ""
    figure = Figure(figsize=(1.2 + 1.3 * len(shown), 3.0))
    axes = figure.subplots()
    positions = range(len(shown))
    for offset, attribute, colour, label in (
        (-0.18, "baseline", BASELINE_COLOUR, "Baseline"),
        (0.18, "end", END_COLOUR, "End of course"),
    ):
        estimates = [getattr(o.comparison, attribute) for o in shown]
        errors = list(zip(*[_error(e) for e in estimates], strict=True))
        axes.bar(
            [p + offset for p in positions],
            [e.mean for e in estimates],
            width=0.34,
            color=colour,
            yerr=errors,
            capsize=3,
            label=label,
        )
    axes.set_xticks(list(positions), [f"{o.name}\n(n = {o.comparison.n})" for o in shown])
    axes.set_ylabel("Mean total (95% CI)")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False)
    return _data_uri(figure)


def trajectory_svg(outcome) -> str:
    """Mean score at each number of dosing sessions received (95% CI), with the mixed model's fitted line."""
    points = [(position, estimate) for position, estimate in outcome.trajectory_means if estimate.n]
    if not points:
        return ""
    figure = Figure(figsize=(4.6, 2.8))
    axes = figure.subplots()
    positions = [position for position, _ in points]
    errors = list(zip(*[_error(estimate) for _, estimate in points], strict=True))
    axes.errorbar(
        positions,
        [estimate.mean for _, estimate in points],
        yerr=errors,
        fmt="o",
        color=END_COLOUR,
        capsize=3,
        label="Mean (95% CI)",
    )
    model = outcome.trajectory
    if model is not None and model.slope is not None:
        ends = [min(positions), max(positions)]
        axes.plot(
            ends,
            [model.intercept + model.slope * x for x in ends],
            color=BASELINE_COLOUR,
            linestyle="--",
            label="Mixed model",
        )
    axes.set_xlabel("Dosing sessions received")
    axes.set_ylabel(f"{outcome.name} total")
    axes.set_xticks(positions)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False)
    return _data_uri(figure)
