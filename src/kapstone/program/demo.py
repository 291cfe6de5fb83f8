"""Demo groups: rooms; group A in progress (its third dosing session is today, so the dosing room has a session
at once); group B forming with a waitlist, ready to be planned live; and, for every other demo patient, a
completed course in a group of 4 so that the outcomes report has a course for everyone.

Enrolment rows are created directly, not through services.enrol: the enrolment gate reads screening records
that the screening demo creates on its own terms, and a demo must not depend on another app's random draws.
Session times follow the course templates' rules (check_session_times finds no violation; see the tests).
`demo_courses` reads the courses back for the demos that date their data from them (questionnaires, creativity
tasks, integration work).
The practice doses at two sites; each group's sessions are at one of them, and one completed course in
HOME_EVERY took its doses supervised at home (the settings Dore 2019 compares), so the outcomes report's site and
setting filters have something to show. Group A's next integration session is held by video.
"""

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kapstone.practice.settings_store import practice_value_set
from kapstone.program.course_templates import CourseTemplate, SessionKind, load_templates
from kapstone.program.models import Enrolment, Group, GroupSession, Room
from kapstone.program.scheduling import add_minutes, course_sequence
from kapstone.program.services import facilitator_access_sync, session_telehealth_set

ROOMS = [("Willow room", 4), ("Cedar room", 6)]
ACTIVE_TEMPLATE = "journey-clinical-style"
FORMING_TEMPLATE = "group-kap-programme"
GROUP_SIZE = 4
TODAYS_DOSING = 3  # group A's dosing session held today
BATCH = 5000

# Local clock times of the demo's sessions: dosing in the morning, integration the next afternoon (24-26 h
# after a 3-3.5 h dosing session ends, inside the preferred 24-48 h), other sessions mid-morning.
DOSING_AT = datetime.time(9, 0)
INTEGRATION_AT = datetime.time(13, 0)
OTHER_AT = datetime.time(10, 0)
CLOSING_INTEGRATION_AFTER_DAYS = 7
SITES = ["Main office", "Riverside clinic"]
HOME_EVERY = 5  # every 5th completed course dosed supervised at home (synthetic)
DEMO_VIDEO_URL = "https://video.example/kapstone-demo-group-a"


def course_times(
    template: CourseTemplate, first_dosing: datetime.date, tz: ZoneInfo
) -> Iterator[tuple[SessionKind, int, datetime.datetime, datetime.datetime]]:
    """Every session of a course (kind, number, start, end), with preparation weekly before the first dosing
    session, dosing at the template's typical cadence (weekly if it has none), integration the next day."""
    cadence = max(template.dosing.typical_days_between or 7, template.dosing.min_days_between, 7)
    last_dosing = first_dosing + datetime.timedelta(days=cadence * (template.dosing.count - 1))
    tied = len(template.integration.after_dosing)
    for kind, index in course_sequence(template):
        if kind is SessionKind.PREPARATION:
            day = first_dosing - datetime.timedelta(days=7 * (template.preparation.count - index + 1))
            at = OTHER_AT
        elif kind is SessionKind.DOSING:
            day, at = first_dosing + datetime.timedelta(days=cadence * (index - 1)), DOSING_AT
        elif kind is SessionKind.INTEGRATION and index <= tied:
            anchor = template.integration.after_dosing[index - 1]
            day = first_dosing + datetime.timedelta(days=cadence * (anchor - 1) + 1)
            at = INTEGRATION_AT
        elif kind is SessionKind.INTEGRATION:
            day = last_dosing + datetime.timedelta(days=CLOSING_INTEGRATION_AFTER_DAYS * (index - tied))
            at = INTEGRATION_AT
        else:
            day, at = last_dosing + datetime.timedelta(days=template.follow_ups.offsets_days[index - 1]), OTHER_AT
        start = datetime.datetime.combine(day, at, tz)
        yield kind, index, start, add_minutes(start, template.duration_minutes(kind))


@dataclass(frozen=True)
class DemoCourse:
    """One demo group's course as the other demos date their data from it."""

    group_id: int
    patient_ids: tuple[int, ...]
    session_starts: tuple[datetime.datetime, ...]
    dosing: tuple[tuple[datetime.datetime, datetime.datetime], ...]  # (start, end) of each, in number order
    # The end of the last preparation, dosing or integration session: the course's follow-up sessions come after
    # its end, and the plans date their follow-ups from it.
    course_end: datetime.datetime

    @property
    def first_dosing(self) -> datetime.datetime:
        return self.dosing[0][0]


