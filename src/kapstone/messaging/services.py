"""Writes for secure messages. Each is atomic and audited (ids and flags, never what was written). A message to
the patient is announced by email or SMS that says only that there is one; a patient's message that mentions a
crisis raises a review alert through practice.signals.safety_event once it is committed."""

import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.audit import services as audit
from kapstone.integration import selectors as integration_selectors
from kapstone.integration import services as integration
from kapstone.integration.services import CleanImage
from kapstone.measures.crisis import crisis_announce_on_commit, crisis_phrases_in
from kapstone.messaging import selectors
from kapstone.messaging.models import MAX_MESSAGE_CHARACTERS, Message, SessionChangeRequest, Thread, ThreadRead
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patient_for_portal_user, patients_visible_to
from kapstone.practice.storage import removed_if_not_saved
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.selectors import enrolled_patients, sessions_for_patient, sessions_starting_between
from kapstone.program.telehealth import VideoSettings, video_link, video_settings

NOTIFICATION_KIND = "secure_message"
SESSION_REMINDER_KIND = "session_reminder"
CRISIS_KIND = "message_crisis_keyword"


class MessageRefused(ValueError):
    """A message the service will not send, with a message for the person who wrote it."""


def _may_write(actor: User, patient: Patient) -> bool:
    if actor.role == Role.PATIENT:
        return patient.user_id == actor.pk
    return actor.role in RECORD_ROLES and patients_visible_to(actor).filter(pk=patient.pk).exists()


def _announce(message: Message) -> None:
    patient = message.thread.patient
    if message.from_patient:
        if message.mentions_crisis:
            crisis_announce_on_commit(
                sender=Message,
                kind=CRISIS_KIND,
                patient_id=patient.pk,
                summary="A secure message from the patient mentions a crisis; read it and reach out.",
                object_type="message",
                object_id=message.pk,
            )
        return
    link = settings.SITE_URL.rstrip("/") + reverse("messaging:my_thread", args=[message.thread_id])
    integration.notify(
        patient=patient,
        kind=NOTIFICATION_KIND,
        dedupe_key=f"message:{message.pk}",
        subject="You have a new message from your care team",
        body=f"There is a new message for you in your patient portal. Sign in to read it: {link}",
    )


def _add(*, actor: User, thread: Thread, body: str, attachment: CleanImage | None) -> Message:
    body = body.strip()
    if not body and attachment is None:
        raise MessageRefused("Write a message or attach a picture.")
    if len(body) > MAX_MESSAGE_CHARACTERS:
        raise MessageRefused(f"A message holds at most {MAX_MESSAGE_CHARACTERS:,} characters.")
    now = timezone.now()
    from_patient = actor.role == Role.PATIENT
    message = Message(
        thread=thread,
        author=actor,
        from_patient=from_patient,
        body=body,
        mentions_crisis=from_patient and bool(crisis_phrases_in(body)),
        created_at=now,
    )
    if attachment is not None:
        message._attachment_extension = attachment.extension
        message.attachment_content_type = attachment.content_type
        message.attachment.save("upload", ContentFile(attachment.content), save=False)
    with removed_if_not_saved(message.attachment):
        message.save()
        Thread.objects.filter(pk=thread.pk).update(last_message_at=now)
        ThreadRead.objects.update_or_create(thread=thread, user=actor, defaults={"read_at": now})
        audit.record(
            action=audit.Action.CREATE,
            patient_id=thread.patient_id,
            object_type="message",
            object_id=message.pk,
            detail={"thread": thread.pk, "attachment": attachment is not None, "crisis": message.mentions_crisis},
        )
        _announce(message)
    return message


@transaction.atomic
def thread_start(
    *, actor: User, patient: Patient, subject: str, body: str, attachment: CleanImage | None = None
) -> Message:
    if not _may_write(actor, patient):
        raise MessageRefused("You cannot write to this patient.")
    subject = " ".join(subject.split())
    if not subject:
        raise MessageRefused("Give the conversation a subject.")
    now = timezone.now()
    thread = Thread.objects.create(
        patient=patient, subject=subject[:120], started_by=actor, created_at=now, last_message_at=now
    )
    audit.record(action=audit.Action.CREATE, patient=patient, object_type="message_thread", object_id=thread.pk)
    return _add(actor=actor, thread=thread, body=body, attachment=attachment)


@transaction.atomic
def message_send(*, actor: User, thread: Thread, body: str, attachment: CleanImage | None = None) -> Message:
    if not _may_write(actor, thread.patient):
        raise MessageRefused("You cannot write in this conversation.")
    return _add(actor=actor, thread=thread, body=body, attachment=attachment)


@transaction.atomic
def thread_mark_read(*, user: User, thread: Thread) -> None:
    ThreadRead.objects.update_or_create(thread=thread, user=user, defaults={"read_at": timezone.now()})


def _session_label(session: GroupSession) -> str:
    when = timezone.localtime(session.starts_at)
    return f"{session.get_kind_display()} session {session.number}, {when:%A %B} {when.day} at {when:%-I:%M %p}"


