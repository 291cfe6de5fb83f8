"""Secure messages between a patient and their care team: part of the patient's record."""

import uuid

from django.conf import settings
from django.db import models

from kapstone.measures.crisis import crisis_phrases_in
from kapstone.patients.models import Patient

MAX_MESSAGE_CHARACTERS = 5000  # an input limit: a message, not a document; longer text goes in several


def attachment_name(instance, filename: str) -> str:
    # A random name: the patient's file name may say something about them, and must not be guessable.
    return f"messages/{uuid.uuid4().hex}.{getattr(instance, '_attachment_extension', 'bin')}"


class Thread(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="message_threads")
    subject = models.CharField(max_length=120)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField(db_index=True)
    # Not a column: an opened thread's messages, oldest first (selectors._opened sets it).
    message_list: list["Message"]

    class Meta:
        ordering = ["-last_message_at", "-id"]

    def __str__(self) -> str:
        return f"thread {self.pk} of patient {self.patient_id}"


class Message(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_patient = models.BooleanField()
    body = models.TextField(max_length=MAX_MESSAGE_CHARACTERS)
    attachment = models.FileField(upload_to=attachment_name, blank=True)
    # Not a column: the checked picture's extension, set by the service for attachment_name to read.
    _attachment_extension: str
    attachment_content_type = models.CharField(max_length=40, blank=True)
    mentions_crisis = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.pk} in thread {self.thread_id}"


class ThreadRead(models.Model):
    """How far one person has read a thread: messages after `read_at` by someone else are unread for them."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="one_read_mark_per_person")]

    def __str__(self) -> str:
        return f"thread {self.thread_id} read by {self.user_id} at {self.read_at:%Y-%m-%d %H:%M}"


class SessionChangeRequest(models.Model):
    """A patient's request to move or miss a session. Staff accept or decline it; accepting changes nothing by
    itself (staff then move the session, or record the absence), so a session is never changed silently."""

    class Kind(models.TextChoices):
        RESCHEDULE = "reschedule", "Move to another time"
        CANCEL = "cancel", "Cannot come"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the care team"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="session_change_requests")
    # The session's id: program sits beside this app, and a request outlives a session moved or removed.
    session_id = models.PositiveBigIntegerField(db_index=True)
    session_label = models.CharField(max_length=160)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "session_id"],
                condition=models.Q(status="pending"),
                name="one_pending_request_per_session",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} request for session {self.session_id}"

    @property
    def mentions_crisis(self) -> bool:
        """The note passes the secure messages' crisis screen: it too is the patient writing to the care team."""
        return bool(crisis_phrases_in(self.note))
