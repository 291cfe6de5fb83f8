"""The patient's own timeline names each questionnaire as the rest of the portal does, and speaks to the patient."""

import datetime
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from kapstone.integration.models import JournalEntry
from kapstone.measures.models import Assessment
from tests.conftest import signed_in_client
from tests.integration_app.factories import given_dose, integration_session_after, journal_entry
from tests.measures.factories import due_assessment


def test_a_questionnaire_is_named_and_a_mood_is_the_patients_own(cast):
    done = due_assessment(cast.alice, "phq9")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED, completed_at=timezone.now(), total=11.0
    )
    journal_entry(cast.alice, text="A calm day.", mood=7)
    page = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    assert '<p class="timeline-title">PHQ-9 <span class="muted">11' in page  # not the id, "PHQ9"
    assert "Mood, my own rating: 7/10" in page


def test_a_dose_reads_in_plain_words(cast):
    record = given_dose(cast)
    record.dose_mg = Decimal("150.0")
    record.save()
    page = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    assert 'Dose given <span class="muted">150 mg, sublingual lozenge</span>' in page


def test_the_patients_sessions_are_named_as_on_their_care_page_and_the_staffs_as_on_theirs(cast):
    cast.dosing_session()
    mine = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    # The portal home calls it a "Ketamine session"; the patient's timeline said "Dosing session".
    assert '<p class="timeline-title">Ketamine session' in mine and "Dosing session" not in mine
    staff = signed_in_client(cast.bob).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
    assert '<p class="timeline-title">Dosing session' in staff


def _cssrs_completed(cast, risk):
    done = due_assessment(cast.alice, "cssrs-screener")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED, completed_at=timezone.now(), total=None, result={"risk": risk}
    )


def test_the_cssrs_screener_shows_its_triage_level_to_staff_and_calm_words_to_the_patient(cast):
    """It has no total, so both timelines showed its name and nothing else."""
    _cssrs_completed(cast, "moderate")
    staff = signed_in_client(cast.bob).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
    # In the words of its alert and of the scores page.
    assert 'C-SSRS Screener <span class="muted">Moderate risk</span>' in staff
    assert "triage risk" not in staff
    mine = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    assert "C-SSRS Screener" in mine
    assert "Your care team is told about your answers and will go through them with you" in mine
    assert "moderate" not in mine and "risk" not in mine


def test_a_cssrs_screener_answered_no_throughout_says_so_calmly(cast):
    _cssrs_completed(cast, "none")
    mine = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    assert 'C-SSRS Screener <span class="muted">No concerns in your answers</span>' in mine
    staff = signed_in_client(cast.bob).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
    assert 'C-SSRS Screener <span class="muted">No risk flagged: no question answered yes</span>' in staff


def test_both_timelines_show_what_is_coming_up_first_then_the_newest_first(cast):
    """A clinician reads a record newest first: the oldest questionnaire at the top buried today's dose under weeks of
    history. The booked sessions still to come are listed apart, the soonest first."""
    dosing = cast.dosing_session()
    given_dose(cast, at=timezone.now() - datetime.timedelta(hours=1))
    integration_session_after(dosing, hours=48)
    older = journal_entry(cast.alice, text="the first week", shared=True)
    JournalEntry.objects.filter(pk=older.pk).update(created_at=timezone.now() - datetime.timedelta(days=9))
    journal_entry(cast.alice, text="after the dose", shared=True)
    for page in (
        signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode(),
        signed_in_client(cast.therapist).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode(),
    ):
        upcoming, past = page.split('id="upcoming-h">Coming up</h2>')[1].split('id="past-h">So far')
        assert "Integration session" in upcoming and "after the dose" not in upcoming
        assert past.index("after the dose") < past.index("Dose given") < past.index("the first week")
