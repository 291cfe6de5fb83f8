"""Fourth clinical-safety audit: a fact recorded in one app after screening is read by every app that decides a dose,
a course or a discharge. Each case is built through the services, as a clinic would."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.measures import services as measures
from kapstone.measures.models import CriticalAlert
from kapstone.patients.services import record_part_remove
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import services as program
from kapstone.screening.gate import enrolment_blockers
from tests.conftest import signed_in_client
from tests.dosing.helpers import observed_and_ready_to_leave
from tests.screening.helpers import code_on_record, intake, screen, screened_a_week_ago


def psychiatric(**changes):
    return {**intake()["psychiatric"], **changes}


def medical(**changes):
    return {**intake()["medical"], **changes}


# A diagnosis noted on the record after the screening, of a condition its intake answered -------------------------

KETAMINE_IN_REMISSION = psychiatric(
    substance_use_disorders=[{"substance": "ketamine", "last_use": "2022-01-01", "involves_dissociatives": True}]
)

CASES = [
    # A ketamine use disorder the screening weighed as in remission (needs review, overridden); the record now codes
    # it uncomplicated, not in remission: active, it is an absolute contraindication.
    ({"psychiatric": KETAMINE_IN_REMISSION}, "F16.20", "Hallucinogen dependence, uncomplicated"),
    # A bipolar disorder the screening weighed; the record now codes a manic episode: current mania excludes.
    (
        {"psychiatric": psychiatric(bipolar_disorder=True)},
        "F31.2",
        "Bipolar disorder, current episode manic severe with psychotic features",
    ),
    # A heart attack in 2023 the screening read by its date; the record now codes a new one: within 6 months, reviewed.
    (
        {"medical": medical(cardiovascular_disease=True, mi_or_unstable_angina_date="2023-03-01")},
        "I21.4",
        "Non-ST elevation (NSTEMI) myocardial infarction",
    ),
]


@pytest.mark.parametrize(("parts", "code", "description"), CASES)
def test_a_diagnosis_noted_after_the_screening_holds_though_its_intake_answered_the_condition(
    cast, parts, code, description
):
    """Before, the gate asked only whether the intake answered the condition (a class listed, a yes, a date), so a
    relapse, a new manic episode or a new heart attack coded after the screening passed the gate and the room."""
    screened = datetime.date.fromisoformat(screened_a_week_ago(cast, **parts)["assessment_date"])
    code_on_record(cast, code, description, noted_on=timezone.localdate())
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker.startswith(f"the record codes {code} ({description}), ")
    assert blocker.endswith(
        f"noted on {day_in_words(timezone.localdate())}, after the screening of {day_in_words(screened)}, which "
        "weighed the patient as its intake found them: a relapse, a new episode or a new event since is not weighed; "
        "re-screen so a prescriber weighs it, or correct the record's date if it was noted before the screening"
    )
    group = cast.dosing_session().group
    with pytest.raises(program.EnrolmentRefused, match=rf"the record codes {code}"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_a_diagnosis_noted_on_or_before_the_screening_or_undated_is_judged_by_the_intake_alone(cast):
    data = screened_a_week_ago(cast, psychiatric=psychiatric(bipolar_disorder=True))
    assessed = datetime.date.fromisoformat(data["assessment_date"])
    code_on_record(cast, "F31.81", "Bipolar II disorder", noted_on=assessed)
    code_on_record(cast, "F31.9", "Bipolar disorder, unspecified", noted_on=assessed - datetime.timedelta(days=400))
    code_on_record(cast, "F31.0", "Bipolar disorder, current episode hypomanic")
    assert enrolment_blockers(patient=cast.alice) == []


def test_a_new_screening_after_the_diagnosis_or_a_corrected_date_reopens_the_gate(cast):
    data = screened_a_week_ago(cast, psychiatric=KETAMINE_IN_REMISSION)
    coded = code_on_record(cast, "F16.21", "Hallucinogen dependence, in remission", noted_on=timezone.localdate())
    assert enrolment_blockers(patient=cast.alice)
    # Corrected: the code was an old one, typed in today.
    record_part_remove(actor=cast.bob, patient=cast.alice, kind="diagnosis", part_id=coded.pk)
    code_on_record(cast, "F16.21", "Hallucinogen dependence, in remission", noted_on=datetime.date(2022, 3, 1))
    assert enrolment_blockers(patient=cast.alice) == []
    # A relapse noted today, weighed by a new screening today: active, the screening excludes her.
    code_on_record(cast, "F16.20", "Hallucinogen dependence, uncomplicated", noted_on=timezone.localdate())
    relapse = {**data, "assessment_date": timezone.localdate().isoformat()}
    relapse["psychiatric"] = psychiatric(
        substance_use_disorders=[
            {"substance": "ketamine", "last_use": timezone.localdate().isoformat(), "involves_dissociatives": True}
        ]
    )
    _, result = screen(cast, relapse)
    assert result.decision == "not_eligible"
    assert enrolment_blockers(patient=cast.alice) == ["screening decision is not eligible, which cannot be overridden"]


def test_the_dosing_room_refuses_a_dose_after_a_relapse_is_coded_and_its_page_says_why(cast, stock):
    screened_a_week_ago(cast, psychiatric=KETAMINE_IN_REMISSION)
    session = cast.dosing_session()
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    code_on_record(cast, "F16.20", "Hallucinogen dependence, uncomplicated", noted_on=timezone.localdate())
    readiness = selectors.dose_readiness(record=record, at=timezone.now())
    assert "the record codes F16.20 (Hallucinogen dependence, uncomplicated)" in readiness.gate_refusal
    with pytest.raises(services.DosingError, match=r"cannot be dosed: the record codes F16\.20"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    page = signed_in_client(cast.bob).get(reverse("dosing:room", kwargs={"session_id": session.pk})).text
    assert "F16.20 (Hallucinogen dependence, uncomplicated)" in page
    assert "a relapse, a new episode or a new event since is not weighed" in page


def test_the_screening_page_names_a_diagnosis_noted_after_the_screening(cast):
    screened_a_week_ago(cast, psychiatric=psychiatric(bipolar_disorder=True))
    code_on_record(cast, "F31.2", "Bipolar disorder, current episode manic severe", noted_on=timezone.localdate())
    page = signed_in_client(cast.bob).get(reverse("screening:patient", kwargs={"patient_id": cast.alice.pk})).text
    assert "F31.2 (Bipolar disorder, current episode manic severe), bipolar disorder, noted on" in page


# A use disorder the record codes as active, which the screening weighed as in remission ------------------------------


@pytest.mark.parametrize(
    ("code", "description", "noted_on", "holds"),
    [
        ("F16.20", "Hallucinogen dependence, uncomplicated", None, True),  # undated: active now, as far as it says
        ("F16.10", "Hallucinogen abuse, uncomplicated", datetime.date(2024, 5, 1), True),  # active after the last use
        ("F16.20", "Hallucinogen dependence, uncomplicated", datetime.date(2021, 6, 1), False),  # as it was then
        ("F16.21", "Hallucinogen dependence, in remission", None, False),  # in remission, as the screening weighed it
        ("F10.20", "Alcohol dependence, uncomplicated", None, True),  # F10 is not listed at all: as before
    ],
)
def test_a_use_disorder_coded_as_active_after_a_screening_that_weighed_it_in_remission_holds(
    cast, code, description, noted_on, holds
):
    """Intake: a ketamine use disorder, last use 1 Jan 2022, weighed as in remission (needs review, overridden). The
    record codes hallucinogen dependence not in remission ([icd10cm] a fifth character 1 is in remission): active, an
    absolute contraindication. Before, a code of a class the intake listed was taken as weighed, active or not."""
    screened_a_week_ago(cast, psychiatric=KETAMINE_IN_REMISSION)
    code_on_record(cast, code, description, noted_on=noted_on)
    blockers = enrolment_blockers(patient=cast.alice)
    assert bool(blockers) is holds
    if holds and code.startswith("F16"):
        [blocker] = blockers
        assert blocker == (
            f"the record codes {code} ({description}), a hallucinogen use disorder (which may involve a "
            "dissociative), as not in remission, but the screening of "
            f"{day_in_words(timezone.localdate() - datetime.timedelta(days=7))} weighed it as in remission (ketamine, "
            "last used 1 Jan 2022); re-screen with the last use as it is so a prescriber weighs it, or correct the "
            "record if it is in remission"
        )


def test_an_active_code_of_a_class_the_screening_weighed_as_active_does_not_hold(cast):
    recent = (timezone.localdate() - datetime.timedelta(days=60)).isoformat()
    screened_a_week_ago(
        cast,
        psychiatric=psychiatric(
            substance_use_disorders=[{"substance": "alcohol", "last_use": recent, "involves_dissociatives": False}]
        ),
    )
    code_on_record(cast, "F10.20", "Alcohol dependence, uncomplicated")
    assert enrolment_blockers(patient=cast.alice) == []


# A suicide screen in the room after the dose ---------------------------------------------------------------------

MODERATE_RISK = {1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0}  # thoughts with a method: moderate ([cssrs-screener] triage)


@pytest.fixture
def observed(cast, stock, ready_record):
    return observed_and_ready_to_leave(cast, ready_record, stock)


def discharge(actor, record):
    return services.discharge(actor=actor, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)


def test_a_suicide_screen_after_the_dose_holds_discharge_until_a_clinician_acknowledges_it(
    cast, observed, django_capture_on_commit_callbacks
):
    """A patient who speaks of suicide while observed: before, the room refused any screen once the dose was given
    ("record what follows as a note"), and discharge reads no note, so the patient went home with it unassessed
    ([sanacora-2017] mental-status monitoring; [spravato-rems] discharge only when clinically stable)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.risk_assessment_record(actor=cast.nurse, record=observed, answers=MODERATE_RISK)
    with pytest.raises(services.DosingError, match="the suicide screen after the dose at .* is not yet acknowledged"):
        discharge(cast.nurse, observed)
    # The next dose and a new course wait for it too while it stays open (an earlier day's room screen).
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="room_suicide_screen", acknowledged_at__isnull=True)
    assert [found.pk for found in selectors.safety_reviews_open(patient=cast.alice)] == [alert.pk]
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen: passive thoughts, safety plan, escort home.")
    assert discharge(cast.nurse, observed).discharged_at is not None


