"""The patient's course as the portal home shows it: the next session, what to do before it, where they are in
the course, and their requests to move or miss a session. Plain words only: no internal codes."""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from kapstone.accounts.fields import STAFF_LABEL_FIELDS, staff_label
from kapstone.accounts.models import User
from kapstone.compiled_once import compiled_once
from kapstone.integration.practice_settings import PREFIX as INTEGRATION_PREFIX
from kapstone.integration.selectors import open_window_for
from kapstone.integration.window import window_bounds, window_settings
from kapstone.messaging.models import SessionChangeRequest
from kapstone.patients.models import Patient
from kapstone.portal.practice_settings import PREFIX as PORTAL_PREFIX
from kapstone.portal.practice_settings import preparation_instructions
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.patient_words import PATIENT_SESSION_WORDS
from kapstone.program.telehealth import video_link

# What the course's stage counts and the next session shows of each session, its place and its link (video_link).
SESSION_COLUMNS = ("kind", "number", "starts_at", "ends_at", "is_remote", "video_url", "room__name")
# What the home shows of each request to move or miss a session, and what tells the next session's apart.
REQUEST_COLUMNS = ("session_id", "session_label", "kind", "status", "decision_note")
REQUESTS_SHOWN = 5


# The home's reads, compiled once for every patient (kapstone.compiled_once): building and compiling them took longer
# than the database took to answer (issue 19).
@compiled_once(patient_id=int)
def _enrolments(*, patient_id: int) -> QuerySet[Enrolment]:
    # Each enrolment's status and group only: the group's own row is not shown.
    return Enrolment.objects.filter(patient_id=patient_id).only("status", "group").order_by("-group__start_date")


@compiled_once(patient_id=int)
def _latest_requests(*, patient_id: int) -> QuerySet[SessionChangeRequest]:
    return SessionChangeRequest.objects.filter(patient_id=patient_id).only(*REQUEST_COLUMNS)[:REQUESTS_SHOWN]


@compiled_once(group_id=int)
def _course_sessions(*, group_id: int) -> QuerySet[GroupSession]:
    return (
        GroupSession.objects.filter(group_id=group_id)
        .select_related("room")
        .only(*SESSION_COLUMNS)
        .order_by("starts_at")
    )


@compiled_once(session_id=int)
def _facilitators(*, session_id: int) -> QuerySet[User]:
    # Only what names them, with their role (staff_label), in the order session.facilitators reads them.
    return User.objects.filter(facilitated_sessions__id=session_id).only(*STAFF_LABEL_FIELDS)


@dataclass(frozen=True)
class NextSession:
    session: GroupSession
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    place: str
    video_link: str
    led_by: list[str]
    instructions: list[str]
    request: SessionChangeRequest | None


@dataclass
class CourseView:
    enrolled: bool
    waitlisted: bool = False
    next_session: NextSession | None = None
    stage: str = ""
    window_open_until: datetime.datetime | None = None
    requests: list[SessionChangeRequest] = field(default_factory=list)


def _stage(sessions: list[GroupSession], now: datetime.datetime) -> str:
    def count(kind, *, done: bool) -> int:
        return sum(1 for s in sessions if s.kind == kind and (s.ends_at <= now if done else True))

    dosing_total, dosing_done = count("dosing", done=False), count("dosing", done=True)
    if dosing_total and dosing_done >= dosing_total:
        if all(s.ends_at <= now for s in sessions):
            return "You have finished your course."
        return "Your ketamine sessions are complete; the sessions below continue your course."
    if dosing_done:
        return f"Ketamine sessions: {dosing_done} of {dosing_total} done."
    preparation_total = count("preparation", done=False)
    if preparation_total:
        return f"Preparation: {count('preparation', done=True)} of {preparation_total} sessions done."
    return "Your course is being planned."


def course_view(
    *, patient: Patient, practice_settings: Mapping[str, dict[str, Any]], now: datetime.datetime | None = None
) -> CourseView:
    """`practice_settings`: the practice's own values the portal home shows (practice_settings.home_settings())."""
    now = now or timezone.now()
    enrolments = _enrolments(patient_id=patient.pk)
    enrolled = next((e for e in enrolments if e.status == Enrolment.Status.ENROLLED), None)
    # What the home says of each request, not the patient's note or who decided it when (issue 19).
    requests = _latest_requests(patient_id=patient.pk)
    if enrolled is None:
        waitlisted = any(e.status == Enrolment.Status.WAITLISTED for e in enrolments)
        return CourseView(enrolled=False, waitlisted=waitlisted, requests=requests)
    sessions = _course_sessions(group_id=enrolled.group_id)
    upcoming = next((s for s in sessions if s.ends_at > now), None)
    view = CourseView(enrolled=True, stage=_stage(sessions, now), requests=requests)
    settings = window_settings(practice_settings[INTEGRATION_PREFIX])
    window = open_window_for(patient, now=now, settings=settings)
    if window is not None:
        # The window's bounds follow from the dose's time alone: its work done and bookings are not shown here.
        bounds = window_bounds(window.dosed_at, settings)
        if bounds.preferred_end > now:
            view.window_open_until = bounds.preferred_end
    if upcoming is not None:
        link = video_link(upcoming)
        pending = next(
            (r for r in requests if r.session_id == upcoming.pk and r.status == SessionChangeRequest.Status.PENDING),
            None,
        )
        # Only the next session's facilitators are named (issue 19).
        facilitators = _facilitators(session_id=upcoming.pk)
        view.next_session = NextSession(
            session=upcoming,
            title=f"{PATIENT_SESSION_WORDS[upcoming.kind]} {upcoming.number}",
            starts_at=upcoming.starts_at,
            ends_at=upcoming.ends_at,
            place="By video" if upcoming.is_remote else (upcoming.room.name if upcoming.room else "At the practice"),
            video_link=link,
            # With each one's role, so a patient knows who prescribes and who is their therapist.
            led_by=[staff_label(f) for f in facilitators],
            instructions=preparation_instructions(
                upcoming.kind, remote=upcoming.is_remote, overrides=practice_settings[PORTAL_PREFIX]
            ),
            request=pending,
        )
    return view
