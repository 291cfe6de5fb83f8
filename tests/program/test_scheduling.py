from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from kapstone.program.course_templates import DAYS_IN_A_WEEK, SessionKind, Severity
from kapstone.program.scheduling import (
    FAMILY_DOSING_SPACING,
    FAMILY_DOSING_WEEKLY_CAP,
    FAMILY_FACILITATOR_AVAILABILITY,
    FAMILY_GROUP_SIZE,
    FAMILY_INTEGRATION_OUTER_BOUND,
    FAMILY_PATIENT_AVAILABILITY,
    FAMILY_PRESCRIBER,
    FAMILY_ROOM_CAPACITY,
    FAMILY_SLOT_LENGTH,
    Booking,
    CourseInfeasible,
    DateRange,
    Facilitator,
    Patient,
    PreferredTime,
    Role,
    Room,
    Slot,
    course_sequence,
    schedule_course,
    validate_plan,
)

from .conftest import NEW_YORK, PLANNED, QUICK, TO_OPTIMUM, days, make_request, make_template

START = date(2026, 1, 5)  # a Monday
HORIZON = 90


def at(year, month, day, hour, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def busy_clinic_request(template):
    """A realistic 3-month request: limited staff, another group's bookings, patients with away dates."""
    return make_request(
        template,
        START,
        HORIZON,
        facilitators=[
            Facilitator("PR-1", Role.PRESCRIBER, available_dates=(DateRange(START, START + timedelta(days=20)),)),
            Facilitator(
                "PR-2", Role.PRESCRIBER, available_dates=(DateRange(START + timedelta(days=14), date(2026, 4, 30)),)
            ),
            Facilitator("TH-1", Role.THERAPIST),
            Facilitator("TH-2", Role.THERAPIST),
        ],
        rooms=[Room("R-SMALL", 3), Room("R-GROUP", 5)],
        room_bookings=[Booking("R-GROUP", at(2026, 1, 6, 9), at(2026, 1, 6, 17), "other group")],
        facilitator_bookings=[Booking("TH-1", at(2026, 1, 5, 0), at(2026, 1, 17, 0), "leave")],
        patients=[
            Patient("P-1", days(date(2026, 1, 19), 5)),
            Patient("P-2", frozenset({date(2026, 1, 9), date(2026, 2, 13)})),
            Patient("P-3"),
            Patient("P-4", days(date(2026, 2, 2), 3)),
        ],
        preferred_times=[PreferredTime(time(9), time(12))],
    )


@pytest.fixture(scope="module")
def planned(templates):
    """The group programme planned once for the module (the solver is the slow part)."""
    request = busy_clinic_request(templates["group-kap-programme"])
    return request, schedule_course(request, TO_OPTIMUM)


def assert_every_hard_rule_holds(request, plan):
    """Re-check the plan's hard rules from the raw inputs, without the scheduler's own helpers."""
    template, tz = request.template, request.tz
    sessions = {(s.kind, s.index): s for s in plan.sessions}
    slots = {slot.id: slot for slot in request.slots}
    rooms = {room.id: room for room in request.rooms}
    staff = {f.id: f for f in request.facilitators}

    booked_treatment = [key for key in course_sequence(template) if key[0] is not SessionKind.FOLLOW_UP]
    assert set(booked_treatment) <= set(sessions)

    ordered = [sessions[key] for key in course_sequence(template) if key in sessions]
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        assert earlier.end <= later.start, (earlier, later)
        assert earlier.start.astimezone(tz).date() < later.start.astimezone(tz).date()

    for s in plan.sessions:
        slot = slots[s.slot_id]
        assert s.start == slot.start and s.end <= slot.end
        assert (s.end.astimezone(UTC) - s.start.astimezone(UTC)) == timedelta(minutes=template.duration_minutes(s.kind))
        local_day = s.start.astimezone(tz).date()
        assert request.start_date <= local_day <= request.end_date
        assert rooms[s.room_id].capacity >= len(request.patients)
        for booking in request.room_bookings:
            if booking.resource_id == s.room_id:
                assert s.end <= booking.start or booking.end <= s.start
        staffing = template.staffing(s.kind)
        assert len(set(s.facilitator_ids)) == staffing.facilitators
        assert sum(staff[f].role is Role.PRESCRIBER for f in s.facilitator_ids) >= staffing.min_prescribers
        for f in s.facilitator_ids:
            ranges = staff[f].available_dates
            assert ranges is None or any(r.first <= local_day <= r.last for r in ranges)
            for booking in request.facilitator_bookings:
                if booking.resource_id == f:
                    assert s.end <= booking.start or booking.end <= s.start
        for patient in request.patients:
            assert local_day not in patient.unavailable_dates

    dosings = [sessions[(SessionKind.DOSING, k)] for k in range(1, template.dosing.count + 1)]
    dosing_days = [d.start.astimezone(tz).date() for d in dosings]
    for first, second in zip(dosing_days, dosing_days[1:], strict=False):
        assert template.dosing.min_days_between <= (second - first).days <= template.dosing.max_days_between
    for day in range((request.end_date - request.start_date).days + 1):
        window_start = request.start_date + timedelta(days=day)
        in_window = [d for d in dosing_days if window_start <= d < window_start + timedelta(days=DAYS_IN_A_WEEK)]
        assert len(in_window) <= template.dosing.max_per_week

    for index, anchor in enumerate(template.integration.after_dosing, start=1):
        integration, dosing = sessions[(SessionKind.INTEGRATION, index)], dosings[anchor - 1]
        hours = (integration.start.astimezone(UTC) - dosing.end.astimezone(UTC)) / timedelta(hours=1)
        assert 0 <= hours <= template.integration.outer_bound_hours
        if anchor < len(dosings):
            assert integration.end <= dosings[anchor].start
    for prep in range(1, template.preparation.count + 1):
        assert sessions[(SessionKind.PREPARATION, prep)].end <= dosings[0].start


def test_it_plans_a_four_patient_group_over_three_months_keeping_every_hard_rule(planned):
    request, plan = planned
    assert_every_hard_rule_holds(request, plan)
    assert validate_plan(request, plan.sessions).ok


def test_it_leaves_follow_ups_beyond_the_horizon_to_be_booked_later(planned):
    request, plan = planned
    booked = [s for s in plan.sessions if s.kind is SessionKind.FOLLOW_UP]
    assert [s.index for s in booked] == [1]
    assert [due.index for due in plan.follow_ups_due] == [2, 3]
    assert any("follow-up session 2 is due" in warning for warning in plan.warnings)
    # Days as the plan's table writes them, not "2027-04-19 (2027-04-12..2027-04-26)".
    second = plan.follow_ups_due[0]
    expected = f"is due about {second.due:%a} {second.due.day} {second.due:%b %Y} (between {second.earliest:%a} "
    assert any(expected in warning for warning in plan.warnings)


def test_it_prefers_integration_within_24_to_48_hours_and_the_preferred_times(planned):
    request, plan = planned
    assert plan.optimal
    assert not any("preferred window" in warning for warning in plan.warnings)
    sessions = {(s.kind, s.index): s for s in plan.sessions}
    for index in range(1, 4):
        dosing, integration = sessions[(SessionKind.DOSING, index)], sessions[(SessionKind.INTEGRATION, index)]
        assert 24 <= (integration.start - dosing.end) / timedelta(hours=1) <= 48
    # Integration 24-48 h after a dosing session that ends at 12:30 cannot start at 9:00 next morning, so the
    # solver may trade one preferred time for the clinical window; it trades no more than it needs.
    assert sum(s.start.astimezone(NEW_YORK).hour != 9 for s in plan.sessions) <= 1


@pytest.mark.parametrize("template_id", ["journey-clinical-style", "field-trip-style"])
def test_it_plans_the_other_default_templates_within_three_months(templates, template_id):
    request = busy_clinic_request(templates[template_id])
    plan = schedule_course(request, PLANNED)
    assert_every_hard_rule_holds(request, plan)


def test_it_keeps_the_typical_two_week_cadence_when_the_template_has_one(templates):
    request = make_request(templates["journey-clinical-style"], START, HORIZON)
    plan = schedule_course(request, TO_OPTIMUM)
    assert plan.optimal
    dosing_days = [s.start.date() for s in plan.sessions if s.kind is SessionKind.DOSING]
    assert {(b - a).days for a, b in zip(dosing_days, dosing_days[1:], strict=False)} == {14}


def test_it_never_doses_more_than_twice_in_any_seven_days():
    # Nothing pulls the dosing sessions apart but the weekly cap: earlier completion pulls them together.
    template = make_template(dosing={"count": 5}, integration={"after_dosing": []})
    plan = schedule_course(make_request(template, START, 35), QUICK)
    dosing_days = [s.start.date() for s in plan.sessions if s.kind is SessionKind.DOSING]
    assert all((dosing_days[k + 2] - dosing_days[k]).days >= 7 for k in range(len(dosing_days) - 2))
    assert (dosing_days[2] - dosing_days[0]).days == 7


def test_it_books_a_prescriber_only_in_the_slots_they_offer(templates):
    offered = frozenset({"2026-01-13T1400", "2026-01-15T1400", "2026-01-20T1400"})
    request = make_request(
        templates["group-kap-programme"],
        START,
        28,
        facilitators=[
            Facilitator("PR-1", Role.PRESCRIBER, available_slot_ids=offered),
            Facilitator("TH-1", Role.THERAPIST),
            Facilitator("TH-2", Role.THERAPIST),
        ],
    )
    plan = schedule_course(request, QUICK)
    dosings = [s for s in plan.sessions if s.kind is SessionKind.DOSING]
    assert {s.slot_id for s in dosings} == offered
    assert all("PR-1" in s.facilitator_ids for s in dosings)
    assert_every_hard_rule_holds(request, plan)


class TestInfeasibleRequests:
    def test_it_names_the_missing_prescriber(self, templates):
        request = make_request(
            templates["group-kap-programme"],
            START,
            28,
            facilitators=[
                Facilitator("PR-1", Role.PRESCRIBER, available_dates=()),
                Facilitator("TH-1", Role.THERAPIST),
                Facilitator("TH-2", Role.THERAPIST),
            ],
        )
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_PRESCRIBER, FAMILY_FACILITATOR_AVAILABILITY}
        assert "at least 1 prescriber" in str(error.value)
        assert "facilitator PR-1 (prescriber) has no available time" in str(error.value)

    def test_it_names_a_team_without_any_prescriber(self, templates):
        request = make_request(
            templates["group-kap-programme"],
            START,
            28,
            facilitators=[Facilitator("TH-1", Role.THERAPIST), Facilitator("TH-2", Role.THERAPIST)],
        )
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_PRESCRIBER}
        assert "prescribers on the team: none" in str(error.value)

    def test_it_names_the_patient_who_is_away_for_the_whole_window(self, templates):
        patients = [Patient("P-1"), Patient("P-2"), Patient("P-3"), Patient("P-17", days(START, 28))]
        request = make_request(templates["group-kap-programme"], START, 28, patients=patients)
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_PATIENT_AVAILABILITY}
        assert "patient P-17 is away 2026-01-05..2026-02-01" in str(error.value)

    def test_it_names_the_room_that_is_too_small(self, templates):
        request = make_request(templates["group-kap-programme"], START, 28, rooms=[Room("R-1", 3)])
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_ROOM_CAPACITY}
        assert "the room must hold the whole group of 4" in str(error.value)
        assert "R-1 holds 3" in str(error.value)

    def test_it_names_the_spacing_that_a_patients_absence_breaks(self):
        # Three dosing sessions at most 10 days apart and at most two a week, and a patient away for 19 days:
        # the course fits before the absence only by breaking the weekly cap, and across it only by breaking
        # the spacing.
        template = make_template(dosing={"count": 3, "max_days_between": 10}, integration={"after_dosing": []})
        patients = [
            Patient("P-1"),
            Patient("P-2"),
            Patient("P-3"),
            Patient("P-17", days(date(2026, 1, 12), 19)),
        ]
        request = make_request(template, START, 35, patients=patients)
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_DOSING_SPACING, FAMILY_DOSING_WEEKLY_CAP, FAMILY_PATIENT_AVAILABILITY}
        message = str(error.value)
        assert "consecutive dosing sessions must be 1-10 days apart" in message
        assert "no more than 2 dosing sessions in any 7 days" in message
        assert "patient P-17 is away 2026-01-12..2026-01-30" in message

    def test_it_refuses_a_group_larger_than_the_template_allows(self, templates):
        patients = [Patient(f"P-{n}") for n in range(5)]
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(make_request(templates["group-kap-programme"], START, 28, patients=patients), PLANNED)
        assert error.value.families == {FAMILY_GROUP_SIZE}

    def test_it_refuses_slots_too_short_for_a_dosing_session(self, templates):
        slots = [Slot(f"s{n}", at(2026, 1, 5 + n, 9), 120) for n in range(20)]
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(make_request(templates["group-kap-programme"], START, 28, slots=slots), PLANNED)
        assert error.value.families == {FAMILY_SLOT_LENGTH}
        assert "dosing session (210 min; the longest slot is 120 min)" in str(error.value)


