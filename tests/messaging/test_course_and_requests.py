"""The patient's course on the portal home, and requests to move or miss a session that staff answer."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing.models import DoseRecord
from kapstone.integration import services as integration
from kapstone.integration.models import Notification
from kapstone.messaging import services
from kapstone.messaging.models import SessionChangeRequest
from kapstone.program import services as program_services
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.measures.factories import due_assessment
from tests.messaging.factories import change_request, upcoming_session


def first_dose_done_of_two(cast):
    """Alice's dosing session 1 two days ago, a second one next week."""
    dosing = cast.dosing_session()
    earlier = dosing.starts_at - datetime.timedelta(days=2)
    GroupSession.objects.filter(pk=dosing.pk).update(starts_at=earlier, ends_at=earlier + datetime.timedelta(hours=3))
    later = dosing.starts_at + datetime.timedelta(days=7)
    GroupSession.objects.create(
        group=dosing.group, kind="dosing", number=2, starts_at=later, ends_at=later + datetime.timedelta(hours=3)
    )


def test_the_home_shows_the_next_session_what_to_do_and_where_the_patient_is(cast, client_for):
    session = upcoming_session(cast)
    program_services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://v.example/a"
    )
    first_dose_done_of_two(cast)
    page = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    assert "Next: Integration session 1" in page
    # In the product's style ("Sun 6 Dec 2026, 23:03"), not a 12-hour "Monday, December 7, 1:00 p.m.".
    starts, ends = timezone.localtime(session.starts_at), timezone.localtime(session.ends_at)
    when = f"{starts:%a} {starts.day} {starts:%b %Y, %H:%M} to {ends:%H:%M}"
    assert f"<dt>When</dt><dd>{when}</dd>" in page and " p.m." not in page and " a.m." not in page
    assert 'href="https://v.example/a"' in page
    # Each facilitator with their role, as staff pickers name them.
    assert "Theo" in page and "(Therapist / facilitator)" in page
    assert "Bring your journal" in page and "quiet, private place" in page
    assert "Ketamine sessions: 1 of 2 done." in page
    assert "Unscheduled" not in page and "follow_up" not in page


def test_a_patient_not_in_a_group_is_told_so_in_plain_words(cast, client_for):
    page = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    assert "You are not in a group yet" in page


def test_a_request_changes_nothing_until_staff_answer_and_the_patient_hears_back(cast, client_for):
    session = upcoming_session(cast)
    first_dose_done_of_two(cast)
    starts_at = session.starts_at
    alice = client_for(cast.alice_user)
    response = alice.post(
        reverse("messaging:request_change", args=[session.pk]),
        {"kind": "reschedule", "note": "A work trip"},
        follow=True,
    )
    assert "Nothing changes until they answer" in response.content.decode()
    assert (
        "Your care team will answer; until then it stays as planned"
        in alice.get(reverse("portal:home")).content.decode()
    )
    request = SessionChangeRequest.objects.get()
    inbox = client_for(cast.therapist).get(reverse("messaging:inbox")).content.decode()
    assert "A work trip" in inbox
    client_for(cast.therapist).post(reverse("messaging:request_decide", args=[request.pk]), {"decision": "accept"})
    request.refresh_from_db()
    session.refresh_from_db()
    assert request.status == "accepted" and session.starts_at == starts_at  # never a silent change
    assert Notification.objects.filter(kind="session_change_answer").exists()
    assert "accepted" in alice.get(reverse("portal:home")).content.decode()


def test_a_request_is_asked_once_and_a_decline_needs_a_reason(cast):
    request = change_request(cast)
    with pytest.raises(services.MessageRefused, match="already asked"):
        change_request(cast)
    with pytest.raises(services.MessageRefused, match="Say why"):
        services.session_change_decide(actor=cast.bob, request=request, accept=False)
    services.session_change_decide(actor=cast.bob, request=request, accept=False, note="Please call us")
    with pytest.raises(services.MessageRefused, match="already been answered"):
        services.session_change_decide(actor=cast.bob, request=request, accept=True)


