"""Course scheduling: place every session of a KAP course in a slot and a room, with its facilitators.

Pure Python: dataclasses in, a Plan out (no Django). The model is solved with OR-Tools CP-SAT.

Time: slots and bookings are timezone-aware datetimes. Hour-based rules (the integration window after a
dosing session) are computed in absolute time, so a night on which the clocks change counts as 23 or 25
hours; day-based rules (dosing spacing, the weekly cap, follow-up offsets, patients' away dates) count
calendar days in the clinic's time zone.

Infeasible requests: each family of hard constraints is switched on by an assumption literal. When CP-SAT
proves the request infeasible, it returns a set of assumptions that suffices for infeasibility; that set is
shrunk by deletion (drop one, re-solve, keep it out if still infeasible) to a small core, and each member is
reported in plain words, e.g. "patient P-17 is away 2027-01-04..2027-01-20".
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kapstone.program.course_templates import (
    DAYS_IN_A_WEEK,
    CourseTemplate,
    Finding,
    SessionKind,
    SessionTime,
    Severity,
    check_session_times,
)

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

# Objective weights. The hard rules come first; among plans that keep them, staff preferences and the clinical
# preference for integration 24-48 h after dosing matter most, keeping the typical dosing cadence next, and
# finishing earlier only breaks ties ("a little").
WEIGHT_INTEGRATION_OUTSIDE_PREFERRED_WINDOW = 30
WEIGHT_NOT_AT_PREFERRED_TIME = 10
WEIGHT_PER_DAY_OFF_TYPICAL_SPACING = 3
WEIGHT_PER_DAY_TO_COMPLETION = 1


class Role(enum.StrEnum):
    PRESCRIBER = "prescriber"
    THERAPIST = "therapist"


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date  # inclusive

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def __str__(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True)
class Slot:
    """A bookable block of clinic time; a session uses it from its start for the session's length."""

    id: str
    start: datetime  # timezone-aware
    duration_minutes: int

    def end_after(self, minutes: int) -> datetime:
        return add_minutes(self.start, minutes)

    @property
    def end(self) -> datetime:
        return self.end_after(self.duration_minutes)


@dataclass(frozen=True)
class Facilitator:
    """A member of staff. With neither availability field set, the facilitator is available at any time;
    otherwise only in the listed slots or on the listed dates."""

    id: str
    role: Role
    available_slot_ids: frozenset[str] | None = None
    available_dates: tuple[DateRange, ...] | None = None

    @property
    def is_restricted(self) -> bool:
        return self.available_slot_ids is not None or self.available_dates is not None


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int


@dataclass(frozen=True)
class Patient:
    id: str
    unavailable_dates: frozenset[date] = frozenset()
    # Days of the patient's dosing sessions in their other groups (one entry per session): they count towards the
    # practice's ceiling on doses in any 7 days, whichever group gives them.
    other_dosing_days: tuple[date, ...] = ()


@dataclass(frozen=True)
class PreferredTime:
    """A soft preference: sessions of these kinds should start between `start` and `end` (local time) on
    these weekdays (0 = Monday)."""

    start: time
    end: time
    weekdays: frozenset[int] = frozenset(range(7))
    kinds: frozenset[SessionKind] = frozenset(SessionKind)

    def matches(self, kind: SessionKind, local_start: datetime) -> bool:
        return (
            kind in self.kinds
            and local_start.weekday() in self.weekdays
            and self.start <= local_start.time() < self.end
        )


@dataclass(frozen=True)
class Booking:
    """Time a room or a facilitator already spends elsewhere (another group's session, leave, ...)."""

    resource_id: str
    start: datetime
    end: datetime
    label: str = ""


@dataclass(frozen=True)
class CourseRequest:
    template: CourseTemplate
    tz: ZoneInfo
    start_date: date
    horizon_days: int
    slots: Sequence[Slot]
    facilitators: Sequence[Facilitator]
    rooms: Sequence[Room]
    patients: Sequence[Patient]
    preferred_times: Sequence[PreferredTime] = ()
    facilitator_bookings: Sequence[Booking] = ()
    room_bookings: Sequence[Booking] = ()
    # A group meets at most once a day: two sessions back to back on one day is not a course.
    one_session_per_day: bool = True
    # The practice's ceiling on one patient's doses in any 7 days across all their groups (dosing setting
    # max_doses_per_7_days); None leaves only the template's own weekly cap.
    max_doses_per_7_days: int | None = None
    # Where staff change that ceiling, as messages name it (planning fills in the setting's label and who changes it).
    max_doses_named: str = "the practice's ceiling on doses in any 7 days"
    # Days the clinic is shut: no slot falls on them, and a hand-moved session landing on one is warned about.
    closed_dates: frozenset[date] = frozenset()

    @property
    def end_date(self) -> date:
        """The last day of the horizon."""
        return self.start_date + timedelta(days=self.horizon_days - 1)


@dataclass(frozen=True)
class SolverSettings:
    """How long and how the solver searches. `deterministic_time` bounds the search in CP-SAT's deterministic time
    (work done, not seconds elapsed), so with one worker the same request gives the same answer however loaded the
    machine is; the wall-clock limit then only guards against a runaway search. `max_time_in_seconds` counts from the
    start of schedule_course: loading OR-Tools, building the model and the greedy first plan spend it too (CP-SAT
    may run a presolve step past it, by a second or two on a busy machine)."""

    max_time_in_seconds: float = 10.0
    num_workers: int = 2
    random_seed: int = 5545
    deterministic_time: float | None = None


@dataclass(frozen=True)
class PlannedSession:
    kind: SessionKind
    index: int
    start: datetime
    end: datetime
    room_id: str
    facilitator_ids: tuple[str, ...]
    slot_id: str | None = None
    # Held by video: with no room (room_id ""), no room rule applies to it.
    by_video: bool = False

    def as_session_time(self) -> SessionTime:
        return SessionTime(self.kind, self.index, self.start, self.end)


def _day(day: date) -> str:
    """A day as the plan's table writes it: "Mon 19 Apr 2027"."""
    return f"{day:%a} {day.day} {day:%b %Y}"


@dataclass(frozen=True)
class FollowUpDue:
    """A follow-up whose window ends after the planning horizon: to be booked later."""

    index: int
    due: date
    earliest: date
    latest: date