class TestDaylightSavingTime:
    """Clocks fall back in New York on Sunday 2025-11-02: Saturday to Monday is 49 hours, not 48."""

    def dst_request(self, integration_starts, preferred=()):
        template = make_template()
        dosing_slot = Slot("sat-dosing", at(2025, 11, 1, 10), 240)  # ends 13:30 EDT = 17:30 UTC
        integration_slots = [Slot(f"int-{t:%a-%H%M}", t, 60) for t in integration_starts]
        return make_request(
            template,
            date(2025, 11, 1),
            5,
            slots=[dosing_slot, *integration_slots],
            preferred_times=preferred,
        )

    def test_it_counts_integration_hours_in_absolute_time_across_the_clock_change(self):
        # Monday 12:00 EST is 47.5 h after the dosing ends; Monday 13:00 EST is 48.5 h, though on the wall
        # clock it looks like 47.5 h. The 13:00 start is preferred by staff, but the clinical window wins.
        request = self.dst_request(
            [at(2025, 11, 3, 12), at(2025, 11, 3, 13)], preferred=[PreferredTime(time(13), time(14))]
        )
        plan = schedule_course(request, QUICK)
        integration = next(s for s in plan.sessions if s.kind is SessionKind.INTEGRATION)
        assert integration.start == at(2025, 11, 3, 12)
        assert integration.start.utcoffset() == timedelta(hours=-5)
        assert plan.warnings == ()

    def test_it_applies_the_72_hour_outer_bound_in_absolute_time(self):
        # Tuesday 13:00 EST is 72.5 h after the dosing ends (71.5 h by the wall clock): out of bounds.
        request = self.dst_request([at(2025, 11, 4, 13)])
        with pytest.raises(CourseInfeasible) as error:
            schedule_course(request, QUICK)
        assert error.value.families == {FAMILY_INTEGRATION_OUTER_BOUND}
        allowed = self.dst_request([at(2025, 11, 4, 12)])  # 71.5 h
        plan = schedule_course(allowed, QUICK)
        assert "outside the preferred window" in " ".join(plan.warnings)

    def test_it_writes_session_ends_in_absolute_time(self):
        plan = schedule_course(self.dst_request([at(2025, 11, 3, 12)]), QUICK)
        dosing = next(s for s in plan.sessions if s.kind is SessionKind.DOSING)
        assert dosing.end - dosing.start == timedelta(minutes=210)
        assert dosing.end == at(2025, 11, 1, 13, 30)


