"""A patient takes one course at a time, and the planner counts a patient's doses across all their groups."""

import datetime
from dataclasses import replace
from datetime import date, timedelta

import pytest
from django.utils import timezone

from kapstone.measures import services as measures
from kapstone.measures.models import CriticalAlert
from kapstone.patients import services as patients
from kapstone.practice.settings_store import practice_value_set
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import planning, scheduling, services
from kapstone.program.course_templates import SessionKind
from kapstone.program.models import Enrolment, Group, GroupSession, Room
from kapstone.program.scheduling import CourseInfeasible, Patient, PlannedSession, validate_plan
from kapstone.screening import services as screening
from tests.conftest import make_patient
from tests.measures.factories import PHQ9_ITEM9, due_assessment
from tests.program.conftest import NEW_YORK, PLANNED, make_request, make_template
from tests.screening import helpers

KAP_PROGRAMME = "group-kap-programme"


@pytest.fixture
def gate_open(monkeypatch):
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])


def make_group(cast, name: str, start: datetime.date) -> Group:
    return services.group_create(
        actor=cast.admin,
        name=name,
        template_id=KAP_PROGRAMME,
        start_date=start,
        facilitators=[cast.bob, cast.therapist],
    )


def book(group: Group, kind: str, number: int, day: datetime.date) -> GroupSession:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    return GroupSession.objects.create(
        group=group, kind=kind, number=number, starts_at=start, ends_at=start + datetime.timedelta(hours=3)
    )


# --- one course at a time -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrolling_in_a_course_that_overlaps_another_is_refused_naming_the_other_group_and_its_dates(cast, gate_open):
    start = timezone.localdate() + timedelta(days=14)
    first, second = (
        make_group(cast, "Spring group", start),
        make_group(cast, "Summer group", start + timedelta(days=20)),
    )
    book(first, "dosing", 1, start)
    book(first, "integration", 1, start + timedelta(days=30))
    services.enrol(actor=cast.bob, group=first, patient=cast.alice)
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.enrol(actor=cast.bob, group=second, patient=cast.alice)
    message = str(refused.value)
    assert (
        f"already enrolled in Spring group ({day_in_words(start)} to {day_in_words(start + timedelta(days=30))})"
        in message
    )
    assert "not yet planned" in message and "withdraw them from Spring group first" in message
    assert not Enrolment.objects.filter(group=second).exists()


@pytest.mark.django_db
def test_a_course_that_starts_after_the_other_ends_may_be_joined(cast, gate_open):
    start = timezone.localdate() + timedelta(days=14)
    first = make_group(cast, "Spring group", start)
    book(first, "dosing", 1, start)
    book(first, "follow_up", 1, start + timedelta(days=60))  # follow-ups come after the course
    services.enrol(actor=cast.bob, group=first, patient=cast.alice)
    later = make_group(cast, "Summer group", start + timedelta(days=7))
    book(later, "dosing", 1, start + timedelta(days=7))
    assert services.enrol(actor=cast.bob, group=later, patient=cast.alice).status == Enrolment.Status.ENROLLED


@pytest.mark.django_db
def test_a_withdrawn_or_waitlisted_place_does_not_count_as_a_course(cast, gate_open):
    start = timezone.localdate() + timedelta(days=14)
    first, second = make_group(cast, "Spring group", start), make_group(cast, "Summer group", start)
    enrolment = services.enrol(actor=cast.bob, group=first, patient=cast.alice)
    services.withdraw(actor=cast.bob, enrolment=enrolment, reason="moved to the other group")
    services.waitlist(actor=cast.bob, group=first, patient=cast.alice, reason="maybe later")
    assert services.enrol(actor=cast.bob, group=second, patient=cast.alice).status == Enrolment.Status.ENROLLED


# --- doses across groups in the planner -----------------------------------------------------------------------

MONDAY = date(2027, 1, 4)


def weekly_dosing(count: int = 3):
    return make_template(dosing={"count": count, "min_days_between": 1, "max_days_between": 14})


def dosing_days(plan) -> list[date]:
    return [s.start.astimezone(NEW_YORK).date() for s in plan.sessions if s.kind is SessionKind.DOSING]


def test_the_planner_keeps_a_patients_doses_in_any_7_days_within_the_ceiling_across_groups():
    other = (MONDAY + timedelta(days=1), MONDAY + timedelta(days=3))  # two doses elsewhere that week
    patients = [Patient("P-1", other_dosing_days=other), Patient("P-2"), Patient("P-3")]
    request = make_request(weekly_dosing(), MONDAY, 35, patients=patients, max_doses_per_7_days=2)
    plan = scheduling.schedule_course(request, PLANNED)
    for day in dosing_days(plan):
        window = [d for d in (*dosing_days(plan), *other) if day - timedelta(days=6) <= d <= day]
        assert len(window) <= 2
    assert min(dosing_days(plan)) >= MONDAY + timedelta(days=7)
    assert validate_plan(request, plan.sessions).ok


