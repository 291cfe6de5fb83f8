"""Reads of groups and their sessions, narrowed to what the user may see."""

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.audit import services as audit
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import KEYS, compiled_once
from kapstone.paging import compiled_page
from kapstone.patients.models import CareTeamMembership, Patient, membership_in_force
from kapstone.patients.selectors import (
    patient_for_portal_user,
    patient_get,
    patient_search_terms,
    patient_visible_to,
    patients_visible_to,
)
from kapstone.program import course_work, ical, telehealth
from kapstone.program.models import CalendarFeed, Enrolment, Group, GroupSession, Unavailability

GROUPS_PER_PAGE = 50


def enrolments_visible_to(user: User, *, field: str) -> QuerySet[Enrolment]:
    """The enrolments (in any status) of patients the user may see, by the care-team rule of
    patients.selectors.patient_visible_to, in the group a row names in `field`: whether there are any is whether
    the group holds a patient of theirs, tested on that group's enrolments alone."""
    return Enrolment.objects.filter(patient_visible_to(user), group=OuterRef(field))


def group_visible_to(user: User, *, field: str = "pk") -> Q:
    """Whether the user may see the group a row names in `field`: admins every group, a clinician the groups they
    facilitate or that hold a patient on their care team, nobody else any.

    For a clinician it is one EXISTS over both reasons, each read from the row's group on unique indexes, which
    PostgreSQL tests row by row. The group list walks its index newest first and stops after a page. Written as
    an IN, or as two EXISTS joined by OR, PostgreSQL hashed every group the clinician facilitates and every
    enrolment of their care team first, however few rows it then read: the list cost grew with the practice
    (issue 19)."""
    if user.role == Role.ADMIN:
        return Q(**{f"{field}__isnull": False})
    if user.is_clinician:
        facilitates = Group.facilitators.through.objects.filter(group=OuterRef(field), user=user).values("group")
        holds_their_patient = enrolments_visible_to(user, field=field).values("group")
        return Q(Exists(facilitates.union(holds_their_patient, all=True)))
    return Q(pk__in=[])