class TestManualEdits:
    def moved(self, plan, kind, index, **changes):
        return tuple(replace(s, **changes) if (s.kind, s.index) == (kind, index) else s for s in plan.sessions)

    def test_it_accepts_the_plan_as_scheduled(self, planned):
        request, plan = planned
        check = validate_plan(request, plan.sessions)
        assert check.violations == ()

    def test_it_flags_a_dosing_session_moved_to_a_day_a_patient_is_away(self, planned):
        request, plan = planned
        dosing = next(s for s in plan.sessions if (s.kind, s.index) == (SessionKind.DOSING, 2))
        away_day = date(2026, 2, 13)  # P-2 is away
        shift = timedelta(days=(away_day - dosing.start.date()).days)
        sessions = self.moved(plan, SessionKind.DOSING, 2, start=dosing.start + shift, end=dosing.end + shift)
        check = validate_plan(request, sessions)
        assert "patient_unavailable" in {f.code for f in check.violations}
        assert any("patient P-2 is away on 2026-02-13" in f.message for f in check.violations)

    def test_it_flags_a_dosing_session_without_a_prescriber(self, planned):
        request, plan = planned
        sessions = self.moved(plan, SessionKind.DOSING, 1, facilitator_ids=("TH-1", "TH-2"))
        codes = {f.code for f in validate_plan(request, sessions).violations}
        assert "prescriber_missing" in codes

    def test_it_flags_a_room_too_small_and_a_room_already_booked(self, planned):
        request, plan = planned
        small = self.moved(plan, SessionKind.DOSING, 1, room_id="R-SMALL")
        assert "room_too_small" in {f.code for f in validate_plan(request, small).violations}
        prep = next(s for s in plan.sessions if s.kind is SessionKind.PREPARATION)
        clash = self.moved(
            plan, SessionKind.PREPARATION, prep.index, start=at(2026, 1, 6, 9), end=at(2026, 1, 6, 10, 30)
        )
        assert "room_double_booked" in {f.code for f in validate_plan(request, clash).violations}

    def test_it_flags_a_facilitator_on_leave(self, planned):
        request, plan = planned
        first = plan.sessions[0]
        sessions = self.moved(plan, first.kind, first.index, facilitator_ids=("PR-1", "TH-1"))
        assert "facilitator_double_booked" in {f.code for f in validate_plan(request, sessions).violations}

    def test_it_warns_but_allows_integration_moved_beyond_72_hours(self, planned):
        request, plan = planned
        integration = next(s for s in plan.sessions if (s.kind, s.index) == (SessionKind.INTEGRATION, 3))
        dosing = next(s for s in plan.sessions if (s.kind, s.index) == (SessionKind.DOSING, 3))
        start = dosing.end + timedelta(hours=80)
        sessions = self.moved(
            plan, SessionKind.INTEGRATION, 3, start=start, end=start + (integration.end - integration.start)
        )
        check = validate_plan(request, sessions)
        assert "integration_outside_outer_bound" in {f.code for f in check.warnings}
        assert all(f.severity is Severity.VIOLATION for f in check.violations)
        assert "integration_outside_outer_bound" not in {f.code for f in check.violations}

    def test_it_flags_dosing_sessions_moved_too_close_together(self, planned):
        request, plan = planned
        first = next(s for s in plan.sessions if (s.kind, s.index) == (SessionKind.DOSING, 1))
        second = next(s for s in plan.sessions if (s.kind, s.index) == (SessionKind.DOSING, 2))
        shift = first.start + timedelta(hours=2) - second.start
        sessions = self.moved(plan, SessionKind.DOSING, 2, start=second.start + shift, end=second.end + shift)
        codes = {f.code for f in validate_plan(request, sessions).violations}
        assert {"sessions_overlap", "dosing_spacing_too_short"} <= codes