def test_without_the_other_groups_doses_the_planner_would_book_that_week():
    request = make_request(weekly_dosing(), MONDAY, 35, patients=[Patient(f"P-{n}") for n in range(3)])
    assert min(dosing_days(scheduling.schedule_course(request, PLANNED))) < MONDAY + timedelta(days=7)


def test_a_practice_ceiling_below_the_templates_weekly_cap_spaces_the_groups_own_doses():
    request = make_request(weekly_dosing(), MONDAY, 35, patients=[Patient(f"P-{n}") for n in range(3)])
    plan = scheduling.schedule_course(replace(request, max_doses_per_7_days=1), PLANNED)
    days = dosing_days(plan)
    assert all(later - earlier >= timedelta(days=7) for earlier, later in zip(days, days[1:], strict=False))


def test_a_patient_already_at_the_ceiling_every_week_makes_the_plan_infeasible_and_is_named():
    other = tuple(MONDAY + timedelta(days=n) for n in range(0, 35, 3))
    patients = [Patient("P-1", other_dosing_days=other), Patient("P-2"), Patient("P-3")]
    request = make_request(weekly_dosing(1), MONDAY, 35, patients=patients, max_doses_per_7_days=2)
    with pytest.raises(CourseInfeasible) as infeasible:
        scheduling.schedule_course(request, PLANNED)
    assert scheduling.FAMILY_DOSES_ACROSS_GROUPS in infeasible.value.families
    assert "patient P-1 has dosing sessions in another group" in str(infeasible.value)


def test_a_hand_edited_plan_with_three_doses_in_7_days_across_groups_is_a_violation():
    template = weekly_dosing(1)
    at = datetime.datetime.combine(MONDAY + timedelta(days=2), datetime.time(9), NEW_YORK)
    sessions = [
        PlannedSession(SessionKind.DOSING, 1, at, at + timedelta(hours=3), "R-GROUP", ("PR-1", "TH-1")),
        PlannedSession(
            SessionKind.INTEGRATION, 1, at + timedelta(days=1), at + timedelta(days=1, hours=1), "R-GROUP", ("TH-1",)
        ),
    ]
    other = (MONDAY, MONDAY + timedelta(days=1))
    patients = [Patient("P-1", other_dosing_days=other), Patient("P-2"), Patient("P-3")]
    request = make_request(template, MONDAY, 14, patients=patients, max_doses_per_7_days=2)
    check = validate_plan(replace(request, max_doses_named="the weekly dose setting"), sessions)
    assert [v.code for v in check.violations] == ["doses_across_groups"]
    assert "patient P-1 would have 3 doses in the 7 days from 2027-01-04, 2 of them in another group" in (
        check.violations[0].message
    )
    assert check.violations[0].message.endswith("at most 2 (the weekly dose setting)")


@pytest.mark.django_db
def test_the_planning_context_carries_the_patients_dosing_days_in_other_groups_and_the_practice_ceiling(
    cast, gate_open
):
    Room.objects.create(name="Cedar room", capacity=4)
    start = timezone.localdate() + timedelta(days=7)
    elsewhere = make_group(cast, "Other group", start - timedelta(days=60))
    book(elsewhere, "dosing", 1, start + timedelta(days=2))
    Enrolment.objects.create(group=elsewhere, patient=cast.alice, status=Enrolment.Status.COMPLETED)
    group = make_group(cast, "Spring group", start)
    team = [cast.bob, cast.therapist, cast.nurse]
    Enrolment.objects.create(group=group, patient=cast.alice, status=Enrolment.Status.ENROLLED)
    for n in range(2):
        Enrolment.objects.create(
            group=group, patient=make_patient(f"M{n}", "Spring", team=team), status=Enrolment.Status.ENROLLED
        )
    practice_value_set(actor=cast.admin, key="dosing.max_doses_per_7_days", value=1, reason="Local policy")
    request = planning.planning_context(group=group).request
    assert request.max_doses_per_7_days == 1
    assert request.max_doses_named == (
        "the practice setting “Doses for one patient in any 7 days, at most” on the Practice settings page "
        "(a prescriber changes it; the practice admin may propose a change)"
    )
    alice = next(p for p in request.patients if p.id == cast.alice.record_number)
    assert alice.other_dosing_days == (start + timedelta(days=2),)
    assert all(not p.other_dosing_days for p in request.patients if p is not alice)


