"""Security probes, sixth round: authorisation inside a view and steps out of order. The permission matrix asks each
address of each role; here each action a page dispatches on (the dosing room's card forms, the calendar link's make
or revoke, a creativity task's buttons) is asked of every role that can open the page, with unknown actions beside
them, and the clinical steps are taken out of their order (a dose before its order, a discharge twice, vitals and
ratings after discharge, an alert acknowledged twice, a place in a group left twice). What the page does not offer a
role, the service refuses; a refused step is said plainly and writes nothing. tests/test_security_probes.py and
rounds 2 to 5 hold the earlier rounds."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.creativity.models import CreativityAdministration
from kapstone.dosing import services
from kapstone.dosing.models import AdverseEvent, DoseRecord, Inventory, LotBalance
from kapstone.integration import services as integration_services
from kapstone.integration.models import IntegrationNote
from kapstone.measures import services as measures_services
from kapstone.measures.models import CriticalAlert
from kapstone.patients.services import childbearing_record
from kapstone.program import services as program_services
from kapstone.program.models import Enrolment, Group
from kapstone.screening import services as screening_services
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.models import ConsentSignature, Consultation
from tests.conftest import signed_in_client
from tests.creativity.factories import due_task
from tests.dosing.helpers import NO_RISK_SCREEN, checked_in, receive_stock, registered_location, signed, signing
from tests.integration_app.factories import integration_session_after
from tests.measures.factories import due_assessment, open_alert
from tests.probes import rolled_back, tables_written
from tests.screening.helpers import ready_for_enrolment

ROOM_ROLES = ("admin", "bob", "therapist", "nurse")  # every role the room opens to (RECORD_ROLES), by cast member


@pytest.fixture(autouse=True)
def practice_at_midday(settings):
    """As tests/dosing/conftest.py: the room doses only on the session's day, so the practice's day is kept whole."""
    hours_ahead_of_utc = 12 - timezone.now().astimezone(datetime.UTC).hour
    settings.TIME_ZONE = f"Etc/GMT{-hours_ahead_of_utc:+d}"


@pytest.fixture
def ordered(cast):
    """Alice through the gate, checked in by the nurse with a same-day screen of every answer no and pre-dose vitals,
    and a 200 mg sublingual order by bob; lozenges in the safe."""
    ready_for_enrolment(cast)
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="no")
    cast.alice.refresh_from_db()
    session = cast.dosing_session()
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    checked_in(cast, record)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="L-601",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )
    record.refresh_from_db()
    return record


def _room_post(client, record: DoseRecord, action: str, values: dict):
    prefix = f"p{record.patient_id}-{action}-"
    return client.post(
        reverse("dosing:room_action", args=[record.session_id, record.patient_id, action]),
        {prefix + key: value for key, value in values.items()},
    )


def _room_bodies(cast, record: DoseRecord) -> dict[str, dict]:
    """Each card form filled in as the room would send it, every field the action needs given."""
    balance = LotBalance.objects.get(lot__lot_number="L-601")
    return {
        "checkin": {
            "fasting_confirmed": "on",
            "escort_arranged": "on",
            "pregnancy_test": "n/a",
            "weight": "70",
            "weight_unit": "kg",
            "medication_changes": "no",
        },
        "order": {"route": "sublingual", "dose_mg": "150"},
        "administer": {"balance": balance.pk, **signing("witness", cast.bob)},
        "vitals": {"phase": "peak", "systolic": "124", "diastolic": "80", "heart_rate": "72", "spo2": "98"},
        "ratings": {"sedation_moaas": "5", "dissociation_cadss": "0"},
        "adverse": {"kind": "nausea", "severity": "mild", "description": "", "action_taken": ""},
        "discharge": {"vitals_ok": "on", "alert_oriented": "on", "escort_present": "on"},
        "risk": {"clinician_level": "low", "decision": "proceed", "note": "assessed, proceeds"},
        "medreview": {"note": "reviewed"},
        "note": {"text": "a note"},
    }


# The card forms each role is not offered (room_cards._forms): the service refuses them too. A prescriber is offered
# every form (the medicines review only when one waits; with none waiting, the service says so).
WITHHELD = {
    "admin": {"order", "administer", "ratings", "discharge", "risk", "medreview"},
    "therapist": {"order", "administer", "medreview"},
    "nurse": {"order", "medreview"},
    "bob": {"medreview"},
}


def test_each_card_form_a_role_is_not_offered_is_refused_by_the_service_and_writes_nothing(cast, ordered):
    """The room draws each card's forms by role, but a form is a POST any member of staff who opens the room can
    send: each action withheld from a role, sent by that role with every field filled in, is a 400 that names the
    refusal and writes no row."""
    bodies = _room_bodies(cast, ordered)
    failed = []
    for role, withheld in WITHHELD.items():
        client = signed_in_client(cast.user(role))
        for action in sorted(withheld):
            with rolled_back():
                with CaptureQueriesContext(connection) as queries:
                    response = _room_post(client, ordered, action, bodies[action])
                written = tables_written(queries)
                if response.status_code != 400 or written:
                    failed.append((role, action, response.status_code, written))
    assert failed == [], failed
    ordered.refresh_from_db()
    assert ordered.administered_at is None and ordered.dose_mg == Decimal("200") and ordered.ratings_at is None


def test_an_action_the_room_does_not_know_is_a_404_for_every_role_and_writes_nothing(cast, ordered):
    failed = []
    for role in ROOM_ROLES:
        client = signed_in_client(cast.user(role))
        for action in ("delete", "approve", "override", "administer-again", "checkin2"):
            with CaptureQueriesContext(connection) as queries:
                status = _room_post(client, ordered, action, {"text": "x"}).status_code
            if status != 404 or tables_written(queries):
                failed.append((role, action, status))
    assert failed == [], failed


# --- steps out of order in the dosing room ---------------------------------------------------------------------------


def _discharged_undosed(cast, record: DoseRecord) -> DoseRecord:
    """The patient leaves without the dose (a clinician's decision to send them home): discharge vitals, then the
    discharge, which closes the record."""
    services.vitals_record(
        actor=cast.nurse, record=record, phase="discharge", systolic=120, diastolic=78, heart_rate=70, spo2=98
    )
    return services.discharge(actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)


def test_after_discharge_every_card_form_but_the_note_is_refused_and_writes_nothing(cast, ordered):
    """Discharge closes the record: a check-in, an order, a dose, vitals, ratings, a screen, an adverse event or a
    second discharge sent afterwards (a tablet left open on the card, a double click) is a 400 that says the record is
    closed, and writes nothing; the note is the documented route for what comes after."""
    _discharged_undosed(cast, ordered)
    bodies = _room_bodies(cast, ordered)
    clients = {role: signed_in_client(cast.user(role)) for role in ("bob", "nurse")}
    witness_of = {"bob": cast.nurse, "nurse": cast.bob}  # each gives the dose with the other as witness
    failed = []
    for action, sent in bodies.items():
        if action in ("note", "medreview"):
            continue
        for role, client in clients.items():
            body = {**sent, **signing("witness", witness_of[role])} if action == "administer" else sent
            with rolled_back():
                with CaptureQueriesContext(connection) as queries:
                    response = _room_post(client, ordered, action, body)
                written = tables_written(queries)
                closed = "the record is closed" in response.content.decode()
                if response.status_code != 400 or written or not closed:
                    failed.append((role, action, response.status_code, written))
    assert failed == [], failed
    assert not AdverseEvent.objects.exists()
    response = _room_post(signed_in_client(cast.nurse), ordered, "note", bodies["note"])
    assert response.status_code == 302
    ordered.refresh_from_db()
    assert "a note" in ordered.notes


def test_an_adverse_event_after_discharge_is_refused_by_the_service(cast, ordered):
    """An adverse event recorded once the patient has left would land on a closed record, and, severe or allergic,
    raise an alert holding the next dose from a card the room no longer shows: the service refused every other
    card form after discharge but this one. What happens after the patient left is written as a note."""
    _discharged_undosed(cast, ordered)
    with pytest.raises(services.DosingError, match="the record is closed"):
        services.adverse_event_record(
            actor=cast.nurse,
            record=ordered,
            kind="nausea",
            severity="severe",
            description="",
            action_taken="",
        )
    assert not AdverseEvent.objects.exists() and not CriticalAlert.objects.exists()


def test_a_second_dose_order_or_administration_in_the_same_session_is_refused(cast, ordered):
    balance = LotBalance.objects.get(lot__lot_number="L-601")
    services.dose_administer(actor=cast.nurse, record=ordered, balance=balance, witness=signed(cast.bob))
    balance.refresh_from_db()
    left = balance.balance_mg
    with pytest.raises(services.DosingError, match="already been given"):
        services.dose_administer(actor=cast.nurse, record=ordered, balance=balance, witness=signed(cast.bob))
    with pytest.raises(services.DosingError, match="already been given"):
        services.dose_order(actor=cast.bob, record=ordered, route="sublingual", dose_mg=Decimal("100"))
    with pytest.raises(services.DosingError, match="dose has been given"):
        checked_in(cast, ordered)
    # A second record for the same patient in the same session is the same record.
    assert services.dose_record_open(actor=cast.nurse, session=ordered.session, patient=cast.alice) == ordered
    balance.refresh_from_db()
    ordered.refresh_from_db()
    assert balance.balance_mg == left and ordered.dose_mg == Decimal("200")


def test_a_dose_before_its_order_or_check_in_is_refused(cast, ordered):
    balance = LotBalance.objects.get(lot__lot_number="L-601")
    DoseRecord.objects.filter(pk=ordered.pk).update(dose_mg=None, route="")
    with pytest.raises(services.DosingError, match="no dose order yet"):
        services.dose_administer(actor=cast.nurse, record=ordered, balance=balance, witness=signed(cast.bob))
    DoseRecord.objects.filter(pk=ordered.pk).update(dose_mg=Decimal("200"), route="sublingual", fasting_confirmed=False)
    with pytest.raises(services.DosingError, match="checklist is not complete"):
        services.dose_administer(actor=cast.nurse, record=ordered, balance=balance, witness=signed(cast.bob))
    ordered.refresh_from_db()
    assert ordered.administered_at is None


@pytest.mark.parametrize("offset_hours", [24, -24])
def test_a_dose_dated_on_another_day_than_the_sessions_is_refused(cast, ordered, offset_hours):
    """The room's form has no time to type, but the service takes one (administered_at): a dose dated a day ahead or a
    day back of its session is refused, not booked into the log on a day nobody dosed."""
    balance = LotBalance.objects.get(lot__lot_number="L-601")
    with pytest.raises(services.DosingError):
        services.dose_administer(
            actor=cast.nurse,
            record=ordered,
            balance=balance,
            witness=signed(cast.bob),
            administered_at=timezone.now() + datetime.timedelta(hours=offset_hours),
        )
    ordered.refresh_from_db()
    assert ordered.administered_at is None


# --- a place in a group, left twice; an alert, acknowledged twice -----------------------------------------------------


def _withdraw(client, enrolment: Enrolment, reason: str):
    return client.post(reverse("program:withdraw", args=[enrolment.pk]), {"reason": reason, "confirm": "yes"})


def test_leaving_a_group_twice_is_refused_and_keeps_the_first_reason(cast):
    """The withdrawal page is confirmed on a page of its own: sent twice (a second click, a second member of staff on
    an old page), the second wrote its reason over the first and a second trail entry. Now it is said plainly and
    writes nothing."""
    cast.dosing_session()
    enrolment = Enrolment.objects.get(patient=cast.alice)
    bob, nurse = signed_in_client(cast.bob), signed_in_client(cast.nurse)
    assert _withdraw(bob, enrolment, "moving away").status_code == 302
    with CaptureQueriesContext(connection) as queries:
        response = _withdraw(nurse, enrolment, "typed later")
    assert response.status_code == 302 and tables_written(queries) == []
    assert [m.message for m in get_messages(response.wsgi_request)] == [
        "Alice Abernathy has already left Tuesday group."
    ]
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.WITHDRAWN and enrolment.waitlist_reason == "moving away"


def test_a_completed_course_is_not_turned_into_a_withdrawal(cast):
    cast.dosing_session()
    enrolment = Enrolment.objects.get(patient=cast.alice)
    Enrolment.objects.filter(pk=enrolment.pk).update(status=Enrolment.Status.COMPLETED)
    with pytest.raises(program_services.EnrolmentRefused, match="completed Tuesday group"):
        program_services.withdraw(actor=cast.bob, enrolment=enrolment, reason="tidying up")
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.COMPLETED and enrolment.waitlist_reason == ""


def test_acknowledging_an_alert_twice_or_by_someone_not_a_clinician_is_refused(cast):
    alert = open_alert(cast.alice)
    with pytest.raises(ValueError, match="Only a clinician"):
        measures_services.alert_acknowledge(actor=cast.admin, alert=alert, note="seen")
    measures_services.alert_acknowledge(actor=cast.nurse, alert=alert, note="called the patient")
    with pytest.raises(ValueError, match="already acknowledged"):
        measures_services.alert_acknowledge(actor=cast.bob, alert=alert, note="called again")
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.nurse and alert.acknowledgement_note == "called the patient"
    response = signed_in_client(cast.bob).post(
        reverse("measures:acknowledge", args=[alert.pk]), {"note": "called again"}
    )
    assert response.status_code == 302
    assert [m.message for m in get_messages(response.wsgi_request)] == ["This alert was already acknowledged."]


# --- the calendar link's actions -------------------------------------------------------------------------------------


def test_the_calendar_link_page_refuses_an_action_it_does_not_know_with_a_400_and_no_write(cast):
    failed = []
    for role in ROOM_ROLES:
        client = signed_in_client(cast.user(role))
        for action in ("", "delete", "issue-all", "REVOKE"):
            with CaptureQueriesContext(connection) as queries:
                status = client.post(reverse("program:calendar"), {"action": action}).status_code
            if status != 400 or tables_written(queries):
                failed.append((role, action, status))
    assert failed == [], failed


# --- a back-dated paper consent ------------------------------------------------------------------------------------


def test_a_paper_consent_dated_before_the_patients_withdrawal_does_not_reopen_the_gate(cast):
    """The paper form lets its signing time be typed. A patient who withdrew consent withdrew what she had signed
    before: a paper signature dated before the withdrawal (the intake's paper copy found in the file) was recorded as
    a consent in force and opened the enrolment gate again, so she could be enrolled and dosed. It is refused, and a
    paper signature dated after the withdrawal, her consent given anew, is recorded."""
    ready_for_enrolment(cast)
    signature = ConsentSignature.objects.get(patient=cast.alice)
    screening_services.consent_withdraw(actor=cast.alice_user, signature=signature)
    before = timezone.now() - datetime.timedelta(hours=1)
    with pytest.raises(screening_services.ScreeningRefused, match="withdrew consent"):
        screening_services.consent_record_paper(
            actor=cast.nurse, patient=cast.alice, signed_name="Alice Abernathy", signed_at=before
        )
    assert ConsentSignature.objects.filter(patient=cast.alice).count() == 1
    assert "consent (form v2) was withdrawn" in " ".join(enrolment_blockers(patient=cast.alice))
    screening_services.consent_record_paper(
        actor=cast.nurse, patient=cast.alice, signed_name="Alice Abernathy", signed_at=timezone.now()
    )
    assert not enrolment_blockers(patient=cast.alice)


# --- an integration note under a session the patient was not in -----------------------------------------------------


def test_an_integration_note_is_refused_by_the_service_under_a_session_not_of_the_patients_groups(cast):
    """The timeline's form offers only the integration sessions of the patient's groups, but the service took any
    session: a note filed under another group's session, or under a dosing session. The service holds the rule."""
    dosing = cast.dosing_session()
    theirs = integration_session_after(dosing, hours=48)
    with pytest.raises(integration_services.IntegrationError, match="not an integration session"):
        integration_services.integration_note_add(actor=cast.therapist, patient=cast.dana, session=theirs, text="x")
    with pytest.raises(integration_services.IntegrationError, match="not an integration session"):
        integration_services.integration_note_add(actor=cast.therapist, patient=cast.alice, session=dosing, text="x")
    assert not IntegrationNote.objects.exists()
    integration_services.integration_note_add(actor=cast.therapist, patient=cast.alice, session=theirs, text="Came.")
    assert IntegrationNote.objects.get().patient == cast.alice


# --- a creativity task's buttons, and a questionnaire's -------------------------------------------------------------


def test_a_creativity_task_never_hands_in_on_an_action_it_does_not_know_and_is_closed_once_finished(cast):
    """The task page's buttons are start, save, next and finish. Any other action (a stale page, a hand-made request)
    is at most a save of the patient's own answers: never a part handed in, never the task finished. Finished, the
    task takes nothing more: a second finish (a double click, the timer after the button) writes nothing."""
    task = due_task(cast.alice)
    client = signed_in_client(cast.alice_user)
    url = reverse("creativity:my_task", args=[task.pk])
    client.post(url, {"action": "start"})
    for action in ("", "finish-all", "submit", "next2", "FINISH"):
        client.post(url, {"action": action, "part": 0, "ideas": "a doorstop"})
        task.refresh_from_db()
        assert (task.status, task.part) == (CreativityAdministration.Status.IN_PROGRESS, 0), action
    client.post(url, {"action": "next", "part": 0, "ideas": "a doorstop"})
    client.post(url, {"action": "finish", "part": 1, "ideas": "a map"})
    task.refresh_from_db()
    assert task.status == CreativityAdministration.Status.COMPLETED
    scored = (task.responses.count(), task.originality_top2)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"action": "finish", "part": 1, "ideas": "a map, again"}, follow=True)
    assert tables_written(queries) == [] and "This task is closed." in response.content.decode()
    task.refresh_from_db()
    assert (task.responses.count(), task.originality_top2) == scored


