"""The creativity charts: inline SVG on one date span, each with a title, a description and, for one
questionnaire, its severity bands; well-formed with no scores at all."""

import datetime
import xml.etree.ElementTree as ET

from django.utils import timezone

from kapstone.creativity.charts import COLOURS, history_charts
from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.creativity.selectors import SymptomPoint
from tests.contrast import contrast

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own rendered output, not untrusted input


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def aut(days: int, top2: float, mean: float) -> CreativityAdministration:
    return CreativityAdministration(
        task=Task.AUT, submitted_at=days_ago(days), originality_top2=top2, originality_mean=mean
    )


def dat(days: int, score: float) -> CreativityAdministration:
    return CreativityAdministration(task=Task.DAT, submitted_at=days_ago(days), dat_score=score)


def texts(svg: ET.Element) -> list[str]:
    return [text.text for text in svg.iter(f"{SVG}text")]


def test_symptoms_aut_and_dat_are_three_labelled_charts_on_one_date_span():
    history = [aut(60, 3.1, 2.5), aut(5, 3.6, 2.9), dat(50, 78.0), dat(4, 82.5)]
    symptoms = [SymptomPoint("phq9", days_ago(70), 18), SymptomPoint("phq9", days_ago(3), 6)]
    symptoms_svg, aut_svg, dat_svg = (parsed(svg) for svg in history_charts(history, symptoms))
    assert [svg.find(f"{SVG}title").text for svg in (symptoms_svg, aut_svg, dat_svg)] == [
        "Symptoms (lower is better)",
        "Alternative uses (higher is more original)",
        "Unrelated words (higher is more divergent)",
    ]
    assert all("table below" in svg.find(f"{SVG}desc").text for svg in (symptoms_svg, aut_svg, dat_svg))
    # One questionnaire: its severity bands are shaded, as on its own trajectory chart.
    assert {"minimal", "severe"} <= set(texts(symptoms_svg))
    # Top-2 and mean originality are two series, named in the legend; the mean is dashed.
    assert {"top-2 originality", "mean originality"} <= set(texts(aut_svg))
    assert any(line.get("stroke-dasharray") for line in aut_svg.iter(f"{SVG}polyline"))
    # The same dates fall at the same x on every chart.
    ticks = [[t for t in texts(svg) if t and t[0].isdigit() and " " in t] for svg in (symptoms_svg, aut_svg, dat_svg)]
    assert ticks[0] == ticks[1] == ticks[2] and ticks[0]


def test_several_questionnaires_share_the_symptom_chart_without_bands():
    symptoms = [SymptomPoint("phq9", days_ago(30), 18), SymptomPoint("gad7", days_ago(29), 12)]
    symptoms_svg = parsed(history_charts([], symptoms)[0])
    assert {"PHQ-9", "GAD-7"} <= set(texts(symptoms_svg)) and "severe" not in texts(symptoms_svg)


def test_no_scores_yet_draws_two_empty_charts_that_say_so():
    charts = [parsed(svg) for svg in history_charts([], [])]
    assert len(charts) == 2
    assert all("no scores yet" in texts(svg) and not svg.findall(f"{SVG}circle") for svg in charts)


def test_every_line_colour_keeps_three_to_one_against_the_charts_white():
    """WCAG 2.1 1.4.11: the word task's only line was Okabe-Ito orange, 2.3:1 on white."""
    assert [colour for colour in COLOURS if contrast(colour, "#ffffff") < 3] == []
