"""A session in which doses were given stays where it happened: the dosing record, the controlled-substance log and
the dose spacing all count from its date. A session whose patients were only checked in may still move."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.dosing.models import DoseRecord
from kapstone.program import planning, services
from kapstone.program.models import GroupSession, Room
from tests.conftest import make_patient

MESSAGE = "Doses were given in this session; it cannot be moved."


@pytest.fixture
def dosing(cast, monkeypatch):
    """A group-programme dosing session on a Monday at 09:00 three weeks ahead, alice and two others enrolled."""
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])
    today = timezone.localdate()
    monday = today + datetime.timedelta(days=21 + (7 - today.weekday()) % 7)
    starts_at = datetime.datetime.combine(monday, datetime.time(9), planning.clinic_tz())
    group = services.group_create(
        actor=cast.admin,
        name="Spring group",
        template_id="group-kap-programme",
        start_date=monday - datetime.timedelta(days=7),
        facilitators=[cast.bob, cast.therapist],
    )
    team = [cast.bob, cast.therapist, cast.nurse]
    for patient in [cast.alice, *(make_patient(f"Member{n}", "Spring", team=team) for n in range(2))]:
        services.enrol(actor=cast.bob, group=group, patient=patient)
    duration = planning.group_template(group).duration_minutes("dosing")
    session = GroupSession.objects.create(
        group=group,
        kind="dosing",
        number=1,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=duration),
        room=Room.objects.create(name="Cedar room", capacity=4),
    )
    session.facilitators.set([cast.bob, cast.therapist])
    return session


def record_for(session, patient, *, given: bool) -> DoseRecord:
    """A synthetic dose record, written directly: these tests are about the session, not the room's checks."""
    at = session.starts_at + datetime.timedelta(minutes=30)
    return DoseRecord.objects.create(
        session=session,
        patient=patient,
        checked_in_at=session.starts_at,
        route="sublingual",
        dose_mg=Decimal("200"),
        administered_at=at if given else None,
    )


def move(cast, session, by=datetime.timedelta(days=1)):
    return services.session_move(
        actor=cast.bob,
        session=session,
        starts_at=session.starts_at + by,
        room=session.room,
        facilitators=[cast.bob, cast.therapist],
    )


def test_a_session_with_a_dose_given_cannot_be_moved(cast, dosing):
    record_for(dosing, cast.alice, given=True)
    before = dosing.starts_at
    with pytest.raises(services.PlanRefused) as refusal:
        move(cast, dosing)
    assert refusal.value.problems == (MESSAGE,)
    dosing.refresh_from_db()
    assert dosing.starts_at == before
    assert not AuditEvent.objects.filter(object_type=services.SESSION_MOVE_AUDIT_TYPE).exists()


def test_a_session_whose_patients_are_only_checked_in_can_still_be_moved(cast, dosing):
    record_for(dosing, cast.alice, given=False)
    before = dosing.starts_at
    move(cast, dosing)
    dosing.refresh_from_db()
    assert dosing.starts_at == before + datetime.timedelta(days=1)


def test_the_session_form_explains_why_a_dosed_session_cannot_be_moved(cast, dosing, client_for):
    record_for(dosing, cast.alice, given=True)
    moved_to = timezone.localtime(dosing.starts_at) + datetime.timedelta(days=1)
    response = client_for(cast.bob).post(
        reverse("program:session_edit", args=[dosing.pk]),
        {
            "starts_at": moved_to.strftime("%Y-%m-%dT%H:%M"),
            "room": dosing.room.pk,
            "facilitators": [cast.bob.pk, cast.therapist.pk],
        },
    )
    assert response.status_code == 400 and MESSAGE in response.text
    dosing.refresh_from_db()
    assert timezone.localtime(dosing.starts_at) != moved_to