def _enrolment_count(status: str) -> Coalesce:
    """How many enrolments of a status the outer group has, counted on the enrolment table's own index."""
    counted = (
        Enrolment.objects.filter(group=OuterRef("pk"), status=status)
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@dataclass(frozen=True)
class GroupListRow:
    """A group on the list, with what the list says of its facilitators: each one's family name (the username
    when there is none), in the staff's usual order."""

    group: Group
    facilitators: list[str]


@dataclass(frozen=True)
class GroupListPage:
    page: Page[Group]
    rows: list[GroupListRow]


def _groups_visible_to(user: User) -> QuerySet[Group]:
    return (
        Group.objects.filter(group_visible_to(user))
        .annotate(
            enrolled_count=_enrolment_count(Enrolment.Status.ENROLLED),
            waitlist_count=_enrolment_count(Enrolment.Status.WAITLISTED),
            # A finished course's enrolments are completed, not enrolled: counted too, so it does not read "0 of 4".
            completed_count=_enrolment_count(Enrolment.Status.COMPLETED),
        )
        .order_by("-start_date", "name", "pk")
    )


@compiled_once()
def _groups_listed(user: User, start: int | None = None, end: int | None = None) -> QuerySet[Group]:
    """The group list, or a page of it, compiled once for each user (and page): its care-team test and enrolment
    counts took longer to compile than to run (issue 19)."""
    return _groups_visible_to(user)[start:end]


@compiled_once(group_ids=KEYS)
def _facilitator_names(*, group_ids: list[int]) -> QuerySet[Any, tuple[int, str, str]]:
    return (
        Group.facilitators.through.objects.filter(group__in=group_ids)
        .order_by("user__last_name", "user__first_name", "user__pk")
        .values_list("group_id", "user__last_name", "user__username")
    )


def group_list(*, user: User, page_number: int | str = 1) -> GroupListPage:
    """The groups this user may see, newest first, a page at a time: a practice accumulates a group per course."""
    page, shown = compiled_page(_groups_listed, user, per_page=GROUPS_PER_PAGE, page_number=page_number)
    # Only the names the list shows, in one read: prefetching the facilitators built a full user and a related
    # manager for each of them on every row, most of the page's time (issue 19).
    names: dict[int, list[str]] = {}
    for group_id, last_name, username in _facilitator_names(group_ids=[group.pk for group in shown]):
        names.setdefault(group_id, []).append(last_name or username)
    return GroupListPage(page=page, rows=[GroupListRow(group, names.get(group.pk, [])) for group in shown])


def group_get(*, user: User, group_id: int | str) -> Group:
    try:
        group = Group.objects.filter(group_visible_to(user)).get(pk=int(group_id))
    except (Group.DoesNotExist, ValueError, TypeError):
        raise Http404("No such group.") from None
    return group


def group_has_patient_hidden_from(*, user: User, group: Group) -> bool:
    """Whether the group holds an enrolled patient this user may not see (never, for an admin). A write that reaches
    every patient of the group (planning its sessions, scheduling its questionnaires or creativity tasks, choosing
    who facilitates, which opens their records) is refused then, in words that name no one: a clinician sees a
    group for one patient's sake, and another clinician's patient in it is none of theirs to schedule."""
    enrolled = Enrolment.objects.filter(group=group, status=Enrolment.Status.ENROLLED)
    return enrolled.exclude(patient_visible_to(user)).exists()


HIDDEN_PATIENTS_REFUSAL = (
    "Only staff who look after every patient of this group, or an admin, may schedule work for all of its "
    "patients. Ask an admin, or the clinicians of the group's other patients."
)


def group_holding_visible_patient(*, user: User, group_id: int | str) -> Group:
    """A group with a patient this user may see among its enrolments (any group for admins), for actions that
    schedule work for a group's patients; otherwise 404."""
    try:
        return Group.objects.filter(enrolments__patient__in=patients_visible_to(user)).distinct().get(pk=int(group_id))
    except (Group.DoesNotExist, ValueError, TypeError):
        raise Http404("No such group.") from None


def group_roster(*, user: User, group: Group) -> list[Enrolment]:
    """The group's enrolments, showing only patients this user may see by name."""
    visible = patients_visible_to(user)
    enrolments = list(
        Enrolment.objects.filter(group=group, patient__in=visible)
        .select_related("patient")
        .order_by("status", "created_at")
    )
    audit.record(
        action=audit.Action.READ,
        object_type="group_roster",
        object_id=group.pk,
        detail={"patient_ids": [e.patient_id for e in enrolments]},
    )
    return enrolments


@dataclass(frozen=True)
class FacilitatorAccess:
    """One facilitator of a group and what they can open of its enrolled patients' records."""

    staff: object
    sessions: int  # sessions of the group they facilitate
    enrolled: int
    on_care_team: int  # patients whose care team they are on by hand
    granted: int  # patients granted to them because they facilitate one of the patient's courses, inside its window

    @property
    def sees(self) -> int:
        return self.on_care_team + self.granted


def group_facilitator_access(*, group: Group) -> list[FacilitatorAccess]:
    """The group's facilitators (the group's own and every session's), each with the enrolled patients they can
    open; a fixed number of queries however many facilitators."""
    sessions: dict[int, int] = {}
    staff = {person.pk: person for person in group.facilitators.all()}
    for session in group.sessions.prefetch_related("facilitators"):
        for person in session.facilitators.all():
            staff.setdefault(person.pk, person)
            sessions[person.pk] = sessions.get(person.pk, 0) + 1
    enrolled = list(group.enrolments.filter(status=Enrolment.Status.ENROLLED).values_list("patient_id", flat=True))
    by_hand: dict[int, int] = {}
    granted: dict[int, int] = {}
    # A grant outside its window opens nothing (patients.models.membership_in_force), so it is not counted.
    for staff_id, group_id in CareTeamMembership.objects.filter(
        membership_in_force(), patient_id__in=enrolled, staff_id__in=list(staff)
    ).values_list("staff_id", "granted_for_group_id"):
        counts = by_hand if group_id is None else granted
        counts[staff_id] = counts.get(staff_id, 0) + 1
    return [
        FacilitatorAccess(person, sessions.get(pk, 0), len(enrolled), by_hand.get(pk, 0), granted.get(pk, 0))
        for pk, person in sorted(staff.items(), key=lambda item: (item[1].last_name, item[1].username))
    ]


def group_scheduled_work(*, user: User, group: Group) -> dict[str, dict[str, int]]:
    """How many questionnaires and creativity tasks the group's patients (those this user may see) have
    scheduled, and how many of them are done: {"questionnaires": {"scheduled": n, "completed": n}, "tasks": ...}."""
    return course_work.counts(group=group, patients=patients_visible_to(user))


def group_sessions(*, group: Group) -> list[GroupSession]:
    return list(group.sessions.select_related("room").prefetch_related("facilitators").order_by("starts_at"))


@built_once_per_user
def _sessions_visible_to(user: User) -> QuerySet[GroupSession]:
    """sessions_on's query without the day: building its care-team test took longer than running it (issue 19)."""
    return (
        # Each session tested on its own group (EXISTS), not against every group the user may see.
        GroupSession.objects.filter(group_visible_to(user, field="group"))
        .select_related("group", "room")
        # What the home's schedule writes (a session is named by its group, kind and number): the whole session,
        # group and room were most of the columns Django compiled for it (issue 19).
        .only("kind", "number", "starts_at", "group__name", "room__name")
        .order_by("starts_at")
    )


@compiled_once(start=datetime.datetime, end=datetime.datetime)
def _sessions_between(user: User, *, start: datetime.datetime, end: datetime.datetime) -> QuerySet[GroupSession]:
    return _sessions_visible_to(user).filter(starts_at__gte=start, starts_at__lt=end)


def sessions_on(*, user: User, day: datetime.date) -> list[GroupSession]:
    """The sessions of a day (in the practice's time zone) in groups the user may see."""
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return _sessions_between(user, start=start, end=start + datetime.timedelta(days=1))


def sessions_for_patient(*, patient: Patient) -> list[GroupSession]:
    active = Enrolment.objects.filter(
        patient=patient, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
    )
    return list(
        GroupSession.objects.filter(group__enrolments__in=active).select_related("group", "room").order_by("starts_at")
    )


def sessions_starting_between(*, start: datetime.datetime, end: datetime.datetime) -> list[GroupSession]:
    """Every group's sessions that start after `start` and no later than `end` (the reminder sweep's horizon)."""
    return list(
        GroupSession.objects.filter(starts_at__gt=start, starts_at__lte=end)
        .select_related("group", "room")
        .prefetch_related(telehealth.facilitators_for_video_links())
        .order_by("starts_at")
    )


def enrolled_patients(*, group: Group) -> list[Patient]:
    """The patients enrolled in the group now (not waitlisted, withdrawn or finished)."""
    return [e.patient for e in group.enrolments.filter(status=Enrolment.Status.ENROLLED).select_related("patient")]


def sessions_for_facilitator(*, staff: User) -> list[GroupSession]:
    return list(GroupSession.objects.filter(facilitators=staff).select_related("group", "room").order_by("starts_at"))


# --- the program's pages ----------------------------------------------------------------------------------------


def enrolment_candidates(*, user: User, group: Group, waiting_too: bool) -> QuerySet[Patient]:
    """Patients this user may see who are not already in the group (nor waiting for it, if `waiting_too`)."""
    statuses = [Enrolment.Status.ENROLLED, Enrolment.Status.WAITLISTED] if waiting_too else [Enrolment.Status.ENROLLED]
    taken = group.enrolments.filter(status__in=statuses)
    # The care-team test as an EXISTS per patient (patient_visible_to), not a join to de-duplicate: the page reads
    # the first few by name, which PostgreSQL finds by walking the name index, where DISTINCT over the join sorted
    # every patient the reader may see first (15 ms for a prescriber of 2,500 patients).
    return (
        Patient.objects.filter(patient_visible_to(user, field="pk"), is_active=True)
        .exclude(pk__in=taken.values("patient_id"))
        .order_by("family_name", "given_name", "pk")
    )


# A picker a person can scan: past it the group page asks for part of a name or a record number. Offering every
# patient a member of staff may see grew the page with the practice (thousands of options for an admin, and as many
# patients named in the page's audit read).
CANDIDATES_OFFERED = 50


def enrolment_candidates_offered(*, user: User, group: Group, find: str) -> tuple[list[Patient], bool]:
    """The candidates the group page's enrol and waitlist pickers offer, in name order: those matching `find` (a
    record number or part of a name) when given, at most CANDIDATES_OFFERED of them, and whether more match. The
    read names each patient offered, as each choice shows a name and record number."""
    candidates = enrolment_candidates(user=user, group=group, waiting_too=True)
    if find:
        candidates = candidates.filter(patient_search_terms(find))
    offered = list(candidates[: CANDIDATES_OFFERED + 1])
    audit.record(
        action=audit.Action.READ,
        object_type="enrolment_candidates",
        object_id=group.pk,
        detail={"find": find, "patient_ids": [patient.pk for patient in offered[:CANDIDATES_OFFERED]]},
    )
    return offered[:CANDIDATES_OFFERED], len(offered) > CANDIDATES_OFFERED


def enrolment_counts(*, group: Group) -> dict[str, int]:
    """How many of the group's enrolments are in each status."""
    rows = group.enrolments.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def enrolment_get(*, user: User, enrolment_id: int | str) -> Enrolment:
    """An enrolment of a patient the user may see, in a group the user may see; otherwise 404."""
    try:
        return Enrolment.objects.select_related("group", "patient").get(
            group_visible_to(user, field="group"),
            pk=int(enrolment_id),
            patient__in=patients_visible_to(user),
        )
    except (Enrolment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such enrolment.") from None


def session_get(*, user: User, session_id: int | str) -> GroupSession:
    """A session of a group the user may see; otherwise 404."""
    try:
        return (
            GroupSession.objects.filter(group_visible_to(user, field="group"))
            .select_related("group", "room")
            .get(pk=int(session_id))
        )
    except (GroupSession.DoesNotExist, ValueError, TypeError):
        raise Http404("No such session.") from None


def session_facilitators(*, session: GroupSession) -> list[User]:
    """Who facilitates the session (a session's page and its move form name them)."""
    return list(session.facilitators.all())


def clinical_staff_all() -> QuerySet[User]:
    """Every member of clinical staff, active or not, to name the facilitators of a proposed plan."""
    return get_user_model().objects.filter(role__in=CLINICAL_ROLES)


# The away pages' and the calendar page's reads, compiled once (kapstone.compiled_once): on pages this light,
# compiling them took a fifth of the page's time (issue 19).


@compiled_once(patient_id=int)
def _away_of_patient(*, patient_id: int) -> QuerySet[Unavailability]:
    return Unavailability.objects.filter(patient_id=patient_id).order_by("-first_day")


def away_of_patient(*, patient: Patient) -> list[Unavailability]:
    return _away_of_patient(patient_id=patient.pk)


@compiled_once()
def _away_of_staff_of(user: User) -> QuerySet[Unavailability]:
    return (
        Unavailability.objects.filter(staff__in=away_staff_choices(user=user))
        .select_related("staff")
        .order_by("-first_day")
    )


def away_of_staff(*, user: User) -> list[Unavailability]:
    """The away dates of the staff whose dates this user records (away_staff_choices)."""
    return _away_of_staff_of(user)


def away_for_change(*, user: User, away_id: int | str) -> Unavailability:
    """Away dates this user may change: a patient's, on a record they may open (the read is audited as patient_get
    audits it); or a member of staff's own, or anyone's for an admin. Otherwise 404."""
    try:
        away = Unavailability.objects.get(pk=int(away_id))
    except (Unavailability.DoesNotExist, ValueError, TypeError):
        raise Http404("No such away dates.") from None
    if away.patient_id:
        patient_get(user=user, patient_id=away.patient_id, purpose="away dates")
    elif away.staff_id != user.pk and user.role != Role.ADMIN:
        raise Http404("No such away dates.")
    return away


def clinical_staff() -> QuerySet[User]:
    """The active clinical staff, to choose facilitators from."""
    return get_user_model().objects.filter(role__in=CLINICAL_ROLES, is_active=True).order_by("last_name", "username")


def away_staff_choices(*, user: User) -> QuerySet[User]:
    """Whose away dates this user records: the admin anyone's on the clinical staff, others only their own."""
    return clinical_staff() if user.role == Role.ADMIN else get_user_model().objects.filter(pk=user.pk)


@compiled_once()
def _calendar_feed_of(user: User) -> QuerySet[CalendarFeed]:
    return CalendarFeed.objects.filter(user=user).order_by("pk")[:1]


def calendar_feed_of(*, user: User) -> CalendarFeed | None:
    return next(iter(_calendar_feed_of(user)), None)


def feed_url(token: str) -> str:
    """The subscription link of a calendar feed token, at the practice's own address (settings.SITE_URL), as every
    emailed link is: never the Host header of the request that made it, which the visitor chose."""
    return settings.SITE_URL.rstrip("/") + reverse("program:feed", args=[token])


def calendar_of(*, user: User) -> bytes:
    """The user's sessions as iCalendar: a patient's own sessions, or the sessions a member of staff
    facilitates. Summaries carry the group's name and the session, never a patient's name. Recorded as an
    export: the file leaves the system, to whatever calendar app fetches it. Its events' UIDs end in the practice's
    own host name, whichever name the feed was fetched under, so a subscriber's calendar keeps one copy of each."""
    if user.role == Role.PATIENT:
        patient = patient_for_portal_user(user)
        sessions = sessions_for_patient(patient=patient)
        audit.record(action=audit.Action.EXPORT, actor=user, patient=patient, object_type="calendar_feed")
    else:
        sessions = sessions_for_facilitator(staff=user)
        audit.record(action=audit.Action.EXPORT, actor=user, object_type="calendar_feed", object_id=user.pk)
    # A remote session's link may come from a facilitator's room or the practice's template: both are read once for
    # the whole feed, which before read them again for every session.
    prefetch_related_objects(sessions, telehealth.facilitators_for_video_links())
    video = telehealth.video_settings()
    events = [
        ical.CalendarEvent(
            key=f"group-session-{session.pk}",
            start=session.starts_at,
            end=session.ends_at,
            summary=f"{session.group.name}: {session.get_kind_display()} session {session.number}",
            location=telehealth.video_link(session, video) or (session.room.name if session.room else ""),
            description="Held by video: join with the link above." if session.is_remote else "",
            sequence=session.calendar_sequence,
        )
        for session in sessions
    ]
    return ical.build_calendar(events, name="Kapstone sessions", domain=urlsplit(settings.SITE_URL).hostname or "")