@dataclass(frozen=True)
class Plan:
    sessions: tuple[PlannedSession, ...]
    objective: int
    optimal: bool
    warnings: tuple[str, ...]
    follow_ups_due: tuple[FollowUpDue, ...] = ()


@dataclass(frozen=True)
class BlockingConstraint:
    family: str
    message: str


class SchedulingError(Exception):
    """No plan could be produced."""


class CourseInfeasible(SchedulingError):
    """The request cannot be met; `blocking` names the constraints that together rule out every plan."""

    def __init__(self, blocking: Sequence[BlockingConstraint], preamble: str = "No plan fits"):
        self.blocking = tuple(blocking)
        super().__init__(f"{preamble}: " + "; ".join(b.message for b in self.blocking) + ".")

    @property
    def families(self) -> set[str]:
        return {b.family for b in self.blocking}


class SolverGaveUp(SchedulingError):
    """The solver found no plan within its time limit and could not prove that none exists."""


@dataclass(frozen=True)
class PlanCheck:
    violations: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


# Constraint families, as reported in BlockingConstraint.family.
FAMILY_GROUP_SIZE = "group_size"
FAMILY_SLOT_LENGTH = "slot_length"
FAMILY_HORIZON = "horizon"
FAMILY_PATIENT_AVAILABILITY = "patient_availability"
FAMILY_ROOM_CAPACITY = "room_capacity"
FAMILY_ROOM_BOOKINGS = "room_bookings"
FAMILY_FACILITATOR_AVAILABILITY = "facilitator_availability"
FAMILY_STAFFING = "staffing"
FAMILY_PRESCRIBER = "prescriber"
FAMILY_DOSING_SPACING = "dosing_spacing"
FAMILY_DOSING_WEEKLY_CAP = "dosing_weekly_cap"
FAMILY_INTEGRATION_OUTER_BOUND = "integration_outer_bound"
FAMILY_FOLLOW_UP_WINDOW = "follow_up_window"
FAMILY_DOSES_ACROSS_GROUPS = "doses_across_groups"


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared by the solver and the manual-edit check


def add_minutes(moment: datetime, minutes: int) -> datetime:
    """`moment` plus elapsed minutes, in moment's zone. Plain `+` on a zoneinfo datetime adds wall-clock time,
    which is wrong by an hour across a clock change."""
    return (moment.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(moment.tzinfo)


def slots_from_opening_hours(
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
    opening_hours: Mapping[int, Sequence[tuple[time, int]]],
    closed_dates: frozenset[date] = frozenset(),
) -> tuple[Slot, ...]:
    """Slots from weekly opening hours: weekday (0 = Monday) -> [(local start time, duration minutes)]."""
    slots = []
    day = first_day
    while day <= last_day:
        if day not in closed_dates:
            for start, minutes in opening_hours.get(day.weekday(), ()):
                slots.append(Slot(f"{day.isoformat()}T{start:%H%M}", datetime.combine(day, start, tz), minutes))
        day += timedelta(days=1)
    return tuple(slots)


def course_sequence(template: CourseTemplate) -> list[tuple[SessionKind, int]]:
    """Every session of a course in the order the group attends them."""
    integration_after = {dosing: i for i, dosing in enumerate(template.integration.after_dosing, start=1)}
    sequence = [(SessionKind.PREPARATION, i) for i in range(1, template.preparation.count + 1)]
    for dosing in range(1, template.dosing.count + 1):
        sequence.append((SessionKind.DOSING, dosing))
        if dosing in integration_after:
            sequence.append((SessionKind.INTEGRATION, integration_after[dosing]))
    tied = len(template.integration.after_dosing)
    sequence += [(SessionKind.INTEGRATION, tied + i) for i in range(1, template.integration.closing_count + 1)]
    sequence += [(SessionKind.FOLLOW_UP, i) for i in range(1, template.follow_ups.count + 1)]
    return sequence


def _overlaps(start: datetime, end: datetime, bookings: Sequence[Booking]) -> Booking | None:
    for booking in bookings:
        if start < booking.end and booking.start < end:
            return booking
    return None


def _declared_available(
    facilitator: Facilitator, start: datetime, end: datetime, tz: ZoneInfo, slots_by_id: Mapping[str, Slot]
) -> bool:
    if not facilitator.is_restricted:
        return True
    day = start.astimezone(tz).date()
    if any(day in dates for dates in facilitator.available_dates or ()):
        return True
    for slot_id in facilitator.available_slot_ids or ():
        slot = slots_by_id.get(slot_id)
        if slot is not None and slot.start <= start and end <= slot.end:
            return True
    return False


def _date_ranges(days: Sequence[date]) -> list[DateRange]:
    """Consecutive dates grouped into ranges: [1, 2, 3, 7] -> [1..3, 7]."""
    ranges: list[DateRange] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1].last + timedelta(days=1):
            ranges[-1] = DateRange(ranges[-1].first, day)
        else:
            ranges.append(DateRange(day, day))
    return ranges


def _kind_label(kind: SessionKind) -> str:
    return kind.value.replace("_", "-")


# ---------------------------------------------------------------------------------------------------------------
# The CP-SAT model


@dataclass(frozen=True)
class _SlotInfo:
    slot: Slot
    minute: int  # minutes from the start of the horizon, absolute time
    day: int  # calendar days from the start of the horizon, clinic time
    local_start: datetime


@dataclass
class _SessionVars:
    kind: SessionKind
    index: int
    duration: int
    candidates: list[int]
    x: dict[int, cp_model.IntVar]  # slot position -> is this session in that slot
    present: cp_model.IntVar | int  # 1, or a literal for follow-ups that may fall after the horizon
    start: cp_model.IntVar
    day: cp_model.IntVar
    rooms: dict[str, cp_model.IntVar]
    staff: dict[str, cp_model.IntVar]


@dataclass
class _Assumption:
    literal: cp_model.IntVar
    family: str
    message: str


_AssumptionMaker = Callable[[str, str], "cp_model.IntVar"]  # (family, message) -> literal that enables it


