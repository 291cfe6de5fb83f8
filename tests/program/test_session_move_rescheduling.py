"""Moving a session carries what hangs on it, in the same transaction: open questionnaires dated from a dosing
session move with it, a creativity task the move puts on a dosing day is moved off it, and what is already done
keeps its dates. Sessions are booked by hand on fixed weekdays so each move is the same on every run."""

import datetime
import json

import pytest
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.creativity import services as creativity_services
from kapstone.creativity.models import CreativityAdministration, Occasion, Task
from kapstone.measures import services as measures_services
from kapstone.measures.models import Assessment
from kapstone.program import planning, services
from kapstone.program.models import GroupSession, Room
from tests.conftest import make_patient

DAY = datetime.timedelta(days=1)


@pytest.fixture
def monday():
    """A Monday at least two weeks ahead, at 09:00 in the clinic's time zone (opening time)."""
    today = timezone.localdate()
    day = today + datetime.timedelta(days=14 + (7 - today.weekday()) % 7)
    return datetime.datetime.combine(day, datetime.time(9), planning.clinic_tz())


@pytest.fixture
def course(cast, monday, monkeypatch):
    """A group-programme course for alice and two others: dosing on three Mondays, each integrated within two
    days, questionnaires and creativity tasks already put due from those dates."""
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])
    room = Room.objects.create(name="Cedar room", capacity=4)
    group = services.group_create(
        actor=cast.admin,
        name="Spring group",
        template_id="group-kap-programme",
        start_date=(monday - 7 * DAY).date(),
        facilitators=[cast.bob, cast.therapist],
    )
    team = [cast.bob, cast.therapist, cast.nurse]
    for patient in [cast.alice, *(make_patient(f"Member{n}", "Spring", team=team) for n in range(2))]:
        services.enrol(actor=cast.bob, group=group, patient=patient)
    template = planning.group_template(group)
    booked = [
        ("preparation", 1, monday - 7 * DAY),
        ("dosing", 1, monday),
        ("integration", 1, monday + DAY),
        ("dosing", 2, monday + 7 * DAY),
        ("integration", 2, monday + 9 * DAY),
        ("dosing", 3, monday + 14 * DAY),
        ("integration", 3, monday + 15 * DAY),
        ("integration", 4, monday + 16 * DAY),
    ]
    sessions = {}
    for kind, number, starts_at in booked:
        session = GroupSession.objects.create(
            group=group,
            kind=kind,
            number=number,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(minutes=template.duration_minutes(kind)),
            room=room,
        )
        session.facilitators.set([cast.bob, cast.therapist])
        sessions[(kind, number)] = session
    measures_services.assessments_schedule_for_group(actor=cast.bob, group=group)
    creativity_services.administrations_schedule_for_group(actor=cast.bob, group=group)
    return sessions


def move(cast, session, starts_at):
    return services.session_move(
        actor=cast.bob, session=session, starts_at=starts_at, room=session.room, facilitators=[cast.bob, cast.therapist]
    )


def dates(**lookup) -> set[tuple[datetime.datetime, datetime.datetime]]:
    return set(Assessment.objects.filter(**lookup).values_list("due_at", "expires_at"))


def test_moving_a_dosing_session_moves_its_pre_dose_and_day_after_questionnaires(cast, course, monday):
    new_start = monday + 8 * DAY  # dosing session 2, from Monday to Tuesday
    move(cast, course[("dosing", 2)], new_start)

    assert dates(occasion="pre_dosing_2") == {(new_start - 2 * DAY, new_start)}
    assert dates(occasion="day_after_dosing_2") == {(new_start + DAY, new_start + 3 * DAY)}
    # Questionnaires tied to the other dosing sessions stay where they were.
    assert dates(occasion="pre_dosing_1") == {(monday - 2 * DAY, monday)}
    assert dates(occasion="pre_dosing_3") == {(monday + 12 * DAY, monday + 14 * DAY)}


def test_each_re_dated_questionnaire_is_in_the_audit_trail_with_its_old_and_new_dates(cast, course, monday):
    alices = Assessment.objects.get(patient=cast.alice, occasion="pre_dosing_2")
    move(cast, course[("dosing", 2)], monday + 8 * DAY)

    event = AuditEvent.objects.get(object_type="assessment", object_id=str(alices.pk), action="update")
    assert event.patient_id == cast.alice.pk and event.actor_id == cast.bob.pk
    detail = json.loads(event.detail)
    due = [datetime.datetime.fromisoformat(detail[when]["due_at"]) for when in ("before", "after")]
    assert due == [monday + 5 * DAY, monday + 6 * DAY]
    # Three patients, each with a pre-dose PHQ-9 and a day-after EBI for dosing session 2.
    assert AuditEvent.objects.filter(object_type="assessment", action="update").count() == 6


