"""Writes for secure messages. Each is atomic and audited (ids and flags, never what was written). A message to
the patient is announced by email or SMS that says only that there is one; a patient's message that mentions a
crisis raises a review alert through practice.signals.safety_event once it is committed."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.audit import services as audit
from kapstone.integration import services as integration
from kapstone.integration.services import CleanImage
from kapstone.messaging.crisis import crisis_phrases_in
from kapstone.messaging.models import MAX_MESSAGE_CHARACTERS, Message, Thread, ThreadRead
from kapstone.patients.selectors import patients_visible_to
from kapstone.practice.signals import safety_event
from kapstone.practice.storage import removed_if_not_saved

NOTIFICATION_KIND = "secure_message"


class MessageRefused(ValueError):
    """A message the service will not send, with a message for the person who wrote it."""


def _may_write(actor, patient) -> bool:
    if actor.role == Role.PATIENT:
        return patient.user_id == actor.pk
    return actor.role in RECORD_ROLES and patients_visible_to(actor).filter(pk=patient.pk).exists()


def _announce(message: Message) -> None:
    patient = message.thread.patient
    if message.from_patient:
        if message.mentions_crisis:
            transaction.on_commit(
                lambda: safety_event.send(
                    sender=Message,
                    kind="message_crisis_keyword",
                    level="review",
                    patient_id=patient.pk,
                    summary="A secure message from the patient mentions a crisis; read it and reach out.",
                    object_type="message",
                    object_id=message.pk,
                )
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


def _add(*, actor, thread: Thread, body: str, attachment: CleanImage | None) -> Message:
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
def thread_start(*, actor, patient, subject: str, body: str, attachment: CleanImage | None = None) -> Message:
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
def message_send(*, actor, thread: Thread, body: str, attachment: CleanImage | None = None) -> Message:
    if not _may_write(actor, thread.patient):
        raise MessageRefused("You cannot write in this conversation.")
    return _add(actor=actor, thread=thread, body=body, attachment=attachment)


@transaction.atomic
def thread_mark_read(*, user, thread: Thread) -> None:
    ThreadRead.objects.update_or_create(thread=thread, user=user, defaults={"read_at": timezone.now()})