@dataclass
class _Built:
    model: cp_model.CpModel
    infos: list[_SlotInfo]
    sessions: list[_SessionVars]
    last_dosing: _SessionVars
    assumptions: list[_Assumption] = field(default_factory=list)
    _spans: dict[tuple[int, int], tuple[datetime, datetime]] = field(default_factory=dict)

    def span(self, j: int, minutes: int) -> tuple[datetime, datetime]:
        """The start and end of a session of `minutes` in slot j. Cached: every room and facilitator asks it of every
        slot of every session, and the time zone arithmetic was most of building the model."""
        if (j, minutes) not in self._spans:
            slot = self.infos[j].slot
            self._spans[(j, minutes)] = (slot.start, slot.end_after(minutes))
        return self._spans[(j, minutes)]


def _precheck(request: CourseRequest) -> None:
    """Rule out requests whose impossibility needs no solver, with the plainest message."""
    template = request.template
    size = len(request.patients)
    if not template.group.min_size <= size <= template.group.max_size:
        raise CourseInfeasible(
            [
                BlockingConstraint(
                    FAMILY_GROUP_SIZE,
                    f"template {template.id} runs groups of {template.group.min_size}-{template.group.max_size} "
                    f"patients; this group has {size}",
                )
            ]
        )
    if request.horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    for slot in request.slots:
        if slot.start.tzinfo is None:
            raise ValueError(f"slot {slot.id} has no time zone")
    usable = [
        s for s in request.slots if request.start_date <= s.start.astimezone(request.tz).date() <= request.end_date
    ]
    longest = max((s.duration_minutes for s in usable), default=0)
    blocking = []
    for kind in SessionKind:
        needed = template.duration_minutes(kind)
        if template.count(kind) and kind is not SessionKind.FOLLOW_UP and needed > longest:
            blocking.append(
                BlockingConstraint(
                    FAMILY_SLOT_LENGTH,
                    f"no slot in {request.start_date}..{request.end_date} is long enough for a {_kind_label(kind)} "
                    f"session ({needed} min; the longest slot is {longest} min)",
                )
            )
    if not request.rooms:
        blocking.append(BlockingConstraint(FAMILY_ROOM_CAPACITY, "no rooms were given"))
    if blocking:
        raise CourseInfeasible(blocking)


def _build(request: CourseRequest, diagnose: bool = False) -> _Built:
    """The CP-SAT model. To plan, every constraint family is on (its literal is the constant true), so CP-SAT
    may presolve fully and search in parallel; to diagnose, each family hangs on an assumption literal.
    """
    # deferred: heavy library (OR-Tools), loaded by the worker that first plans a course, not at start-up.
    from ortools.sat.python import cp_model

    template, tz = request.template, request.tz
    model = cp_model.CpModel()
    origin = datetime.combine(request.start_date, time(0), tz)
    infos = []
    for slot in sorted(request.slots, key=lambda s: s.start):
        local_start = slot.start.astimezone(tz)
        if request.start_date <= local_start.date() <= request.end_date:
            minute = int((slot.start.astimezone(UTC) - origin.astimezone(UTC)) / timedelta(minutes=1))
            infos.append(_SlotInfo(slot, minute, (local_start.date() - request.start_date).days, local_start))
    max_minute = (request.horizon_days + 1) * 24 * 60
    last_day = request.horizon_days - 1

    sessions: list[_SessionVars] = []
    for kind, index in course_sequence(template):
        duration = template.duration_minutes(kind)
        name = f"{kind.value}{index}"
        candidates = [j for j, info in enumerate(infos) if info.slot.duration_minutes >= duration]
        x = {j: model.new_bool_var(f"{name}@{infos[j].slot.id}") for j in candidates}
        present: cp_model.IntVar | int = model.new_bool_var(f"{name}:booked") if kind is SessionKind.FOLLOW_UP else 1
        model.add(sum(x.values()) == present)
        start = model.new_int_var(0, max_minute, f"{name}:start")
        day = model.new_int_var(0, last_day, f"{name}:day")
        model.add(start == sum(infos[j].minute * var for j, var in x.items()))
        model.add(day == sum(infos[j].day * var for j, var in x.items()))
        rooms = {room.id: model.new_bool_var(f"{name}:room:{room.id}") for room in request.rooms}
        model.add(sum(rooms.values()) == present)
        staff = {}
        if template.staffing(kind).facilitators:
            staff = {f.id: model.new_bool_var(f"{name}:staff:{f.id}") for f in request.facilitators}
            for var in staff.values():
                model.add(var <= present)
        sessions.append(_SessionVars(kind, index, duration, candidates, x, present, start, day, rooms, staff))

    by_key = {(s.kind, s.index): s for s in sessions}
    dosings = [by_key[(SessionKind.DOSING, k)] for k in range(1, template.dosing.count + 1)]
    built = _Built(model, infos, sessions, dosings[-1])

    def assumption(family: str, message: str) -> cp_model.IntVar:
        if not diagnose:
            return model.new_constant(1)
        literal = model.new_bool_var(f"assume:{family}:{len(built.assumptions)}")
        built.assumptions.append(_Assumption(literal, family, message))
        return literal

    # Session order: the group attends one session at a time, in course order (structural, never relaxed).
    for earlier, later in zip(sessions, sessions[1:], strict=False):
        gap_days = 1 if request.one_session_per_day else 0
        if isinstance(later.present, int):
            model.add(later.start >= earlier.start + earlier.duration)
            model.add(later.day >= earlier.day + gap_days)
        else:
            model.add(later.start >= earlier.start + earlier.duration).only_enforce_if(later.present)
            model.add(later.day >= earlier.day + gap_days).only_enforce_if(later.present)
            if not isinstance(earlier.present, int):
                model.add_implication(later.present, earlier.present)

    _add_course_rules(request, built, by_key, dosings, assumption)
    _add_resource_rules(request, built, assumption)
    if not diagnose:
        _add_objective(request, built, by_key, dosings)
    return built


