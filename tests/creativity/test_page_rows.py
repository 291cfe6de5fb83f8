"""The creativity page's task and symptom rows, written out in Python (creativity/page_rows.py), come out exactly as
the template loops they replace (page_rows_template.html beside this file) drew them: each task and status, scores
present and missing, a DAT under seven words, a task the timer closed, prompts missing or odd, totals whole and
fractional, dates either side of midnight, and awkward text everywhere text is shown."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

from kapstone.creativity.models import CreativityAdministration, Occasion, Task
from kapstone.creativity.page_rows import symptom_rows, task_rows
from kapstone.creativity.selectors import SymptomPoint
from kapstone.patients.models import Patient

TEMPLATE = Template(Path(__file__).with_name("page_rows_template.html").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'
UTC = datetime.UTC
PATIENT_ID = 5066
Status = CreativityAdministration.Status

# Either side of midnight in the practice's time zone and of UTC, and the first day a date may carry.
MOMENTS = [
    datetime.datetime(2026, 3, 1, 3, 30, tzinfo=UTC),
    datetime.datetime(2026, 3, 1, 23, 59, tzinfo=UTC),
    datetime.datetime(1900, 1, 1, 12, tzinfo=UTC),
]
SCORES = [None, 0.0, 2.345, 7.5, 12.0, 100.04999]
PROMPTS = [
    [],
    [{"prompt": "brick"}],
    [{"prompt": "box"}, {"prompt": AWKWARD}, {"prompt": None}],
    [{"other": "no prompt"}, "a bare word"],
]


def _task(index: int) -> CreativityAdministration:
    def score(shift: int) -> float | None:
        return SCORES[(index + shift) % len(SCORES)]

    return CreativityAdministration(
        pk=index + 1,
        task=[Task.AUT, Task.DAT][index % 2],
        occasion=[*Occasion.values, AWKWARD][index % (len(Occasion.values) + 1)],
        form_id=["A", AWKWARD][index % 3 == 2],
        prompts=PROMPTS[index % len(PROMPTS)],
        due_at=MOMENTS[index % len(MOMENTS)],
        status=Status.values[index // 2 % len(Status.values)],
        closed_by_timer=index % 5 == 3,
        fluency=score(0),
        flexibility=score(1),
        originality_top2=score(2),
        originality_mean=score(3),
        elaboration_mean=score(4),
        dat_score=score(5),
        dat_percentile=score(1),
    )


def _drawn_both_ways(tasks: list[CreativityAdministration], symptoms: list[SymptomPoint]) -> tuple[str, str]:
    context = Context({"administrations": tasks, "symptoms": symptoms, "patient": Patient(pk=PATIENT_ID)})
    # The template file holds the two loops on lines of their own.
    return TEMPLATE.render(context), task_rows(PATIENT_ID, tasks) + "\n" + symptom_rows(symptoms) + "\n"


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland", "UTC"])
def test_every_state_of_a_task_and_a_total_comes_out_as_the_template_drew_it(settings, zone):
    settings.TIME_ZONE = zone
    with timezone.override(zone):
        for count in (0, 1, 2, 60):
            tasks = [_task(index) for index in range(count)]
            symptoms = [
                SymptomPoint(
                    instrument_id=["phq9", AWKWARD][index % 2],
                    completed_at=MOMENTS[index % len(MOMENTS)],
                    total=[12, 12.0, 12.5, 0, 3.25, 55.2][index % 6],
                )
                for index in range(count)
            ]
            expected, drawn = _drawn_both_ways(tasks, symptoms)
            assert drawn == expected


def test_each_task_and_status_with_and_without_scores_comes_out_as_the_template_drew_it():
    for task, status, score in itertools.product(Task.values, Status.values, SCORES):
        administration = _task(0)
        administration.task, administration.status = task, status
        administration.fluency = administration.originality_top2 = administration.dat_score = score
        expected, drawn = _drawn_both_ways([administration], [])
        assert drawn == expected


def test_awkward_text_is_escaped_as_the_template_escapes_it():
    administration = _task(2)
    administration.task, administration.form_id = Task.AUT, AWKWARD
    _, drawn = _drawn_both_ways([administration], [SymptomPoint(AWKWARD, MOMENTS[0], 1)])
    assert "<b>" not in drawn and "&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;" in drawn
