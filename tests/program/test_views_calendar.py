import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from kapstone.program import services
from kapstone.program.models import CalendarFeed, Enrolment, Group, GroupSession


@pytest.fixture
def sessions(cast):
    """Alice's Tuesday group (bob facilitates), and a group of dana's that alice is not in."""
    tuesday = cast.dosing_session()
    other = Group.objects.create(
        name="Thursday group",
        template_id="x",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=tuesday.group.start_date,
    )
    Enrolment.objects.create(group=other, patient=cast.dana, status=Enrolment.Status.ENROLLED)
    now = timezone.now()
    thursday = GroupSession.objects.create(
        group=other, kind="dosing", number=1, starts_at=now, ends_at=now + datetime.timedelta(hours=3)
    )
    thursday.facilitators.set([cast.charlie])
    return tuesday, thursday


def _events(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return [event for event in Calendar.from_ical(response.content).walk("VEVENT")]


def test_a_patient_downloads_only_her_own_sessions(cast, client_for, sessions):
    events = _events(client_for(cast.alice_user).get(reverse("program:my_calendar")))
    assert [str(e["SUMMARY"]) for e in events] == ["Tuesday group: Dosing session 1"]
    assert str(events[0]["LOCATION"]) == "Willow room"


def test_a_facilitators_feed_names_groups_and_never_patients(cast, client_for, sessions):
    response = client_for(cast.bob).get(reverse("program:my_calendar"))
    events = _events(response)
    assert [str(e["SUMMARY"]) for e in events] == ["Tuesday group: Dosing session 1"]
    for name in ("Alice", "Abernathy", "Member0", "Dana"):
        assert name.encode() not in response.content


def test_the_subscription_link_works_without_signing_in_until_revoked(cast, client_for, sessions):
    client = client_for(cast.alice_user)
    page = client.post(reverse("program:calendar"), {"action": "issue"})
    link = page.context["new_link"]
    token = link.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in CalendarFeed.objects.get(user=cast.alice_user).token_hash
    assert token not in client.get(reverse("program:calendar")).text

    anonymous = Client()
    assert [str(e["SUMMARY"]) for e in _events(anonymous.get(link))] == ["Tuesday group: Dosing session 1"]
    client.post(reverse("program:calendar"), {"action": "revoke"})
    assert anonymous.get(link).status_code == 404


def test_the_calendar_page_shows_each_users_own_link_as_it_stands(cast, client_for):
    bob, alice = client_for(cast.bob), client_for(cast.alice_user)
    page = bob.get(reverse("program:calendar")).text
    assert "Make a link" in page and "data-confirm" not in page
    services.feed_token_issue(user=cast.bob)
    page = bob.get(reverse("program:calendar")).text
    assert "Replace the link" in page
    # Both stop the calendars subscribed with the link, so each asks first.
    assert 'data-confirm="Replace the subscription link? Calendars subscribed with the current link' in page
    assert 'data-confirm="Revoke the subscription link? Calendars subscribed with it stop updating."' in page
    assert "Make a link" in alice.get(reverse("program:calendar")).text
    services.feed_token_revoke(user=cast.bob)
    assert "Make a link" in bob.get(reverse("program:calendar")).text


def test_a_wrong_token_is_not_found(cast, sessions):
    services.feed_token_issue(user=cast.bob)
    assert Client().get(reverse("program:feed", args=["not-the-token"])).status_code == 404


def test_a_moved_session_keeps_its_uid_and_raises_its_sequence(cast, client_for, sessions):
    tuesday, _ = sessions
    before = _events(client_for(cast.bob).get(reverse("program:my_calendar")))[0]
    GroupSession.objects.filter(pk=tuesday.pk).update(calendar_sequence=1)  # as session_move counts a move
    after = _events(client_for(cast.bob).get(reverse("program:my_calendar")))[0]
    assert after["UID"] == before["UID"]
    assert (before["SEQUENCE"], after["SEQUENCE"]) == (0, 1)
