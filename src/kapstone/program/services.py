"""Writes for groups: forming them, enrolling patients safely under concurrency, saving and adjusting their
planned sessions, away dates, and calendar-feed links. Each write is atomic and audited. The read-only planning
(opening hours, the scheduling request, running the planner) is kapstone.program.planning."""

import datetime
import hashlib
import secrets
from collections.abc import Iterable, Sequence

from django.db import models, transaction
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.audit import services as audit
from kapstone.patients import services as patients_services
from kapstone.patients.models import Patient
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import course_templates, scheduling, signals, telehealth
from kapstone.program.course_templates import SessionKind
from kapstone.program.models import CalendarFeed, Enrolment, Group, GroupSession, Room, Unavailability
from kapstone.program.planning import (
    PlanRefused,
    check_plan,
    check_room,
    clinic_tz,
    group_template,
    horizon_days,
    planning_context,
    staff_key,
)
from kapstone.program.selectors import HIDDEN_PATIENTS_REFUSAL, group_has_patient_hidden_from
from kapstone.program.sites import practice_sites
from kapstone.screening.gate import enrolment_blockers
from kapstone.screening.signals import enrolment_check_reasons


class EnrolmentRefused(ValueError):
    """The patient cannot join: the message says why, in the clinic's words."""


class GroupRefused(ValueError):
    """A group cannot be formed as asked."""


# ---------------------------------------------------------------------------------------------------------------
# Groups and enrolment


@transaction.atomic
def group_create(
    *, actor: User, name: str, template_id: str, start_date: datetime.date, facilitators: Iterable[User] = ()
) -> Group:
    """Forms a group on one of the practice's course templates. Its dosing sessions need a prescriber among
    their facilitators (the template's staffing), so the group's facilitators must include one."""
    try:
        template = course_templates.load_templates().get(template_id)
    except course_templates.TemplateError as broken:
        raise GroupRefused(f"The practice's course templates need fixing first: {broken}") from broken
    if template is None:
        raise GroupRefused(f"There is no course template {template_id!r}.")
    facilitators = list(facilitators)
    dosing_staff = template.dosing.staffing
    prescribers = sum(1 for person in facilitators if person.role == Role.PRESCRIBER)
    if len(facilitators) < dosing_staff.facilitators or prescribers < dosing_staff.min_prescribers:
        raise GroupRefused(
            f"Each dosing session of this course needs {dosing_staff.facilitators} facilitators, at least "
            f"{dosing_staff.min_prescribers} of them a prescriber; choose them for the group."
        )
    group = Group.objects.create(
        name=name,
        template_id=template.id,
        template_version=template.version,
        start_date=start_date,
        min_size=template.group.min_size,
        max_size=template.group.max_size,
    )
    group.facilitators.set(facilitators)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="group",
        object_id=group.pk,
        detail={"template": template.id, "version": template.version, "facilitator_ids": [f.pk for f in facilitators]},
    )
    return group


# Groups whose course is over or called off: their facilitators no longer need their patients' records.
ENDED_GROUP_STATUSES = (Group.Status.COMPLETED, Group.Status.CANCELLED)


def _group_facilitator_ids(group: Group) -> set[int]:
    """Everyone assigned to the group or to any of its sessions."""
    ids = set(group.facilitators.values_list("pk", flat=True))
    ids |= set(
        GroupSession.facilitators.through.objects.filter(groupsession__group=group).values_list("user_id", flat=True)
    )
    return ids


# How long before the first session they facilitate a facilitator may open a patient's record, to read it before
# meeting them. An operational choice of Kapstone's (no clinical source sets it); see docs/architecture.md, "Who sees
# a patient". The grant ends when the integration window of the last session they facilitate closes: the course
# template's integration.outer_bound_hours after that session ends.
FACILITATION_LEAD = datetime.timedelta(days=7)