def demo_courses() -> list[DemoCourse]:
    """Every group that has sessions and enrolled or finished patients (the forming group has no sessions yet)."""
    members: dict[int, list[int]] = {}
    for group_id, patient_id in (
        Enrolment.objects.filter(status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED])
        .order_by("group_id", "patient_id")
        .values_list("group_id", "patient_id")
    ):
        members.setdefault(group_id, []).append(patient_id)
    sessions: dict[int, list[tuple]] = {}
    for row in GroupSession.objects.order_by("group_id", "starts_at").values_list(
        "group_id", "kind", "number", "starts_at", "ends_at"
    ):
        sessions.setdefault(row[0], []).append(row[1:])
    courses = []
    for group_id, rows in sessions.items():
        dosing = sorted((number, start, end) for kind, number, start, end in rows if kind == SessionKind.DOSING)
        if not dosing or group_id not in members:
            continue
        courses.append(
            DemoCourse(
                group_id=group_id,
                patient_ids=tuple(members[group_id]),
                session_starts=tuple(start for _, _, start, _ in rows),
                dosing=tuple((start, end) for _, start, end in dosing),
                course_end=max(end for kind, _, _, end in rows if kind != SessionKind.FOLLOW_UP),
            )
        )
    return courses


def _sessions(
    group: Group, template: CourseTemplate, first_dosing: datetime.date, tz, *, at_home: bool = False
) -> list[GroupSession]:
    return [
        GroupSession(
            group=group,
            kind=kind.value,
            number=index,
            starts_at=start,
            ends_at=end,
            site=SITES[group.pk % len(SITES)],
            dosing_setting=(
                GroupSession.DosingSetting.SUPERVISED_HOME
                if at_home and kind == SessionKind.DOSING
                else GroupSession.DosingSetting.OFFICE
            ),
        )
        for kind, index, start, end in course_times(template, first_dosing, tz)
    ]


def _save_sessions(
    planned: list[tuple[list[GroupSession], CourseTemplate]], rooms: list[Room], staff_of: Callable
) -> None:
    """Bulk-creates courses' sessions: dosing first, so integration sessions can point at theirs."""
    dosing = [s for sessions, _ in planned for s in sessions if s.kind == SessionKind.DOSING]
    GroupSession.objects.bulk_create(dosing, batch_size=BATCH)
    rest = []
    for sessions, template in planned:
        by_number = {s.number: s for s in sessions if s.kind == SessionKind.DOSING}
        for session in sessions:
            session.room = rooms[session.group_id % len(rooms)]
            if session.kind == SessionKind.INTEGRATION:
                anchor = template.integration.anchor_dosing(session.number)
                session.follows_dosing = by_number.get(anchor) if anchor else None
            if session.kind != SessionKind.DOSING:
                rest.append(session)
    GroupSession.objects.bulk_update(dosing, ["room"], batch_size=BATCH)
    GroupSession.objects.bulk_create(rest, batch_size=BATCH)
    through = GroupSession.facilitators.through
    links = [
        through(groupsession_id=session.pk, user_id=person.pk)
        for sessions, template in planned
        for session in sessions
        for person in staff_of(session, template)
    ]
    through.objects.bulk_create(links, batch_size=BATCH)


def _staffing(prescriber, therapist):
    """Who runs a session: the prescriber and the therapist when the template asks for two, else the therapist."""

    def staff_of(session: GroupSession, template: CourseTemplate) -> list:
        needed = template.staffing(SessionKind(session.kind)).facilitators
        return [prescriber, therapist][-needed:] if needed else []

    return staff_of