def _add_course_rules(
    request: CourseRequest,
    built: _Built,
    by_key: Mapping[tuple[SessionKind, int], _SessionVars],
    dosings: Sequence[_SessionVars],
    assumption: _AssumptionMaker,
) -> None:
    template, model = request.template, built.model
    rule = template.dosing
    spacing = assumption(
        FAMILY_DOSING_SPACING,
        f"consecutive dosing sessions must be {rule.min_days_between}-{rule.max_days_between} days apart",
    )
    for first, second in zip(dosings, dosings[1:], strict=False):
        model.add(second.day - first.day >= rule.min_days_between).only_enforce_if(spacing)
        model.add(second.day - first.day <= rule.max_days_between).only_enforce_if(spacing)
    cap, whose = rule.max_per_week, "the course template"
    if request.max_doses_per_7_days is not None and request.max_doses_per_7_days < cap:
        cap, whose = request.max_doses_per_7_days, "the practice"
    if len(dosings) > cap:
        weekly = assumption(
            FAMILY_DOSING_WEEKLY_CAP, f"no more than {cap} dosing sessions in any 7 days ({whose}'s ceiling)"
        )
        for first, last in zip(dosings, dosings[cap:], strict=False):
            model.add(last.day - first.day >= DAYS_IN_A_WEEK).only_enforce_if(weekly)
    _add_doses_across_groups(request, built, dosings, assumption)

    integration = template.integration
    outer = assumption(
        FAMILY_INTEGRATION_OUTER_BOUND,
        f"each integration session must start within {integration.outer_bound_hours} h after its dosing session ends",
    )
    for index in range(1, len(integration.after_dosing) + 1):
        session = by_key[(SessionKind.INTEGRATION, index)]
        dosing = dosings[integration.after_dosing[index - 1] - 1]
        model.add(session.start - dosing.start - dosing.duration <= integration.outer_bound_hours * 60).only_enforce_if(
            outer
        )

    follow = template.follow_ups
    if follow.count:
        window = assumption(
            FAMILY_FOLLOW_UP_WINDOW,
            f"follow-ups must fall within {follow.window_days} days of "
            f"{', '.join(str(o) for o in follow.offsets_days)} days after the last dosing session",
        )
        last_day = request.horizon_days - 1
        for index, offset in enumerate(follow.offsets_days, start=1):
            session = by_key[(SessionKind.FOLLOW_UP, index)]
            # Booked now exactly when its whole window lies inside the horizon; otherwise it is due later.
            latest_last_dosing = last_day - offset - follow.window_days
            model.add(built.last_dosing.day <= latest_last_dosing).only_enforce_if(session.present)
            model.add(built.last_dosing.day > latest_last_dosing).only_enforce_if(~session.present)
            gap = session.day - built.last_dosing.day
            model.add(gap >= offset - follow.window_days).only_enforce_if([session.present, window])
            model.add(gap <= offset + follow.window_days).only_enforce_if([session.present, window])


def _add_doses_across_groups(
    request: CourseRequest, built: _Built, dosings: Sequence[_SessionVars], assumption: _AssumptionMaker
) -> None:
    """A patient's doses in any 7 calendar days, this group's and their other groups' together, stay within the
    practice's ceiling. Only windows that hold one of the patient's other dosing days are constrained: the rest
    hold this group's doses alone, which the weekly cap above keeps."""
    ceiling = request.max_doses_per_7_days
    if ceiling is None:
        return
    own_by_day: dict[int, list[cp_model.IntVar]] = {}
    for session in dosings:
        for j, var in session.x.items():
            own_by_day.setdefault(built.infos[j].day, []).append(var)
    for patient in request.patients:
        if not patient.other_dosing_days:
            continue
        offsets = [(day - request.start_date).days for day in patient.other_dosing_days]
        dates = ", ".join(sorted({day.isoformat() for day in patient.other_dosing_days}))
        literal = assumption(
            FAMILY_DOSES_ACROSS_GROUPS,
            f"patient {patient.id} has dosing sessions in another group on {dates}: at most {ceiling} doses in any "
            f"7 days across all their groups ({request.max_doses_named})",
        )
        window_starts = {offset - back for offset in offsets for back in range(DAYS_IN_A_WEEK)}
        for start in sorted(window_starts):
            elsewhere = sum(1 for offset in offsets if start <= offset < start + DAYS_IN_A_WEEK)
            own = [var for day in range(start, start + DAYS_IN_A_WEEK) for var in own_by_day.get(day, ())]
            built.model.add(sum(own) + elsewhere <= ceiling).only_enforce_if(literal)


def _add_resource_rules(request: CourseRequest, built: _Built, assumption: _AssumptionMaker) -> None:
    template, model, infos, tz = request.template, built.model, built.infos, request.tz
    slots_by_id = {slot.id: slot for slot in request.slots}
    group_size = len(request.patients)

    for patient in request.patients:
        days = [d for d in patient.unavailable_dates if request.start_date <= d <= request.end_date]
        for away in _date_ranges(days):
            blocked = [
                var for session in built.sessions for j, var in session.x.items() if infos[j].local_start.date() in away
            ]
            if blocked:
                literal = assumption(FAMILY_PATIENT_AVAILABILITY, f"patient {patient.id} is away {away}")
                model.add(sum(blocked) == 0).only_enforce_if(literal)

    small = [room for room in request.rooms if room.capacity < group_size]
    if small:
        holds = ", ".join(f"{room.id} holds {room.capacity}" for room in small)
        everyone = "no room is large enough" if len(small) == len(request.rooms) else "some rooms are too small"
        literal = assumption(
            FAMILY_ROOM_CAPACITY, f"the room must hold the whole group of {group_size} ({everyone}: {holds})"
        )
        model.add(sum(s.rooms[room.id] for s in built.sessions for room in small) == 0).only_enforce_if(literal)

    for room in request.rooms:
        room_bookings = [b for b in request.room_bookings if b.resource_id == room.id]

        def room_free(session: _SessionVars, j: int, bookings: list[Booking] = room_bookings) -> bool:
            return _overlaps(*built.span(j, session.duration), bookings) is None

        def room_var(session: _SessionVars, room_id: str = room.id) -> cp_model.IntVar | None:
            return session.rooms[room_id]

        _gate_by_free_slots(
            built,
            assumption,
            FAMILY_ROOM_BOOKINGS,
            f"room {room.id} is booked by others at the usable times ({len(room_bookings)} booking(s))",
            room_free,
            room_var,
        )

    for facilitator in request.facilitators:
        bookings = [b for b in request.facilitator_bookings if b.resource_id == facilitator.id]

        def staff_var(session: _SessionVars, facilitator_id: str = facilitator.id) -> cp_model.IntVar | None:
            return session.staff.get(facilitator_id)

        def usable(
            session: _SessionVars, j: int, facilitator: Facilitator = facilitator, bookings: list[Booking] = bookings
        ) -> bool:
            start, end = built.span(j, session.duration)
            return (
                _declared_available(facilitator, start, end, tz, slots_by_id)
                and _overlaps(start, end, bookings) is None
            )

        _gate_by_free_slots(
            built,
            assumption,
            FAMILY_FACILITATOR_AVAILABILITY,
            _describe_availability(facilitator, bookings),
            usable,
            staff_var,
        )

    prescribers = [f for f in request.facilitators if f.role is Role.PRESCRIBER]
    for kind in SessionKind:
        staffing = template.staffing(kind)
        kind_sessions = [s for s in built.sessions if s.kind is kind]
        if not kind_sessions or not staffing.facilitators:
            continue
        count = assumption(
            FAMILY_STAFFING,
            f"each {_kind_label(kind)} session needs {staffing.facilitators} facilitator(s) "
            f"(the team has {len(request.facilitators)})",
        )
        for session in kind_sessions:
            model.add(sum(session.staff.values()) == staffing.facilitators * session.present).only_enforce_if(count)
        if staffing.min_prescribers:
            named = ", ".join(f.id for f in prescribers) or "none"
            literal = assumption(
                FAMILY_PRESCRIBER,
                f"each {_kind_label(kind)} session needs at least {staffing.min_prescribers} prescriber(s) among "
                f"its facilitators (prescribers on the team: {named})",
            )
            for session in kind_sessions:
                model.add(
                    sum(session.staff[f.id] for f in prescribers) >= staffing.min_prescribers * session.present
                ).only_enforce_if(literal)


