"""A new course needs a current screening; within the course, the room judges the screening's expiry on the day the
course began, so a 30-day screening does not stop the doses of a 6-week course (the same-day checks cover the days
since)."""

import datetime

import pytest
from django.utils import timezone

from kapstone.dosing import selectors
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program.models import GroupSession
from kapstone.screening.gate import enrolment_blockers
from tests.screening import helpers

pytestmark = pytest.mark.django_db


def _alice_screened_days_ago(cast, days: int) -> str:
    assessed = (timezone.localdate() - datetime.timedelta(days=days)).isoformat()
    helpers.screen(cast, helpers.intake(assessment_date=assessed))
    helpers.consult(cast)
    helpers.sign_consent(cast)
    return assessed


def _course_began_days_ago(cast, days: int) -> GroupSession:
    session = cast.dosing_session()
    began = timezone.now() - datetime.timedelta(days=days)
    GroupSession.objects.create(
        group=session.group,
        kind=GroupSession.Kind.PREPARATION,
        number=0,
        starts_at=began,
        ends_at=began + datetime.timedelta(hours=2),
        room=session.room,
    )
    return session


def _room_gate(cast, session) -> tuple[str, ...]:
    _, room = selectors.session_room(user=cast.bob, session_id=session.pk)
    return next(entry.readiness.gate_blockers for entry in room if entry.patient == cast.alice)


def test_a_screening_current_when_the_course_began_keeps_the_room_open_though_a_new_enrolment_would_need_a_new_one(
    cast,
):
    _alice_screened_days_ago(cast, 40)
    session = _course_began_days_ago(cast, 20)
    assert "has expired" in enrolment_blockers(patient=cast.alice)[0]
    assert not any("expired" in blocker for blocker in _room_gate(cast, session))


def test_a_screening_that_had_expired_before_the_course_began_stops_the_dose(cast):
    assessed = _alice_screened_days_ago(cast, 70)
    session = _course_began_days_ago(cast, 20)
    assert any(
        f"screening of {day_in_words(datetime.date.fromisoformat(assessed))} has expired" in blocker
        for blocker in _room_gate(cast, session)
    )
