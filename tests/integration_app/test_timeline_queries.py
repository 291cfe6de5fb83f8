"""The timelines read the same number of queries however long the patient's history (issue 19): each kind of item,
and the note form's integration sessions, is one read, with nothing loaded again row by row."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.integration import selectors
from kapstone.integration.models import IntegrationNote, Notification
from kapstone.measures.models import Assessment
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.conftest import signed_in_client
from tests.integration_app.factories import given_dose, journal_entry


def _more_history(cast) -> None:
    """One more of everything a timeline shows: an integration session (also a choice in the note form), a shared
    and a private journal entry, an integration note, a completed questionnaire and a message not delivered."""
    dosing = cast.dosing_session()
    number = GroupSession.objects.filter(kind=GroupSession.Kind.INTEGRATION).count() + 1
    at = dosing.starts_at + datetime.timedelta(days=number)
    session = GroupSession.objects.create(
        group=dosing.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=number,
        starts_at=at,
        ends_at=at + datetime.timedelta(hours=2),
        follows_dosing=dosing,
    )
    journal_entry(cast.alice, text=f"shared {number}", shared=True, at=at, mood=6)
    journal_entry(cast.alice, text=f"private {number}", at=at, activity="drawing", activity_minutes=20)
    IntegrationNote.objects.create(patient=cast.alice, session=session, author=cast.therapist, text=f"note {number}")
    Assessment.objects.create(
        patient=cast.alice,
        instrument_id="phq9",
        occasion=f"follow_up_{number}",
        due_at=at,
        status=Assessment.Status.COMPLETED,
        total=7,
        severity="mild",
        completed_at=at,
    )
    Notification.objects.create(
        patient=cast.alice,
        dedupe_key=f"timeline-test-{number}",
        kind="prompt",
        channel="email",
        subject=f"Prompt {number}",
        body="A journaling prompt.",
        scheduled_for=at,
        status=Notification.Status.FAILED,
        attempts=3,
    )


def _queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_staff_timeline_uses_the_same_number_of_queries_however_long_the_history(cast):
    given_dose(cast, at=timezone.now() - datetime.timedelta(hours=2))
    _more_history(cast)
    client = signed_in_client(cast.therapist)
    url = reverse("integration:timeline", args=[cast.alice.pk])
    _queries(client, url)
    before, page = _queries(client, url)
    assert page.count("Integration note by") == 1 and page.count("<option") == 2
    for _ in range(5):
        _more_history(cast)
    after, page = _queries(client, url)
    assert page.count("Integration note by") == 6 and page.count("<option") == 7
    assert "Message could not be delivered" in page and "private 3" not in page and "shared 3" in page
    assert after == before


def test_the_note_form_says_when_no_integration_session_is_booked(cast):
    given_dose(cast)
    page = signed_in_client(cast.therapist).get(reverse("integration:timeline", args=[cast.alice.pk])).content
    assert b"No integration session is booked for this patient yet." in page and b"<select" not in page


def test_the_patients_own_timeline_uses_the_same_number_of_queries_however_long_the_history(cast):
    given_dose(cast, at=timezone.now() - datetime.timedelta(hours=2))
    _more_history(cast)
    client = signed_in_client(cast.alice_user)
    url = reverse("integration:my_timeline")
    _queries(client, url)
    before, page = _queries(client, url)
    for _ in range(5):
        _more_history(cast)
    after, page = _queries(client, url)
    assert "private 3" in page and "shared 3" in page and "Integration note" not in page
    assert after == before


def test_a_withdrawn_groups_integration_sessions_take_a_note_but_its_sessions_are_not_on_the_timeline(cast):
    """The one read of the timeline's sessions and the note form's keeps each to its own rule."""
    dosing = cast.dosing_session()
    _more_history(cast)
    left = Group.objects.create(
        name="Left group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=datetime.date.today(),
    )
    Enrolment.objects.create(group=left, patient=cast.alice, status=Enrolment.Status.WITHDRAWN)
    at = dosing.starts_at + datetime.timedelta(days=20)
    for kind in (GroupSession.Kind.DOSING, GroupSession.Kind.INTEGRATION):
        GroupSession.objects.create(
            group=left, kind=kind, number=1, starts_at=at, ends_at=at + datetime.timedelta(hours=2)
        )
    timeline = selectors.staff_timeline(user=cast.therapist, patient_id=cast.alice.pk)
    assert [str(session) for session in timeline.bookable] == [
        "Tuesday group: Integration 1",
        "Left group: Integration 1",
    ]
    assert [item.title for item in timeline.items if item.kind == "session"] == [
        "Integration session",
        "Dosing session",
    ]
    assert timeline.bookable == list(selectors.integration_sessions_for(cast.alice))
    assert selectors.staff_timeline(user=cast.admin, patient_id=cast.alice.pk).bookable == []
    page = signed_in_client(cast.therapist).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
    assert ">Left group: Integration 1</option>" in page


def test_each_patients_timeline_reads_that_patients_records(cast):
    """The timeline's reads are compiled once and bound to each patient's key: a second patient's timeline, read
    after the first's, shows the second patient's records only."""
    _more_history(cast)
    other = Enrolment.objects.filter(group=cast.dosing_session().group).exclude(patient=cast.alice).first().patient
    session = GroupSession.objects.filter(kind=GroupSession.Kind.INTEGRATION).get()
    IntegrationNote.objects.create(patient=other, session=session, author=cast.therapist, text="the other's note")
    first = selectors.staff_timeline(user=cast.admin, patient_id=cast.alice.pk)
    second = selectors.staff_timeline(user=cast.admin, patient_id=other.pk)
    assert [item.detail for item in first.items if item.kind == "note"] == ["note 1"]
    assert [item.detail for item in second.items if item.kind == "note"] == ["the other's note"]
    assert [item.kind for item in first.items].count("undelivered") == 1
    assert "undelivered" not in [item.kind for item in second.items]
    assert selectors.on_care_team(cast.therapist, cast.alice) and not selectors.on_care_team(cast.admin, cast.alice)