def _gate_by_free_slots(
    built: _Built,
    assumption: _AssumptionMaker,
    family: str,
    message: str,
    usable: Callable[[_SessionVars, int], bool],
    resource_var: Callable[[_SessionVars], cp_model.IntVar | None],
) -> None:
    """One assumption per resource: the resource may serve a session only in a slot where it is free."""
    literal = None
    for session in built.sessions:
        var = resource_var(session)
        if var is None:
            continue
        free = [j for j in session.candidates if usable(session, j)]
        if len(free) == len(session.candidates):
            continue
        if literal is None:
            literal = assumption(family, message)
        built.model.add(var <= sum(session.x[j] for j in free)).only_enforce_if(literal)


def _describe_availability(facilitator: Facilitator, bookings: Sequence[Booking]) -> str:
    parts = []
    if facilitator.is_restricted:
        dates = ", ".join(str(r) for r in facilitator.available_dates or ())
        slot_count = len(facilitator.available_slot_ids or ())
        offered = [p for p in (dates and f"on {dates}", slot_count and f"in {slot_count} listed slot(s)") if p]
        parts.append("is available only " + " and ".join(offered) if offered else "has no available time")
    if bookings:
        parts.append(f"is booked elsewhere ({len(bookings)} booking(s))")
    return f"facilitator {facilitator.id} ({facilitator.role.value}) " + " and ".join(parts)


def _add_objective(
    request: CourseRequest,
    built: _Built,
    by_key: Mapping[tuple[SessionKind, int], _SessionVars],
    dosings: Sequence[_SessionVars],
) -> None:
    template, model, infos = request.template, built.model, built.infos
    terms = []
    for session in built.sessions:
        preferences = [p for p in request.preferred_times if session.kind in p.kinds]
        if preferences:
            terms += [
                WEIGHT_NOT_AT_PREFERRED_TIME * var
                for j, var in session.x.items()
                if not any(p.matches(session.kind, infos[j].local_start) for p in preferences)
            ]

    earliest, latest = template.integration.preferred_window_hours
    for index in range(1, len(template.integration.after_dosing) + 1):
        session = by_key[(SessionKind.INTEGRATION, index)]
        dosing = dosings[template.integration.after_dosing[index - 1] - 1]
        in_window = model.new_bool_var(f"integration{index}:in_preferred_window")
        gap = session.start - dosing.start - dosing.duration
        model.add(gap >= earliest * 60).only_enforce_if(in_window)
        model.add(gap <= latest * 60).only_enforce_if(in_window)
        terms.append(WEIGHT_INTEGRATION_OUTSIDE_PREFERRED_WINDOW * (1 - in_window))

    typical = template.dosing.typical_days_between
    if typical is not None:
        for first, second in zip(dosings, dosings[1:], strict=False):
            off = model.new_int_var(0, request.horizon_days, f"dosing{second.index}:days_off_typical")
            model.add_abs_equality(off, second.day - first.day - typical)
            terms.append(WEIGHT_PER_DAY_OFF_TYPICAL_SPACING * off)

    last_treatment = [s for s in built.sessions if s.kind is not SessionKind.FOLLOW_UP][-1]
    terms.append(WEIGHT_PER_DAY_TO_COMPLETION * last_treatment.day)
    model.minimize(sum(terms))


# ---------------------------------------------------------------------------------------------------------------
# A first plan, found without search: on a busy machine CP-SAT's presolve alone can outlast the time limit, and the
# staff who pressed "Plan the course" should still get a plan that keeps every rule.


# How many placements the greedy walk tries, backing up included, before leaving the plan to the search: each costs
# well under a millisecond, so the walk never takes more than a moment of the planner's time limit.
GREEDY_STEPS = 2000


@dataclass(frozen=True)
class _Placed:
    session: _SessionVars
    slot: int  # position in built.infos
    room_id: str
    facilitator_ids: tuple[str, ...]