def facilitation_window(*, group: Group, staff_id: int) -> tuple[datetime.datetime, datetime.datetime]:
    """When facilitating `group` opens its patients' records to one member of staff: from FACILITATION_LEAD before
    the first session they facilitate (every session, for a facilitator of the whole group) until the course
    template's integration outer bound after the last one ends. A group with no sessions of theirs yet is
    counted from its start date to the end of its planning horizon, as _course_span reads it."""
    sessions = group.sessions.all()
    if not group.facilitators.filter(pk=staff_id).exists():
        sessions = sessions.filter(facilitators=staff_id)
    span = sessions.aggregate(first=models.Min("starts_at"), last=models.Max("ends_at"))
    first, last = span["first"], span["last"]
    if first is None or last is None:
        start_day, end_day, _ = _course_span(group)
        tz = clinic_tz()
        first = datetime.datetime.combine(start_day, datetime.time.min, tzinfo=tz)
        last = datetime.datetime.combine(end_day + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    try:
        after = datetime.timedelta(hours=group_template(group).integration.outer_bound_hours)
    except PlanRefused:
        after = datetime.timedelta(0)
    return first - FACILITATION_LEAD, last + after


@transaction.atomic
def facilitator_access_sync(*, actor: User | None, patient_ids: Iterable[int]) -> None:
    """Grants each patient's record to the staff who facilitate a group course they are enrolled in (the group's or
    any of its sessions' facilitators), for the window facilitation_window gives, and removes such grants when the
    assignment or the enrolment ends, through patients.services.care_team_grants_sync (which never touches a
    membership made by hand). Called by every write that changes who facilitates, when sessions are, or who is
    enrolled."""
    windows: dict[tuple[int, int], tuple[datetime.datetime, datetime.datetime]] = {}
    for patient in Patient.objects.filter(pk__in=list(patient_ids)).order_by("pk"):
        wanted: dict[int, set[int]] = {}
        spans: dict[int, tuple[datetime.datetime, datetime.datetime]] = {}
        groups = Group.objects.filter(
            enrolments__patient=patient, enrolments__status=Enrolment.Status.ENROLLED
        ).exclude(status__in=ENDED_GROUP_STATUSES)
        for group in groups:
            for staff_id in _group_facilitator_ids(group):
                wanted.setdefault(staff_id, set()).add(group.pk)
                if (group.pk, staff_id) not in windows:
                    windows[(group.pk, staff_id)] = facilitation_window(group=group, staff_id=staff_id)
                start, end = windows[(group.pk, staff_id)]
                known = spans.get(staff_id)
                spans[staff_id] = (min(start, known[0]), max(end, known[1])) if known else (start, end)
        patients_services.care_team_grants_sync(actor=actor, patient=patient, wanted=wanted, windows=spans)


def _sync_group_access(*, actor: User | None, group: Group) -> None:
    enrolled = group.enrolments.filter(status=Enrolment.Status.ENROLLED).values_list("patient_id", flat=True)
    # Patients whose grant names this group but who left it are looked at too, so their grant goes.
    from_grants = Patient.objects.filter(care_team_memberships__granted_for_group_id=group.pk).values_list(
        "pk", flat=True
    )
    facilitator_access_sync(actor=actor, patient_ids=set(enrolled) | set(from_grants))


def _course_span(group: Group) -> tuple[datetime.date, datetime.date, bool]:
    """(first day, last day, planned) of a group's course in the clinic's time zone: its booked sessions before
    follow-up; a course not planned yet spans its planning horizon from the start date."""
    tz = clinic_tz()
    first = group.sessions.exclude(kind=GroupSession.Kind.FOLLOW_UP).order_by("starts_at").first()
    end = group.sessions.course_end()
    if first is not None and end is not None:
        return first.starts_at.astimezone(tz).date(), end.astimezone(tz).date(), True
    try:
        days = horizon_days(group_template(group))
    except PlanRefused:
        days = 1
    return group.start_date, group.start_date + datetime.timedelta(days=days - 1), False


def _describe_span(group: Group) -> str:
    first, last, planned = _course_span(group)
    booked = "" if planned else ", not yet planned"
    return f"{day_in_words(first)} to {day_in_words(last)}{booked}"


def _refuse_overlapping_course(*, group: Group, patient: Patient) -> None:
    first, last, _ = _course_span(group)
    others = (
        Group.objects.filter(enrolments__patient=patient, enrolments__status=Enrolment.Status.ENROLLED)
        .exclude(pk=group.pk)
        .exclude(status__in=ENDED_GROUP_STATUSES)
        .distinct()
    )
    for other in others:
        other_first, other_last, _ = _course_span(other)
        if other_first <= last and first <= other_last:
            raise EnrolmentRefused(
                f"{patient.full_name} is already enrolled in {other.name} ({_describe_span(other)}), which overlaps "
                f"this course ({_describe_span(group)}). A patient takes one course at a time: withdraw them from "
                f"{other.name} first, or choose a group that starts after it ends."
            )


def _schedule_course_work(*, actor: User, group: Group) -> None:
    """Tells the apps that date work from the course (questionnaires, creativity tasks) that its dates changed.
    Their receivers add only what is missing and re-date what is still open to the sessions' current dates
    (leaving what is done), so sending it whenever sessions or patients arrive, or a session moves, keeps every
    patient's plan whole."""
    signals.course_dates_changed.send(sender=Group, actor=actor, group=group)


@transaction.atomic
def enrol(*, actor: User, group: Group, patient: Patient, waitlist_if_full: bool = False) -> Enrolment:
    """Enrols a patient who has passed the enrolment gate, whom no app answering screening.signals.enrolment_checks
    refuses (an open suicide-risk alert, medicines new since screening), and who is in no other course that overlaps
    this one. The patient row is locked first (so two enrolments of one patient in overlapping groups cannot both
    pass), then the group row, so when two staff add the last patient at the same moment exactly one gets the seat
    and the other is told the group is full. A patient joining a group whose sessions are booked gets its
    questionnaires and creativity tasks at once; the group's facilitators are granted the patient's record. Only the
    practice's clinicians and its admin enrol, as the group page offers it: the rule is the service's too, so no other
    caller enrols for a researcher or a deactivated login."""
    if actor.role not in RECORD_ROLES or not actor.is_active:
        raise EnrolmentRefused("Only the practice's clinicians and its admin enrol patients.")
    blockers = enrolment_blockers(patient=patient) + enrolment_check_reasons(patient=patient)
    if blockers:
        raise EnrolmentRefused(f"{patient.full_name} cannot join yet: " + "; ".join(blockers) + ".")
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    group = Group.objects.select_for_update().get(pk=group.pk)
    if group.status in (Group.Status.COMPLETED, Group.Status.CANCELLED):
        raise EnrolmentRefused(f"{group.name} is {group.get_status_display().lower()}; it takes no new patients.")
    existing = Enrolment.objects.filter(group=group, patient=patient).first()
    if existing and existing.status == Enrolment.Status.ENROLLED:
        raise EnrolmentRefused(f"{patient.full_name} is already in {group.name}.")
    seats_taken = Enrolment.objects.filter(group=group, status=Enrolment.Status.ENROLLED).count()
    if seats_taken >= group.max_size:
        if not waitlist_if_full:
            raise EnrolmentRefused(
                f"{group.name} is full ({seats_taken} of {group.max_size}). Put {patient.full_name} on the waitlist."
            )
        status, reason = Enrolment.Status.WAITLISTED, "group full"
    else:
        status, reason = Enrolment.Status.ENROLLED, ""
        _refuse_overlapping_course(group=group, patient=patient)
    enrolment, _ = Enrolment.objects.update_or_create(
        group=group, patient=patient, defaults={"status": status, "waitlist_reason": reason}
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="enrolment",
        object_id=enrolment.pk,
        detail={"group_id": group.pk, "status": status},
    )
    if status == Enrolment.Status.ENROLLED:
        facilitator_access_sync(actor=actor, patient_ids=[patient.pk])
        if group.sessions.exists():
            _schedule_course_work(actor=actor, group=group)
    return enrolment


@transaction.atomic
def waitlist(*, actor: User, group: Group, patient: Patient, reason: str) -> Enrolment:
    """Holds a patient who cannot join yet (not yet through the gate, or the group is full)."""
    if not reason.strip():
        raise EnrolmentRefused("Say why the patient is waiting.")
    # The same locks as enrol(), in the same order (the patient, then the group), so a concurrent enrolment is seen
    # here rather than overwritten to waitlisted, and the two never deadlock: writing the enrolment row takes a key
    # lock on the patient row that enrol() holds for update.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    group = Group.objects.select_for_update().get(pk=group.pk)
    existing = Enrolment.objects.filter(group=group, patient=patient).first()
    if existing and existing.status == Enrolment.Status.ENROLLED:
        raise EnrolmentRefused(f"{patient.full_name} is already in {group.name}; withdraw them first.")
    enrolment, _ = Enrolment.objects.update_or_create(
        group=group, patient=patient, defaults={"status": Enrolment.Status.WAITLISTED, "waitlist_reason": reason}
    )
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient=patient,
        object_type="enrolment",
        object_id=enrolment.pk,
        detail={"group_id": group.pk, "status": "waitlisted"},
    )
    return enrolment


