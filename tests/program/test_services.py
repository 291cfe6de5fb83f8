import datetime

import pytest
from django.utils import timezone

from kapstone.creativity import services as creativity_services
from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.measures import services as measures_services
from kapstone.measures.models import Assessment
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import planning, scheduling, services
from kapstone.program.models import Enrolment, Group, GroupSession, Room, Unavailability
from kapstone.program.practice_settings import check_opening_hours
from tests.conftest import make_patient

KAP_PROGRAMME = "group-kap-programme"


@pytest.fixture
def gate_open(monkeypatch):
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])


@pytest.fixture
def gate_closed(monkeypatch):
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: ["screening decision is needs review"])


@pytest.fixture
def group(cast):
    Room.objects.create(name="Cedar room", capacity=4)
    # A Monday at least a week ahead, so the course is planned over the same weekdays whichever day the tests run.
    week_ahead = timezone.localdate() + datetime.timedelta(days=7)
    start = week_ahead + datetime.timedelta(days=-week_ahead.weekday() % 7)
    return services.group_create(
        actor=cast.admin,
        name="Spring group",
        template_id=KAP_PROGRAMME,
        start_date=start,
        facilitators=[cast.bob, cast.therapist],
    )


@pytest.fixture
def members(cast, group, gate_open):
    team = [cast.bob, cast.therapist, cast.nurse]
    patients = [cast.alice, *(make_patient(f"Member{n}", "Spring", team=team) for n in range(2))]
    for patient in patients:
        services.enrol(actor=cast.bob, group=group, patient=patient)
    return patients


def test_a_group_takes_its_sizes_and_version_from_the_template(group):
    assert (group.template_id, group.template_version, group.min_size, group.max_size) == (KAP_PROGRAMME, 1, 3, 4)
    assert group.status == Group.Status.FORMING


def test_a_group_without_a_prescriber_among_its_facilitators_is_refused(cast):
    with pytest.raises(services.GroupRefused, match="at least 1 of them a prescriber"):
        services.group_create(
            actor=cast.admin,
            name="No prescriber",
            template_id=KAP_PROGRAMME,
            start_date=datetime.date(2030, 1, 7),
            facilitators=[cast.therapist, cast.nurse],
        )


def test_an_unknown_template_is_refused(cast):
    with pytest.raises(services.GroupRefused, match="no course template"):
        services.group_create(
            actor=cast.admin, name="X", template_id="nope", start_date=datetime.date(2030, 1, 7), facilitators=[]
        )


def test_a_patient_who_has_not_passed_the_gate_is_refused_with_the_gates_reasons(cast, group, gate_closed):
    with pytest.raises(services.EnrolmentRefused, match="cannot join yet: screening decision is needs review"):
        services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert not Enrolment.objects.exists()


def test_a_fifth_patient_is_refused_or_waitlisted_when_asked(cast, group, members):
    fourth = make_patient("Fourth", "Spring", team=[cast.bob])
    services.enrol(actor=cast.bob, group=group, patient=fourth)
    fifth = make_patient("Fifth", "Spring", team=[cast.bob])
    with pytest.raises(services.EnrolmentRefused, match="is full \\(4 of 4\\)"):
        services.enrol(actor=cast.bob, group=group, patient=fifth)
    waiting = services.enrol(actor=cast.bob, group=group, patient=fifth, waitlist_if_full=True)
    assert waiting.status == Enrolment.Status.WAITLISTED


def test_a_withdrawal_frees_a_seat_for_the_waitlist(cast, group, members):
    waiting = services.waitlist(actor=cast.bob, group=group, patient=cast.dana, reason="next cohort")
    assert waiting.status == Enrolment.Status.WAITLISTED
    services.withdraw(actor=cast.bob, enrolment=group.enrolments.get(patient=cast.alice), reason="moved away")
    assert services.enrol(actor=cast.bob, group=group, patient=cast.dana).status == Enrolment.Status.ENROLLED


def test_an_enrolled_patient_cannot_be_put_on_the_waitlist(cast, group, members):
    with pytest.raises(services.EnrolmentRefused, match="already in"):
        services.waitlist(actor=cast.bob, group=group, patient=cast.alice, reason="x")