def _greedy(request: CourseRequest, built: _Built) -> list[_Placed] | None:
    """The course placed session by session, each in the earliest slot that keeps the hard rules given the sessions
    before it, preferring the objective's integration window, typical dosing cadence and preferred start times when
    some slot allows them.
    When a session has no slot left (a dosing session whose integration session would fall on an away date), the walk
    backs up and moves the sessions before it, up to GREEDY_STEPS tries in all. None when it finds no plan in them."""
    template, infos, tz = request.template, built.infos, request.tz
    slots_by_id = {slot.id: slot for slot in request.slots}
    away = frozenset[date]().union(*(p.unavailable_dates for p in request.patients))
    rooms = [room for room in request.rooms if room.capacity >= len(request.patients)]
    room_bookings = {r.id: [b for b in request.room_bookings if b.resource_id == r.id] for r in rooms}
    staff_bookings = {
        f.id: [b for b in request.facilitator_bookings if b.resource_id == f.id] for f in request.facilitators
    }
    cap = template.dosing.max_per_week
    if request.max_doses_per_7_days is not None:
        cap = min(cap, request.max_doses_per_7_days)
    elsewhere = [[(day - request.start_date).days for day in p.other_dosing_days] for p in request.patients]
    integration, follow = template.integration, template.follow_ups
    gap_days = 1 if request.one_session_per_day else 0
    chosen: list[_Placed | None] = []  # one per session so far; None for a follow-up left for later

    def dosing_allowed(day: int, dosing_days: list[int]) -> bool:
        if dosing_days and not (
            template.dosing.min_days_between <= day - dosing_days[-1] <= template.dosing.max_days_between
        ):
            return False
        if len(dosing_days) >= cap and day - dosing_days[-cap] < DAYS_IN_A_WEEK:
            return False
        ceiling = request.max_doses_per_7_days
        own = [*dosing_days, day]
        return ceiling is None or all(
            sum(first <= d < first + DAYS_IN_A_WEEK for d in own + other) <= ceiling
            for other in elsewhere
            if other
            for first in range(day - DAYS_IN_A_WEEK + 1, day + 1)
        )

    def resources(session: _SessionVars, j: int) -> tuple[str, tuple[str, ...]] | None:
        start, end = built.span(j, session.duration)
        room = next((r.id for r in rooms if _overlaps(start, end, room_bookings[r.id]) is None), None)
        staffing = template.staffing(session.kind)
        free = [
            f
            for f in request.facilitators
            if _declared_available(f, start, end, tz, slots_by_id)
            and _overlaps(start, end, staff_bookings[f.id]) is None
        ]
        staff = [f for f in free if f.role is Role.PRESCRIBER][: staffing.min_prescribers]
        staff += [f for f in free if f not in staff][: staffing.facilitators - len(staff)]
        if room is None or len(staff) < staffing.facilitators or len(staff) < staffing.min_prescribers:
            return None
        return room, tuple(sorted(f.id for f in staff))

    def options(session: _SessionVars) -> Iterator[_Placed | None]:
        """Where the session may go after the sessions chosen so far, best first."""
        placed = [p for p in chosen if p is not None]
        dosings = [p for p in placed if p.session.kind is SessionKind.DOSING]
        dosing_days = [infos[p.slot].day for p in dosings]
        # Tests on a slot, most preferred first; the last is the session's own hard timing rule.
        wishes: list[Callable[[int], bool]] = [lambda j: True]
        if session.kind is SessionKind.FOLLOW_UP:
            due = dosing_days[-1] + follow.offsets_days[session.index - 1]
            if due + follow.window_days > request.horizon_days - 1:
                # Booked now exactly when its whole window lies inside the horizon, as the model requires.
                yield None
                return
            wishes = [lambda j: abs(infos[j].day - due) <= follow.window_days]
        elif session.kind is SessionKind.DOSING and dosing_days and template.dosing.typical_days_between:
            typical = dosing_days[-1] + template.dosing.typical_days_between
            wishes = [lambda j: infos[j].day >= typical, lambda j: True]
        elif session.kind is SessionKind.INTEGRATION and session.index <= len(integration.after_dosing):
            dosing = dosings[integration.after_dosing[session.index - 1] - 1]
            ended = infos[dosing.slot].minute + dosing.session.duration
            earliest, latest = (hours * 60 for hours in integration.preferred_window_hours)
            outer = integration.outer_bound_hours * 60
            wishes = [
                lambda j: earliest <= infos[j].minute - ended <= latest,
                lambda j: infos[j].minute - ended <= outer,
            ]
        preferences = [p for p in request.preferred_times if session.kind in p.kinds]
        if preferences:
            best = wishes[0]
            wishes.insert(
                0, lambda j: best(j) and any(p.matches(session.kind, infos[j].local_start) for p in preferences)
            )
        before = placed[-1] if placed else None
        usable = [
            j
            for j in session.candidates
            if (
                before is None
                or infos[j].day >= infos[before.slot].day + gap_days
                and infos[j].minute >= infos[before.slot].minute + before.session.duration
            )
            and infos[j].local_start.date() not in away
            and (session.kind is not SessionKind.DOSING or dosing_allowed(infos[j].day, dosing_days))
        ]
        tried: set[int] = set()
        for wish in wishes:
            for j in usable:
                if j not in tried and wish(j) and wishes[-1](j):
                    tried.add(j)
                    found = resources(session, j)
                    if found is not None:
                        yield _Placed(session, j, *found)

    walks: list[Iterator[_Placed | None]] = []
    for _ in range(GREEDY_STEPS):
        if len(chosen) == len(built.sessions):
            return [p for p in chosen if p is not None]
        if len(walks) == len(chosen):
            walks.append(options(built.sessions[len(chosen)]))
        try:
            chosen.append(next(walks[-1]))
        except StopIteration:
            walks.pop()
            if not chosen:
                return None
            chosen.pop()
    return None