@transaction.atomic
def seed(*, practice, rng, progress) -> None:
    templates = load_templates()
    tz = ZoneInfo(settings.TIME_ZONE)
    today = timezone.localdate()
    rooms = [Room.objects.get_or_create(name=name, defaults={"capacity": capacity})[0] for name, capacity in ROOMS]
    practice_value_set(
        actor=practice.staff["admin.price"], key="program.sites", value=SITES, reason="The demo practice has two sites."
    )
    okafor, baptiste = practice.staff["dr.okafor"], practice.staff["dr.baptiste"]
    therapist = practice.staff["dr.lindqvist"]
    patients = practice.patients

    active = templates[ACTIVE_TEMPLATE]
    cadence = active.dosing.typical_days_between or 7
    first_dosing = today - datetime.timedelta(days=cadence * (TODAYS_DOSING - 1))
    group_a = Group.objects.create(
        # Named for its dosing day, as clinics name their groups: the demo doses today, every `cadence` days.
        name=f"Group A · {today:%A}",
        template_id=active.id,
        template_version=active.version,
        min_size=active.group.min_size,
        max_size=active.group.max_size,
        start_date=first_dosing - datetime.timedelta(days=7 * active.preparation.count),
        status=Group.Status.ACTIVE,
    )
    group_a.facilitators.set([okafor, therapist])
    Enrolment.objects.bulk_create(
        Enrolment(group=group_a, patient=p, status=Enrolment.Status.ENROLLED) for p in patients[:GROUP_SIZE]
    )
    planned = [(_sessions(group_a, active, first_dosing, tz), active)]

    forming = templates[FORMING_TEMPLATE]
    group_b = Group.objects.create(
        name=f"Group B · {today + datetime.timedelta(days=21):%A}",
        template_id=forming.id,
        template_version=forming.version,
        min_size=forming.group.min_size,
        max_size=forming.group.max_size,
        start_date=today + datetime.timedelta(days=21),
        status=Group.Status.FORMING,
    )
    group_b.facilitators.set([baptiste, therapist])
    waiting = patients[GROUP_SIZE : 2 * GROUP_SIZE]
    Enrolment.objects.bulk_create(
        [Enrolment(group=group_b, patient=p, status=Enrolment.Status.ENROLLED) for p in waiting[:3]]
        + [
            Enrolment(
                group=group_b,
                patient=p,
                status=Enrolment.Status.WAITLISTED,
                waitlist_reason="waiting for the screening review",
            )
            for p in waiting[3:]
        ]
    )

    history = patients[2 * GROUP_SIZE :]
    names = sorted(templates)
    groups = []
    for number, position in enumerate(range(0, len(history), GROUP_SIZE), start=1):
        template = templates[names[number % len(names)]]
        course_days = 7 * template.preparation.count + 14 * template.dosing.count
        first = today - datetime.timedelta(
            days=rng.randint(course_days + max(template.follow_ups.offsets_days, default=0) + 14, 1100)
        )
        group = Group(
            name=f"Cohort {number:04d}",
            template_id=template.id,
            template_version=template.version,
            min_size=template.group.min_size,
            max_size=template.group.max_size,
            start_date=first - datetime.timedelta(days=7 * template.preparation.count),
            status=Group.Status.COMPLETED,
        )
        groups.append((group, template, first, history[position : position + GROUP_SIZE]))
    Group.objects.bulk_create([g for g, *_ in groups], batch_size=BATCH)
    Group.facilitators.through.objects.bulk_create(
        [
            Group.facilitators.through(group_id=group.pk, user_id=person.pk)
            for group, *_ in groups
            for person in ((okafor if group.pk % 4 else baptiste), therapist)
        ],
        batch_size=BATCH,
    )
    Enrolment.objects.bulk_create(
        [
            Enrolment(group=group, patient=p, status=Enrolment.Status.COMPLETED)
            for group, _, _, members in groups
            for p in members
        ],
        batch_size=BATCH,
    )
    practice.course_starts.update(
        (patient.pk, group.start_date) for group, _, _, members in groups for patient in members
    )
    progress(f"groups: 2 current, {len(groups)} completed courses")

    _save_sessions(planned, rooms, _staffing(okafor, therapist))
    # By position, not by id: ids depend on what the database held before, and the demo must be the same each time.
    at_home = {group.pk for position, (group, *_) in enumerate(groups) if position % HOME_EVERY == 0}
    for prescriber in (okafor, baptiste):
        mine = [
            (group, template, first)
            for group, template, first, _ in groups
            if (prescriber == okafor) == bool(group.pk % 4)
        ]
        _save_sessions(
            [
                (_sessions(group, template, first, tz, at_home=group.pk in at_home), template)
                for group, template, first in mine
            ],
            rooms,
            _staffing(prescriber, therapist),
        )
    progress(f"group sessions: {GroupSession.objects.count()}")
    next_integration = (
        GroupSession.objects.filter(group=group_a, kind=SessionKind.INTEGRATION, starts_at__gt=timezone.now())
        .order_by("starts_at")
        .first()
    )
    if next_integration is not None:
        session_telehealth_set(actor=okafor, session=next_integration, is_remote=True, video_url=DEMO_VIDEO_URL)
    # The current groups' facilitators may open their patients' records, as services.enrol would have granted.
    facilitator_access_sync(actor=None, patient_ids=[p.pk for p in [*patients[:GROUP_SIZE], *waiting[:3]]])
