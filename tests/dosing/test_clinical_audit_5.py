"""Fifth clinical-safety audit: a fact recorded in one app is read by every decision that gives a dose, enrols a patient
or discharges one, whenever it was recorded (after screening, between two doses, in another course). Each case is built
through the services, as a clinic would."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.dosing.models import DoseRecord
from kapstone.measures import services as measures
from kapstone.measures.models import CriticalAlert
from kapstone.messaging import services as messaging
from kapstone.patients import services as patients
from kapstone.patients.models import ExternalClinician
from kapstone.patients.services import childbearing_record
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import services as program
from kapstone.program.models import Group
from kapstone.screening import services as screening
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.models import Consultation
from tests.conftest import signed_in_client
from tests.dosing.helpers import checked_in, observed_and_ready_to_leave, session_of_another_group, signed, vitals_at
from tests.screening.helpers import code_on_record, consult, intake, screen, screened_a_week_ago, sign_consent

JUSTIFICATION = "Weighed with her cardiologist: controlled since, monitored closely; proceed."


def medical(**changes):
    return {**intake()["medical"], **changes}


def next_course():
    """A group starting in two weeks, with no sessions booked yet: a new course to enrol in."""
    return Group.objects.create(
        name="Next course",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=timezone.localdate() + datetime.timedelta(days=14),
    )


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


# An outside clinician's advice typed by name instead of picked from the list ----------------------------------------


def contact(cast, outcome, *, clinician=None, typed="", days_ago=1):
    return screening.consultation_record(
        actor=cast.bob,
        patient=cast.alice,
        external_clinician=clinician,
        clinician_name=typed,
        staff=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=days_ago),
        method=Consultation.Method.PHONE,
        outcome=outcome,
    )


@pytest.fixture
def listed(cast):
    """Alice screened and consented, with an outside psychiatrist on her record."""
    screen(cast)
    sign_consent(cast)
    return ExternalClinician.objects.create(patient=cast.alice, kind="psychiatrist", name="Dr. Ruth Mendel")


@pytest.mark.parametrize("typed", ["dr. ruth  mendel", " DR. RUTH MENDEL ", "Psychiatrist: Dr. Ruth Mendel"])
def test_a_contact_typed_with_a_listed_clinicians_name_is_refused_and_says_to_choose_them(cast, listed, typed):
    """Before, a typed name was logged as someone else's advice: the psychiatrist's stayed missing, or their earlier
    concerns stood beside the advice that replaced them, and staff could not see why the gate held. A typed contact
    carries no kind, so the rule is: choose a listed clinician; type only someone not on the list."""
    with pytest.raises(screening.ScreeningRefused, match="Dr. Ruth Mendel is on the outside team list"):
        contact(cast, "supports", typed=typed)
    assert not Consultation.objects.filter(patient=cast.alice).exists()
    # Chosen from the list, the same contact counts.
    contact(cast, "supports", clinician=listed)
    assert enrolment_blockers(patient=cast.alice) == []
    # Someone not on the list may still be typed (their advice counts as anyone's, never as the psychiatrist's).
    contact(cast, "supports", typed="Dr. Ruthie Mendelson")


def test_the_form_says_the_rule_and_a_typed_listed_name_is_sent_back_without_a_write(cast, listed):
    client = signed_in_client(cast.bob)
    page = client.get(reverse("screening:patient", kwargs={"patient_id": cast.alice.pk})).text
    assert "a listed clinician&#x27;s advice counts for the enrolment gate only when they are chosen above" in page
    response = client.post(
        reverse("screening:consultation_add", kwargs={"patient_id": cast.alice.pk}),
        {
            "clinician_name": "dr. ruth mendel",
            "staff": cast.bob.pk,
            "contacted_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "method": "phone",
            "outcome": "supports",
        },
    )
    assert response.status_code == 400
    assert "Dr. Ruth Mendel is on the outside team list (psychiatrist): choose them" in response.text
    assert not Consultation.objects.filter(patient=cast.alice).exists()


def test_a_contact_typed_before_the_rule_or_the_listing_is_named_by_the_gate_as_not_theirs(cast, listed):
    """A typed contact already logged (before this rule, or before the clinician was added to the list) does not count
    as theirs, and the gate says so and what to do, where it said only that they had not been consulted."""
    Consultation.objects.create(
        patient=cast.alice,
        clinician_name="dr. ruth mendel",
        staff=cast.bob,
        recorded_by=cast.bob,
        contacted_at=timezone.now() - datetime.timedelta(days=2),
        method=Consultation.Method.PHONE,
        outcome=Consultation.Outcome.SUPPORTS,
    )
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker == (
        "the outside psychiatrist Dr. Ruth Mendel has not been consulted; the contact of "
        f"{day_in_words(timezone.now() - datetime.timedelta(days=2))} typed by name as “dr. ruth mendel” does not "
        "count as theirs: log it again choosing them from the outside team list"
    )
    contact(cast, "supports", clinician=listed)
    assert enrolment_blockers(patient=cast.alice) == []


def test_advice_against_after_enrolment_picked_from_the_list_stops_the_next_dose(cast, session, stock):
    """The psychiatrist who supported KAP at enrolment advises against it before the next dose: chosen from the list,
    their latest advice replaces the earlier one, and the room refuses until a prescriber overrides it."""
    listed = ExternalClinician.objects.create(patient=cast.alice, kind="psychiatrist", name="Dr. Ruth Mendel")
    contact(cast, "supports", clinician=listed, days_ago=3)
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    checked_in(cast, record)
    against = contact(cast, "advised_against", clinician=listed)
    with pytest.raises(services.DosingError, match="Dr. Ruth Mendel advised against KAP"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    screening.consultation_override_record(actor=cast.bob, consultation=against, reason=JUSTIFICATION * 2)
    assert "advised against" not in selectors.dose_readiness(record=record, at=timezone.now()).gate_refusal


# A medicine declared at an earlier check-in (another session, another course) ------------------------------------------


def an_earlier_check_in(cast, *, days_ago, new_medications, dosed=True):
    """Alice's check-in `days_ago` in a session of another group (an earlier course), declaring `new_medications`
    changed since screening, and the dose she was given there."""
    at = timezone.now() - datetime.timedelta(days=days_ago)
    return DoseRecord.objects.create(
        session=session_of_another_group(at, name=f"Earlier group {days_ago}"),
        patient=cast.alice,
        checked_in_at=at,
        medication_changes=DoseRecord.MedicationChanges.CHANGED,
        new_medications=new_medications,
        route="sublingual",
        dose_mg=Decimal("200"),
        administered_at=at + datetime.timedelta(minutes=30) if dosed else None,
    )


def test_an_maoi_declared_at_an_earlier_check_in_is_reviewed_again_though_todays_check_in_says_no_changes(cast, stock):
    """Phenelzine declared at the check-in of an earlier course's session (the prescriber reviewed it for that dose):
    today's nurse answers "no changes since screening". Before, the room read only today's answer, so the next dose
    was ordered with no review of an MAOI ([spravato-pi] 7: MAOIs raise blood pressure)."""
    screened_a_week_ago(cast)
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="no")
    cast.alice.refresh_from_db()
    an_earlier_check_in(cast, days_ago=4, new_medications="phenelzine 15 mg twice daily")
    record = services.dose_record_open(actor=cast.nurse, session=cast.dosing_session(), patient=cast.alice)
    checked_in(cast, record)  # "no changes"
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    readiness = selectors.dose_readiness(record=record, at=timezone.now())
    assert [medicine.described for medicine in readiness.medicines_to_review] == ["phenelzine 15 mg twice daily (maoi)"]
    with pytest.raises(services.DosingError, match="New since screening, and reviewed by the screening rules"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    services.medication_review(actor=cast.bob, record=record, note="Phenelzine known; BP watched; proceed.")
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))


def test_an_maoi_declared_at_a_check_in_holds_a_new_course_until_a_screening_weighs_it(cast):
    """Before, an enrolment read the record's medicines and the patient's own answers, not what the room was told at a
    check-in, so a patient who declared an MAOI in one course joined the next on a screening that never weighed it."""
    screened_a_week_ago(cast)
    an_earlier_check_in(cast, days_ago=2, new_medications="phenelzine 15 mg twice daily")
    group = next_course()
    with pytest.raises(program.EnrolmentRefused, match=r"phenelzine 15 mg twice daily \(maoi\)"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    # A new screening that weighs it (needs review, overridden) clears it: the declaration is older than it.
    data = intake(medications=[{"name": "phenelzine", "dose_mg_per_day": 30}])
    _, result = screen(cast, data)
    screening.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)
    assert selectors.medicines_new_since_screening(patient=cast.alice) == []
    program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_a_declaration_from_before_the_latest_screening_is_not_read_again(cast, session):
    an_earlier_check_in(cast, days_ago=400, new_medications="phenelzine 15 mg twice daily")
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    checked_in(cast, record)
    assert selectors.dose_readiness(record=record, at=timezone.now()).medicines_to_review == ()
    assert selectors.medicines_new_since_screening(patient=cast.alice) == []


# A secure message the crisis screen flagged ------------------------------------------------------------------------

CRISIS_MESSAGE = "I can't go on, I want to die"


def a_crisis_message(cast, capture):
    with capture(execute=True):
        messaging.thread_start(actor=cast.alice_user, patient=cast.alice, subject="Tonight", body=CRISIS_MESSAGE)
    return CriticalAlert.objects.get(patient=cast.alice, kind="message_crisis_keyword", acknowledged_at__isnull=True)


def test_a_crisis_message_from_the_portal_holds_the_next_dose_until_a_clinician_acknowledges_it(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    """The patient writes that she wants to die between check-in and the dose. Before, the alert queue alone read it:
    the room, which holds the dose on a questionnaire's suicide item, gave the dose on this one ([us-988] warning
    signs; [critical-item-practice])."""
    alert = a_crisis_message(cast, django_capture_on_commit_callbacks)
    readiness = selectors.dose_readiness(record=ready_record, at=timezone.now())
    assert readiness.review_alerts == (alert,)
    with pytest.raises(services.DosingError, match="To review before the dose: A secure message from the patient"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Called her: passive thoughts, safety plan reviewed.")
    assert services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob)
    ).administered_at


def test_a_crisis_message_holds_a_new_course_until_acknowledged(cast, django_capture_on_commit_callbacks):
    screened_a_week_ago(cast)
    alert = a_crisis_message(cast, django_capture_on_commit_callbacks)
    group = next_course()
    with pytest.raises(program.EnrolmentRefused, match="A secure message from the patient mentions a crisis"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen in clinic: no intent, plan reviewed.")
    program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_a_crisis_message_sent_while_observed_holds_discharge_until_acknowledged(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    record = observed_and_ready_to_leave(cast, ready_record, stock)
    alert = a_crisis_message(cast, django_capture_on_commit_callbacks)
    leave = {"vitals_ok": True, "alert_oriented": True, "escort_present": True}
    with pytest.raises(
        services.DosingError,
        match="the alert “A secure message from the patient mentions a crisis; read it and reach out” .* before they leave",
    ):
        services.discharge(actor=cast.nurse, record=record, **leave)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Spoke with her before she left: safe, escort home.")
    assert services.discharge(actor=cast.nurse, record=record, **leave).discharged_at is not None


def test_an_undosed_patient_with_an_open_crisis_message_is_not_sent_home(
    cast, checked_in, django_capture_on_commit_callbacks
):
    a_crisis_message(cast, django_capture_on_commit_callbacks)
    vitals_at(cast, checked_in, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match="A secure message from the patient mentions a crisis"):
        services.discharge(
            actor=cast.nurse, record=checked_in, vitals_ok=True, alert_oriented=True, escort_present=True
        )


# An allergic reaction to the drug ---------------------------------------------------------------------------------


def allergic_reaction(cast, record, capture, *, severity="mild"):
    with capture(execute=True):
        services.adverse_event_record(
            actor=cast.nurse,
            record=record,
            kind="urticaria",
            severity=severity,
            hypersensitivity=True,
            description="Hives on both forearms 20 minutes after the lozenge.",
            action_taken="Cetirizine given; observed.",
        )
    return CriticalAlert.objects.get(patient=cast.alice, kind="adverse_event_hypersensitivity")


def test_a_mild_allergic_reaction_in_an_earlier_course_holds_the_next_dose_and_a_new_course(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """Ketamine and esketamine are contraindicated in hypersensitivity ([spravato-pi] 4; [ketalar-pi]). Before, only a
    severe adverse event raised an alert: hives recorded as mild in one course held nothing, and the next dose was
    given."""
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    checked_in(cast, record)
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    with pytest.raises(
        services.DosingError, match=r"To review before the dose: Allergic \(hypersensitivity\) reaction"
    ):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    group = next_course()
    with pytest.raises(program.EnrolmentRefused, match=r"Allergic \(hypersensitivity\) reaction to the drug"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)
    measures.alert_acknowledge(
        actor=cast.bob, alert=alert, note="Reviewed: heat rash from the room, not the drug.", finding="not_allergic"
    )
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_an_allergic_reaction_after_the_dose_holds_discharge_and_the_card_names_it(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    record = observed_and_ready_to_leave(cast, ready_record, stock)
    alert = allergic_reaction(cast, record, django_capture_on_commit_callbacks)
    leave = {"vitals_ok": True, "alert_oriented": True, "escort_present": True}
    with pytest.raises(services.DosingError, match=r"the alert “Allergic \(hypersensitivity\) reaction"):
        services.discharge(actor=cast.nurse, record=record, **leave)
    page = signed_in_client(cast.bob).get(reverse("dosing:room", kwargs={"session_id": record.session_id})).text
    assert "AE: urticaria (Mild, allergic reaction to the drug)" in page
    measures.alert_acknowledge(
        actor=cast.bob, alert=alert, note="Hives settled; no airway signs; safe to leave.", finding="confirmed"
    )
    assert services.discharge(actor=cast.nurse, record=record, **leave).discharged_at is not None


def test_the_room_records_an_allergic_reaction_from_its_form(cast, ready_record, django_capture_on_commit_callbacks):
    action = reverse(
        "dosing:room_action",
        kwargs={"session_id": ready_record.session_id, "patient_id": cast.alice.pk, "action": "adverse"},
    )
    prefix = f"p{cast.alice.pk}-adverse"
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client(cast.nurse).post(
            action,
            {f"{prefix}-kind": "flushing", f"{prefix}-severity": "moderate", f"{prefix}-hypersensitivity": "on"},
        )
    assert response.status_code == 302
    assert ready_record.adverse_events.get().hypersensitivity
    assert CriticalAlert.objects.filter(patient=cast.alice, kind="adverse_event_hypersensitivity").exists()


# Cells already held, pinned end to end ------------------------------------------------------------------------------


def test_consent_withdrawn_in_the_portal_after_the_order_stops_the_dose_and_the_room_says_why(
    cast, ready_record, stock
):
    response = signed_in_client(cast.alice_user).post(
        reverse("screening:portal_consent_withdraw"), {"reason": "", "confirm": "yes"}
    )
    assert response.status_code == 302
    with pytest.raises(services.DosingError, match=r"cannot be dosed: informed consent .* was withdrawn"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    page = signed_in_client(cast.nurse).get(reverse("dosing:room", kwargs={"session_id": ready_record.session_id}))
    assert "was withdrawn on" in page.text
    ready_record.refresh_from_db()
    assert ready_record.administered_at is None


def test_a_severe_adverse_event_of_the_last_course_still_open_holds_a_new_course(
    cast, session, earlier_dose, django_capture_on_commit_callbacks
):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_record(
            actor=cast.nurse,
            record=earlier,
            kind="laryngospasm",
            severity="severe",
            description="Brief; resolved with jaw thrust.",
            action_taken="Observed 3 hours.",
        )
    group = next_course()
    with pytest.raises(program.EnrolmentRefused, match="Severe adverse event in the dosing room: laryngospasm"):
        program.enrol(actor=cast.bob, group=group, patient=cast.alice)


def test_a_patient_who_turns_65_between_two_doses_waits_for_a_screening_that_reviews_it(cast, stock):
    """Screened a week ago at 64 on the record's date of birth; 65 today, at the course's next dose. The gate reads the
    record on the day, so the room refuses until a prescriber reviews the older-adult rule in a new screening
    ([spravato-pi] 2.2, 8.5; [yale-bp-series])."""
    today = timezone.localdate()
    # 65 two to five days ago (a day past the 28th is taken back to it), so 64 when screened a week ago.
    two_days_ago = today - datetime.timedelta(days=2)
    born = two_days_ago.replace(year=two_days_ago.year - 65, day=min(two_days_ago.day, 28))
    patients.patient_update(actor=cast.bob, patient=cast.alice, fields={"date_of_birth": born})
    data = intake(age=None, date_of_birth=born.isoformat())
    data["assessment_date"] = (today - datetime.timedelta(days=7)).isoformat()
    assert screen(cast, data)[1].decision == "eligible"  # 64 then: the older-adult rule did not fire
    consult(cast)
    sign_consent(cast)
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="no")
    cast.alice.refresh_from_db()
    record = services.dose_record_open(actor=cast.nurse, session=cast.dosing_session(), patient=cast.alice)
    with pytest.raises(services.DosingError, match="the patient is 65 on the record's date of birth"):
        checked_in(cast, record)
