"""The integration window, the patient's journal, therapist notes and patient notifications."""

import datetime
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from kapstone.patients.models import Patient


class IntegrationWindow(models.Model):
    """The days after one administered dose in which integration work is expected (window.yaml)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="integration_windows")
    dose_record = models.OneToOneField("dosing.DoseRecord", on_delete=models.PROTECT, related_name="integration_window")
    dosing_session = models.ForeignKey("program.GroupSession", on_delete=models.PROTECT, related_name="+")
    dosed_at = models.DateTimeField(db_index=True)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-dosed_at"]
        # The adherence page reads the newest windows first, with the id breaking ties so pages never overlap.
        indexes = [models.Index(fields=["-dosed_at", "-id"], name="integration_window_newest")]

    def __str__(self) -> str:
        return f"integration window after {self.dosing_session} for {self.patient}"


def journal_image_name(instance, filename: str) -> str:
    # A random name: the patient's file name may say something about them, and must not be guessable.
    extension = getattr(instance, "_image_extension", "bin")
    return f"journal/{uuid.uuid4().hex}.{extension}"


class JournalEntry(models.Model):
    """A patient's own journal entry. Private unless the patient shares it with their care team."""

    class Prompt(models.TextChoices):
        FREE = "free", "Free writing"
        INTENTION = "intention", "My intention before a session"
        INSIGHTS = "insights", "Insights after a session"
        EMOTIONS = "emotions", "Emotions after a session"
        CHANGED = "changed", "What has changed"

    class Activity(models.TextChoices):
        WRITING = "writing", "Writing"
        DRAWING = "drawing", "Drawing or painting"
        MUSIC = "music", "Music"
        MOVEMENT = "movement", "Movement"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="journal_entries")
    window = models.ForeignKey(
        IntegrationWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="journal_entries"
    )
    prompt = models.CharField(max_length=12, choices=Prompt.choices, default=Prompt.FREE)
    text = models.TextField(blank=True)
    mood = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    activity = models.CharField(max_length=10, choices=Activity.choices, blank=True)
    activity_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    image = models.FileField(upload_to=journal_image_name, blank=True)
    # Not a column: the checked picture's extension, set by the service for journal_image_name to read.
    _image_extension: str
    image_content_type = models.CharField(max_length=40, blank=True)
    shared_with_care_team = models.BooleanField(default=False)
    shared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "journal entries"
        # The adherence page's first entry after each window's dose (windows_with_work) is the first key of the
        # patient's from the dose on, read from the index alone: the patient's entries were read and sorted.
        indexes = [models.Index(fields=["patient", "created_at"], name="journal_entry_patient_time")]

    def __str__(self) -> str:
        return f"journal entry {self.pk} of patient {self.patient_id}"

    def clean(self):
        if not (self.text.strip() or self.activity or self.mood is not None):
            raise ValidationError("Write something, rate your mood or log a creative activity.")
        if self.activity and not self.activity_minutes:
            raise ValidationError({"activity_minutes": "Say for how many minutes."})
        if self.activity_minutes and not self.activity:
            raise ValidationError({"activity": "Choose the kind of activity."})


class IntegrationNote(models.Model):
    """A clinician's note about a patient at an integration session: part of the record, seen by the care team."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="integration_notes")
    session = models.ForeignKey("program.GroupSession", on_delete=models.PROTECT, related_name="integration_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # Whether a patient has a note at a session (windows_with_work's first note, for each window of the
        # adherence page) from the index alone: the two keys' indexes were read and intersected.
        indexes = [models.Index(fields=["session", "patient"], name="integration_note_session")]

    def __str__(self) -> str:
        return f"integration note {self.pk}"


class PsychotherapyNote(models.Model):
    """A therapist's process notes, kept apart from the medical record and encrypted at rest.

    Only the author reads them (while on the care team); no other role, no export and no timeline includes them.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"psychotherapy note {self.pk}"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as America/New_York.")


def practice_time_zone() -> str:
    """A new preference's zone: the practice's, as configured when the row is made. A callable rather than the value,
    so a practice outside the default zone (KAPSTONE_TIME_ZONE) is not told at every migrate that the models have
    changes no migration holds."""
    return settings.TIME_ZONE


class NotificationPreference(models.Model):
    """How and when a patient wants to hear from the practice. Quiet hours are in the patient's own time zone."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="notification_preference")
    by_email = models.BooleanField("Email", default=True)
    by_sms = models.BooleanField("Text message (SMS)", default=False)
    time_zone = models.CharField(max_length=64, default=practice_time_zone, validators=[validate_time_zone])
    quiet_start = models.TimeField("Quiet from", default=datetime.time(21, 0))
    quiet_end = models.TimeField("Quiet until", default=datetime.time(8, 0))

    def __str__(self) -> str:
        return f"notification preference of patient {self.patient_id}"

    @property
    def channels(self) -> list[str]:
        return [name for name, chosen in (("email", self.by_email), ("sms", self.by_sms)) if chosen]


class Notification(models.Model):
    """One message to one patient on one channel. The unique dedupe key makes sending idempotent: a retried
    task or a second request finds the row and does not send again; it also goes with the message to the mail
    server or SMS gateway as its idempotency key, so a send retried after a crash is recognised there too."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not needed any more"
        FAILED = "failed", "Failed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notifications")
    window = models.ForeignKey(
        IntegrationWindow, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    channel = models.CharField(max_length=10)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    scheduled_for = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the current send was claimed: a send still 'sending' a lease after this (its worker died mid-send) is
    # reclaimed by the sweep and tried again under the same idempotency key (services.notifications_reclaim_stuck).
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scheduled_for"]

    def __str__(self) -> str:
        return self.dedupe_key