def test_the_planning_request_comes_from_rooms_staff_away_dates_and_other_groups(cast, group, members):
    away_day = group.start_date + datetime.timedelta(days=3)
    Unavailability.objects.create(patient=cast.alice, first_day=away_day, last_day=away_day)
    Unavailability.objects.create(staff=cast.therapist, first_day=away_day, last_day=away_day)
    other = cast.dosing_session()
    other.starts_at = timezone.make_aware(datetime.datetime.combine(group.start_date, datetime.time(9)))
    other.ends_at = other.starts_at + datetime.timedelta(hours=3)
    other.save()

    request = planning.planning_context(group=group).request

    assert request.start_date == group.start_date
    assert {f.id: f.role for f in request.facilitators} == {
        "bob": scheduling.Role.PRESCRIBER,
        "theo": scheduling.Role.THERAPIST,
    }
    assert {r.id for r in request.rooms} == {"Cedar room", "Willow room"}
    alice = next(p for p in request.patients if p.id == cast.alice.record_number)
    assert alice.unavailable_dates == {away_day}
    assert {(b.resource_id, b.label) for b in request.facilitator_bookings} == {
        ("theo", "away"),
        ("bob", "Tuesday group dosing 1"),
        ("theo", "Tuesday group dosing 1"),
    }
    assert [b.resource_id for b in request.room_bookings] == ["Willow room"]
    # Weekdays 09:00-17:00 by default, a start every hour.
    first_day_slots = [s for s in request.slots if s.start.date() == group.start_date]
    if group.start_date.weekday() < 5:
        assert [s.start.hour for s in first_day_slots] == list(range(9, 17))


def test_a_planned_course_is_saved_with_integration_linked_to_its_dosing_session(cast, group, members):
    plan = planning.plan_course(group=group)
    services.plan_save(actor=cast.bob, group=group, sessions=plan.sessions)

    sessions = list(group.sessions.all())
    assert len(sessions) == len(plan.sessions)
    for session in sessions:
        if session.kind == GroupSession.Kind.INTEGRATION and session.number <= 3:
            assert session.follows_dosing.number == session.number
        if session.kind == GroupSession.Kind.DOSING:
            assert {f.username for f in session.facilitators.all()} == {"bob", "theo"}
    group.refresh_from_db()
    assert group.status == Group.Status.ACTIVE
    with pytest.raises(services.PlanRefused, match="already has sessions"):
        planning.plan_course(group=group)


def test_a_course_for_two_patients_names_the_group_size_as_what_blocks_it(cast, group, gate_open):
    for patient in (cast.alice, make_patient("Solo", "Spring", team=[cast.bob])):
        services.enrol(actor=cast.bob, group=group, patient=patient)
    with pytest.raises(scheduling.CourseInfeasible, match="runs groups of 3-4 patients; this group has 2"):
        planning.plan_course(group=group)


def test_a_saved_plan_is_checked_again_against_away_dates_recorded_since(cast, group, members):
    plan = planning.plan_course(group=group)
    first_dosing = next(s for s in plan.sessions if s.kind == "dosing")
    day = first_dosing.start.date()
    services.unavailability_record(actor=cast.bob, patient=cast.alice, first_day=day, last_day=day)
    with pytest.raises(services.PlanRefused, match="is away on"):
        services.plan_save(actor=cast.bob, group=group, sessions=plan.sessions)
    assert not group.sessions.exists()


@pytest.mark.parametrize("status", [Group.Status.CANCELLED, Group.Status.COMPLETED])
def test_a_cancelled_or_completed_group_is_not_planned(cast, group, members, status):
    plan = planning.plan_course(group=group)
    Group.objects.filter(pk=group.pk).update(status=status)
    with pytest.raises(services.PlanRefused, match="it is not planned"):
        services.plan_save(actor=cast.bob, group=group, sessions=plan.sessions)
    assert not group.sessions.exists()


@pytest.fixture
def planned(cast, group, members):
    plan = planning.plan_course(group=group)
    services.plan_save(actor=cast.bob, group=group, sessions=plan.sessions)
    return {(s.kind, s.number): s for s in group.sessions.all()}


def scheduled_work(patient) -> tuple[set, set]:
    """(occasion, instrument) of the patient's questionnaires and (occasion, task) of their creativity tasks."""
    return (
        set(Assessment.objects.filter(patient=patient).values_list("occasion", "instrument_id")),
        set(CreativityAdministration.objects.filter(patient=patient).values_list("occasion", "task")),
    )