def test_a_completed_or_expired_questionnaire_keeps_its_dates_when_its_session_moves(cast, course, monday):
    done = Assessment.objects.get(patient=cast.alice, occasion="pre_dosing_2")
    done.status, done.completed_at = Assessment.Status.COMPLETED, monday + 6 * DAY
    done.save()
    missed = Assessment.objects.get(patient=cast.alice, occasion="day_after_dosing_2")
    missed.status = Assessment.Status.EXPIRED
    missed.save()

    move(cast, course[("dosing", 2)], monday + 8 * DAY)

    for unchanged, before in (
        (done, (monday + 5 * DAY, monday + 7 * DAY)),
        (missed, (monday + 8 * DAY, monday + 10 * DAY)),
    ):
        unchanged.refresh_from_db()
        assert (unchanged.due_at, unchanged.expires_at) == before
    others = Assessment.objects.filter(occasion="pre_dosing_2").exclude(patient=cast.alice)
    assert {a.due_at for a in others} == {monday + 6 * DAY}


def test_a_creativity_task_the_move_puts_on_a_dosing_day_is_moved_off_it(cast, course, monday):
    tuesday_afternoon = monday + 8 * DAY + datetime.timedelta(hours=5)  # clear of Monday's dosing session
    (task,) = creativity_services.administrations_schedule(
        actor=cast.bob, patient=cast.alice, occasion=Occasion.END_OF_COURSE, tasks=[Task.DAT], due_at=tuesday_afternoon
    )
    window = task.expires_at - task.due_at

    move(cast, course[("dosing", 2)], monday + 8 * DAY)  # now on that Tuesday, ending 12:30

    task.refresh_from_db()
    clear_at = monday + 9 * DAY + datetime.timedelta(hours=3, minutes=30)  # 24 h after the session ends
    assert (task.due_at, task.expires_at) == (clear_at, clear_at + window)
    event = AuditEvent.objects.get(object_type="creativity_administration", object_id=str(task.pk), action="update")
    assert "a dosing session now falls on its day" in event.detail


def test_a_started_or_completed_creativity_task_keeps_its_date(cast, course, monday):
    tuesday_afternoon = monday + 8 * DAY + datetime.timedelta(hours=5)
    started, finished = creativity_services.administrations_schedule(
        actor=cast.bob, patient=cast.alice, occasion=Occasion.END_OF_COURSE, due_at=tuesday_afternoon
    )
    CreativityAdministration.objects.filter(pk=started.pk).update(status=CreativityAdministration.Status.IN_PROGRESS)
    CreativityAdministration.objects.filter(pk=finished.pk).update(status=CreativityAdministration.Status.COMPLETED)

    move(cast, course[("dosing", 2)], monday + 8 * DAY)

    assert set(
        CreativityAdministration.objects.filter(pk__in=[started.pk, finished.pk]).values_list("due_at", flat=True)
    ) == {tuesday_afternoon}


def test_moving_the_last_session_moves_the_end_of_course_questionnaires_and_tasks(cast, course, monday):
    last = course[("integration", 4)]
    new_start = last.starts_at + DAY
    move(cast, last, new_start)

    course_end = new_start + datetime.timedelta(minutes=90)
    assert {a.due_at for a in Assessment.objects.filter(occasion="end_of_course")} == {course_end}
    tasks = CreativityAdministration.objects.filter(occasion=Occasion.END_OF_COURSE, group=last.group)
    assert {t.due_at for t in tasks} == {course_end + DAY}
    assert tasks.count() == 6  # both tasks for each of the three patients, none added twice


def test_a_refused_move_re_dates_nothing(cast, course, monday):
    before = dates(occasion="pre_dosing_2")
    with pytest.raises(services.PlanRefused):
        move(cast, course[("dosing", 2)], monday + datetime.timedelta(hours=2))  # during dosing session 1
    assert dates(occasion="pre_dosing_2") == before
    assert not AuditEvent.objects.filter(object_type="assessment", action="update").exists()