def _hinted_plan(request: CourseRequest, built: _Built, settings: SolverSettings) -> Plan | None:
    """The greedy walk's plan, checked twice before it is offered: by validate_plan, as a hand-edited plan is, and by
    CP-SAT with every choice fixed to it, so it keeps each rule of the model too. It stays on the model as the
    search's hint. None, and no hint, when the walk gets stuck or a check refuses its plan."""
    from ortools.sat.python import cp_model  # deferred: heavy library

    placed = _greedy(request, built)
    if placed is None:
        return None
    if not validate_plan(
        request, [_planned(request, built.infos[p.slot], p.session, p.room_id, p.facilitator_ids) for p in placed]
    ).ok:
        return None
    by_session = {(p.session.kind, p.session.index): p for p in placed}
    for session in built.sessions:
        chosen = by_session.get((session.kind, session.index))
        for j, var in session.x.items():
            built.model.add_hint(var, chosen is not None and j == chosen.slot)
        if not isinstance(session.present, int):
            built.model.add_hint(session.present, chosen is not None)
        for room_id, var in session.rooms.items():
            built.model.add_hint(var, chosen is not None and room_id == chosen.room_id)
        for facilitator_id, var in session.staff.items():
            built.model.add_hint(var, chosen is not None and facilitator_id in chosen.facilitator_ids)
    solver = _solver(settings)
    solver.parameters.fix_variables_to_their_hinted_value = True
    if solver.solve(built.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        built.model.proto.clear_solution_hint()
        return None
    return _plan(request, built, solver, optimal=False)


# ---------------------------------------------------------------------------------------------------------------
# Solving


def _solver(settings: SolverSettings, diagnose: bool = False) -> cp_model.CpSolver:
    from ortools.sat.python import cp_model  # deferred: heavy library

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = settings.max_time_in_seconds
    if settings.deterministic_time is not None:
        solver.parameters.max_deterministic_time = settings.deterministic_time
    solver.parameters.random_seed = settings.random_seed
    if diagnose:
        # Assumptions run single-threaded anyway, and presolve would blur which assumptions were used; a
        # diagnosis only asks "is there any plan?", so the first solution ends it.
        solver.parameters.num_workers = 1
        solver.parameters.cp_model_presolve = False
        solver.parameters.stop_after_first_solution = True
    else:
        solver.parameters.num_workers = settings.num_workers
    return solver


def schedule_course(request: CourseRequest, settings: SolverSettings | None = None) -> Plan:
    """Plan every session of the course; raise CourseInfeasible naming what blocks it, or SolverGaveUp.

    A greedy plan comes first (see _hinted_plan); the search then starts from it and has what is left of the time
    limit to improve it. When the search ends without a plan of its own (on a busy machine CP-SAT's presolve alone
    can take the whole limit), the greedy plan is the answer, marked as not proven best."""
    # The clock starts before OR-Tools is imported: the first plan in a process loads it, which takes seconds on a
    # busy machine, and the staff waiting count those seconds too.
    started = monotonic()
    from ortools.sat.python import cp_model  # deferred: heavy library

    settings = settings or SolverSettings()
    _precheck(request)
    built = _build(request)
    first = _hinted_plan(request, built, settings)
    left = settings.max_time_in_seconds - (monotonic() - started)
    if first is not None and left <= 0:
        return first
    solver = _solver(replace(settings, max_time_in_seconds=max(left, 0.0)))
    status = solver.solve(built.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (first is None or solver.objective_value <= first.objective):
        return _plan(request, built, solver, optimal=status == cp_model.OPTIMAL)
    if first is not None:
        return first
    if status == cp_model.INFEASIBLE:
        raise _explain(request, settings)
    # Read by the staff who pressed "Plan the course": the solver's own terms ("offer fewer slots") named nothing
    # they could do, and on a busy server the same course is often planned at the next try.
    raise SolverGaveUp(
        f"No plan was found within the planner's time limit ({settings.max_time_in_seconds:g} s) and nothing was "
        "booked. This does not mean no plan exists: try again, as the planner gets less done on a busy server."
    )


def _core_under(
    built: _Built, assumptions: Sequence[_Assumption], settings: SolverSettings
) -> list[_Assumption] | None:
    """The assumptions CP-SAT used to prove infeasibility, or None if a plan exists (or none was proved)."""
    from ortools.sat.python import cp_model  # deferred: heavy library

    built.model.clear_assumptions()
    built.model.add_assumptions([a.literal for a in assumptions])
    solver = _solver(settings, diagnose=True)
    if solver.solve(built.model) != cp_model.INFEASIBLE:
        return None
    used = set(solver.sufficient_assumptions_for_infeasibility())
    return [a for a in assumptions if a.literal.index in used]


def _explain(request: CourseRequest, settings: SolverSettings) -> CourseInfeasible:
    """Find a small set of constraint families that together rule out every plan.

    CP-SAT runs assumptions single-threaded and may answer with all of them as the "sufficient" set, so the
    set is shrunk by deletion: drop one family and re-solve; if still infeasible, it was not needed. A family
    whose removal gives no answer within the time limit is kept (reported rather than hidden).
    """
    built = _build(request, diagnose=True)
    core = _core_under(built, built.assumptions, settings)
    if core is None:
        raise SolverGaveUp("the planning model is infeasible but the diagnosis could not show why")
    position = 0
    while position < len(core):
        smaller = _core_under(built, core[:position] + core[position + 1 :], settings)
        if smaller is None:
            position += 1
        else:
            core = smaller
    window = f"{request.start_date}..{request.end_date}"
    if not core:
        return CourseInfeasible(
            [
                BlockingConstraint(
                    FAMILY_HORIZON,
                    f"the {len(course_sequence(request.template))} sessions of template {request.template.id} do "
                    f"not fit, in order, into the {len(built.infos)} slots of {window}",
                )
            ],
            preamble="No plan fits",
        )
    return CourseInfeasible(
        [BlockingConstraint(a.family, a.message) for a in core],
        preamble=f"No plan fits in {window}, because together",
    )


def _planned(
    request: CourseRequest, info: _SlotInfo, session: _SessionVars, room_id: str, facilitator_ids: tuple[str, ...]
) -> PlannedSession:
    start = info.slot.start.astimezone(request.tz)
    return PlannedSession(
        kind=session.kind,
        index=session.index,
        start=start,
        end=add_minutes(start, session.duration),
        room_id=room_id,
        facilitator_ids=facilitator_ids,
        slot_id=info.slot.id,
    )


def _plan(request: CourseRequest, built: _Built, solver: cp_model.CpSolver, optimal: bool) -> Plan:
    template, infos = request.template, built.infos
    planned = []
    for session in built.sessions:
        chosen = [j for j, var in session.x.items() if solver.boolean_value(var)]
        if not chosen:
            continue
        room_id = next(r for r, var in session.rooms.items() if solver.boolean_value(var))
        staff = tuple(sorted(f for f, var in session.staff.items() if solver.boolean_value(var)))
        planned.append(_planned(request, infos[chosen[0]], session, room_id, staff))
    last_dosing_day = request.start_date + timedelta(days=solver.value(built.last_dosing.day))
    booked = {s.index for s in planned if s.kind is SessionKind.FOLLOW_UP}
    due = tuple(
        FollowUpDue(
            index=index,
            due=last_dosing_day + timedelta(days=offset),
            earliest=last_dosing_day + timedelta(days=offset - template.follow_ups.window_days),
            latest=last_dosing_day + timedelta(days=offset + template.follow_ups.window_days),
        )
        for index, offset in enumerate(template.follow_ups.offsets_days, start=1)
        if index not in booked
    )
    findings = check_session_times(
        template, [s.as_session_time() for s in planned], request.tz, allow_unbooked_follow_ups=True
    )
    warnings = [f.message for f in findings]
    warnings += [
        f"follow-up session {d.index} is due about {_day(d.due)} (between {_day(d.earliest)} and {_day(d.latest)}), "
        "after the planning horizon: book it later"
        for d in due
    ]
    if not optimal:
        warnings.append("the solver stopped at its time limit: this plan keeps every rule but may not be the best")
    return Plan(tuple(planned), int(solver.objective_value), optimal, tuple(warnings), due)


# ---------------------------------------------------------------------------------------------------------------
# Checking a plan that staff edited by hand


def _doses_across_groups_findings(request: CourseRequest, sessions: Sequence[PlannedSession]) -> list[Finding]:
    """A violation for each patient with more doses than the practice allows in some 7 days, counting this plan's
    dosing sessions and the patient's other groups' (the group alone stands in when it has no patients yet)."""
    ceiling = request.max_doses_per_7_days
    if ceiling is None:
        return []
    dosing = sorted((s for s in sessions if s.kind is SessionKind.DOSING), key=lambda s: s.start)
    own_days = [(s.start.astimezone(request.tz).date(), s) for s in dosing]
    findings = []
    for patient in request.patients or [Patient("the group")]:
        days = sorted([day for day, _ in own_days] + list(patient.other_dosing_days))
        for first in sorted(set(days)):
            window = [day for day in days if first <= day < first + timedelta(days=DAYS_IN_A_WEEK)]
            if len(window) <= ceiling:
                continue
            involved = tuple(
                (s.kind, s.index) for day, s in own_days if first <= day < first + timedelta(days=DAYS_IN_A_WEEK)
            )
            if not involved:
                continue
            elsewhere = len(window) - len(involved)
            others = f", {elsewhere} of them in another group" if elsewhere else ""
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "doses_across_groups",
                    f"patient {patient.id} would have {len(window)} doses in the 7 days from {first}{others}; the "
                    f"practice allows at most {ceiling} ({request.max_doses_named})",
                    involved,
                )
            )
            break
    return findings


