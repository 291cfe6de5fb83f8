"""Sixth clinical-safety audit: a fact recorded in one app is read by every decision that gives a dose, enrols a patient
or discharges one. Each case is built through the services, as a clinic would."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import services
from kapstone.integration import services as journal
from kapstone.measures import services as measures
from kapstone.measures.models import CriticalAlert
from kapstone.messaging.models import SessionChangeRequest
from kapstone.program import services as program
from tests.conftest import signed_in_client
from tests.dosing.helpers import checked_in
from tests.dosing.test_clinical_audit_5 import allergic_reaction, next_course
from tests.measures.factories import due_assessment
from tests.messaging.factories import upcoming_session

# A confirmed allergic reaction to the drug ------------------------------------------------------------------------


def _next_dose_ready(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    checked_in(cast, record)
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    return record


def test_acknowledging_an_allergic_reaction_asks_whether_it_was_one(
    cast, earlier_dose, django_capture_on_commit_callbacks
):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    with pytest.raises(ValueError, match="Say whether it was an allergic reaction to the drug"):
        measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen.")
    alert.refresh_from_db()
    assert alert.is_open


def test_a_confirmed_allergic_reaction_excludes_the_next_dose_and_a_new_course_after_acknowledgement(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """Ketamine and esketamine are contraindicated in hypersensitivity ([spravato-pi] 4; [ketalar-pi]). Before, the
    acknowledgement closed the alert whatever the clinician found, and the exclusion followed only once staff recorded
    it in a new intake: the next dose and the next course went ahead."""
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    measures.alert_acknowledge(
        actor=cast.bob, alert=alert, note="Urticaria within 20 min, settled with cetirizine.", finding="confirmed"
    )
    record = _next_dose_ready(cast, session)
    with pytest.raises(services.DosingError, match=r"confirmed allergic \(hypersensitivity\) reaction to the drug"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(program.EnrolmentRefused, match=r"confirmed allergic \(hypersensitivity\) reaction"):
        program.enrol(actor=cast.bob, group=next_course(), patient=cast.alice)
    page = signed_in_client(cast.bob).get(reverse("dosing:room", kwargs={"session_id": session.pk})).text
    assert "confirmed allergic (hypersensitivity) reaction to the drug" in page


def test_a_reaction_found_not_allergic_lets_the_next_dose_go_ahead(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    measures.alert_acknowledge(
        actor=cast.bob, alert=alert, note="Heat rash from the room, not the drug.", finding="not_allergic"
    )
    record = _next_dose_ready(cast, session)
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    program.enrol(actor=cast.bob, group=next_course(), patient=cast.alice)


def test_only_a_prescriber_with_a_reason_lifts_a_confirmed_allergy(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Hives after the dose.", finding="confirmed")
    with pytest.raises(ValueError, match="Only a prescriber"):
        measures.alert_finding_correct(actor=cast.nurse, alert=alert, reason="Allergist: negative skin test.")
    with pytest.raises(ValueError, match="Write why"):
        measures.alert_finding_correct(actor=cast.bob, alert=alert, reason="  ")
    measures.alert_finding_correct(
        actor=cast.bob,
        alert=alert,
        reason="Allergist's report: skin and challenge tests negative; the hives were viral.",
    )
    alert.refresh_from_db()
    assert alert.acknowledgement_finding == CriticalAlert.Finding.NOT_ALLERGIC
    record = _next_dose_ready(cast, session)
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))


def test_the_queue_asks_the_finding_and_a_prescriber_corrects_it_there(
    cast, earlier_dose, django_capture_on_commit_callbacks
):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    client = signed_in_client(cast.bob)
    page = client.get(reverse("measures:alerts")).text
    assert "Not an allergic reaction" in page
    acknowledge = reverse("measures:acknowledge", kwargs={"alert_id": alert.pk})
    assert client.post(acknowledge, {"note": "Seen."}).status_code == 400
    assert client.post(acknowledge, {"note": "Hives.", "finding": "confirmed"}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledgement_finding == "confirmed"
    correct = reverse("measures:correct_finding", kwargs={"alert_id": alert.pk})
    assert signed_in_client(cast.nurse).post(correct, {"reason": "Negative tests."}).status_code == 403
    assert client.post(correct, {"reason": ""}).status_code == 400
    assert client.post(correct, {"reason": "Allergist: challenge test negative."}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledgement_finding == "not_allergic"


# A journal entry shared with the care team that tells of a crisis ------------------------------------------------


def _shared_entry(cast, capture, text, *, share=True):
    with capture(execute=True):
        return journal.journal_entry_create(
            actor=cast.alice_user,
            patient=cast.alice,
            prompt="emotions",
            text=text,
            mood=2,
            activity="",
            activity_minutes=None,
            share=share,
        )


def test_a_shared_journal_entry_that_tells_of_a_crisis_holds_the_next_dose_a_new_course_and_discharge(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """Shared, the entry is written to the care team in the patient's own words, as a secure message is; the messaging
    screen ([us-988] warning signs) flagged the message and held the dose, a course and discharge, while the same words
    in a shared journal entry raised nothing (fifth audit's leftover)."""
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    entry = _shared_entry(cast, django_capture_on_commit_callbacks, "Since Tuesday I keep thinking I want to die.")
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="journal_crisis_keyword")
    assert (alert.object_type, alert.object_id, alert.priority) == (
        "journal_entry",
        str(entry.pk),
        CriticalAlert.Priority.REVIEW,
    )
    record = _next_dose_ready(cast, session)
    with pytest.raises(services.DosingError, match="A journal entry the patient shared mentions a crisis"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(program.EnrolmentRefused, match="A journal entry the patient shared mentions a crisis"):
        program.enrol(actor=cast.bob, group=next_course(), patient=cast.alice)
    with pytest.raises(services.DosingError, match="A journal entry the patient shared mentions a crisis"):
        services.discharge(actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Called her: passive thoughts, safety plan reviewed.")
    services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))


