"""The report keeps each patient to one course: the filters choose it, and baseline, end, doses and safety
all come from that course. The facilitator filter offers everyone it can match."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.creativity.models import CreativityAdministration
from kapstone.dosing.models import DoseRecord, Route
from kapstone.measures.models import Assessment
from kapstone.outcomes.forms import ReportFilterForm
from kapstone.outcomes.report import build_report
from kapstone.outcomes.selectors import ReportFilters, facilitator_choices
from kapstone.outcomes.snapshots import fingerprint
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.conftest import make_user
from tests.outcomes.factories import PHQ9_PAIRS, build_practice

pytestmark = pytest.mark.django_db

SECOND_TEMPLATE = "individual-kap"
SECOND_START = datetime.date(2025, 9, 1)


def _phq9(report):
    return next(o for o in report.instruments if o.instrument_id == "phq9")


def _second_course(practice, *, session_facilitator=None):
    """Patient 0 comes back for a second course (another template, later) with its own PHQ-9 and one dose."""
    patient = practice.patients[0]
    # The first course's questionnaires were scheduled for it, as the measures app does.
    Assessment.objects.filter(patient__in=practice.patients).update(group=practice.group)
    CreativityAdministration.objects.filter(patient__in=practice.patients).update(group=practice.group)
    group = Group.objects.create(
        name="Cohort Returning",
        template_id=SECOND_TEMPLATE,
        template_version=1,
        min_size=1,
        max_size=4,
        start_date=SECOND_START,
        status=Group.Status.COMPLETED,
    )
    Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.COMPLETED)
    starts = datetime.datetime.combine(SECOND_START + datetime.timedelta(days=14), datetime.time(14), datetime.UTC)
    session = GroupSession.objects.create(
        group=group,
        kind=GroupSession.Kind.DOSING,
        number=1,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=3),
    )
    if session_facilitator:
        session.facilitators.set([session_facilitator])
    DoseRecord.objects.create(
        session=session,
        patient=patient,
        route=Route.IM,
        dose_mg=Decimal(50),
        weight_kg=Decimal("70.5"),
        administered_at=starts + datetime.timedelta(minutes=30),
    )
    for occasion, total, at in (("baseline", 18, starts - datetime.timedelta(days=5)), ("end_of_course", 6, starts)):
        Assessment.objects.create(
            patient=patient,
            group=group,
            instrument_id="phq9",
            occasion=occasion,
            due_at=at,
            status=Assessment.Status.COMPLETED,
            total=total,
            completed_at=at + datetime.timedelta(days=20 if occasion == "end_of_course" else 0),
        )
    return group


def test_without_filters_each_patient_is_reported_on_their_first_course_only():
    practice = build_practice(3)
    _second_course(practice)
    report = build_report()
    phq9 = _phq9(report)
    assert report.cohort == 3
    # The second course's later end (6) is not paired with the first course's baseline (20).
    assert phq9.comparison.end.mean == pytest.approx(sum(end for _, end in PHQ9_PAIRS[:3]) / 3)
    assert report.safety.sessions == 12  # 3 patients x 4 doses of the first course; not the later dose


def test_a_template_filter_reports_the_matching_course_with_its_own_baseline_end_and_doses():
    practice = build_practice(3)
    _second_course(practice)
    report = build_report(ReportFilters(template_id=SECOND_TEMPLATE))
    phq9 = _phq9(report)
    assert report.cohort == 1
    assert (phq9.comparison.n, phq9.comparison.baseline.mean, phq9.comparison.end.mean) == (1, 18, 6)
    assert report.safety.sessions == 1
    dosing = next(section for section in report.table2 if section.title == "Dosing sessions per patient")
    assert dosing.summaries[0].estimate.mean == 1


def test_a_date_filter_can_choose_a_later_course_than_the_first():
    practice = build_practice(3)
    _second_course(practice)
    report = build_report(ReportFilters(date_from=SECOND_START))
    assert report.cohort == 1
    assert _phq9(report).comparison.baseline.mean == 18


def test_a_questionnaire_linked_to_no_course_is_left_out_and_counted_when_the_patient_has_several():
    practice = build_practice(3)
    _second_course(practice)
    patient = practice.patients[0]
    at = datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.UTC)
    Assessment.objects.create(
        patient=patient,
        instrument_id="gad7",
        occasion="end_of_course",
        due_at=at,
        status=Assessment.Status.COMPLETED,
        total=2,
        completed_at=at,
    )
    report = build_report()
    gad7 = next(o for o in report.instruments if o.instrument_id == "gad7")
    assert gad7.comparison.n == 3 and gad7.missing_baseline == 0
    assert report.missing_data == [
        "1 questionnaire and 0 creativity tasks linked to no course are left out: their patient has more than one "
        "course, so they could belong to either."
    ]


def test_the_facilitator_dropdown_lists_session_facilitators_and_the_filter_matches_them(client_for, cast):
    practice = build_practice(3)
    locum = make_user("locum.outcomes", Role.PRESCRIBER, last_name="Locum")
    locum.first_name = "Lorna"
    locum.save(update_fields=["first_name"])
    bystander = make_user("bystander.outcomes", Role.PRESCRIBER)
    _second_course(practice, session_facilitator=locum)
    listed = dict(facilitator_choices(digest=fingerprint()[0]))
    assert listed[locum.pk] == "Lorna Locum (Prescriber)"
    assert practice.staff["prescriber"].pk in listed and bystander.pk not in listed
    form = ReportFilterForm({"facilitator_id": str(locum.pk)})
    assert form.is_valid(), form.errors
    report = build_report(form.filters(), facilitator_label=form.facilitator_label())
    assert report.cohort == 1 and _phq9(report).comparison.baseline.mean == 18
    assert report.filters == ["facilitator Lorna Locum (Prescriber)"]
    # An admin's filter: a researcher has none by facilitator (test_cell_suppression).
    page = client_for(cast.admin).get(reverse("outcomes:report"), {"facilitator_id": locum.pk})
    assert page.status_code == 200 and b"facilitator Lorna Locum (Prescriber)" in page.content
    refused = client_for(cast.admin).get(reverse("outcomes:report"), {"facilitator_id": bystander.pk})
    assert refused.status_code == 400


def test_the_facilitator_dropdown_follows_the_data_and_the_staff_record(client_for, cast):
    """Who facilitated is kept per version of the report's inputs; a change to them, or to a name, shows at once."""
    practice = build_practice(3)
    locum = make_user("locum.follow", Role.PRESCRIBER, last_name="Locum")
    _second_course(practice, session_facilitator=locum)
    assert locum.pk in dict(facilitator_choices(digest=fingerprint()[0]))
    locum.last_name = "Renamed"
    locum.save(update_fields=["last_name"])
    assert "Renamed" in dict(facilitator_choices(digest=fingerprint()[0]))[locum.pk]
    for session in GroupSession.objects.filter(facilitators=locum):
        session.facilitators.remove(locum)
    assert locum.pk not in dict(facilitator_choices(digest=fingerprint()[0]))
