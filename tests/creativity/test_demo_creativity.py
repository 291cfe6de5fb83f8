"""The demo practice's creativity tasks follow each patient's own course and are never given on a dosing day."""

import pytest

from kapstone.creativity import protocol, selectors, services
from kapstone.creativity.models import CreativityAdministration
from kapstone.program.models import Enrolment, Group, GroupSession


@pytest.fixture
def practice(db, demo_practice):
    return demo_practice


def test_every_task_is_linked_to_the_patients_group_baselines_precede_the_first_dose_and_none_is_on_a_dosing_day(
    practice,
):
    course_of = dict(
        Enrolment.objects.filter(
            status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED], group__sessions__kind="dosing"
        ).values_list("patient_id", "group_id")
    )
    tasks = list(CreativityAdministration.objects.all())
    assert len(tasks) == len(course_of) * 5 * 2  # every member: both tasks on each of the five occasions
    dosing = selectors.dosing_sessions_of(course_of)
    tz = selectors.practice_tz()
    for task in tasks:
        assert task.group_id == course_of[task.patient_id], task
        for at in (task.due_at, task.started_at):
            assert at is None or protocol.dosing_block_until(dosing[task.patient_id], at=at, tz=tz) is None, task
    first_dose = {
        group_id: min(GroupSession.objects.filter(group_id=group_id, kind="dosing").values_list("starts_at", flat=True))
        for group_id in set(course_of.values())
    }
    baselines = [t for t in tasks if t.occasion == "baseline" and t.status == "completed"]
    assert baselines and all(t.started_at < first_dose[t.group_id] for t in baselines)


def test_the_portal_patients_tasks_are_scored_the_real_way_and_forms_rotate(practice):
    done = CreativityAdministration.objects.filter(status="completed")
    portal = [p for p in practice.patients if p.user_id]
    real = done.filter(patient__in=portal, task="aut")
    assert real.exists() and all(a.responses.exists() and a.originality_top2 is not None for a in real)
    later = practice.patients[-1]
    forms = done.filter(patient=later, task="aut").values_list("form_id", flat=True)
    assert len(set(forms)) == len(forms) > 1


def test_the_scheduler_finds_nothing_missing_in_the_current_group(practice):
    active = Group.objects.get(status=Group.Status.ACTIVE)
    assert services.administrations_schedule_for_group(actor=None, group=active) == 0