@transaction.atomic
def withdraw(*, actor: User, enrolment: Enrolment, reason: str) -> Enrolment:
    """A patient leaves a group they are in or waiting for. The row is locked and read again, so a second withdrawal
    (a second click, another member of staff's page) is refused rather than writing its reason over the first's, and
    a completed course stays completed."""
    if not reason.strip():
        raise EnrolmentRefused("Say why the patient leaves the group.")
    enrolment = Enrolment.objects.select_for_update().select_related("patient", "group").get(pk=enrolment.pk)
    if enrolment.status == Enrolment.Status.WITHDRAWN:
        raise EnrolmentRefused(f"{enrolment.patient.full_name} has already left {enrolment.group.name}.")
    if enrolment.status == Enrolment.Status.COMPLETED:
        raise EnrolmentRefused(
            f"{enrolment.patient.full_name} completed {enrolment.group.name}; a finished course is not left."
        )
    enrolment.status, enrolment.waitlist_reason = Enrolment.Status.WITHDRAWN, reason
    enrolment.save(update_fields=["status", "waitlist_reason", "updated_at"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=enrolment.patient_id,
        object_type="enrolment",
        object_id=enrolment.pk,
        detail={"status": "withdrawn"},
    )
    facilitator_access_sync(actor=actor, patient_ids=[enrolment.patient_id])
    signals.enrolment_left.send(sender=Enrolment, enrolment=enrolment)
    return enrolment


@transaction.atomic
def plan_save(*, actor: User, group: Group, sessions: Sequence[scheduling.PlannedSession]) -> list[str]:
    """Saves a reviewed plan as the group's sessions, checked again against today's rooms, staff and away
    dates; integration sessions are linked to the dosing session they follow, and the enrolled patients'
    questionnaires and creativity tasks are put due from the new dates. Returns the warnings."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    # The plan books integration sessions, puts every patient's questionnaires and tasks due, and grants its
    # facilitators every patient's record.
    if group_has_patient_hidden_from(user=actor, group=group):
        raise PlanRefused([HIDDEN_PATIENTS_REFUSAL])
    if group.status in (Group.Status.COMPLETED, Group.Status.CANCELLED):
        # As enrol refuses them: a plan would book rooms and staff and put questionnaires due for a course not held.
        raise PlanRefused([f"{group.name} is {group.get_status_display().lower()}; it is not planned"])
    if group.sessions.exists():
        raise PlanRefused([f"{group.name} already has sessions; adjust them one by one instead"])
    context = planning_context(group=group, start_date=min((s.start.date() for s in sessions), default=None))
    warnings = check_plan(context, sessions)
    template = context.request.template
    created: dict[tuple[SessionKind, int], GroupSession] = {}
    for planned in sorted(sessions, key=lambda s: s.start):
        row = GroupSession.objects.create(
            group=group,
            kind=planned.kind.value,
            number=planned.index,
            starts_at=planned.start,
            ends_at=planned.end,
            room=context.rooms_by_key[planned.room_id],
        )
        row.facilitators.set([context.staff_by_key[key] for key in planned.facilitator_ids])
        created[(planned.kind, planned.index)] = row
    for (kind, index), row in created.items():
        anchor = template.integration.anchor_dosing(index) if kind is SessionKind.INTEGRATION else None
        if anchor is not None and (SessionKind.DOSING, anchor) in created:
            row.follows_dosing = created[(SessionKind.DOSING, anchor)]
            row.save(update_fields=["follows_dosing"])
    if group.status == Group.Status.FORMING:
        group.status = Group.Status.ACTIVE
        group.save(update_fields=["status"])
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="group_plan",
        object_id=group.pk,
        detail={"sessions": len(created), "warnings": warnings},
    )
    _sync_group_access(actor=actor, group=group)
    _schedule_course_work(actor=actor, group=group)
    return warnings


def _planned(session: GroupSession) -> scheduling.PlannedSession:
    return scheduling.PlannedSession(
        kind=SessionKind(session.kind),
        index=session.number,
        start=session.starts_at,
        end=session.ends_at,
        room_id=session.room.name if session.room else "",
        facilitator_ids=tuple(sorted(staff_key(person) for person in session.facilitators.all())),
        by_video=session.is_remote,
    )


@transaction.atomic
def session_move(
    *,
    actor: User,
    session: GroupSession,
    starts_at: datetime.datetime,
    room: Room | None,
    facilitators: Sequence[User],
) -> list[str]:
    """Moves one session (time, room, facilitators). Refused to a clinician who cannot see every patient of the
    group (SESSION_MOVE_REFUSAL), when the change breaks a hard rule for this session, or when it leaves a session
    held in person without a room (one held by video needs none); otherwise saved, and the warnings (integration
    outside its preferred window, ...) returned. In the same transaction the patients' open questionnaires and
    creativity tasks follow the new dates: the ones before and after a moved dosing session move with it, and no
    task is left on a dosing day."""
    group = Group.objects.select_for_update().get(pk=session.group_id)
    # The dosing room locks the session row while it gives a dose, so a dose and a move cannot cross.
    GroupSession.objects.select_for_update().filter(pk=session.pk).first()
    if session.dose_records.filter(administered_at__isnull=False).exists():
        raise PlanRefused(["Doses were given in this session; it cannot be moved."])
    if room is None and not session.is_remote:
        raise PlanRefused(["Choose a room: the session is held in person."])
    # Moving a session re-dates every patient's open questionnaires and creativity tasks, and changing who
    # facilitates it grants them every patient's record (facilitator_access_sync): a clinician who sees the group
    # for one patient's sake could otherwise write into, or hand out, records no one looking after them chose to.
    if group_has_patient_hidden_from(user=actor, group=group):
        raise PlanRefused([SESSION_MOVE_REFUSAL])
    facilitators = list(facilitators)
    template = group_template(group)
    kind = SessionKind(session.kind)
    ends_at = scheduling.add_minutes(starts_at, template.duration_minutes(kind))
    context = planning_context(group=group, start_date=timezone.localdate(starts_at), extra_staff=facilitators)
    others = [
        _planned(other)
        for other in group.sessions.exclude(pk=session.pk).select_related("room").prefetch_related("facilitators")
    ]
    moved = scheduling.PlannedSession(
        kind,
        session.number,
        starts_at,
        ends_at,
        room.name if room else "",
        tuple(sorted(staff_key(p) for p in facilitators)),
        by_video=session.is_remote,
    )
    warnings = check_plan(context, [*others, moved], must_pass=(kind, session.number))
    before = {"starts_at": session.starts_at.isoformat(), "room": str(session.room or "")}
    session.starts_at, session.ends_at, session.room = starts_at, ends_at, room
    session.save(update_fields=["starts_at", "ends_at", "room"])
    session.calendar_sequence_raise()
    session.facilitators.set(facilitators)
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type=SESSION_MOVE_AUDIT_TYPE,
        object_id=session.pk,
        detail={
            "before": before,
            "after": {"starts_at": starts_at.isoformat(), "room": room.name if room else ""},
            "facilitator_ids": [p.pk for p in facilitators],
            "warnings": warnings,
        },
    )
    _sync_group_access(actor=actor, group=group)
    _schedule_course_work(actor=actor, group=group)
    return warnings


SESSION_MOVE_AUDIT_TYPE = "group_session.move"
SESSION_MOVE_REFUSAL = (
    "Only staff who look after every patient of this group, or an admin, may move its sessions or change who "
    "facilitates them: a move re-dates every patient's questionnaires and creativity tasks, and facilitating opens "
    "each patient's record."
)


@transaction.atomic
def session_site_set(*, actor: User, session: GroupSession, site: str, dosing_setting: str) -> GroupSession:
    """Records where a dosing session's doses are taken: one of the practice's sites (a site since renamed may stay
    as it was recorded), in the office or supervised at home."""
    if session.kind != GroupSession.Kind.DOSING:
        raise PlanRefused(["Only a dosing session has a site and a setting of dosing."])
    session = GroupSession.objects.select_for_update().get(pk=session.pk)
    if site not in practice_sites() and site != session.site:
        raise PlanRefused([f"{site!r} is not one of the practice's sites ({', '.join(practice_sites())})."])
    if dosing_setting not in GroupSession.DosingSetting.values:
        raise PlanRefused([f"The setting is one of {', '.join(GroupSession.DosingSetting.values)}."])
    before = {"site": session.site, "dosing_setting": session.dosing_setting}
    session.site, session.dosing_setting = site, dosing_setting
    session.save(update_fields=["site", "dosing_setting"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="group_session.site",
        object_id=session.pk,
        detail={"before": before, "after": {"site": site, "dosing_setting": dosing_setting}},
    )
    return session


# ---------------------------------------------------------------------------------------------------------------
# Away dates


@transaction.atomic
def unavailability_record(
    *,
    actor: User,
    first_day: datetime.date,
    last_day: datetime.date,
    note: str = "",
    patient: Patient | None = None,
    staff: User | None = None,
) -> Unavailability:
    if (patient is None) == (staff is None):
        raise ValueError("Away dates belong to one patient or one member of staff.")
    problem = Unavailability.dates_problem(first_day, last_day, timezone.localdate())
    if problem:
        raise PlanRefused([problem])
    away = Unavailability.objects.create(
        patient=patient, staff=staff, first_day=first_day, last_day=last_day, note=note
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="unavailability",
        object_id=away.pk,
        detail={"staff_id": staff.pk if staff else None, "first": first_day, "last": last_day},
    )
    return away


@transaction.atomic
def unavailability_delete(*, actor: User, away: Unavailability) -> None:
    audit.record(
        action=audit.Action.DELETE,
        actor=actor,
        patient_id=away.patient_id,
        object_type="unavailability",
        object_id=away.pk,
        detail={"staff_id": away.staff_id, "first": away.first_day, "last": away.last_day},
    )
    away.delete()


# ---------------------------------------------------------------------------------------------------------------
# Calendar subscription links


def _feed_token_hash(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 is enough: there is no password to guess.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def feed_token_issue(*, user: User) -> str:
    """A new secret link token for the user, replacing (and so revoking) any earlier one. Returned once."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token_hash": _feed_token_hash(token)})
    audit.record(action=audit.Action.CREATE, actor=user, object_type="calendar_feed", object_id=user.pk)
    return token