def test_a_questionnaire_is_never_submitted_on_an_action_it_does_not_know(cast):
    """Submit and "save and finish later" are its two buttons: anything else keeps the answers as a draft (a suicide
    item endorsed is kept and announced either way) and never submits or scores the questionnaire."""
    assessment = due_assessment(cast.alice)
    client = signed_in_client(cast.alice_user)
    url = reverse("portal:questionnaire", args=[assessment.pk])
    answers = {f"item_{number}": "0" for number in range(1, 10)}
    for action in ("", "submitted", "SUBMIT", "finish"):
        client.post(url, {**answers, "action": action})
        assessment.refresh_from_db()
        assert assessment.completed_at is None and assessment.total is None, action
    client.post(url, {**answers, "action": "submit"})  # the same answers, sent with its Submit button
    assessment.refresh_from_db()
    assert assessment.completed_at is not None and assessment.total == 0
    completed_at = assessment.completed_at
    with CaptureQueriesContext(connection) as queries:  # answered twice: a second submit changes nothing
        client.post(url, {**{f"item_{number}": "3" for number in range(1, 10)}, "action": "submit"})
    assessment.refresh_from_db()
    assert tables_written(queries) == [] and (assessment.completed_at, assessment.total) == (completed_at, 0)


def test_enrolment_out_of_order_closed_full_and_rejoined_groups(cast):
    """A cancelled or completed group takes no one; a full one only onto its waitlist; and a patient who left and
    rejoins passes the gate again, so a consent withdrawn in between holds the return."""
    session = cast.dosing_session()
    group = session.group
    ready_for_enrolment(cast, cast.dana)
    for status in (Group.Status.CANCELLED, Group.Status.COMPLETED):
        Group.objects.filter(pk=group.pk).update(status=status)
        with pytest.raises(program_services.EnrolmentRefused, match="takes no new patients"):
            program_services.enrol(actor=cast.bob, group=group, patient=cast.dana)
    Group.objects.filter(pk=group.pk).update(status=Group.Status.ACTIVE, max_size=3)
    with pytest.raises(program_services.EnrolmentRefused, match="is full"):
        program_services.enrol(actor=cast.bob, group=group, patient=cast.dana)
    assert not Enrolment.objects.filter(patient=cast.dana).exists()
    ready_for_enrolment(cast)
    alice = Enrolment.objects.get(patient=cast.alice)
    program_services.withdraw(actor=cast.bob, enrolment=alice, reason="a family matter")
    signature = ConsentSignature.objects.filter(patient=cast.alice, withdrawn_at__isnull=True).get()
    screening_services.consent_withdraw(actor=cast.alice_user, signature=signature)
    with pytest.raises(program_services.EnrolmentRefused, match="cannot join yet"):
        program_services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    alice.refresh_from_db()
    assert alice.status == Enrolment.Status.WITHDRAWN


