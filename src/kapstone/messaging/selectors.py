"""Reads of secure messages. Staff reach a patient's threads through the care-team filter (patients_visible_to);
a patient only their own. Opening a thread is audited and marks it read for the reader. Also how long before a
session its reminder goes out."""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

if TYPE_CHECKING:
    # Only for the annotations _with_unread adds: the package is a development dependency.
    from django_stubs_ext import WithAnnotations

from kapstone.accounts.models import DISPLAY_NAME_FIELDS, User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.audit import services as audit
from kapstone.compiled_once import compiled_once
from kapstone.messaging.models import Message, SessionChangeRequest, Thread, ThreadRead
from kapstone.messaging.practice_settings import DEFAULT_SESSION_REMINDER_LEAD_HOURS, SESSION_REMINDER_LEAD_KEY
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_for_portal_user, patient_get, patients_visible_to
from kapstone.practice.settings_store import practice_value


class Unread(TypedDict):
    """What _with_unread adds to each thread."""

    last_read: datetime.datetime | None
    unread: int


def _with_unread(threads: QuerySet[Thread], user: User) -> "QuerySet[WithAnnotations[Thread, Unread]]":
    """Each thread with `unread`: messages by someone else since the user last read it."""
    read_at = ThreadRead.objects.filter(thread=OuterRef("pk"), user=user).values("read_at")[:1]
    others = ~Q(messages__author=user)
    return threads.annotate(last_read=Subquery(read_at)).annotate(
        unread=Count(
            "messages",
            filter=others & (Q(last_read__isnull=True) | Q(messages__created_at__gt=F("last_read"))),
        )
    )


def portal_threads(*, user: User) -> tuple[Patient, list[Thread]]:
    patient = patient_for_portal_user(user)
    audit.record(action=audit.Action.READ, patient=patient, object_type="message_threads", detail={"view": "portal"})
    return patient, _threads_of(user, patient_id=patient.pk)


@compiled_once(patient_id=int)
def _threads_of(user: User, *, patient_id: int) -> QuerySet[Thread]:
    """A patient's threads with who started each and the user's unread count: compiled once for each user, as its
    subquery and count took longer to compile than to run (issue 19)."""
    return _with_unread(Thread.objects.filter(patient_id=patient_id).select_related("started_by"), user)


def portal_thread(*, user: User, thread_id: int | str) -> Thread:
    patient = patient_for_portal_user(user)
    return _opened(Thread.objects.filter(patient=patient), thread_id)


def staff_threads(*, user: User, patient_id: int | str) -> tuple[Patient, list[Thread]]:
    patient = patient_get(user=user, patient_id=patient_id, purpose="messages")
    return patient, _threads_of(user, patient_id=patient.pk)


def staff_thread(*, user: User, patient_id: int | str, thread_id: int | str) -> Thread:
    patient = patient_get(user=user, patient_id=patient_id, purpose="messages")
    return _opened(Thread.objects.filter(patient=patient), thread_id)


def _opened(threads: QuerySet[Thread], thread_id: int | str) -> Thread:
    try:
        thread = threads.select_related("patient").get(pk=int(thread_id))
    except (Thread.DoesNotExist, ValueError, TypeError):
        raise Http404("No such conversation.") from None
    thread.message_list = list(thread.messages.select_related("author"))
    audit.record(
        action=audit.Action.READ, patient_id=thread.patient_id, object_type="message_thread", object_id=thread.pk
    )
    return thread


def attachment(*, user: User, message_id: int | str) -> Message:
    """A message's picture, for the patient it belongs to (her record open, as for every page of her portal) or
    staff who may see the patient."""
    messages = Message.objects.exclude(attachment="").select_related("thread")
    if user.role == Role.PATIENT:
        messages = messages.filter(thread__patient=patient_for_portal_user(user))
    else:
        messages = messages.filter(thread__patient__in=patients_visible_to(user))
    try:
        message = messages.get(pk=int(message_id))
    except (Message.DoesNotExist, ValueError, TypeError):
        raise Http404("No such picture.") from None
    audit.record(
        action=audit.Action.READ,
        patient_id=message.thread.patient_id,
        object_type="message_attachment",
        object_id=message.pk,
    )
    return message