@transaction.atomic
def feed_token_revoke(*, user: User, actor: User | None = None) -> None:
    """Ends the user's link: by the user, or with their credentials (`actor` the one who ended them)."""
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    if deleted:
        audit.record(action=audit.Action.DELETE, actor=actor or user, object_type="calendar_feed", object_id=user.pk)


@transaction.atomic
def feed_owner(*, token: str) -> User | None:
    """The user whose link this is, or None. Marks the link as used (so people can see whether it is live)."""
    feed = CalendarFeed.objects.filter(token_hash=_feed_token_hash(token)).select_related("user").first()
    if feed is None or not feed.user.is_active:
        return None
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    return feed.user


# ---------------------------------------------------------------------------------------------------------------
# Sessions held by video (the links and rules are in telehealth.py)


@transaction.atomic
def session_telehealth_set(
    *, actor: User, session: GroupSession, is_remote: bool, video_url: str = "", room: Room | None = None
) -> GroupSession:
    """Holds an integration or follow-up session by video (with its own link, or the clinician's room or the
    practice's template) or back in person. Held in person, it is held in `room`, or else in the room it kept; with
    neither it is refused, as a session in person without a room would have nowhere to meet, and a room it moves
    into (or goes back to from video) must pass the planner's room rules. By video it keeps its room as it is. A
    change raises the session's calendar SEQUENCE, as a move does, so subscribed calendars replace the event's place
    and link."""
    video_url = video_url.strip()
    if is_remote and session.kind not in telehealth.REMOTE_KINDS:
        raise telehealth.TelehealthRefused(
            f"A {session.get_kind_display().lower()} session is held in person"
            + (": the patient is observed in the room after the dose." if session.kind == "dosing" else ".")
        )
    if video_url and not telehealth.is_video_url(video_url):
        raise telehealth.TelehealthRefused(f"{video_url!r} is not an https link.")
    # Locked as a move locks it, so a move and a change of place cannot lose each other's SEQUENCE.
    locked = GroupSession.objects.select_for_update().get(pk=session.pk)
    before = (locked.is_remote, locked.video_url, locked.room)
    place = locked.room if is_remote or room is None else room
    if not is_remote:
        _check_in_person(locked, place, changed=locked.is_remote or place != locked.room)
    session.is_remote, session.video_url, session.room = is_remote, video_url if is_remote else "", place
    if is_remote and not telehealth.video_link(session):
        session.is_remote, session.video_url, session.room = before
        raise telehealth.TelehealthRefused(
            "There is no video link: give one for this session, or set the practice's video link in Practice settings."
        )
    if (session.is_remote, session.video_url, session.room) == before:
        return session
    session.save(update_fields=["is_remote", "video_url", "room"])
    session.calendar_sequence_raise()
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="group_session.telehealth",
        object_id=session.pk,
        detail={
            "was_remote": before[0],
            "is_remote": is_remote,
            "own_link": bool(session.video_url),
            "room": place.name if place else "",
        },
    )
    return session


def _check_in_person(session: GroupSession, room: Room | None, *, changed: bool) -> None:
    """Refuses holding the session in person without a room, or in a room the planner would refuse for it (checked
    again for the room it kept while by video: the group may have grown since)."""
    if room is None:
        raise telehealth.TelehealthRefused("Choose a room: the session is held in person.")
    if not changed:
        return
    planned = scheduling.PlannedSession(
        kind=SessionKind(session.kind),
        index=session.number,
        start=session.starts_at,
        end=session.ends_at,
        room_id=room.name,
        facilitator_ids=(),
    )
    try:
        check_room(planning_context(group=session.group, start_date=timezone.localdate(session.starts_at)), planned)
    except PlanRefused as refusal:
        raise telehealth.TelehealthRefused(" ".join(refusal.problems)) from refusal