def room_violations(request: CourseRequest, session: PlannedSession) -> list[Finding]:
    """The room rules for one session: a room of the practice (a session held by video may have none), large
    enough for the group, and not booked by another group then."""
    label = f"{_kind_label(session.kind)} session {session.index}"
    found = []

    def violation(code: str, message: str) -> None:
        found.append(Finding(Severity.VIOLATION, code, message, ((session.kind, session.index),)))

    room = next((room for room in request.rooms if room.id == session.room_id), None)
    group_size = len(request.patients)
    if room is None and not (session.by_video and not session.room_id):
        violation("unknown_room", f"{label}: room {session.room_id} is not one of the practice's rooms")
    elif room is not None and room.capacity < group_size:
        violation("room_too_small", f"{label}: room {room.id} holds {room.capacity}, the group is {group_size}")
    room_bookings = [b for b in request.room_bookings if b.resource_id == session.room_id]
    clash = _overlaps(session.start, session.end, room_bookings)
    if clash is not None:
        violation("room_double_booked", f"{label}: room {session.room_id} is booked ({clash.label or 'other'})")
    return found


def validate_plan(request: CourseRequest, sessions: Sequence[PlannedSession]) -> PlanCheck:
    """Check a (possibly hand-edited) plan against the scheduler's hard rules.

    The timing rules come from check_session_times; integration beyond the outer bound is a warning there, as
    [integration-timing-convention] calls 72 h the outer bound (a warning): the scheduler never proposes it, staff
    may choose it.
    """
    template, tz = request.template, request.tz
    findings = list(
        check_session_times(template, [s.as_session_time() for s in sessions], tz, allow_unbooked_follow_ups=True)
    )
    facilitators = {f.id: f for f in request.facilitators}
    slots_by_id = {slot.id: slot for slot in request.slots}

    def violation(code: str, message: str, session: PlannedSession) -> None:
        findings.append(Finding(Severity.VIOLATION, code, message, ((session.kind, session.index),)))

    for session in sessions:
        label = f"{_kind_label(session.kind)} session {session.index}"
        findings += room_violations(request, session)

        staffing = template.staffing(session.kind)
        if len(set(session.facilitator_ids)) != staffing.facilitators:
            violation(
                "staffing_count",
                f"{label} has {len(set(session.facilitator_ids))} facilitator(s); it needs {staffing.facilitators}",
                session,
            )
        known = [facilitators[f] for f in session.facilitator_ids if f in facilitators]
        for unknown in sorted(set(session.facilitator_ids) - set(facilitators)):
            violation("unknown_facilitator", f"{label}: {unknown} is not a facilitator of the practice", session)
        if sum(f.role is Role.PRESCRIBER for f in known) < staffing.min_prescribers:
            violation("prescriber_missing", f"{label} needs at least {staffing.min_prescribers} prescriber(s)", session)
        for facilitator in known:
            if not _declared_available(facilitator, session.start, session.end, tz, slots_by_id):
                violation("facilitator_unavailable", f"{label}: {facilitator.id} is not available then", session)
            bookings = [b for b in request.facilitator_bookings if b.resource_id == facilitator.id]
            clash = _overlaps(session.start, session.end, bookings)
            if clash is not None:
                violation(
                    "facilitator_double_booked",
                    f"{label}: {facilitator.id} is booked ({clash.label or 'other'})",
                    session,
                )

        day = session.start.astimezone(tz).date()
        if day in request.closed_dates:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "clinic_closed",
                    f"{label} falls on {day}, a day the practice is closed (the opening hours' closed dates)",
                    ((session.kind, session.index),),
                )
            )
        for patient in request.patients:
            if day in patient.unavailable_dates:
                violation("patient_unavailable", f"{label}: patient {patient.id} is away on {day}", session)

    findings += _doses_across_groups_findings(request, sessions)

    if request.one_session_per_day:
        days: dict[date, list[PlannedSession]] = {}
        for session in sessions:
            days.setdefault(session.start.astimezone(tz).date(), []).append(session)
        for day, same_day in sorted(days.items()):
            if len(same_day) > 1:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "several_sessions_one_day",
                        f"{len(same_day)} sessions of the group fall on {day}",
                        tuple((s.kind, s.index) for s in same_day),
                    )
                )

    return PlanCheck(
        violations=tuple(f for f in findings if f.severity is Severity.VIOLATION),
        warnings=tuple(f for f in findings if f.severity is Severity.WARNING),
    )