# --- who keeps the controlled-substance log --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["therapist", "researcher", "alice_user"])
def test_only_those_who_keep_the_log_take_an_inventory_even_of_an_empty_location(cast, role):
    """Every entry of the log is refused to anyone but a prescriber, a nurse or the admin (ledger_post), but an
    inventory of a location holding nothing (a new location's initial inventory) posts no entry: the service recorded
    it with anyone as its taker. The page is open to those three roles only; the service now holds the rule too."""
    location = registered_location("New cabinet")
    with pytest.raises(services.DosingError, match="Only a prescriber, a nurse or the practice admin"):
        services.inventory_take(
            actor=cast.user(role),
            witness=signed(cast.nurse),
            location=location,
            kind=Inventory.Kind.INITIAL,
            taken_on=timezone.localdate(),
            timing=Inventory.Timing.OPENING,
            counts={},
        )
    assert not Inventory.objects.exists()
    services.inventory_take(
        actor=cast.bob,
        witness=signed(cast.nurse),
        location=location,
        kind=Inventory.Kind.INITIAL,
        taken_on=timezone.localdate(),
        timing=Inventory.Timing.OPENING,
        counts={},
    )
    assert Inventory.objects.get().taken_by == cast.bob


# --- who made contact with the outside team -------------------------------------------------------------------------