def test_booking_the_plan_puts_due_every_patients_questionnaires_and_creativity_tasks(cast, group, members, planned):
    for patient in members:
        questionnaires, tasks = scheduled_work(patient)
        assert ("baseline", "phq9") in questionnaires
        assert {("baseline", Task.AUT), ("baseline", Task.DAT)} <= tasks
    assert set(Assessment.objects.values_list("group_id", flat=True)) == {group.pk}
    # Both schedulers were run to completion: running them again finds nothing missing.
    assert measures_services.assessments_schedule_for_group(actor=cast.bob, group=group) == 0
    assert creativity_services.administrations_schedule_for_group(actor=cast.bob, group=group) == 0


def test_a_patient_joining_a_booked_group_gets_what_the_others_have_and_they_get_nothing_twice(
    cast, group, members, planned
):
    before = Assessment.objects.count(), CreativityAdministration.objects.count()
    newcomer = make_patient("Newcomer", "Spring", team=[cast.bob])
    services.enrol(actor=cast.bob, group=group, patient=newcomer)
    theirs, alices = scheduled_work(newcomer), scheduled_work(cast.alice)
    assert theirs == alices and theirs[0] and theirs[1]
    assert (Assessment.objects.count(), CreativityAdministration.objects.count()) == (
        before[0] + len(theirs[0]),
        before[1] + len(theirs[1]),
    )


def test_a_patient_waitlisted_for_a_booked_group_gets_nothing_scheduled(cast, group, members, planned):
    services.enrol(actor=cast.bob, group=group, patient=make_patient("Fourth", "Spring", team=[cast.bob]))
    fifth = make_patient("Fifth", "Spring", team=[cast.bob])
    assert services.enrol(actor=cast.bob, group=group, patient=fifth, waitlist_if_full=True).status == "waitlisted"
    assert scheduled_work(fifth) == (set(), set())


def test_enrolling_in_a_group_not_yet_planned_schedules_nothing(group, members):
    assert not Assessment.objects.exists()
    assert not CreativityAdministration.objects.exists()


def test_the_planner_prefers_opening_time_unless_the_practice_sets_its_own_start(cast, group):
    assert planning.planning_context(group=group).request.preferred_times == [
        scheduling.PreferredTime(start=datetime.time(9), end=datetime.time(10))
    ]
    for value, expected in (
        ({"opens": "08:00", "start_every_minutes": 30}, [(datetime.time(8), datetime.time(8, 30))]),
        ({"preferred_start": "13:00"}, [(datetime.time(13), datetime.time(14))]),
    ):
        practice_value_set(actor=cast.admin, key=planning.OPENING_HOURS_KEY, value=value, reason="our hours")
        preferred = planning.planning_context(group=group).request.preferred_times
        assert [(p.start, p.end) for p in preferred] == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"preferred_start": "18:00"}, "preferred_start must fall between opens and closes"),
        ({"opens": "10:00", "preferred_start": "09:00"}, "preferred_start must fall between opens and closes"),
        ({"preferred_start": "nine"}, 'preferred_start must be a time such as "09:00"'),
    ],
)
def test_a_preferred_start_outside_the_opening_hours_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        check_opening_hours(value)


@pytest.mark.parametrize(
    ("closed", "message"),
    [
        ("2026-12-25", "closed_dates must be a list"),
        (["25/12/2026"], "'25/12/2026' is not a day"),
        ([20261225], "20261225 is not a day"),
        (["2026-12-26..2026-12-24"], "ends before it starts"),
        (["2026-01-01..2027-06-30"], "longer than a year"),
    ],
)
def test_closed_dates_that_are_not_days_or_ranges_in_order_are_refused(closed, message):
    with pytest.raises(ValueError, match=message):
        check_opening_hours({"closed_dates": closed})


def test_the_planner_proposes_nothing_on_a_day_the_practice_is_closed(cast, group, members):
    tz = planning.clinic_tz()
    open_plan = planning.plan_course(group=group)
    first_dosing_day = min(s.start for s in open_plan.sessions if s.kind.value == "dosing").astimezone(tz).date()
    week_after = first_dosing_day + datetime.timedelta(days=7)
    practice_value_set(
        actor=cast.admin,
        key=planning.OPENING_HOURS_KEY,
        value={"closed_dates": [first_dosing_day.isoformat(), f"{week_after}..{week_after + datetime.timedelta(1)}"]},
        reason="holidays",
    )
    days = {session.start.astimezone(tz).date() for session in planning.plan_course(group=group).sessions}
    assert not days & {first_dosing_day, week_after, week_after + datetime.timedelta(days=1)}


