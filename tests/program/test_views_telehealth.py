"""Staff hold an integration or follow-up session by video, or back in person, from the session's page."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.program import services, telehealth
from kapstone.program.models import Group, GroupSession, Room
from kapstone.program.planning import PlanRefused
from tests.conftest import signed_in_client
from tests.program.test_telehealth import integration_session


def post_video(user, session, **fields):
    data = {f"video-{key}": value for key, value in fields.items()}
    return signed_in_client(user).post(reverse("program:session_telehealth", args=[session.pk]), data)


@pytest.mark.parametrize("role", ["admin", "bob", "therapist", "nurse"])
def test_staff_of_the_group_hold_a_session_by_video_with_its_own_link(cast, role):
    session = integration_session(cast)
    response = post_video(cast.user(role), session, held="video", video_url="https://video.example/tuesday")
    assert response.status_code == 302 and response.url == reverse("program:session_edit", args=[session.pk])
    session.refresh_from_db()
    assert (session.is_remote, session.video_url, session.calendar_sequence) == (
        True,
        "https://video.example/tuesday",
        1,
    )
    assert AuditEvent.objects.filter(object_type="group_session.telehealth", object_id=str(session.pk)).exists()


def test_the_session_page_then_says_it_is_held_by_video_with_the_link(cast):
    session = integration_session(cast)
    post_video(cast.bob, session, held="video", video_url="https://video.example/tuesday")
    page = signed_in_client(cast.bob).get(reverse("program:session_edit", args=[session.pk])).content.decode()
    assert "held by video" in page and "https://video.example/tuesday" in page
    group_page = signed_in_client(cast.bob).get(reverse("program:group", args=[session.group_id])).content.decode()
    assert "By video" in group_page


def test_a_session_goes_back_to_in_person_and_loses_its_own_link(cast):
    session = integration_session(cast)
    post_video(cast.bob, session, held="video", video_url="https://video.example/tuesday")
    response = post_video(
        cast.bob, session, held="in_person", video_url="https://video.example/tuesday", room=session.room_id
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.is_remote, session.video_url, session.calendar_sequence) == (False, "", 2)


def video_without_a_room(cast) -> GroupSession:
    """An integration session held by video whose room was taken away on the session's page, as a clinic does
    when no one meets in the room."""
    session = integration_session(cast)
    post_video(cast.bob, session, held="video", video_url="https://video.example/tuesday")
    assert adjust(cast.bob, session, room="").status_code == 302
    session.refresh_from_db()
    assert (session.is_remote, session.room) == (True, None)
    return session


def test_back_in_person_a_session_that_gave_up_its_room_must_be_given_one(cast):
    session = video_without_a_room(cast)
    page = signed_in_client(cast.bob).get(reverse("program:session_edit", args=[session.pk])).text
    assert "Room, when held in person" in page
    response = post_video(cast.bob, session, held="in_person", room="")
    assert response.status_code == 400
    assert "Choose a room: the session is held in person." in response.text
    session.refresh_from_db()
    assert (session.is_remote, session.room, session.calendar_sequence) == (True, None, 2)


def test_back_in_person_in_a_room_the_session_is_held_there(cast):
    session = video_without_a_room(cast)
    willow = Room.objects.get(name="Willow room")
    response = post_video(cast.bob, session, held="in_person", room=willow.pk)
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.is_remote, session.video_url, session.room, session.calendar_sequence) == (False, "", willow, 3)
    audit = AuditEvent.objects.filter(object_type="group_session.telehealth", object_id=str(session.pk)).latest("pk")
    assert audit.detail_data["room"] == "Willow room" and audit.detail_data["is_remote"] is False


def test_back_in_person_the_room_must_hold_the_group(cast):
    session = video_without_a_room(cast)
    closet = Room.objects.create(name="Closet", capacity=2)
    response = post_video(cast.bob, session, held="in_person", room=closet.pk)
    assert response.status_code == 400
    assert "room Closet holds 2, the group is 3" in response.text
    session.refresh_from_db()
    assert (session.is_remote, session.room) == (True, None)


def test_back_in_person_the_room_must_be_free_of_other_groups(cast):
    session = video_without_a_room(cast)
    willow = Room.objects.get(name="Willow room")
    other = Group.objects.create(
        name="Thursday group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=session.starts_at.date(),
    )
    GroupSession.objects.create(
        group=other,
        kind=GroupSession.Kind.INTEGRATION,
        number=1,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        room=willow,
    )
    response = post_video(cast.bob, session, held="in_person", room=willow.pk)
    assert response.status_code == 400
    assert "room Willow room is booked (Thursday group integration 1)" in response.text
    session.refresh_from_db()
    assert (session.is_remote, session.room) == (True, None)


def test_the_service_refuses_in_person_without_a_room(cast):
    session = video_without_a_room(cast)
    with pytest.raises(telehealth.TelehealthRefused, match="Choose a room"):
        services.session_telehealth_set(actor=cast.bob, session=session, is_remote=False)
    stored = GroupSession.objects.get(pk=session.pk)
    assert (stored.is_remote, stored.room, session.is_remote, session.room) == (True, None, True, None)


def test_back_in_person_a_session_that_kept_its_room_is_held_there(cast):
    session = integration_session(cast)
    services.session_telehealth_set(actor=cast.bob, session=session, is_remote=True, video_url="https://v.example/k")
    services.session_telehealth_set(actor=cast.bob, session=session, is_remote=False)
    session.refresh_from_db()
    assert (session.is_remote, session.room.name) == (False, "Willow room")


@pytest.mark.parametrize(
    "room, message",
    [
        ("999999", "Select a valid choice"),
        ("not a room", "Select a valid choice"),
        ("-1", "Select a valid choice"),
        ("1\x00", "cannot be stored"),
    ],
)
def test_an_unknown_room_is_refused_with_a_form_message(cast, room, message):
    session = video_without_a_room(cast)
    response = post_video(cast.bob, session, held="in_person", room=room)
    assert response.status_code == 400
    assert message in response.text
    session.refresh_from_db()
    assert (session.is_remote, session.room) == (True, None)


def test_a_dosing_session_is_refused_with_the_reason_and_stays_in_person(cast):
    session = cast.dosing_session()
    response = post_video(cast.bob, session, held="video", video_url="https://video.example/room")
    assert response.status_code == 400
    assert "observed in the room" in response.content.decode()
    session.refresh_from_db()
    assert (session.is_remote, session.calendar_sequence) == (False, 0)


def test_a_dosing_session_page_offers_no_video_control(cast):
    page = signed_in_client(cast.bob).get(reverse("program:session_edit", args=[cast.dosing_session().pk]))
    text = page.content.decode()
    assert "Save where it is held" not in text and "always held in person" in text


@pytest.mark.parametrize(
    "link",
    ["http://video.example/room", "video.example/room", "https://", "javascript:alert(1)", "https://video.example/a b"],
)
def test_a_link_that_is_not_an_https_video_link_is_refused_with_a_form_message(cast, link):
    session = integration_session(cast)
    response = post_video(cast.bob, session, held="video", video_url=link)
    assert response.status_code == 400
    assert "Give an https link to the video room" in response.content.decode()
    session.refresh_from_db()
    assert (session.is_remote, session.video_url) == (False, "")


def test_an_over_long_link_or_an_unknown_choice_is_refused_with_nothing_saved(cast):
    session = integration_session(cast)
    long_link = "https://video.example/" + "a" * 300
    assert post_video(cast.bob, session, held="video", video_url=long_link).status_code == 400
    assert post_video(cast.bob, session, held="on the moon").status_code == 400
    session.refresh_from_db()
    assert session.is_remote is False


def test_by_video_without_any_link_configured_says_what_is_missing(cast):
    session = integration_session(cast)
    response = post_video(cast.bob, session, held="video")
    assert response.status_code == 400 and "There is no video link" in response.content.decode()


def test_an_unknown_session_is_404(cast):
    response = post_video(cast.bob, GroupSession(pk=999999), held="video", video_url="https://video.example/x")
    assert response.status_code == 404


def test_a_clinician_outside_the_group_is_told_it_does_not_exist(cast):
    session = integration_session(cast)
    response = post_video(cast.charlie, session, held="video", video_url="https://video.example/x")
    assert response.status_code == 404
    session.refresh_from_db()
    assert session.is_remote is False


@pytest.mark.parametrize("role", ["researcher", "alice_user"])
def test_researchers_and_patients_are_refused(cast, role):
    session = integration_session(cast)
    response = post_video(cast.user(role), session, held="video", video_url="https://video.example/x")
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.is_remote is False


def test_a_get_is_not_allowed(cast):
    session = integration_session(cast)
    response = signed_in_client(cast.bob).get(reverse("program:session_telehealth", args=[session.pk]))
    assert response.status_code == 405


def test_the_patients_timeline_and_the_staff_timeline_say_the_session_was_held_by_video(cast):
    session = integration_session(cast)
    post_video(cast.bob, session, held="video", video_url="https://video.example/tuesday")
    own = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    staff = signed_in_client(cast.therapist).get(reverse("integration:timeline", args=[cast.alice.pk]))
    assert 'Integration session <span class="muted"> · by video</span>' in own
    assert 'Integration session <span class="muted"> · by video</span>' in staff.content.decode()
    assert 'Ketamine session <span class="muted"> · Willow room</span>' in own


def adjust(user, session, **fields):
    data = {
        "starts_at": timezone.localtime(session.starts_at).strftime("%Y-%m-%dT%H:%M"),
        "facilitators": [person.pk for person in session.facilitators.all()],
        **fields,
    }
    return signed_in_client(user).post(reverse("program:session_edit", args=[session.pk]), data)


def test_a_session_held_by_video_is_adjusted_without_a_room(cast):
    session = integration_session(cast)
    post_video(cast.bob, session, held="video", video_url="https://video.example/tuesday")
    page = signed_in_client(cast.bob).get(reverse("program:session_edit", args=[session.pk])).text
    assert "No room (held by video)" in page and "Optional: the session is held by video." in page
    later = (session.starts_at + datetime.timedelta(hours=1)).replace(second=0, microsecond=0)
    response = adjust(cast.bob, session, room="", starts_at=timezone.localtime(later).strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 302, response.context["form"].errors
    session.refresh_from_db()
    assert (session.starts_at, session.room) == (later, None)


def test_a_session_held_in_person_still_needs_its_room(cast):
    session = integration_session(cast)
    response = adjust(cast.bob, session, room="")
    assert response.status_code == 400
    assert "“Room” is required: choose one." in response.text
    with pytest.raises(PlanRefused, match="Choose a room: the session is held in person"):
        services.session_move(
            actor=cast.bob,
            session=session,
            starts_at=session.starts_at,
            room=None,
            facilitators=list(session.facilitators.all()),
        )