@transaction.atomic
def session_change_request(*, actor: User, session: GroupSession, kind: str, note: str = "") -> SessionChangeRequest:
    """A patient asks to move or miss one of their own upcoming sessions."""
    patient = patient_for_portal_user(actor)
    if kind not in SessionChangeRequest.Kind.values:
        raise MessageRefused("Choose whether to move the session or to miss it.")
    if session.pk not in {s.pk for s in sessions_for_patient(patient=patient)}:
        raise MessageRefused("This is not one of your sessions.")
    if session.starts_at <= timezone.now():
        raise MessageRefused("This session has already started; please call the practice.")
    try:
        with transaction.atomic():
            request = SessionChangeRequest.objects.create(
                patient=patient,
                session_id=session.pk,
                session_label=_session_label(session),
                kind=kind,
                note=note.strip()[:500],
                created_at=timezone.now(),
            )
    except IntegrityError:
        raise MessageRefused("You have already asked about this session; your care team will answer.") from None
    audit.record(
        action=audit.Action.CREATE,
        patient=patient,
        object_type="session_change_request",
        object_id=request.pk,
        detail={"session": session.pk, "kind": kind},
    )
    # The note is the patient writing to the care team, as a message is: the same screen, the same alert.
    if request.mentions_crisis:
        crisis_announce_on_commit(
            sender=SessionChangeRequest,
            kind=CRISIS_KIND,
            patient_id=patient.pk,
            summary="A request to move or miss a session mentions a crisis; read it and reach out.",
            object_type="session_change_request",
            object_id=request.pk,
        )
    return request


@transaction.atomic
def session_change_decide(
    *, actor: User, request: SessionChangeRequest, accept: bool, note: str = ""
) -> SessionChangeRequest:
    """Staff answer a request. Accepting records the answer only: the session is moved (or the absence noted)
    in the group's schedule, where the other patients and the facilitators are told."""
    request = SessionChangeRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != SessionChangeRequest.Status.PENDING:
        raise MessageRefused("This request has already been answered.")
    if not _may_write(actor, request.patient) or actor.role == Role.PATIENT:
        raise MessageRefused("You cannot answer this request.")
    if not accept and not note.strip():
        raise MessageRefused("Say why the request is declined, so the patient knows what to do.")
    request.status = SessionChangeRequest.Status.ACCEPTED if accept else SessionChangeRequest.Status.DECLINED
    request.decided_by, request.decided_at, request.decision_note = actor, timezone.now(), note.strip()[:500]
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit.record(
        action=audit.Action.UPDATE,
        patient_id=request.patient_id,
        object_type="session_change_request",
        object_id=request.pk,
        detail={"status": request.status},
    )
    link = settings.SITE_URL.rstrip("/") + reverse("portal:home")
    integration.notify(
        patient=request.patient,
        kind="session_change_answer",
        dedupe_key=f"session-change:{request.pk}",
        subject="Your care team answered your request",
        body=f"There is an answer to your request about a session in your patient portal: {link}",
    )
    return request


# ---------------------------------------------------------------------------------------------------------------
# Session reminders


def _session_reminder_text(session: GroupSession, video: VideoSettings) -> tuple[str, str]:
    """The reminder's subject and body. Like every message that leaves Kapstone by email or SMS it names no kind
    of session and no treatment: the time, where the session is held (its video link, the practice's room, or home),
    and the portal for the rest."""
    when = timezone.localtime(session.starts_at)
    portal = settings.SITE_URL.rstrip("/") + reverse("portal:home")
    body = f"You have a session with your care team on {when:%A %B} {when.day} at {when:%-I:%M %p}. "
    link = video_link(session, video)
    if link:
        body += f"It is held by video: at that time, join with this link: {link} "
    elif session.is_remote:
        body += "It is held by video; your patient portal will show the link. "
    elif session.dosing_setting == session.DosingSetting.SUPERVISED_HOME:
        body += "It is held at home, as arranged with your care team. "
    else:
        body += f"It is held in person at the practice{f', {session.room.name}' if session.room else ''}. "
    body += f"Your patient portal has the details: {portal}"
    return "A reminder of your session with your care team", body


def _session_reminder_prefix(session_id: int) -> str:
    return f"session-reminder:{session_id}:"


def session_reminders_withdraw(*, enrolment: Enrolment) -> int:
    """A patient who left the group is not reminded of its sessions: a reminder still waiting (held back by their
    quiet hours, or to be tried again) is withdrawn. Runs inside the withdrawal's transaction
    (program.signals.enrolment_left). Returns how many."""
    session_ids = enrolment.group.sessions.values_list("pk", flat=True)
    return integration.patient_notifications_withdraw(
        patient_id=enrolment.patient_id,
        dedupe_prefixes=[_session_reminder_prefix(pk) for pk in session_ids],
        note="the patient left the group",
    )


# Not atomic as a whole: each reminder is queued in its own transaction (notify); their dedupe keys let a rerun resume.
def session_reminders_send_due(*, now: datetime.datetime | None = None) -> int:
    """The sweep (Celery beat, or `kapstone run_sweeps`): within the practice's lead time before each session
    (selectors.session_reminder_lead, by default the day before), each enrolled patient is reminded once on each channel they
    chose. A session that has changed since (moved, or now held by video or in
    person, or with another link: its calendar SEQUENCE has risen) is reminded of again, and a reminder of its old
    version still waiting is withdrawn so no one is sent an old time or link. Returns the patients reminded."""
    now = now or timezone.now()
    reminded = 0
    video = video_settings()
    for session in sessions_starting_between(start=now, end=now + selectors.session_reminder_lead()):
        prefix = _session_reminder_prefix(session.pk)
        version = f"{prefix}{session.calendar_sequence}:"
        integration.notifications_withdraw(
            dedupe_prefix=prefix, keep_prefix=version, note="the session changed; a newer reminder replaces this one"
        )
        already = integration_selectors.notified_patient_ids(dedupe_prefix=version)
        subject, body = _session_reminder_text(session, video)
        for patient in enrolled_patients(group=session.group):
            if patient.pk in already:
                continue
            queued = integration.notify(
                patient=patient,
                kind=SESSION_REMINDER_KIND,
                dedupe_key=f"{version}{patient.pk}",
                subject=subject,
                body=body,
                # Quiet hours may hold a reminder back; if they last until the session starts it is not sent.
                not_after=session.starts_at,
            )
            reminded += bool(queued)
    return reminded
