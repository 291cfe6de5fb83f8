"""The demo practice's questionnaires follow each patient's own course, as the scheduler would put them due."""

import pytest

from kapstone.measures import services
from kapstone.measures.assessment_plans import load_plan
from kapstone.measures.models import Assessment, CriticalAlert, UrineToxicology
from kapstone.measures.scoring import score, score_total
from kapstone.program.models import Enrolment, Group, GroupSession


@pytest.fixture
def practice(db, demo_practice):
    return demo_practice


def _course_of_each_patient() -> dict[int, int]:
    return dict(
        Enrolment.objects.filter(
            status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED], group__sessions__kind="dosing"
        ).values_list("patient_id", "group_id")
    )


def test_every_course_questionnaire_is_linked_to_the_patients_group_and_baselines_precede_the_first_dose(practice):
    course_of = _course_of_each_patient()
    first_dose = {
        group_id: min(GroupSession.objects.filter(group_id=group_id, kind="dosing").values_list("starts_at", flat=True))
        for group_id in set(course_of.values())
    }
    scheduled = Assessment.objects.exclude(occasion="ad_hoc")
    assert scheduled.count() > 17 * 10
    for assessment in scheduled:
        assert assessment.group_id == course_of[assessment.patient_id], assessment
        assert (assessment.plan_id, assessment.plan_version) == ("default", load_plan("default").version)
    baselines = scheduled.filter(occasion="baseline", status="completed")
    assert baselines.exists()
    assert all(a.completed_at < first_dose[a.group_id] for a in baselines)
    pre_dose = scheduled.filter(occasion__startswith="pre_dosing_", status="completed")
    starts = dict(((s.group_id, s.number), s.starts_at) for s in GroupSession.objects.filter(kind="dosing"))
    assert all(a.completed_at < starts[a.group_id, int(a.occasion.rsplit("_", 1)[1])] for a in pre_dose)
    assert scheduled.filter(occasion__startswith="day_after_dosing_", instrument_id="ebi", status="completed").exists()


def test_the_demo_has_missing_and_upcoming_questionnaires_scores_that_agree_and_one_open_alert(practice):
    statuses = set(Assessment.objects.values_list("status", flat=True))
    assert {"completed", "expired", "due"} <= statuses
    for assessment in Assessment.objects.filter(status="completed").exclude(occasion="ad_hoc"):
        answers = {int(number): value for number, value in assessment.answers.items()}
        if assessment.source == Assessment.Source.STAFF_TOTAL:
            result = score_total(assessment.instrument_id, int(assessment.total), items=answers)
        else:
            result = score(assessment.instrument_id, answers)
        assert result.as_dict() == assessment.result
        assert not assessment.critical
    assert list(
        Assessment.objects.filter(occasion="ad_hoc", status="completed").values_list("critical", flat=True)
    ) == [True]
    assert CriticalAlert.objects.filter(acknowledged_at__isnull=True).count() == 1


def test_each_portal_patient_has_a_check_in_to_fill_in(practice, client_for):
    from django.urls import reverse

    from kapstone.home.demo import PORTAL_PATIENTS

    for patient in practice.patients[:PORTAL_PATIENTS]:
        page = client_for(patient.user).get(reverse("portal:home")).content.decode()
        assert "PHQ-9 · check-in" in page and "GAD-7 · check-in" in page and "Unscheduled" not in page


def test_the_scheduler_finds_nothing_missing_in_the_current_group(practice):
    active = Group.objects.get(status=Group.Status.ACTIVE)
    before = Assessment.objects.filter(group=active).count()
    assert services.assessments_schedule_for_group(actor=None, group=active) == 0
    assert Assessment.objects.filter(group=active).count() == before


def test_the_demo_has_entered_bdi_ii_and_ham_a_totals_at_baseline_and_end_and_a_urine_drug_screen(practice):
    entered = Assessment.objects.filter(source=Assessment.Source.STAFF_TOTAL, status="completed")
    assert set(entered.values_list("instrument_id", "occasion")) == {
        ("bdi-ii", "baseline"),
        ("bdi-ii", "end_of_course"),
        ("ham-a", "baseline"),
        ("ham-a", "end_of_course"),
    }
    assert all(a.answers == {"9": 0} for a in entered.filter(instrument_id="bdi-ii"))
    assert all(a.group_id for a in entered)
    assert UrineToxicology.objects.filter(result="negative").count() == 1
