"""The room's re-checks on the day: the enrolment gate, dose spacing, the ceiling at the moment of giving, the lot's
expiry; before discharge the ~40 min vitals, any suicide-risk answer since the dose and any severe adverse event;
and a closed record after discharge."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.dosing import services
from kapstone.dosing.forms import AdministerForm
from kapstone.dosing.models import DoseRecord, LedgerEntry, SubstanceLot
from kapstone.measures import services as measures
from kapstone.measures.models import AlertOccurrence, CriticalAlert
from kapstone.patients import services as patients
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import services as program
from kapstone.program.models import Enrolment
from kapstone.screening import services as screening
from kapstone.screening.models import ConsentSignature, Consultation
from tests.dosing.helpers import NO_RISK_SCREEN, receive_stock, signed, vitals_at
from tests.measures.factories import due_assessment, open_alert
from tests.screening.helpers import consult, not_eligible_intake, screen


def check_in_alice(cast, record, weight="70"):
    return services.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="",
        weight_kg=Decimal(weight),
        medication_changes="no",
    )


def every_dosing_step_refuses(cast, record, stock, message):
    with pytest.raises(services.DosingError, match=message):
        check_in_alice(cast, record)
    with pytest.raises(services.DosingError, match=message):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(services.DosingError, match=message):
        services.dose_administer(actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob))
    record.refresh_from_db()
    assert record.administered_at is None
    assert not LedgerEntry.objects.filter(kind="administration").exists()


# The enrolment gate ----------------------------------------------------------------------------------------


def test_a_patient_who_withdrew_consent_cannot_be_checked_in_ordered_or_dosed(cast, ready_record, stock):
    signature = ConsentSignature.objects.get(patient=cast.alice)
    screening.consent_withdraw(actor=cast.nurse, signature=signature, reason="told the nurse by phone")
    every_dosing_step_refuses(
        cast, ready_record, stock, r"Alice Abernathy cannot be dosed: informed consent .* withdrawn"
    )


def test_a_new_not_eligible_screening_stops_the_dose(cast, ready_record, stock):
    screen(cast, not_eligible_intake())
    every_dosing_step_refuses(cast, ready_record, stock, "cannot be dosed: screening decision is not eligible")


def test_a_patient_withdrawn_from_the_course_after_the_order_is_not_dosed(cast, ready_record, stock, client_for):
    enrolment = Enrolment.objects.get(group=ready_record.session.group, patient=cast.alice)
    program.withdraw(actor=cast.bob, enrolment=enrolment, reason="Moving away; stops the course.")
    with pytest.raises(services.DosingError, match="is not enrolled in this session's group, so cannot be dosed"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    with pytest.raises(services.DosingError, match="is not enrolled in this session's group"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("100"))
    assert not LedgerEntry.objects.filter(kind="administration").exists()
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[ready_record.session_id])).content.decode()
    assert f'id="patient-{cast.alice.pk}"' not in page


def test_the_outside_psychiatrists_advice_against_recorded_after_enrolment_stops_the_dose(cast, ready_record, stock):
    consult(cast, outcome=Consultation.Outcome.ADVISED_AGAINST)
    every_dosing_step_refuses(
        cast, ready_record, stock, r"cannot be dosed: Dr\. Outside, Riverside Psychiatry advised against KAP on"
    )


def test_the_room_explains_why_a_patient_whose_gate_closed_cannot_check_in(cast, session, client_for):
    signature = ConsentSignature.objects.get(patient=cast.alice)
    screening.consent_withdraw(actor=cast.alice_user, signature=signature)
    prefix = f"p{cast.alice.pk}-checkin-"
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "checkin"]),
        {prefix + "fasting_confirmed": "on", prefix + "escort_arranged": "on", prefix + "pregnancy_test": "n/a"},
    )
    assert response.status_code == 400 and "cannot be dosed: informed consent" in response.content.decode()
    assert not DoseRecord.objects.filter(session=session, patient=cast.alice).exists()


def test_a_diagnosis_coded_on_the_record_that_the_screening_did_not_review_stops_the_dose(cast, ready_record, stock):
    patients.record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="diagnosis",
        fields={"icd10_code": "F20.9", "description": "Schizophrenia, unspecified"},
    )
    every_dosing_step_refuses(
        cast, ready_record, stock, r"cannot be dosed: the record codes F20\.9 \(Schizophrenia, unspecified\)"
    )


def test_a_substance_use_disorder_coded_after_a_screening_that_declared_none_stops_the_dose(cast, ready_record, stock):
    patients.record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="diagnosis",
        fields={"icd10_code": "F11.21", "description": "Opioid dependence, in remission"},
    )
    every_dosing_step_refuses(
        cast,
        ready_record,
        stock,
        r"cannot be dosed: the record codes F11\.21 \(Opioid dependence, in remission\), an opioid use disorder, but "
        r"the screening of .* did not review it \(its intake lists no substance use disorder\)",
    )


def test_the_room_shows_the_record_diagnosis_the_screening_did_not_review(cast, session, client_for):
    patients.record_part_add(
        actor=cast.bob,
        patient=cast.alice,
        kind="diagnosis",
        fields={"icd10_code": "O09.90", "description": "Supervision of high risk pregnancy, unspecified <trimester>"},
    )
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Cannot be dosed today: the enrolment gate is closed" in page
    assert (
        "The record codes O09.90 (Supervision of high risk pregnancy, unspecified &lt;trimester&gt;), pregnancy, but "
        "the screening of"
    ) in page


# Never more than twice a week ------------------------------------------------------------------------------


# Findings since screening --------------------------------------------------------------------------------------


def uds(cast, found, prescribed=()):
    return measures.urine_toxicology_record(
        actor=cast.bob,
        patient=cast.alice,
        collected_on=timezone.localdate() - datetime.timedelta(days=1),
        result="positive",
        substances_found=list(found),
        prescribed_found=list(prescribed),
    )


def test_a_urine_drug_screen_positive_for_a_substance_not_prescribed_holds_the_dose_until_reviewed(
    cast, session, ready_record, stock, django_capture_on_commit_callbacks, client_for
):
    with django_capture_on_commit_callbacks(execute=True):  # the queue hears of it once it is committed
        uds(cast, ["ketamine"])
    message = "To review before the dose: Urine drug screen positive for a substance not prescribed: Ketamine"
    with pytest.raises(services.DosingError, match=message):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(services.DosingError, match=message):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert not LedgerEntry.objects.filter(kind="administration").exists()
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Safety finding to review before the dose" in page
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="long_term_safety")
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Use before the course; negative since. Proceed.")
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


def test_use_outside_the_clinic_reported_at_the_safety_follow_up_holds_the_dose_until_reviewed(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    assessment = due_assessment(cast.alice, "kset-followup", occasion="follow_up_1m")
    with django_capture_on_commit_callbacks(execute=True):
        measures.assessment_save_answers(
            actor=cast.alice_user,
            assessment=assessment,
            answers=dict(enumerate([0, 0, 0, 0, 0, 1, 0, 0], 1)),
            submit=True,
        )
    with pytest.raises(services.DosingError, match="To review before the dose: Craving, or use of ketamine"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))


def test_a_pregnancy_reported_from_the_portal_after_screening_stops_the_dose(cast, ready_record, stock):
    """The patient's record documents no childbearing potential, so the room would take "not applicable" for the
    test; what she reports in the portal the day before is read all the same."""
    screening.pre_intake_submit(
        actor=cast.alice_user, patient=cast.alice, data={"indications": ["depression"], "medical": {"pregnant": True}}
    )
    every_dosing_step_refuses(cast, ready_record, stock, "cannot be dosed: the patient's own answers sent on")


def test_drug_use_the_patient_writes_in_the_portal_after_screening_stops_the_dose(cast, ready_record, stock):
    screening.pre_intake_submit(
        actor=cast.alice_user,
        patient=cast.alice,
        data={"indications": ["depression"], "patient_notes": {"substance_use": "Cocaine most weekends since May."}},
    )
    every_dosing_step_refuses(cast, ready_record, stock, "tell of alcohol or drug use")


def test_an_maoi_reported_from_the_portal_after_screening_needs_the_prescribers_review(cast, ready_record, stock):
    screening.pre_intake_submit(
        actor=cast.alice_user,
        patient=cast.alice,
        data={"indications": ["depression"], "medications": [{"name": "Nardil 15 mg three times daily"}]},
    )
    with pytest.raises(services.DosingError, match=r"New since screening.*Nardil 15 mg three times daily \(maoi\)"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    services.medication_review(actor=cast.bob, record=ready_record, note="Stopped Nardil 3 weeks ago; BP checked.")
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


def test_a_severe_adverse_event_of_an_earlier_session_still_open_holds_the_next_dose_until_acknowledged(
    cast, ready_record, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """Today's own severe adverse events and stop-level readings are the discharge's and the pre-dose gate's; one of
    an earlier session left open (the patient went to the emergency department, say) holds the next dose."""
    three_days_ago = timezone.now() - datetime.timedelta(days=3)
    earlier = earlier_dose(cast.alice, three_days_ago)
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_record(
            actor=cast.nurse,
            record=earlier,
            kind="hypertensive crisis",
            severity="severe",
            description="",
            action_taken="sent to the emergency department",
        )
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="adverse_event_serious")
    CriticalAlert.objects.filter(pk=alert.pk).update(raised_at=three_days_ago)
    with pytest.raises(
        services.DosingError, match="To review before the dose: Severe adverse event in the dosing room: hypertensive"
    ):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen in clinic: BP controlled, cleared to continue.")
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


def test_a_prescribed_substance_on_the_drug_screen_does_not_hold_the_dose(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        uds(cast, ["benzodiazepines"], prescribed=["benzodiazepines"])
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


def test_a_third_dose_within_7_days_is_neither_ordered_nor_given(cast, session, stock, earlier_dose):
    now = timezone.now()
    earlier_dose(cast.alice, now - datetime.timedelta(days=6, hours=3))
    earlier_dose(cast.alice, now - datetime.timedelta(days=2))
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="already had 2 doses in the 7 days before.*at most 2 a week"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))


def test_a_dose_exactly_7_days_after_an_earlier_one_is_allowed(cast, ready_record, stock, earlier_dose):
    now = timezone.now()
    earlier_dose(cast.alice, now - datetime.timedelta(days=7))
    earlier_dose(cast.alice, now - datetime.timedelta(days=3))
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=now
    )
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at == now


def test_giving_the_dose_counts_doses_in_the_7_days_before_it_is_given(cast, ready_record, stock, earlier_dose):
    now = timezone.now()
    earlier_dose(cast.alice, now - datetime.timedelta(days=6))
    earlier_dose(cast.alice, now - datetime.timedelta(days=1))
    with pytest.raises(services.DosingError, match="already had 2 doses"):
        services.dose_administer(
            actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=now
        )
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")


def test_the_week_is_counted_in_calendar_days_as_the_planner_books_it(cast, ready_record, stock, earlier_dose):
    """A course booked Monday, Thursday, Monday: last Monday's dose was given later in the day than today's will be.
    Counted in hours, last Monday would still be within the 7 days and today's dose refused; the planner
    (program.scheduling) counts calendar days, and so does the room."""
    now = timezone.now()
    earlier_dose(cast.alice, now - datetime.timedelta(days=7) + datetime.timedelta(minutes=40))
    earlier_dose(cast.alice, now - datetime.timedelta(days=4))
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=now
    )
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at == now


def test_a_dose_six_calendar_days_back_still_counts_whatever_its_hour(cast, ready_record, stock, earlier_dose):
    now = timezone.now()
    six_days_back_at_midnight = timezone.make_aware(
        datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=6), datetime.time(0, 5))
    )
    earlier_dose(cast.alice, six_days_back_at_midnight)
    earlier_dose(cast.alice, now - datetime.timedelta(days=3))
    with pytest.raises(services.DosingError, match="already had 2 doses in the 7 days before"):
        services.dose_administer(
            actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=now
        )


def test_a_second_dose_on_the_same_day_in_another_group_is_neither_ordered_nor_given(
    cast, session, ready_record, stock, earlier_dose, client_for
):
    """Twice a week allows two doses in one day; one dose a day (safety.yaml one_dose_a_day) does not."""
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(hours=3))
    with pytest.raises(services.DosingError, match="has already had a dose today: one dose a day, in any group"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    with pytest.raises(services.DosingError, match="already had a dose today"):
        services.dose_order(actor=cast.bob, record=ready_record, route="sublingual", dose_mg=Decimal("100"))
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is None
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Cannot be dosed today: already dosed today" in page


def test_a_dose_late_yesterday_does_not_stop_todays(cast, ready_record, stock, earlier_dose):
    start_of_today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    earlier_dose(cast.alice, start_of_today - datetime.timedelta(minutes=30))
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


def test_doses_of_other_patients_do_not_count(cast, ready_record, stock, earlier_dose):
    now = timezone.now()
    earlier_dose(cast.dana, now - datetime.timedelta(days=1))
    earlier_dose(cast.dana, now - datetime.timedelta(days=2))
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))


def test_a_practice_may_set_a_lower_weekly_maximum(cast, ready_record, stock, earlier_dose):
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=4))
    practice_value_set(actor=cast.admin, key="dosing.max_doses_per_7_days", value=1, reason="our protocol: weekly")
    with pytest.raises(services.DosingError, match="already had 1 dose in the 7 days before.*at most 1 a week"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))


# At the moment of giving -----------------------------------------------------------------------------------


def test_a_weight_corrected_after_the_order_is_checked_again_when_the_dose_is_given(cast, session, stock):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in_alice(cast, record, weight="70")
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    services.vitals_record(
        actor=cast.nurse,
        record=record,
        phase="pre",
        systolic=120,
        diastolic=78,
        heart_rate=70,
        spo2=98,
        respiratory_rate=14,
    )
    services.dose_order(actor=cast.bob, record=record, route="iv", dose_mg=Decimal("50"))  # 0.71 mg/kg
    check_in_alice(cast, record, weight="60")  # 0.83 mg/kg, above the 0.75 mg/kg IV ceiling
    with pytest.raises(services.DosingError, match="no longer passes the ceiling check: 0.83 mg/kg is above"):
        services.dose_administer(actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob))
    record.refresh_from_db()
    assert record.administered_at is None


def test_a_lot_that_has_expired_since_receipt_is_refused_and_not_offered(cast, ready_record, stock):
    expired = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="OLD-1",
        expires_on=timezone.localdate(),
        location="Main safe",
        amount_mg=Decimal("500"),
    ).lot.balances.get()
    SubstanceLot.objects.filter(pk=expired.lot_id).update(expires_on=timezone.localdate() - datetime.timedelta(days=1))
    expired.refresh_from_db()
    with pytest.raises(services.DosingError, match="lot OLD-1 expired on"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=expired, witness=signed(cast.bob))
    assert list(AdministerForm().fields["balance"].queryset) == [stock]


def test_a_quarantined_lot_is_neither_offered_nor_given_until_it_is_released(cast, ready_record, stock, client_for):
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger_action", args=["quarantine"])
    data = {"quarantine-balance": stock.pk, "quarantine-decision": "quarantine", "quarantine-reason": ""}
    assert client.post(url, data).status_code == 400  # a reason is needed
    assert SubstanceLot.objects.get(pk=stock.lot_id).quarantined_at is None
    data["quarantine-reason"] = "Manufacturer's recall notice"
    assert client.post(url, data).status_code == 302
    assert (
        "<strong>quarantined</strong> (Manufacturer&#x27;s recall notice)"
        in client.get(reverse("dosing:ledger")).content.decode()
    )
    stock.refresh_from_db()
    with pytest.raises(services.DosingError, match=r"lot L-001 is quarantined since .* not given until it is released"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert list(AdministerForm().fields["balance"].queryset) == []
    assert stock.balance_mg == Decimal("2000")
    event = AuditEvent.objects.filter(object_type="substance_lot.quarantine").get()
    assert event.detail_data["reason"] == "Manufacturer's recall notice"
    with pytest.raises(services.DosingError, match="Only the staff who keep the log"):
        services.lot_quarantine(actor=cast.therapist, lot=stock.lot, decision="release", reason="checked")
    services.lot_quarantine(actor=cast.bob, lot=stock.lot, decision="release", reason="Recall was for another lot")
    stock.refresh_from_db()
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).lot_id == stock.lot_id


def test_a_lot_expiring_today_may_still_be_used(cast, ready_record):
    today = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="TODAY-1",
        expires_on=timezone.localdate(),
        location="Main safe",
        amount_mg=Decimal("500"),
    ).lot.balances.get()
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=today, witness=signed(cast.bob))


# Discharge and after ---------------------------------------------------------------------------------------


@pytest.fixture
def dosed_two_hours_ago(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=130)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    return ready_record, given


def rated_after_the_dose(cast, record, moaas=5, cadss=2):
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=moaas, dissociation_cadss=cadss)


def discharge(cast, record):
    return services.discharge(actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)


def test_discharge_needs_the_vitals_reading_about_40_minutes_after_the_dose(cast, dosed_two_hours_ago):
    record, given = dosed_two_hours_ago
    vitals_at(cast, record, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match='no vitals taken 40 minutes or more after the dose.*"About 40 min'):
        discharge(cast, record)


def test_a_reading_before_the_40_minute_mark_does_not_count(cast, dosed_two_hours_ago):
    record, given = dosed_two_hours_ago
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=39, seconds=59))
    vitals_at(cast, record, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match="no vitals taken 40 minutes"):
        discharge(cast, record)


def test_a_reading_at_the_40_minute_mark_allows_discharge(cast, dosed_two_hours_ago):
    record, given = dosed_two_hours_ago
    rated_after_the_dose(cast, record)
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=40))
    vitals_at(cast, record, "discharge", timezone.now())
    assert discharge(cast, record).discharged_at is not None


def test_ratings_are_refused_once_the_patient_is_discharged(cast, dosed_two_hours_ago):
    record, given = dosed_two_hours_ago
    rated_after_the_dose(cast, record)
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    vitals_at(cast, record, "discharge", timezone.now())
    discharge(cast, record)
    with pytest.raises(services.DosingError, match="discharged; the record is closed"):
        services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=3, dissociation_cadss=10)
    record.refresh_from_db()
    assert record.sedation_moaas == 5


def ready_to_leave(cast, record, given):
    rated_after_the_dose(cast, record)
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    vitals_at(cast, record, "discharge", timezone.now())


def test_a_suicide_risk_answer_since_the_dose_holds_the_discharge_until_a_clinician_acknowledges_it(
    cast, dosed_two_hours_ago
):
    record, given = dosed_two_hours_ago
    ready_to_leave(cast, record, given)
    alert = open_alert(cast.alice)  # a questionnaire filled in while observed, its suicide item endorsed
    with pytest.raises(services.DosingError, match="a suicide-risk alert since the dose .* is not yet acknowledged"):
        discharge(cast, record)
    record.refresh_from_db()
    assert record.discharged_at is None
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen in the room: no intent or plan; plan reviewed.")
    assert discharge(cast, record).discharged_at is not None


def test_a_suicide_risk_alert_from_before_the_dose_is_the_pre_dose_gates_and_does_not_hold_the_discharge(
    cast, dosed_two_hours_ago
):
    record, given = dosed_two_hours_ago
    ready_to_leave(cast, record, given)
    alert = open_alert(cast.alice)
    earlier = given - datetime.timedelta(hours=1)
    AlertOccurrence.objects.filter(alert=alert).update(at=earlier)
    CriticalAlert.objects.filter(pk=alert.pk).update(raised_at=earlier)
    assert discharge(cast, record).discharged_at is not None


def test_a_severe_adverse_event_holds_the_discharge_until_a_clinician_acknowledges_its_alert(
    cast, dosed_two_hours_ago, django_capture_on_commit_callbacks
):
    record, given = dosed_two_hours_ago
    ready_to_leave(cast, record, given)
    with django_capture_on_commit_callbacks(execute=True):  # the queue hears of the event once it is committed
        for kind, severity in (("emergence reaction", "severe"), ("nausea", "mild")):
            services.adverse_event_record(
                actor=cast.nurse, record=record, kind=kind, severity=severity, description="", action_taken="settled"
            )
    with pytest.raises(
        services.DosingError, match=r"the severe adverse event .*emergence reaction.* not yet acknowledged"
    ):
        discharge(cast, record)
    alert = CriticalAlert.objects.get(kind="adverse_event_serious", patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Reviewed in the room: settled, vitals at baseline.")
    assert discharge(cast, record).discharged_at is not None


def test_a_mild_adverse_event_does_not_hold_the_discharge(
    cast, dosed_two_hours_ago, django_capture_on_commit_callbacks
):
    record, given = dosed_two_hours_ago
    ready_to_leave(cast, record, given)
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_record(
            actor=cast.nurse, record=record, kind="nausea", severity="mild", description="", action_taken="water"
        )
    assert discharge(cast, record).discharged_at is not None
