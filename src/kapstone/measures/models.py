"""Questionnaires given to patients: what is due, what was answered, the invitations and reminders sent for
it, and the critical-item alerts it raised. Scores come from kapstone.measures.scoring; nothing here knows
an instrument's rules."""

import hashlib

from django.conf import settings
from django.db import models

from kapstone.patients.models import Patient


class Assessment(models.Model):
    """One questionnaire for one patient on one occasion (baseline, before dosing 2, 3-month follow-up...)."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        IN_PROGRESS = "in_progress", "Started"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"

    class Source(models.TextChoices):
        PATIENT = "patient", "Patient, in the portal"
        STAFF_ITEMS = "staff_items", "Staff, on the patient's behalf"
        STAFF_TOTAL = "staff_total", "Staff, total from a licensed form"

    OPEN_STATUSES = (Status.DUE, Status.IN_PROGRESS)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="assessments")
    group = models.ForeignKey(
        "program.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="assessments"
    )
    instrument_id = models.CharField(max_length=40)
    # The definition's version that scored the answers (set when scored), so old results say which rules made them.
    instrument_version = models.PositiveIntegerField(null=True, blank=True)
    plan_id = models.CharField(max_length=60, blank=True)
    plan_version = models.PositiveIntegerField(null=True, blank=True)
    occasion = models.CharField(max_length=40, help_text="e.g. baseline, pre_dosing_2, follow_up_3m")
    occasion_label = models.CharField(max_length=100, blank=True)
    due_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DUE)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.PATIENT)
    # Item number (as a string key) -> answer; a partial save keeps what was answered so far.
    answers = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    total = models.FloatField(null=True, blank=True)
    severity = models.CharField(max_length=40, blank=True)
    critical = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # Scheduling a group twice must not double anyone's questionnaires.
            models.UniqueConstraint(
                fields=["patient", "group", "occasion", "instrument_id"],
                condition=models.Q(group__isnull=False),
                name="one_assessment_per_course_occasion",
            )
        ]
        indexes = [
            models.Index(fields=["patient", "instrument_id", "completed_at"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.occasion} for patient {self.patient_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def instrument_name(self) -> str:
        """The questionnaire's name as its manual writes it (PHQ-9), so a list of several tells them apart."""
        from kapstone.measures.scoring import UnknownInstrument, get_instrument

        try:
            return get_instrument(self.instrument_id).short_name
        except UnknownInstrument:  # an instrument file a practice has since removed
            return self.instrument_id

    @property
    def patient_can_answer(self) -> bool:
        """Whether the portal asks the patient for it; otherwise the care team completes it with the patient."""
        from kapstone.measures.scoring import UnknownInstrument, get_instrument

        try:
            return get_instrument(self.instrument_id).patient_can_answer
        except UnknownInstrument:
            return False

    @property
    def total_display(self) -> int | float | None:
        """The total as the manual writes it: whole numbers without a trailing .0."""
        if self.total is None:
            return None
        return int(self.total) if self.total.is_integer() else self.total


def token_digest(token: str) -> str:
    """Invitation tokens are stored hashed, so a leaked database holds no working links."""
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """A single-use, expiring link to one questionnaire. The token itself is only ever in the message sent."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation for assessment {self.assessment_id}"


class ReminderLog(models.Model):
    """One invitation or reminder sent. The unique (assessment, sequence) makes a second send of the same
    reminder impossible, even with two workers racing."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="reminders")
    sequence = models.PositiveSmallIntegerField(help_text="1 = the first invitation, 2 = the first reminder...")
    invitation = models.ForeignKey(Invitation, null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField()
    channel = models.CharField(max_length=20, default="email")

    class Meta:
        ordering = ["assessment", "sequence"]
        constraints = [models.UniqueConstraint(fields=["assessment", "sequence"], name="one_send_per_reminder")]

    def __str__(self) -> str:
        return f"reminder {self.sequence} for assessment {self.assessment_id}"


class CriticalAlert(models.Model):
    """A critical answer (a suicide item, a high C-SSRS risk) waiting in the care team's queue."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="alerts")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="critical_alerts")
    rule = models.CharField(max_length=60, help_text="The flag id, or `risk` for a triage level.")
    # The triage level of a `risk` alert (blank for a flag). An open alert is raised to a higher level in place,
    # so the queue shows the highest risk the answers have reached.
    level = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=300)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Each rule fires once per assessment and level: a level reached after a lower one was acknowledged
            # is a new alert, never a repeat of one already raised.
            models.UniqueConstraint(fields=["assessment", "rule", "level"], name="one_alert_per_assessment_rule_level"),
            models.CheckConstraint(
                condition=models.Q(acknowledged_at__isnull=True)
                | (~models.Q(acknowledgement_note="") & models.Q(acknowledged_by__isnull=False)),
                name="acknowledgement_needs_note_and_person",
            ),
        ]
        indexes = [models.Index(fields=["acknowledged_at", "raised_at"])]

    def __str__(self) -> str:
        return f"alert {self.rule} on assessment {self.assessment_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
