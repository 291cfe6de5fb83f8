"""Creativity over time beside the symptom scores: inline SVG charts drawn by kapstone.svgchart on one date span,
symptom totals first (with the severity bands when there is one questionnaire), then AUT originality and DAT
score.

Drawn from a template on every request (a few milliseconds; the earlier matplotlib figure took a large share of
a worker). Every text drawn comes from Kapstone's own labels and dates, never from what a patient typed; the pages
put the values in tables below the charts.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone
from django.utils.safestring import SafeString

from kapstone import svgchart
from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.creativity.selectors import SymptomPoint
from kapstone.measures.charts import severity_bands
from kapstone.measures.scoring import UnknownInstrument, get_instrument

# Colour-blind-safe (Okabe-Ito), each at least 3:1 against the chart's white (WCAG 2.1 1.4.11): the palette's orange
# and sky blue (2.3:1) are darkened to an ochre and replaced by its black, as the word task's line was hard to see.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B07000", "#000000"]
SYMPTOM_LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "pcl5": "PCL-5", "oci-r": "OCI-R", "ede-q": "EDE-Q"}
NO_SCORES = "no scores yet"


def _described(what: str, count: int) -> str:
    return f"{what}: {count} score{'s' if count != 1 else ''}. The values are in the table below."


def _symptom_chart(by_instrument: dict[str, list[SymptomPoint]], days) -> svgchart.Chart:
    series = [
        svgchart.Series(
            name=SYMPTOM_LABELS.get(instrument, instrument.upper()),
            points=[svgchart.Point(at=point.completed_at, value=point.total) for point in points],
            colour=colour,
        )
        for colour, (instrument, points) in zip(COLOURS, sorted(by_instrument.items()), strict=False)
    ]
    totals = [point.value for line in series for point in line.points]
    low, high = min(totals), max(totals)
    bands: list[svgchart.Band] = []
    if len(by_instrument) == 1:
        # One questionnaire: its own scale, so its severity bands can be shaded as on its trajectory chart.
        try:
            instrument = get_instrument(next(iter(by_instrument)))
        except UnknownInstrument:
            instrument = None
        if instrument is not None:
            low, high = instrument.total_range or (low, high)
            bands = severity_bands(instrument)
    first, *others = series
    return svgchart.Chart(
        chart_id="creativity-symptoms",
        title="Symptoms (lower is better)",
        description=_described(
            "Questionnaire totals over time (" + ", ".join(line.name for line in series) + ")", len(totals)
        ),
        y_label="Symptom total",
        y_range=(low, high if high > low else low + 1),
        points=first.points,
        line_colour=first.colour,
        line_label=first.name,
        series=others,
        bands=bands,
        days=days,
    )


def has_scores(history: list[CreativityAdministration]) -> bool:
    """Whether any word game has a score to chart: without one, the pages say so instead of drawing empty charts."""
    return any(a.originality_top2 is not None or a.dat_score is not None for a in history)


def history_charts(history: list[CreativityAdministration], symptoms: list[SymptomPoint]) -> list[SafeString]:
    """The charts as inline <svg> elements, in the order the page shows them, sharing one date span."""
    aut = [a for a in history if a.task == Task.AUT and a.originality_top2 is not None]
    dat = [a for a in history if a.task == Task.DAT and a.dat_score is not None]
    by_instrument: dict[str, list[SymptomPoint]] = defaultdict(list)
    for point in symptoms:
        by_instrument[point.instrument_id].append(point)
    dated = [timezone.localdate(a.submitted_at) for a in aut + dat] + [
        timezone.localdate(point.completed_at) for point in symptoms
    ]
    days = (min(dated), max(dated)) if dated else None
    charts = [_symptom_chart(by_instrument, days)] if by_instrument else []
    charts.append(
        svgchart.Chart(
            chart_id="creativity-aut",
            title="Alternative uses (higher is more original)",
            description=_described("AUT originality from 1 to 5, top-2 and mean", len(aut)),
            y_label="Originality (1-5)",
            y_range=(1, 5),
            y_pad=0.1,
            points=[svgchart.Point(at=a.submitted_at, value=a.originality_top2) for a in aut],  # type: ignore[arg-type]
            line_colour=COLOURS[2],
            line_label="top-2 originality",
            series=[
                svgchart.Series(
                    name="mean originality",
                    points=[
                        svgchart.Point(at=a.submitted_at, value=a.originality_mean)  # type: ignore[arg-type]
                        for a in aut
                        if a.originality_mean is not None
                    ],
                    colour=COLOURS[3],
                    dashed=True,
                    shape="square",
                )
            ]
            if aut
            else [],
            empty_note=NO_SCORES,
            days=days,
        )
    )
    scores = [a.dat_score for a in dat if a.dat_score is not None]
    low, high = (min(scores), max(scores)) if scores else (0.0, 100.0)
    charts.append(
        svgchart.Chart(
            chart_id="creativity-dat",
            title="Unrelated words (higher is more divergent)",
            description=_described("DAT score", len(dat)),
            y_label="DAT score",
            y_range=(low - 2, high + 2),
            y_pad=0,
            points=[svgchart.Point(at=a.submitted_at, value=a.dat_score) for a in dat],  # type: ignore[arg-type]
            line_colour=COLOURS[4],
            empty_note=NO_SCORES,
            days=days,
        )
    )
    return [svgchart.render(chart) for chart in charts]