def test_after_the_dose_a_screen_takes_no_decision_and_a_low_risk_one_does_not_hold_discharge(cast, observed):
    with pytest.raises(services.DosingError, match="there is no dose to proceed with or defer"):
        services.risk_assessment_record(
            actor=cast.bob, record=observed, answers=MODERATE_RISK, decision="proceed", note="Fine."
        )
    services.risk_assessment_record(actor=cast.nurse, record=observed, answers={1: 1, 2: 0, 6: 0})  # low risk
    assert discharge(cast.nurse, observed).discharged_at is not None
    with pytest.raises(services.DosingError, match="discharged"):
        services.risk_assessment_record(actor=cast.nurse, record=observed, answers=MODERATE_RISK)


def test_the_room_offers_the_screen_after_the_dose_and_says_why_discharge_waits(
    cast, observed, django_capture_on_commit_callbacks
):
    session = observed.session
    client = signed_in_client(cast.bob)
    room = reverse("dosing:room", kwargs={"session_id": session.pk})
    page = client.get(room).text
    assert f'name="p{cast.alice.pk}-risk-q1"' in page
    assert f'name="p{cast.alice.pk}-risk-decision"' not in page  # no dose left to proceed with or defer
    action = reverse(
        "dosing:room_action", kwargs={"session_id": session.pk, "patient_id": cast.alice.pk, "action": "risk"}
    )
    prefix = f"p{cast.alice.pk}-risk"
    answers = {f"{prefix}-q{number}": "1" if value else "0" for number, value in MODERATE_RISK.items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action, answers, follow=True)
    assert response.status_code == 200
    assert "suicide-risk screen recorded; risk level: Moderate" in response.text
    discharged = {
        f"p{cast.alice.pk}-discharge-vitals_ok": "on",
        f"p{cast.alice.pk}-discharge-alert_oriented": "on",
        f"p{cast.alice.pk}-discharge-escort_present": "on",
    }
    action = reverse(
        "dosing:room_action", kwargs={"session_id": session.pk, "patient_id": cast.alice.pk, "action": "discharge"}
    )
    response = client.post(action, discharged)
    assert response.status_code == 400
    assert "the suicide screen after the dose at" in response.text
    observed.refresh_from_db()
    assert observed.discharged_at is None
    # Bad input: a decision slipped into the post after the dose, which the form no longer shows, is refused and
    # writes nothing.
    screens = observed.risk_assessments.count()
    response = client.post(
        reverse("dosing:room_action", kwargs={"session_id": session.pk, "patient_id": cast.alice.pk, "action": "risk"}),
        {f"{prefix}-clinician_level": "none", f"{prefix}-decision": "proceed", f"{prefix}-note": "ok"},
    )
    assert response.status_code == 400
    assert "there is no dose to proceed with or defer" in response.text
    assert observed.risk_assessments.count() == screens
    # Denied: the practice admin sees the room but screens no one; a researcher does not find the room at all.
    answers_again = {f"{prefix}-q{number}": "1" if value else "0" for number, value in MODERATE_RISK.items()}
    response = signed_in_client(cast.admin).post(
        reverse("dosing:room_action", kwargs={"session_id": session.pk, "patient_id": cast.alice.pk, "action": "risk"}),
        answers_again,
    )
    assert response.status_code == 400  # refused by the service (only a clinician assesses suicide risk)
    response = signed_in_client(cast.charlie).post(
        reverse("dosing:room_action", kwargs={"session_id": session.pk, "patient_id": cast.alice.pk, "action": "risk"}),
        answers_again,
    )
    assert response.status_code == 404
    assert observed.risk_assessments.count() == screens