@dataclass(frozen=True)
class UnreadRow:
    label: str
    count: int
    patient: Patient | None = None


# The inbox's reads, compiled once (for each user, where the read depends on who asks) (issue 19).
@compiled_once()
def _unread_threads_visible_to(user: User) -> "QuerySet[WithAnnotations[Thread, Unread]]":
    threads = Thread.objects.filter(patient__in=patients_visible_to(user))
    return _with_unread(threads, user).filter(unread__gt=0).select_related("patient").distinct()


@compiled_once()
def _pending_change_requests_visible_to(user: User) -> QuerySet[SessionChangeRequest]:
    return (
        SessionChangeRequest.objects.filter(
            patient__in=patients_visible_to(user), status=SessionChangeRequest.Status.PENDING
        )
        .select_related("patient")
        .order_by("created_at")
    )


class UnreadThreads(TypedDict):
    """What _clinicians_with_unread_threads adds to each clinician."""

    unread: int


# From a member of staff to the threads of their care-team patients.
_TEAM_THREADS = "care_memberships__patient__message_threads"


@compiled_once()
def _clinicians_with_unread_threads() -> "QuerySet[WithAnnotations[User, UnreadThreads]]":
    """Active clinicians with `unread`: the threads of their care-team patients whose latest patient message came after
    they last read it, or that they never read. Counted by the database in one grouped read (issue 19): a thread is
    unread when one of its patient messages has no read mark at or after it, which is the same thread as "its latest
    patient message is after the read mark" and lets the database join the read marks once rather than find each
    thread's latest message. Most unread first; ties by name, as lists of staff are ordered, then by key."""
    read_since_message = ThreadRead.objects.filter(
        thread=OuterRef(_TEAM_THREADS),
        user=OuterRef("pk"),
        read_at__gte=OuterRef(f"{_TEAM_THREADS}__messages__created_at"),
    )
    # One filter() call, so that the read-mark test is of the same membership, thread and message as the rest
    # (a second call would join each many-valued relation afresh); the count after it counts those joins.
    return (
        User.objects.filter(
            Q(is_active=True, role__in=sorted(CLINICAL_ROLES), **{f"{_TEAM_THREADS}__messages__from_patient": True}),
            ~Exists(read_since_message),
        )
        .annotate(unread=Count(_TEAM_THREADS, distinct=True))
        .order_by("-unread", "last_name", "first_name", "pk")
        .only(*DISPLAY_NAME_FIELDS)
    )


def unread_overview(*, user: User) -> dict[str, list[UnreadRow] | list[SessionChangeRequest]]:
    """For staff: the threads with unread patient messages, by patient (those this user may see) and, for admins,
    by staff member (threads of each clinician's care-team patients that they have not read)."""
    by_patient: dict[int, UnreadRow] = {}
    for thread in _unread_threads_visible_to(user):
        row = by_patient.get(thread.patient_id)
        by_patient[thread.patient_id] = UnreadRow(
            thread.patient.full_name, (row.count if row else 0) + 1, thread.patient
        )
    by_staff = (
        [UnreadRow(clinician.display_name, clinician.unread) for clinician in _clinicians_with_unread_threads()]
        if user.role == Role.ADMIN
        else []
    )
    pending = _pending_change_requests_visible_to(user)
    audit.record(
        action=audit.Action.READ,
        object_type="message_inbox",
        detail={"patient_ids": sorted(set(by_patient) | {r.patient_id for r in pending})},
    )
    return {"by_patient": list(by_patient.values()), "by_staff": by_staff, "change_requests": pending}


def change_request(*, user: User, request_id: int | str) -> SessionChangeRequest:
    try:
        return SessionChangeRequest.objects.select_related("patient").get(
            pk=int(request_id), patient__in=patients_visible_to(user)
        )
    except (SessionChangeRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No such request.") from None


def session_reminder_lead() -> datetime.timedelta:
    """How long before a session its reminder goes out: the practice's own setting (operational, the admin's), by
    default the day before."""
    hours = practice_value(SESSION_REMINDER_LEAD_KEY, DEFAULT_SESSION_REMINDER_LEAD_HOURS)
    return datetime.timedelta(hours=hours)