def test_a_consultation_is_recorded_as_made_only_by_an_active_clinician_or_the_admin(cast):
    """The consultation form offers an active clinician or the admin as the one who made contact; the service took
    any login of a staff role, so a researcher (who sees de-identified data only) or a login deactivated since could
    stand as the contact the enrolment gate relies on."""
    cast.nurse.is_active = False
    cast.nurse.save(update_fields=["is_active"])
    for who in (cast.researcher, cast.nurse, cast.alice_user):
        with pytest.raises(screening_services.ScreeningRefused, match="must be an active clinician or the practice"):
            screening_services.consultation_record(
                actor=cast.bob,
                patient=cast.alice,
                clinician_name="Dr. Outside, Riverside Psychiatry",
                staff=who,
                contacted_at=timezone.now() - datetime.timedelta(days=1),
                method=Consultation.Method.PHONE,
                outcome=Consultation.Outcome.SUPPORTS,
            )
    assert not Consultation.objects.exists()


@pytest.mark.parametrize("role", ["researcher", "alice_user"])
def test_the_rooms_open_card_forms_are_refused_by_their_services_to_anyone_outside_the_room(cast, ordered, role):
    """The check-in, vitals, an adverse event and a note carried no role of their own in the service (the room's
    page held them to its staff): called for a researcher or a patient, each wrote to the record."""
    actor = cast.user(role)
    calls = {
        "check-in": lambda: services.check_in(
            actor=actor,
            record=ordered,
            fasting_confirmed=True,
            escort_arranged=True,
            pregnancy_test="n/a",
            intention="",
            weight_kg=Decimal("70"),
            medication_changes="no",
        ),
        "vitals": lambda: services.vitals_record(
            actor=actor, record=ordered, phase="peak", systolic=120, diastolic=78, heart_rate=70, spo2=98
        ),
        "adverse": lambda: services.adverse_event_record(
            actor=actor, record=ordered, kind="nausea", severity="mild", description="", action_taken=""
        ),
        "note": lambda: services.note_add(actor=actor, record=ordered, text="a note"),
    }
    for call in calls.values():
        with pytest.raises(services.DosingError, match="Only the practice's clinicians and its admin"):
            call()
    ordered.refresh_from_db()
    assert ordered.vitals.count() == 1 and not AdverseEvent.objects.exists() and ordered.notes == ""


@pytest.mark.parametrize("role", ["researcher", "alice_user"])
def test_enrolling_and_opening_a_rooms_record_are_refused_by_their_services_to_anyone_outside_the_room(cast, role):
    """The group page and the room hold these to the practice's clinicians and admin; the services now do too, so no
    other caller enrols a patient or opens a dose record for a researcher or a patient."""
    actor = cast.user(role)
    session = cast.dosing_session()
    ready_for_enrolment(cast, cast.dana)
    with pytest.raises(program_services.EnrolmentRefused, match="Only the practice's clinicians and its admin"):
        program_services.enrol(actor=actor, group=session.group, patient=cast.dana)
    assert not Enrolment.objects.filter(patient=cast.dana).exists()
    with pytest.raises(services.DosingError, match="Only the practice's clinicians and its admin"):
        services.dose_record_open(actor=actor, session=session, patient=cast.alice)
    assert not DoseRecord.objects.filter(session=session, patient=cast.alice).exists()