def test_a_past_session_or_another_patients_cannot_be_requested(cast):
    session = upcoming_session(cast)
    GroupSession.objects.filter(pk=session.pk).update(starts_at=session.starts_at - datetime.timedelta(days=3))
    session.refresh_from_db()
    with pytest.raises(services.MessageRefused, match="already started"):
        services.session_change_request(actor=cast.alice_user, session=session, kind="cancel")
    with pytest.raises(services.MessageRefused, match="not one of your sessions"):
        services.session_change_request(actor=cast.dana_user, session=upcoming_session(cast), kind="cancel")


def test_a_clinician_outside_the_team_cannot_answer(cast, client_for):
    request = change_request(cast)
    assert (
        client_for(cast.charlie)
        .post(reverse("messaging:request_decide", args=[request.pk]), {"decision": "accept"})
        .status_code
        == 404
    )


def _home_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("portal:home")).status_code == 200
    return [query["sql"] for query in queries]


def test_the_home_reads_as_much_however_long_the_patients_history(cast, client_for):
    """Issue 19: more sessions and facilitators, requests, integration windows, questionnaires and past courses
    add no read to the home, and the practice settings it shows (crisis lines, what to do before a session, the
    integration window) are read once."""
    session = upcoming_session(cast)
    first_dose_done_of_two(cast)
    alice = client_for(cast.alice_user)
    _home_queries(alice)
    before = _home_queries(alice)
    dosing = cast.dosing_session()
    now = timezone.now()
    session.facilitators.set([cast.bob, cast.therapist, cast.nurse])
    for number in range(2, 6):
        starts_at = now + datetime.timedelta(days=7 * number)
        later = GroupSession.objects.create(
            group=dosing.group,
            kind=GroupSession.Kind.INTEGRATION,
            number=number,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=1),
        )
        later.facilitators.set([cast.bob, cast.therapist])
        request = services.session_change_request(actor=cast.alice_user, session=later, kind="reschedule")
        services.session_change_decide(actor=cast.bob, request=request, accept=number % 2 == 0, note="Please call us")
    for days_ago in (3, 20, 40):
        given = now - datetime.timedelta(days=days_ago)
        past = GroupSession.objects.create(
            group=dosing.group,
            kind=GroupSession.Kind.DOSING,
            number=10 + days_ago,
            starts_at=given,
            ends_at=given + datetime.timedelta(hours=3),
        )
        record = DoseRecord.objects.create(session=past, patient=cast.alice, administered_at=given)
        integration.window_open(dose_record=record)
        due_assessment(cast.alice, "gad7", occasion=f"pre_dosing_{days_ago}")
    earlier = Group.objects.create(
        name="Last year's group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=(now - datetime.timedelta(days=365)).date(),
    )
    Enrolment.objects.create(group=earlier, patient=cast.alice, status=Enrolment.Status.COMPLETED)
    after = _home_queries(alice)
    assert len(after) == len(before)
    assert sum("practice_practicesetting" in sql for sql in after) == 1


def test_the_homes_reads_compiled_once_show_each_patient_their_own_course_and_requests(cast, client_for):
    """The home's reads are compiled once a process (issue 19) and bound to each patient: a second patient's home,
    read after the first's, shows none of the first's course, requests or questionnaires."""
    session = upcoming_session(cast)
    first_dose_done_of_two(cast)
    services.session_change_request(actor=cast.alice_user, session=session, kind="cancel")
    due_assessment(cast.alice, "gad7")
    alice_home = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    dana_home = client_for(cast.dana_user).get(reverse("portal:home")).content.decode()
    assert "Next: Integration session 1" in alice_home and "You asked to miss this session" in alice_home
    assert "GAD-7" in alice_home
    assert "You are not in a group yet" in dana_home
    assert "Integration session" not in dana_home and "GAD-7" not in dana_home
