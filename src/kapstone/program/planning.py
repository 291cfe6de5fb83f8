"""Planning a course from the database, read-only: the clinic's opening hours, the scheduling request built from
the group, its patients, staff, rooms and away dates, running the planner, and checking a plan against the hard
rules. kapstone.program.services saves what is planned here."""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.patients.models import Patient
from kapstone.practice.authority import setting_named_for_staff
from kapstone.practice.registry import setting_spec
from kapstone.practice.settings_store import practice_value
from kapstone.program import course_templates, scheduling
from kapstone.program.course_templates import SessionKind
from kapstone.program.models import Enrolment, Group, GroupSession, Room, Unavailability


class PlanRefused(ValueError):
    """A plan or a change to it breaks a hard rule; `problems` lists each in plain words."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


# Clinic opening hours are operational, not clinical: no source sets them. The default is plain office hours;
# a practice sets its own under the practice setting OPENING_HOURS_KEY, in the same shape. `preferred_start`
# ("HH:MM"; null means opening time) is when a group's sessions should start, a soft preference for the
# scheduler. `closed_dates` lists the days the clinic is shut (holidays, a week's closure): each entry a day
# "YYYY-MM-DD" or an inclusive range "YYYY-MM-DD..YYYY-MM-DD". The planner proposes nothing on them and a session
# moved onto one is saved with a warning (a practice may open on a holiday for a course that needs it). Meeting at one time of day lets patients and their escorts plan around the course, and opening time
# leaves a dosing session and the observation after it (at least 2 h after dosing, [spravato-rems]) inside the day.
OPENING_HOURS_KEY = "program.opening_hours"
DEFAULT_OPENING_HOURS = {
    "weekdays": [0, 1, 2, 3, 4],
    "opens": "09:00",
    "closes": "17:00",
    "start_every_minutes": 60,
    "preferred_start": None,
    "closed_dates": [],
}
SOLVER_SECONDS = 10.0


def solver_settings() -> scheduling.SolverSettings:
    """The planner's limits: SOLVER_SECONDS of wall time, unless settings.PLANNER_SOLVER gives its own (the test suite
    bounds the search by deterministic work instead, so a loaded machine cannot change a plan)."""
    configured = getattr(settings, "PLANNER_SOLVER", None)
    return scheduling.SolverSettings(**configured) if configured else scheduling.SolverSettings(SOLVER_SECONDS)


# Planning looks this far past the template's own length, so a few away dates do not make the course infeasible.
HORIZON_SLACK_DAYS = 28


def clinic_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# Any: opening hours are a practice setting's JSON (times as text, numbers, a list of weekdays).
OpeningHours = dict[str, Any]


def opening_hours() -> OpeningHours:
    return {**DEFAULT_OPENING_HOURS, **practice_value(OPENING_HOURS_KEY, {})}


def weekly_slots(hours: OpeningHours) -> dict[int, list[tuple[datetime.time, int]]]:
    """Opening hours as scheduler slots: a start every `start_every_minutes`, each lasting until closing, so a
    session of any length may start at any of them that leaves it time to finish."""
    opens = datetime.time.fromisoformat(hours["opens"])
    closes = datetime.time.fromisoformat(hours["closes"])
    step = int(hours["start_every_minutes"])
    close_minute = closes.hour * 60 + closes.minute
    starts = []
    minute = opens.hour * 60 + opens.minute
    while minute < close_minute:
        starts.append((datetime.time(minute // 60, minute % 60), close_minute - minute))
        minute += step
    return {int(day): starts for day in hours["weekdays"]}


# Operational, not clinical: a closure longer than a year is a typing slip in a range's year.
LONGEST_CLOSURE_DAYS = 366


def closed_day_ranges(hours: OpeningHours) -> list[tuple[datetime.date, datetime.date]]:
    """The practice's closed dates as (first, last) day pairs, in the order given. Raises ValueError naming the
    entry that is not a day or an inclusive range of days in order."""
    entries = hours["closed_dates"]
    if not isinstance(entries, list):
        raise ValueError('closed_dates must be a list, e.g. ["2026-12-25", "2026-12-31..2027-01-01"]')
    ranges = []
    for entry in entries:
        first_text, _, last_text = entry.partition("..") if isinstance(entry, str) else ("", "", "")
        try:
            first = datetime.date.fromisoformat(first_text.strip())
            last = datetime.date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError:
            raise ValueError(
                f'closed_dates: {entry!r} is not a day such as "2026-12-25" or a range such as "2026-12-24..2026-12-26"'
            ) from None
        if last < first:
            raise ValueError(f"closed_dates: {entry!r} ends before it starts")
        if (last - first).days >= LONGEST_CLOSURE_DAYS:
            raise ValueError(f"closed_dates: {entry!r} is longer than a year")
        ranges.append((first, last))
    return ranges


def closed_dates(hours: OpeningHours, first_day: datetime.date, last_day: datetime.date) -> frozenset[datetime.date]:
    """The days between first_day and last_day (inclusive) the practice is closed."""
    days = set()
    for first, last in closed_day_ranges(hours):
        day = max(first, first_day)
        while day <= min(last, last_day):
            days.add(day)
            day += datetime.timedelta(days=1)
    return frozenset(days)


def preferred_times(hours: OpeningHours) -> list[scheduling.PreferredTime]:
    """The practice's preferred start (opening time unless set) as the scheduler's soft preference: a session
    starting within one start step of it (09:00-09:59 with a start every hour) counts as on time."""
    start = datetime.time.fromisoformat(hours["preferred_start"] or hours["opens"])
    minute = min(start.hour * 60 + start.minute + int(hours["start_every_minutes"]), 24 * 60 - 1)
    return [scheduling.PreferredTime(start=start, end=datetime.time(minute // 60, minute % 60))]


def horizon_days(template: course_templates.CourseTemplate) -> int:
    """Days to plan over: a week per preparation session, the typical (or weekly) dosing cadence, and slack.
    Follow-ups months later fall outside it and are listed as due later."""
    cadence = template.dosing.typical_days_between or course_templates.DAYS_IN_A_WEEK
    cadence = max(cadence, template.dosing.min_days_between)
    return 7 * template.preparation.count + cadence * template.dosing.count + HORIZON_SLACK_DAYS


def staff_key(user: User) -> str:
    return user.get_username()


def patient_key(patient: Patient) -> str:
    # Record numbers, not names: the plan and its messages are shown to every facilitator of the group.
    return patient.record_number


def _day_span(first: datetime.date, last: datetime.date, tz: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    return (
        datetime.datetime.combine(first, datetime.time(0), tz),
        datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(0), tz),
    )


@dataclass(frozen=True)
class PlanningContext:
    """A scheduling request built from the database, and the rows its ids stand for."""

    request: scheduling.CourseRequest
    staff_by_key: dict[str, User]
    rooms_by_key: dict[str, Room]


MAX_DOSES_KEY = "dosing.max_doses_per_7_days"


def max_doses_per_7_days() -> int:
    """The practice's ceiling on one patient's doses in any 7 days, across all their groups (a dosing setting)."""
    ceiling: int = practice_value(MAX_DOSES_KEY, setting_spec(MAX_DOSES_KEY).default)
    return ceiling


def other_dosing_days(
    *, group: Group, patient_ids: Iterable[int], first_day: datetime.date, last_day: datetime.date
) -> dict[int, list[datetime.date]]:
    """patient id -> the days (clinic time) of their dosing sessions in other groups that could share a 7-day window
    with this group's between first_day and last_day: groups they are enrolled in or finished, and, in a group they
    left, the sessions before they left."""
    tz = clinic_tz()
    start, _ = _day_span(first_day - datetime.timedelta(days=6), first_day, tz)
    _, end = _day_span(last_day, last_day + datetime.timedelta(days=6), tz)
    enrolments = Enrolment.objects.filter(
        patient_id__in=list(patient_ids),
        status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED, Enrolment.Status.WITHDRAWN],
    ).exclude(group=group)
    by_group: dict[int, list[Enrolment]] = {}
    for enrolment in enrolments:
        by_group.setdefault(enrolment.group_id, []).append(enrolment)
    days: dict[int, list[datetime.date]] = {}
    for session in GroupSession.objects.filter(
        group_id__in=list(by_group), kind=GroupSession.Kind.DOSING, starts_at__gte=start, starts_at__lt=end
    ):
        for enrolment in by_group[session.group_id]:
            if enrolment.status == Enrolment.Status.WITHDRAWN and session.starts_at >= enrolment.updated_at:
                continue
            days.setdefault(enrolment.patient_id, []).append(session.starts_at.astimezone(tz).date())
    return days


def planning_context(
    *, group: Group, start_date: datetime.date | None = None, extra_staff: Sequence[User] = ()
) -> PlanningContext:
    """The CourseRequest for a group: clinic slots and the practice's preferred start, rooms, the group's
    facilitators with their away dates and their other groups' sessions, the enrolled patients' away dates, and
    rooms taken by other groups."""
    template = group_template(group)
    tz = clinic_tz()
    first_day = max(start_date or group.start_date, timezone.localdate())
    horizon = horizon_days(template)
    last_day = first_day + datetime.timedelta(days=horizon - 1)
    hours = opening_hours()
    closed = closed_dates(hours, first_day, last_day)
    slots = scheduling.slots_from_opening_hours(first_day, last_day, tz, weekly_slots(hours), closed)

    staff = {staff_key(person): person for person in [*group.facilitators.all(), *extra_staff]}
    facilitators = [
        scheduling.Facilitator(
            key, scheduling.Role.PRESCRIBER if person.role == Role.PRESCRIBER else scheduling.Role.THERAPIST
        )
        for key, person in sorted(staff.items())
    ]
    rooms = {room.name: room for room in Room.objects.all()}
    patients = list(
        group.enrolments.filter(status=Enrolment.Status.ENROLLED).select_related("patient").order_by("patient_id")
    )
    away_rows = Unavailability.objects.filter(first_day__lte=last_day, last_day__gte=first_day)
    away_by_patient: dict[int, set[datetime.date]] = {}
    facilitator_bookings = []
    for away in away_rows.filter(Q(patient__in=[e.patient_id for e in patients]) | Q(staff__in=staff.values())):
        if away.patient_id:
            day = away.first_day
            while day <= away.last_day:
                away_by_patient.setdefault(away.patient_id, set()).add(day)
                day += datetime.timedelta(days=1)
        elif away.staff is not None:  # always, when no patient: a row names one or the other (away_whose)
            start, end = _day_span(away.first_day, away.last_day, tz)
            facilitator_bookings.append(scheduling.Booking(staff_key(away.staff), start, end, "away"))

    window_start, window_end = _day_span(first_day, last_day, tz)
    others = (
        GroupSession.objects.filter(starts_at__lt=window_end, ends_at__gt=window_start)
        .exclude(group=group)
        .select_related("group", "room")
        .prefetch_related("facilitators")
    )
    room_bookings = []
    for other in others:
        label = f"{other.group.name} {other.get_kind_display().lower()} {other.number}"
        if other.room:
            room_bookings.append(scheduling.Booking(other.room.name, other.starts_at, other.ends_at, label))
        for person in other.facilitators.all():
            if staff_key(person) in staff:
                facilitator_bookings.append(
                    scheduling.Booking(staff_key(person), other.starts_at, other.ends_at, label)
                )

    elsewhere = other_dosing_days(
        group=group, patient_ids=[e.patient_id for e in patients], first_day=first_day, last_day=last_day
    )
    request = scheduling.CourseRequest(
        template=template,
        tz=tz,
        start_date=first_day,
        horizon_days=horizon,
        slots=slots,
        facilitators=facilitators,
        rooms=[scheduling.Room(name, room.capacity) for name, room in rooms.items()],
        patients=[
            scheduling.Patient(
                patient_key(e.patient),
                frozenset(away_by_patient.get(e.patient_id, ())),
                tuple(sorted(elsewhere.get(e.patient_id, ()))),
            )
            for e in patients
        ],
        max_doses_per_7_days=max_doses_per_7_days(),
        max_doses_named=setting_named_for_staff(MAX_DOSES_KEY),
        preferred_times=preferred_times(hours),
        facilitator_bookings=facilitator_bookings,
        room_bookings=room_bookings,
        closed_dates=closed,
    )
    return PlanningContext(request, staff, rooms)


def group_template(group: Group) -> course_templates.CourseTemplate:
    """The template version the group was formed on, not the newest one with its id: a practice publishing a
    new version must not change the rules of a course already under way."""
    try:
        versions = course_templates.load_template_versions()
    except course_templates.TemplateError as broken:
        raise PlanRefused(broken.problems) from broken
    template = versions.get((group.template_id, group.template_version))
    if template is not None:
        return template
    installed = sorted(version for template_id, version in versions if template_id == group.template_id)
    if not installed:
        raise PlanRefused([f"the course template {group.template_id!r} of {group.name} is not installed"])
    raise PlanRefused(
        [
            f"{group.name} follows version {group.template_version} of the course template {group.template_id!r}, "
            f"which is no longer installed (installed: version {', '.join(map(str, installed))}); put that "
            f"version's file back in the practice's template folder"
        ]
    )


def plan_course(*, group: Group, start_date: datetime.date | None = None) -> scheduling.Plan:
    """Runs the scheduler for a group with no sessions yet. Raises PlanRefused when the group is already
    planned, scheduling.CourseInfeasible naming what blocks it, or scheduling.SolverGaveUp."""
    if group.sessions.exists():
        raise PlanRefused([f"{group.name} already has sessions; adjust them one by one instead"])
    context = planning_context(group=group, start_date=start_date)
    return scheduling.schedule_course(context.request, solver_settings())


# Any: a planned session as JSON-ready data (text, numbers and a list of facilitator keys).
PlanData = dict[str, Any]


def plan_to_data(plan_sessions: Sequence[scheduling.PlannedSession]) -> list[PlanData]:
    """A plan as plain data, to carry from the review page to the confirmation (signed by the view)."""
    return [
        {
            "kind": s.kind.value,
            "index": s.index,
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "room": s.room_id,
            "facilitators": list(s.facilitator_ids),
        }
        for s in plan_sessions
    ]


def plan_from_data(data: Sequence[PlanData]) -> list[scheduling.PlannedSession]:
    return [
        scheduling.PlannedSession(
            kind=SessionKind(item["kind"]),
            index=int(item["index"]),
            start=datetime.datetime.fromisoformat(item["start"]),
            end=datetime.datetime.fromisoformat(item["end"]),
            room_id=item["room"],
            facilitator_ids=tuple(item["facilitators"]),
        )
        for item in data
    ]


def check_plan(
    context: PlanningContext,
    sessions: Sequence[scheduling.PlannedSession],
    must_pass: tuple[SessionKind, int] | None = None,
) -> list[str]:
    """Refuses a plan with hard-rule violations (only those touching `must_pass` sessions, if given); returns
    the warnings, including violations elsewhere that staff should see but that this change did not cause."""
    check = scheduling.validate_plan(context.request, sessions)
    refusing = [v for v in check.violations if must_pass is None or must_pass in v.sessions]
    if refusing:
        raise PlanRefused([v.message for v in refusing])
    others = [f"already in the plan: {v.message}" for v in check.violations if v not in refusing]
    return others + [w.message for w in check.warnings]


def check_room(context: PlanningContext, session: scheduling.PlannedSession) -> None:
    """Refuses a session's room when it breaks the planner's room rules (not one of the practice's rooms, too small
    for the group, or booked by another group then), in check_plan's words."""
    problems = [violation.message for violation in scheduling.room_violations(context.request, session)]
    if problems:
        raise PlanRefused(problems)