# --- safety facts other apps hold (signals.enrolment_checks) ---------------------------------------------------


def _ready_group(cast) -> Group:
    helpers.ready_for_enrolment(cast)
    return make_group(cast, "Spring group", timezone.localdate() + timedelta(days=14))


@pytest.mark.django_db
def test_an_unacknowledged_suicide_risk_answer_from_the_portal_refuses_enrolment_until_the_care_team_acknowledges(
    cast,
):
    group = _ready_group(cast)
    assessment = due_assessment(cast.alice)
    measures.assessment_save_answers(actor=cast.alice.user, assessment=assessment, answers=PHQ9_ITEM9, submit=True)
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert "a suicide-risk alert raised" in str(refused.value)
    assert "Item 9" in str(refused.value) and "acknowledges it with a note before they join a course" in str(
        refused.value
    )
    assert not Enrolment.objects.filter(group=group).exists()
    alert = CriticalAlert.objects.get(patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Assessed by phone: passive thoughts, safety plan.")
    assert services.enrol(actor=cast.bob, group=group, patient=cast.alice).status == Enrolment.Status.ENROLLED


@pytest.mark.django_db
def test_an_maoi_added_to_the_record_after_screening_refuses_enrolment_until_a_new_screening(cast):
    group = _ready_group(cast)
    patients.record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="medication",
        fields={"name": "Nardil", "dose": "15 mg three times daily"},
    )
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert (
        "new on the record or in the patient's own answers since screening, and reviewed by the screening rules: Nardil (maoi)"
        in str(refused.value)
    )
    medicines = [{"name": "phenelzine", "dose_mg_per_day": 45}]
    _, result = helpers.screen(cast, helpers.intake(medications=medicines))
    assert result.decision == "needs_review"
    screening.override_record(
        actor=cast.bob, result=result, justification="Phenelzine reviewed: BP checks before and 40 min after each dose."
    )
    assert services.enrol(actor=cast.bob, group=group, patient=cast.alice).status == Enrolment.Status.ENROLLED


@pytest.mark.django_db
def test_an_maoi_the_patient_reports_from_the_portal_after_screening_refuses_enrolment_until_a_new_screening(cast):
    group = _ready_group(cast)
    screening.pre_intake_submit(
        actor=cast.alice_user,
        patient=cast.alice,
        data={"indications": ["depression"], "medications": [{"name": "tranylcypromine 30 mg"}]},
    )
    with pytest.raises(services.EnrolmentRefused, match=r"own answers since screening.*tranylcypromine 30 mg \(maoi\)"):
        services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert not Enrolment.objects.filter(group=group).exists()


@pytest.mark.django_db
def test_a_urine_drug_screen_positive_for_a_substance_not_prescribed_refuses_enrolment_until_reviewed(
    cast, django_capture_on_commit_callbacks
):
    group = _ready_group(cast)
    with django_capture_on_commit_callbacks(execute=True):  # the queue hears of it once it is committed
        measures.urine_toxicology_record(
            actor=cast.bob,
            patient=cast.alice,
            collected_on=timezone.localdate(),
            result="positive",
            substances_found=["phencyclidine"],
            prescribed_found=[],
        )
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert "Urine drug screen positive for a substance not prescribed: Phencyclidine (PCP)" in str(refused.value)
    assert not Enrolment.objects.filter(group=group).exists()
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="long_term_safety")
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Discussed: one-off use; re-test before dosing.")
    assert services.enrol(actor=cast.bob, group=group, patient=cast.alice).status == Enrolment.Status.ENROLLED


@pytest.mark.django_db
def test_the_screening_page_says_cannot_join_while_another_app_holds_the_enrolment_and_names_why(cast, client_for):
    """The gate card reads the same checks enrol() does: a page saying "may join" beside a refused enrolment would
    send staff to the group page for nothing, or worse, suggest the alert no longer matters."""
    helpers.ready_for_enrolment(cast)
    client = client_for(cast.bob)
    page = client.get(f"/screening/patients/{cast.alice.pk}/").content.decode()
    assert "Enrolment gate: may join a group" in page
    assessment = due_assessment(cast.alice)
    measures.assessment_save_answers(actor=cast.alice.user, assessment=assessment, answers=PHQ9_ITEM9, submit=True)
    page = client.get(f"/screening/patients/{cast.alice.pk}/").content.decode()
    assert "Enrolment gate: cannot join a group yet" in page
    assert "A suicide-risk alert raised" in page and "acknowledges it with a note before they join a course" in page
