"""Fifth clinical-safety audit: a fact recorded in one app is read by every decision that gives a dose, enrols a patient
or discharges one, whenever it was recorded (after screening, between two doses, in another course). Each case is built
through the services, as a clinic would."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.patients.services import record_part_add
from kapstone.program import services as program
from kapstone.screening import services as screening
from kapstone.screening.gate import enrolment_blockers
from tests.conftest import signed_in_client
from tests.screening.helpers import consult, intake, screen, sign_consent

JUSTIFICATION = "Weighed with her cardiologist: controlled since, monitored closely; proceed."


def screened_a_week_ago(cast, **parts):
    """Alice screened a week ago (still current) on an intake changed by `parts`, a needs-review result overridden,
    consulted and consented: the gate is open."""
    data = intake(**parts)
    data["assessment_date"] = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
    _, result = screen(cast, data)
    if result.decision == "needs_review":
        screening.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)
    consult(cast)
    sign_consent(cast)
    assert enrolment_blockers(patient=cast.alice) == []
    return data


def code_on_record(cast, code, description, noted_on=None):
    return record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="diagnosis",
        fields={"icd10_code": code, "description": description, "noted_on": noted_on},
    )


def medical(**changes):
    return {**intake()["medical"], **changes}


# A hypertensive crisis on the record (ICD-10-CM I16) ----------------------------------------------------------------

CRISIS = ("I16.1", "Hypertensive emergency")


@pytest.mark.parametrize("answered", [{}, {"hypertension": True}])
def test_a_hypertensive_crisis_on_the_record_holds_until_a_screening_weighs_it_as_cardiovascular_disease(
    cast, answered
):
    """[ketalar-pi] contraindicates ketamine where a significant rise in blood pressure would be a serious hazard;
    [spravato-pi] 5 warns of its rise in patients with cardiovascular conditions. Before, I16 was mapped to nothing, so
    a crisis coded on the record passed the gate and the room; an intake saying only "high blood pressure" is a caution
    (hypertension_history) that no prescriber reviews, so it does not weigh the crisis either."""
    screened_a_week_ago(cast, medical=medical(**answered))
    code_on_record(cast, *CRISIS)
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker.startswith(
        "the record codes I16.1 (Hypertensive emergency), a hypertensive crisis, which the intake's cardiovascular "
        "disease answer reviews, but the screening of "
    )
    with pytest.raises(program.EnrolmentRefused, match=r"the record codes I16\.1"):
        program.enrol(actor=cast.bob, group=cast.dosing_session().group, patient=cast.alice)


def test_a_screening_that_weighs_the_crisis_as_cardiovascular_disease_reopens_the_gate(cast):
    screened_a_week_ago(cast, medical=medical(cardiovascular_disease=True))
    code_on_record(cast, *CRISIS, noted_on=timezone.localdate() - datetime.timedelta(days=30))
    assert enrolment_blockers(patient=cast.alice) == []
    # A new crisis noted after that screening is news it could not weigh.
    code_on_record(cast, "I16.0", "Hypertensive urgency", noted_on=timezone.localdate())
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert "I16.0 (Hypertensive urgency)" in blocker and "noted on" in blocker


def test_the_dosing_room_refuses_a_dose_after_a_crisis_is_coded_and_says_why(cast, session, stock):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    code_on_record(cast, *CRISIS, noted_on=timezone.localdate())
    with pytest.raises(services.DosingError, match=r"cannot be dosed: the record codes I16\.1"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    page = signed_in_client(cast.bob).get(reverse("dosing:room", kwargs={"session_id": session.pk})).text
    assert "I16.1 (Hypertensive emergency), a hypertensive crisis" in page
    assert selectors.dose_readiness(record=record, at=timezone.now()).gate_refusal