def test_a_session_moved_onto_a_closed_day_is_saved_with_a_warning(cast, planned):
    integration = planned[("integration", 1)]
    closed_day = integration.starts_at.astimezone(planning.clinic_tz()).date()
    practice_value_set(
        actor=cast.admin, key=planning.OPENING_HOURS_KEY, value={"closed_dates": [str(closed_day)]}, reason="holiday"
    )
    warnings = services.session_move(
        actor=cast.bob,
        session=integration,
        starts_at=integration.starts_at,
        room=integration.room,
        facilitators=[cast.bob, cast.therapist],
    )
    assert f"integration session 1 falls on {closed_day}, a day the practice is closed" in " ".join(warnings)


def test_the_plan_lands_on_the_preferred_start_when_it_can(cast, group, members):
    practice_value_set(
        actor=cast.admin, key=planning.OPENING_HOURS_KEY, value={"preferred_start": "11:00"}, reason="late mornings"
    )
    plan = planning.plan_course(group=group)
    starts = {session.start.astimezone(planning.clinic_tz()).time() for session in plan.sessions}
    assert starts == {datetime.time(11)}
    assert not [warning for warning in plan.warnings if "preferred window" in warning]


def test_moving_a_dosing_session_next_to_another_is_refused(cast, planned):
    second = planned[("dosing", 2)]
    first = planned[("dosing", 1)]
    with pytest.raises(services.PlanRefused) as refusal:
        services.session_move(
            actor=cast.bob,
            session=second,
            starts_at=first.starts_at + datetime.timedelta(hours=4),
            room=second.room,
            facilitators=[cast.bob, cast.therapist],
        )
    assert any("must end before" in p or "overlap" in p or "minimum" in p for p in refusal.value.problems)
    second.refresh_from_db()
    assert second.starts_at != first.starts_at + datetime.timedelta(hours=4)


def test_a_dosing_session_without_a_prescriber_is_refused(cast, planned):
    session = planned[("dosing", 1)]
    with pytest.raises(services.PlanRefused, match="needs at least 1 prescriber"):
        services.session_move(
            actor=cast.bob,
            session=session,
            starts_at=session.starts_at,
            room=session.room,
            facilitators=[cast.therapist, cast.nurse],
        )


def test_each_move_raises_the_sessions_calendar_sequence(cast, planned):
    session = planned[("dosing", 1)]
    for _ in range(2):
        services.session_move(
            actor=cast.bob,
            session=session,
            starts_at=session.starts_at,
            room=session.room,
            facilitators=[cast.bob, cast.therapist],
        )
    session.refresh_from_db()
    assert session.calendar_sequence == 2


def test_moving_an_integration_session_late_is_saved_with_a_warning(cast, planned):
    integration = planned[("integration", 1)]
    dosing = planned[("dosing", 1)]
    later = dosing.ends_at + datetime.timedelta(hours=60)
    # The plan is the same on every run (one solver worker, a deterministic limit: settings_test) and from every
    # day (the group starts on a Monday), and it leaves the days after the window free before dosing session 2.
    assert planned[("dosing", 2)].starts_at > later + datetime.timedelta(hours=2)
    warnings = services.session_move(
        actor=cast.bob,
        session=integration,
        starts_at=later,
        room=integration.room,
        facilitators=[cast.bob, cast.therapist],
    )
    assert any("outside the preferred window" in w for w in warnings)
    integration.refresh_from_db()
    assert integration.starts_at == later
    assert integration.ends_at == later + datetime.timedelta(minutes=90)


def test_a_feed_token_is_stored_hashed_and_a_new_one_revokes_the_old(cast):
    first = services.feed_token_issue(user=cast.bob)
    assert cast.bob.calendar_feed.token_hash != first
    assert services.feed_owner(token=first) == cast.bob
    second = services.feed_token_issue(user=cast.bob)
    assert services.feed_owner(token=first) is None
    assert services.feed_owner(token=second) == cast.bob
    services.feed_token_revoke(user=cast.bob)
    assert services.feed_owner(token=second) is None
