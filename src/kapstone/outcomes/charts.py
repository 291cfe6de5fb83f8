"""The report's figures as inline SVG drawn by kapstone.svgchart, the same drawing on the page and in the PDF
(WeasyPrint renders inline SVG). Colours are presentation attributes, which the page's Content-Security-Policy
allows; each chart has a title and a description, and the report puts its values in a table beside it.
"""

from __future__ import annotations

from django.utils.safestring import SafeString

from kapstone import svgchart
from kapstone.measures.charts import severity_bands
from kapstone.measures.scoring import UnknownInstrument, get_instrument

BASELINE_COLOUR = "#64748b"
END_COLOUR = "#0f766e"


def _bar(estimate) -> svgchart.Bar:
    return svgchart.Bar(value=estimate.mean or 0.0, low=estimate.low, high=estimate.high)


def _scale(outcome) -> tuple[float, float]:
    """The questionnaire's range of possible totals, so each panel's axis runs from its lowest to its highest; a
    questionnaire with no declared range gets an axis from zero to a little above its highest interval."""
    try:
        total_range = get_instrument(outcome.instrument_id).total_range
    except UnknownInstrument:
        total_range = None
    if total_range:
        return float(total_range[0]), float(total_range[1])
    estimates = (outcome.comparison.baseline, outcome.comparison.end)
    tops = [v for e in estimates for v in (e.high, e.mean) if v is not None]
    return 0.0, max(svgchart.value_ticks(0, max(tops, default=1.0) * 1.05)[-1], 1.0)


def overview_svg(report) -> SafeString:
    """Baseline and end-of-course means with 95% CIs: one panel per questionnaire, each on its own scale."""
    shown = [o for o in report.instruments if o.comparison.n]
    if not shown:
        return SafeString("")
    return svgchart.render_bars(
        svgchart.BarChart(
            chart_id="outcomes-overview",
            title="Baseline and end of course",
            description=(
                "Mean totals at baseline and end of course with 95% confidence intervals, one panel per "
                "questionnaire, each on its own scale from its lowest to its highest possible total: "
                + ", ".join(o.name for o in shown)
                + ". The values are in each questionnaire's table below."
            ),
            y_label="Mean total (95% CI), each on its own scale",
            groups=[svgchart.BarGroup("Baseline", BASELINE_COLOUR), svgchart.BarGroup("End of course", END_COLOUR)],
            categories=[(o.name, f"n = {o.comparison.n}") for o in shown],
            bars=[[_bar(o.comparison.baseline), _bar(o.comparison.end)] for o in shown],
            scales=[_scale(o) for o in shown],
        )
    )


def trajectory_svg(outcome) -> SafeString:
    """Mean score at each number of dosing sessions received (95% CI) over the questionnaire's severity bands,
    with the mixed model's fitted line."""
    points = [(position, estimate) for position, estimate in outcome.trajectory_means if estimate.n]
    if not points:
        return SafeString("")
    try:
        instrument = get_instrument(outcome.instrument_id)
    except UnknownInstrument:
        instrument = None
    values = [v for _, e in points for v in (e.low, e.high, e.mean) if v is not None]
    low, high = (instrument.total_range if instrument else None) or (min(values), max(values))
    model = outcome.trajectory
    fitted = []
    if model is not None and model.slope is not None:
        ends = [min(p for p, _ in points), max(p for p, _ in points)]
        fitted = [
            svgchart.Series(
                name="Mixed model",
                points=[svgchart.Point(at=x, value=model.intercept + model.slope * x) for x in ends],
                colour=BASELINE_COLOUR,
                dashed=True,
                shape="none",
            )
        ]
    return svgchart.render(
        svgchart.Chart(
            chart_id=f"outcomes-trajectory-{outcome.instrument_id}",
            title=f"{outcome.name} by dosing sessions received",
            description=(
                f"{outcome.name} mean total at each number of dosing sessions received, with 95% confidence "
                "intervals" + (" and the mixed model's fitted line" if fitted else "") + ". The values are in "
                "the table below."
            ),
            y_label=f"{outcome.name} total",
            x_label="Dosing sessions received",
            y_range=(low, high),
            points=[
                svgchart.Point(at=position, value=estimate.mean, low=estimate.low, high=estimate.high)
                for position, estimate in points
            ],
            line_colour=END_COLOUR,
            line_label="Mean (95% CI)",
            connect=False,
            series=fitted,
            bands=severity_bands(instrument) if instrument else [],
        )
    )
