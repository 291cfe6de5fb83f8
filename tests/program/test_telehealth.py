"""Sessions held by video: integration and follow-up only, with a link from the session, a clinician's room or
the practice's template, shown in the calendar feed and billed at a telehealth place of service."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.billing import services as billing
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import selectors, services, telehealth
from kapstone.program.models import GroupSession
from tests.billing.factories import fees


def integration_session(cast, number: int = 1) -> GroupSession:
    dosing = cast.dosing_session()
    session = GroupSession.objects.create(
        group=dosing.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=number,
        starts_at=dosing.starts_at + datetime.timedelta(days=number),
        ends_at=dosing.starts_at + datetime.timedelta(days=number, hours=1),
        follows_dosing=dosing,
        room=dosing.room,
    )
    session.facilitators.set([cast.therapist])
    return session


def test_a_dosing_session_is_never_held_by_video(cast):
    session = cast.dosing_session()
    with pytest.raises(telehealth.TelehealthRefused, match="observed in the room"):
        services.session_telehealth_set(
            actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/room"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupSession.objects.filter(pk=session.pk).update(is_remote=True)


def test_a_remote_session_needs_a_link(cast):
    with pytest.raises(telehealth.TelehealthRefused, match="no video link"):
        services.session_telehealth_set(actor=cast.bob, session=integration_session(cast), is_remote=True)


def test_the_link_comes_from_the_session_then_the_clinicians_room_then_the_practice_template(cast):
    session = integration_session(cast)
    practice_value_set(
        actor=cast.admin, key=telehealth.LINK_TEMPLATE_KEY, value="https://meet.example/{room}", reason="our tool"
    )
    services.session_telehealth_set(actor=cast.bob, session=session, is_remote=True)
    from_template = telehealth.video_link(session)
    assert from_template.startswith("https://meet.example/kapstone-") and not from_template.endswith(f"-{session.pk}")
    assert len(from_template.rsplit("-", 1)[1]) == 20  # a room name no one finds by counting sessions
    practice_value_set(
        actor=cast.admin,
        key=telehealth.CLINICIAN_ROOMS_KEY,
        value={cast.therapist.username: "https://video.example/theo"},
        reason="rooms",
    )
    assert telehealth.video_link(session) == "https://video.example/theo"
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/special"
    )
    assert telehealth.video_link(session) == "https://video.example/special"
    session.refresh_from_db()
    assert session.is_remote


def test_a_change_of_place_or_link_raises_the_calendar_sequence_and_is_audited(cast):
    session = integration_session(cast)
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/a"
    )
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/b"
    )
    stale = GroupSession.objects.get(pk=session.pk)
    services.session_telehealth_set(actor=cast.bob, session=session, is_remote=False)
    assert GroupSession.objects.get(pk=session.pk).calendar_sequence == session.calendar_sequence == 3
    # A caller holding an older copy still raises the count the database keeps.
    services.session_telehealth_set(actor=cast.bob, session=stale, is_remote=True, video_url="https://video.example/c")
    assert GroupSession.objects.get(pk=session.pk).calendar_sequence == 4
    audits = AuditEvent.objects.filter(object_type="group_session.telehealth", object_id=str(session.pk))
    assert audits.count() == 4 and audits.filter(actor_id=cast.bob.pk).count() == 4


def test_saving_the_same_place_and_link_again_changes_nothing(cast):
    session = integration_session(cast)
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/a"
    )
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/a"
    )
    assert GroupSession.objects.get(pk=session.pk).calendar_sequence == 1


def test_a_refused_change_leaves_the_session_and_its_sequence_as_they_were(cast):
    session = integration_session(cast)
    with pytest.raises(telehealth.TelehealthRefused):
        services.session_telehealth_set(actor=cast.bob, session=session, is_remote=True)
    stored = GroupSession.objects.get(pk=session.pk)
    assert (stored.is_remote, stored.calendar_sequence, session.is_remote) == (False, 0, False)


def test_the_calendar_feed_event_carries_the_raised_sequence(cast, client):
    from kapstone.program import services as program

    session = integration_session(cast)
    token = program.feed_token_issue(user=cast.alice_user)
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/s"
    )
    feed = client.get(reverse("program:feed", args=[token])).content.decode()
    assert "SEQUENCE:1" in feed


def test_a_link_that_is_not_https_is_refused(cast):
    with pytest.raises(telehealth.TelehealthRefused, match="not an https link"):
        services.session_telehealth_set(
            actor=cast.bob, session=integration_session(cast), is_remote=True, video_url="http://video.example/x"
        )


def test_the_calendar_feed_carries_the_video_link(cast, client):
    from kapstone.program import services as program

    session = integration_session(cast)
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/feed"
    )
    token = program.feed_token_issue(user=cast.alice_user)
    feed = client.get(reverse("program:feed", args=[token])).content.decode()
    assert "https://video.example/feed" in feed.replace("\r\n ", "")


def _feed_queries(user) -> int:
    with CaptureQueriesContext(connection) as queries:
        selectors.calendar_of(user=user)
    return len(queries)


def test_the_calendar_feed_reads_the_same_number_of_queries_however_many_remote_sessions_it_holds(cast):
    practice_value_set(
        actor=cast.admin, key=telehealth.LINK_TEMPLATE_KEY, value="https://meet.example/{room}", reason="our tool"
    )
    practice_value_set(
        actor=cast.admin,
        key=telehealth.CLINICIAN_ROOMS_KEY,
        value={cast.bob.username: "https://video.example/bob"},
        reason="rooms",
    )
    services.session_telehealth_set(actor=cast.bob, session=integration_session(cast, 1), is_remote=True)
    facilitator_feed, patient_feed = _feed_queries(cast.therapist), _feed_queries(cast.alice_user)
    for number in (2, 3, 4):
        services.session_telehealth_set(actor=cast.bob, session=integration_session(cast, number), is_remote=True)
    assert _feed_queries(cast.therapist) == facilitator_feed
    assert _feed_queries(cast.alice_user) == patient_feed


def test_a_facilitators_own_room_is_the_first_by_family_name_in_the_calendar_feed_as_on_the_session_page(cast):
    session = integration_session(cast)
    session.facilitators.add(cast.bob)
    first, second = sorted([cast.therapist, cast.bob], key=lambda user: (user.last_name, user.pk))
    practice_value_set(
        actor=cast.admin,
        key=telehealth.CLINICIAN_ROOMS_KEY,
        value={first.username: "https://video.example/first", second.username: "https://video.example/second"},
        reason="rooms",
    )
    services.session_telehealth_set(actor=cast.bob, session=session, is_remote=True)
    assert telehealth.video_link(session) == "https://video.example/first"
    assert "https://video.example/first" in selectors.calendar_of(user=second).decode()


def test_a_remote_visit_is_billed_at_the_telehealth_place_of_service_with_modifier_95(cast):
    fees(cast.admin, **{"90853": "80.00"})
    session = integration_session(cast)
    services.session_telehealth_set(
        actor=cast.bob, session=session, is_remote=True, video_url="https://video.example/bill"
    )
    (charge,) = billing.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    assert (charge.place_of_service, charge.modifiers, charge.rendering_clinician) == ("10", "95", cast.therapist)