def test_a_private_entry_is_not_screened_until_the_patient_shares_it(cast, django_capture_on_commit_callbacks):
    """The patient decides who reads their journal: a private entry tells no one. Shared later, it is screened then."""
    entry = _shared_entry(cast, django_capture_on_commit_callbacks, "Better off dead, some days.", share=False)
    assert not CriticalAlert.objects.filter(patient=cast.alice).exists()
    with django_capture_on_commit_callbacks(execute=True):
        journal.journal_entry_share(actor=cast.alice_user, entry=entry, shared=True)
    assert CriticalAlert.objects.filter(patient=cast.alice, kind="journal_crisis_keyword").count() == 1


def test_an_ordinary_shared_entry_raises_nothing(cast, django_capture_on_commit_callbacks):
    _shared_entry(cast, django_capture_on_commit_callbacks, "The session felt like a long exhale.")
    assert not CriticalAlert.objects.filter(patient=cast.alice).exists()


# A request to miss a session that tells of a crisis ----------------------------------------------------------------


def test_a_request_to_miss_a_session_that_tells_of_a_crisis_holds_the_next_dose_as_a_message_does(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """The note of a request to move or miss a session is the patient writing to the care team, as a message is: the
    same screen ([us-988] warning signs) raises the same alert, which holds the next dose and a course. Before, "I
    can't come, I want to die" in the note raised nothing, and the patient was told only that nothing changes until
    the team answers."""
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alice = signed_in_client(cast.alice_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            reverse("messaging:request_change", kwargs={"session_id": upcoming_session(cast).pk}),
            {"kind": "cancel", "note": "I can't face it. Honestly I want to die."},
        )
    assert response.status_code == 200 and "Help is available now" in response.text and "988" in response.text
    request = SessionChangeRequest.objects.get(patient=cast.alice)
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="message_crisis_keyword")
    assert (alert.object_type, alert.object_id) == ("session_change_request", str(request.pk))
    record = _next_dose_ready(cast, session)
    with pytest.raises(services.DosingError, match="A request to move or miss a session mentions a crisis"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(program.EnrolmentRefused, match="A request to move or miss a session mentions a crisis"):
        program.enrol(actor=cast.bob, group=next_course(), patient=cast.alice)


def test_an_ordinary_request_note_raises_nothing(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client(cast.alice_user).post(
            reverse("messaging:request_change", kwargs={"session_id": upcoming_session(cast).pk}),
            {"kind": "reschedule", "note": "A work trip that week."},
        )
    assert response.status_code == 302
    assert not CriticalAlert.objects.filter(patient=cast.alice).exists()


def test_the_inbox_marks_a_request_whose_note_mentions_a_crisis(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in_client(cast.alice_user).post(
            reverse("messaging:request_change", kwargs={"session_id": upcoming_session(cast).pk}),
            {"kind": "cancel", "note": "No reason to live right now."},
        )
    page = signed_in_client(cast.bob).get(reverse("messaging:inbox")).text
    assert "No reason to live right now." in page and "mentions a crisis" in page


# A written answer on the safety follow-up that tells of a crisis -----------------------------------------------------


def test_a_safety_follow_up_whose_written_answer_tells_of_a_crisis_holds_the_next_dose_and_a_course(
    cast, session, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """The follow-up's written answer is read by the care team (measures Assessment.free_text), as a message is. With
    every item answered no, "I keep thinking I'd be better off dead" raised nothing before."""
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    assessment = due_assessment(cast.alice, "kset-followup", occasion="follow_up_1m")
    with django_capture_on_commit_callbacks(execute=True):
        measures.assessment_save_answers(
            actor=cast.alice_user,
            assessment=assessment,
            answers=dict.fromkeys(range(1, 9), 0),
            submit=True,
            free_text="Nothing physical. I keep thinking I'd be better off dead.",
        )
    alert = CriticalAlert.objects.get(patient=cast.alice, kind="answer_crisis_keyword")
    assert (alert.object_type, alert.object_id) == ("assessment", str(assessment.pk))
    record = _next_dose_ready(cast, session)
    with pytest.raises(services.DosingError, match="written answer on a questionnaire mentions a crisis"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    with pytest.raises(program.EnrolmentRefused, match="written answer on a questionnaire mentions a crisis"):
        program.enrol(actor=cast.bob, group=next_course(), patient=cast.alice)


def test_the_portal_shows_the_crisis_lines_at_once_for_a_written_answer_that_tells_of_a_crisis_even_when_saved(
    cast, django_capture_on_commit_callbacks
):
    assessment = due_assessment(cast.alice, "kset-followup", occasion="follow_up_1m")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client(cast.alice_user).post(
            reverse("portal:questionnaire", args=[assessment.pk]),
            {"item_1": "0", "free_text": "Some nights I want to die.", "action": "save"},
        )
    assert response.status_code == 200 and "988" in response.text
    assert CriticalAlert.objects.filter(patient=cast.alice, kind="answer_crisis_keyword").count() == 1


def test_the_alert_page_asks_the_finding_too_and_shows_it_after(cast, earlier_dose, django_capture_on_commit_callbacks):
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    client = signed_in_client(cast.bob)
    detail = reverse("alerts:detail", kwargs={"alert_id": alert.pk})
    assert "Not an allergic reaction" in client.get(detail).text
    acknowledge = reverse("measures:acknowledge", kwargs={"alert_id": alert.pk})
    assert client.post(acknowledge, {"note": "Hives.", "finding": "confirmed", "next": detail}).status_code == 302
    assert "Confirmed: an allergic reaction to the drug" in client.get(detail).text


def test_only_a_prescriber_finds_a_reaction_not_allergic_a_nurse_may_confirm_one(
    cast, earlier_dose, django_capture_on_commit_callbacks
):
    """Finding it not allergic lets the next dose go ahead, which is the prescriber's decision, as correcting a
    confirmed one is; a nurse who acknowledges the reaction confirms it, and a prescriber corrects it if it was not."""
    earlier = earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    alert = allergic_reaction(cast, earlier, django_capture_on_commit_callbacks)
    with pytest.raises(ValueError, match="Only a prescriber finds a reaction not allergic"):
        measures.alert_acknowledge(actor=cast.nurse, alert=alert, note="Looked like heat rash.", finding="not_allergic")
    measures.alert_acknowledge(actor=cast.nurse, alert=alert, note="Hives, settled.", finding="confirmed")
    alert.refresh_from_db()
    assert alert.acknowledgement_finding == "confirmed"
