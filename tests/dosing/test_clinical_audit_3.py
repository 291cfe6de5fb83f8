"""Third clinical-safety audit: a fact recorded in one app is read by every app that decides a dose, a course or a
discharge. Each case is built through the services, as a clinic would."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.measures import services as measures
from kapstone.patients.models import Medication
from kapstone.practice.services import SettingRefused, practice_setting_change
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import services as program
from kapstone.screening.services import pre_intake_submit
from tests.dosing.helpers import signed, vitals_at
from tests.measures.factories import PHQ9_ITEM9, due_assessment, open_alert
from tests.screening.helpers import intake, screen


def discharge(actor, record):
    return services.discharge(actor=actor, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)


# A benzodiazepine's dose raised on the record after screening ---------------------------------------------------


@pytest.fixture
def screened_on_a_low_benzodiazepine_dose(cast, session):
    """Alice screened on lorazepam 0.5 mg a day (5 mg diazepam-equivalent, within the screening's 8 mg: a caution)."""
    _, result = screen(cast, intake(medications=[{"name": "lorazepam", "dose_mg_per_day": 0.5}]))
    assert result.decision == "eligible"
    return session


def order(cast, record):
    return services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))


def test_a_benzodiazepine_dose_raised_on_the_record_after_screening_waits_for_the_prescribers_review(
    cast, screened_on_a_low_benzodiazepine_dose, checked_in
):
    """The record now says lorazepam 2 mg three times daily: 60 mg/day diazepam-equivalent ([ashton-2002]), far above
    the load the screening weighs ([andrashko-2020]), yet lorazepam is no new name. Before, the room and the enrolment
    gate compared names only and let it through."""
    services.vitals_record(
        actor=cast.nurse, record=checked_in, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    Medication.objects.create(patient=cast.alice, name="lorazepam", dose="2 mg", frequency="three times daily")
    readiness = selectors.dose_readiness(record=checked_in, at=timezone.now())
    assert [medicine.described for medicine in readiness.medicines_to_review] == [
        "benzodiazepines at about 60 mg/day diazepam-equivalent (the dose has risen since screening, which counted "
        "5 mg/day; above the screening's 8 mg/day ([andrashko-2020] a higher diazepam-equivalent load predicted "
        "non-response; [ashton-2002] equivalence; [spravato-pi] section 7 (CNS depressants may increase sedation)))"
    ]
    with pytest.raises(services.DosingError, match="New since screening.*benzodiazepines at about 60 mg/day"):
        order(cast, checked_in)
    group = checked_in.session.group
    with pytest.raises(program.EnrolmentRefused, match="benzodiazepines at about 60 mg/day .* re-screen"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    services.medication_review(actor=cast.bob, record=checked_in, note="Taper agreed with her psychiatrist; proceed.")
    assert order(cast, checked_in).within


@pytest.mark.parametrize(
    ("dose", "frequency", "reviewed"),
    [
        ("0.5", "twice daily", True),  # 10 mg/day diazepam-equivalent: risen past the screening's 8 mg
        ("0.5", "once daily", False),  # the dose screened
        ("0.7", "once daily", False),  # 7 mg: risen, but within the screening's threshold
        ("1", "as needed", False),  # no daily dose to count: the name was screened, as before
    ],
)
def test_a_benzodiazepine_dose_is_reviewed_again_only_when_it_rises_past_the_screenings_threshold(
    cast, screened_on_a_low_benzodiazepine_dose, checked_in, dose, frequency, reviewed
):
    Medication.objects.create(patient=cast.alice, name="lorazepam", dose=f"{dose} mg", frequency=frequency)
    readiness = selectors.dose_readiness(record=checked_in, at=timezone.now())
    assert bool(readiness.medicines_to_review) is reviewed


def test_a_higher_benzodiazepine_dose_the_patient_reports_from_the_portal_is_reviewed_too(
    cast, screened_on_a_low_benzodiazepine_dose, checked_in
):
    """The patient's own answers are kept as sent: a dose that is not a number counts for nothing, and the new name is
    reviewed as before."""
    answers = [{"name": "lorazepam", "dose_mg_per_day": 3}, {"name": "clonazepam", "dose_mg_per_day": "a lot"}]
    pre_intake_submit(actor=cast.alice.user, patient=cast.alice, data={"medications": answers})
    readiness = selectors.dose_readiness(record=checked_in, at=timezone.now())
    assert [medicine.name for medicine in readiness.medicines_to_review] == [
        "clonazepam",
        "benzodiazepines at about 30 mg/day diazepam-equivalent",
    ]


def test_a_higher_benzodiazepine_dose_declared_at_check_in_is_reviewed_too(
    cast, screened_on_a_low_benzodiazepine_dose, checked_in
):
    services.check_in(
        actor=cast.nurse,
        record=checked_in,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="",
        weight_kg=Decimal("70"),
        medication_changes="yes",
        new_medications="Ativan 1 mg twice daily",
    )
    readiness = selectors.dose_readiness(record=checked_in, at=timezone.now())
    assert [medicine.name for medicine in readiness.medicines_to_review] == [
        "benzodiazepines at about 20 mg/day diazepam-equivalent"
    ]


def test_a_new_screening_that_weighs_the_higher_dose_clears_the_review(
    cast, screened_on_a_low_benzodiazepine_dose, checked_in
):
    Medication.objects.create(patient=cast.alice, name="lorazepam", dose="2 mg", frequency="three times daily")
    _, result = screen(cast, intake(medications=[{"name": "lorazepam", "dose_mg_per_day": 6}]))
    assert result.decision == "needs_review"  # the screening's benzodiazepine_load rule now weighs it
    assert selectors.medicines_new_since_screening(patient=cast.alice) == []


# An undosed patient leaving with a questionnaire's suicide-risk answer nobody assessed --------------------------------


@pytest.fixture
def undosed_with_an_open_phq9_item_9(cast, checked_in):
    """Alice's PHQ-9 this morning endorsed item 9 ([kroenke-2001]); the alert is open and no prescriber has seen her.
    The dose is not given (the room's gate asks for a same-day assessment first) and the nurse would send her home."""
    alert = open_alert(cast.alice)
    vitals_at(cast, checked_in, "discharge", timezone.now())
    return checked_in, alert


def test_an_undosed_patient_with_an_unassessed_suicide_risk_answer_is_not_sent_home(
    cast, undosed_with_an_open_phq9_item_9
):
    """Before, discharge read questionnaire suicide-risk answers only since a dose, so a patient never dosed left with
    the answer open and unassessed. The room's own positive screen already held an undosed discharge."""
    record, alert = undosed_with_an_open_phq9_item_9
    with pytest.raises(services.DosingError, match=r"a suicide-risk answer \(PHQ-9.*before they leave, dosed or not"):
        discharge(cast.nurse, record)
    record.refresh_from_db()
    assert record.discharged_at is None
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen: passive thoughts, safety plan reviewed.")
    assert discharge(cast.nurse, record).discharged_at is not None


def test_a_prescribers_decision_in_the_room_after_the_answer_is_the_assessment(cast, undosed_with_an_open_phq9_item_9):
    record, _ = undosed_with_an_open_phq9_item_9
    services.risk_assessment_record(
        actor=cast.bob,
        record=record,
        clinician_level="moderate",
        decision="defer",
        note="Deferred; crisis plan agreed.",
    )
    assert discharge(cast.nurse, record).discharged_at is not None


def test_an_answer_given_after_the_prescribers_decision_holds_the_undosed_discharge_again(
    cast, undosed_with_an_open_phq9_item_9
):
    record, _ = undosed_with_an_open_phq9_item_9
    services.risk_assessment_record(
        actor=cast.bob,
        record=record,
        clinician_level="moderate",
        decision="defer",
        note="Deferred; crisis plan agreed.",
    )
    later = due_assessment(cast.alice)  # it joins the open alert, as a new answer after the decision
    measures.assessment_save_answers(actor=None, assessment=later, answers=PHQ9_ITEM9, submit=True)
    with pytest.raises(services.DosingError, match="a suicide-risk answer"):
        discharge(cast.nurse, record)


# The discharge's dissociation limit has the bound of its source --------------------------------------------------------


def test_the_discharge_cadss_limit_cannot_be_set_past_its_source_and_a_stored_one_is_held_at_it(
    cast, stock, ready_record
):
    """[cadss-dissociation-convention]: a CADSS total above 4 reads as dissociative symptoms present. Before, the
    setting took anything up to the scale's 92, so a practice could discharge a patient rated at 60 with no clinician's
    attestation. A practice may ask for less, never more; past it, a clinician attests with a note."""
    with pytest.raises(SettingRefused, match="cannot exceed"):
        practice_setting_change(actor=cast.bob, key="dosing.discharge_cadss_max", raw_value="30", reason="our protocol")
    practice_setting_change(actor=cast.bob, key="dosing.discharge_cadss_max", raw_value="2", reason="stricter")
    practice_value_set(actor=cast.admin, key="dosing.discharge_cadss_max", value=30, reason="set by hand")
    given = timezone.now() - datetime.timedelta(minutes=130)
    record = services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=12)
    vitals_at(cast, record, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match=r"dissociation not resolved \(CADSS 12, needs 4 or less"):
        discharge(cast.nurse, record)


# Who may acknowledge the alert the other apps read as a clinician's review ------------------------------------------


def test_only_a_clinician_acknowledges_a_suicide_risk_alert_that_enrolment_and_discharge_read_as_a_review(
    cast, undosed_with_an_open_phq9_item_9
):
    """Enrolment, the room and discharge take an acknowledged alert as the care team's follow-up ([kroenke-2001] item
    9, [critical-item-practice]). The queue's form is for clinicians only, but the service took anyone's word: the
    practice admin's acknowledgement opened enrolment and sent the undosed patient home."""
    record, alert = undosed_with_an_open_phq9_item_9
    with pytest.raises(ValueError, match="Only a clinician acknowledges an alert"):
        measures.alert_acknowledge(actor=cast.admin, alert=alert, note="Closing old alerts.")
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    with pytest.raises(program.EnrolmentRefused, match="suicide-risk alert .* is not yet acknowledged"):
        program.enrol(actor=cast.bob, group=record.session.group, patient=cast.alice)
    with pytest.raises(services.DosingError, match="a suicide-risk answer"):
        discharge(cast.nurse, record)
