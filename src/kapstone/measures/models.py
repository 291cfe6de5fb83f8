"""Questionnaires given to patients: what is due, what was answered, the invitations and reminders sent for
it, and the critical-item alerts it raised. Scores come from kapstone.measures.scoring; nothing here knows
an instrument's rules."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from kapstone.measures.scoring import UnknownInstrument, get_instrument
from kapstone.patients.models import Patient
from kapstone.practice.signals import ASKS_WHETHER_ALLERGIC, SAFETY_EVENT_KINDS


class Assessment(models.Model):
    """One questionnaire for one patient on one occasion (baseline, before dosing 2, 3-month follow-up...)."""

    # The occasion of a questionnaire outside the course plan (given in the room, or sent as an extra check-in).
    AD_HOC = "ad_hoc"
    AD_HOC_LABEL = "Extra check-in"

    class Status(models.TextChoices):
        DUE = "due", "Due"
        IN_PROGRESS = "in_progress", "Started"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        # An entered total withdrawn as a mistake: kept, with who voided it and why, but in no chart or report.
        VOIDED = "voided", "Voided"

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
    # The latest correction or void of an entered total; the audit trail keeps every one, with the values before.
    amended_at = models.DateTimeField(null=True, blank=True)
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amendment_reason = models.CharField(max_length=500, blank=True)
    # A free-text answer a form asks beside its items (the safety follow-up's "what have you noticed?"): read by the
    # care team, never scored and never exported.
    free_text = models.TextField(blank=True)
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
    def status_label(self) -> str:
        """The status as a list of open questionnaires shows it: one due on a later day is not due yet."""
        if self.status == self.Status.DUE and timezone.localdate(self.due_at) > timezone.localdate():
            return "Not yet due"
        return str(self.get_status_display())

    @property
    def occasion_display(self) -> str:
        return self.describe_occasion(self.occasion, self.occasion_label)

    @classmethod
    def describe_occasion(cls, occasion: str, occasion_label: str) -> str:
        """The occasion as staff and patients read it: the plan's label, never a stored code such as
        pre_dosing_2 (older rows kept the code, or "Unscheduled", as their label)."""
        if occasion == cls.AD_HOC:
            return cls.AD_HOC_LABEL
        if occasion_label and occasion_label != occasion:
            return occasion_label
        return occasion.replace("_", " ").capitalize()

    @property
    def instrument_name(self) -> str:
        """The questionnaire's name as its manual writes it (PHQ-9), so a list of several tells them apart."""
        try:
            return get_instrument(self.instrument_id).short_name
        except UnknownInstrument:  # an instrument file a practice has since removed
            return self.instrument_id

    @property
    def patient_can_answer(self) -> bool:
        """Whether the portal asks the patient for it; otherwise the care team completes it with the patient."""
        try:
            return get_instrument(self.instrument_id).patient_can_answer
        except UnknownInstrument:
            return False

    @property
    def total_display(self) -> int | float | None:
        """The total as the manual writes it: whole numbers without a trailing .0."""
        if self.total is None:
            return None
        # float(): a total just set by a service is still the int it was given until the row is read back.
        return int(self.total) if float(self.total).is_integer() else self.total


def token_digest(token: str) -> str:
    """Invitation tokens are stored hashed, so a leaked database holds no working links."""
    return hashlib.sha256(token.encode()).hexdigest()


class BaselineTotal(models.Model):
    """One member of the practice's baseline sample: a patient's first completed total on an instrument whose
    reliable change takes the SD of the practice's own baselines (measures.change). Kept by the services that
    complete, correct or void a total, with the instrument's PracticeBaseline."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    instrument_id = models.CharField(max_length=40)
    total = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument_id", "patient"], name="one_baseline_total_per_instrument")
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} baseline {self.total:g} for patient {self.patient_id}"


class PracticeBaseline(models.Model):
    """The size and SD of the practice's baseline sample for one instrument, so a chart reads one row instead of
    every patient's questionnaires. Written with BaselineTotal inside the transaction of each total completed,
    corrected or voided; writers of one instrument queue on its row. An instrument without a row (results stored
    before this table) is computed from the questionnaires until its next total creates the row."""

    instrument_id = models.CharField(max_length=40, unique=True)
    n = models.PositiveIntegerField(default=0)
    sd = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.instrument_id} baseline sample, N = {self.n}"


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


SUICIDE_RISK = "suicide_risk"


class CriticalAlert(models.Model):
    """One entry on the care team's one alert queue: a suicide-risk answer on a questionnaire, or a safety event
    another app announced (kapstone.practice.signals.safety_event: stop-level vitals, a consent withdrawal...).

    A new alert of the same kind for the same patient joins the one still open (its occurrences keep the
    history) instead of opening another, so the queue holds one row per thing to act on. Urgent alerts page
    the care team (kapstone.alerts); review alerts wait in the queue."""

    class Priority(models.IntegerChoices):
        # Sorted on, highest first. HIGH is the C-SSRS screener's high triage level; URGENT is every other answer
        # or event that pages someone now; REVIEW is seen in the queue without paging anyone.
        REVIEW = 1, "review"
        URGENT = 2, "urgent"
        HIGH = 3, "high"

    PAGING = (Priority.URGENT, Priority.HIGH)

    kind = models.CharField(max_length=40, default=SUICIDE_RISK)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.URGENT)
    # The questionnaire behind a suicide-risk alert (the latest that raised it), else the record an event names.
    assessment = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    # Blank only for an event about the practice itself (a controlled-substance count).
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="critical_alerts"
    )
    rule = models.CharField(max_length=60, help_text="The flag id, `risk` for a triage level, or the event kind.")
    # The triage level of a `risk` alert (blank for a flag or an event).
    level = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=300)
    raised_at = models.DateTimeField()
    # What later occurrences join: one open alert per key (patient and kind, or for a practice event the record).
    join_key = models.CharField(max_length=120)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Finding(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed: an allergic reaction to the drug"
        NOT_ALLERGIC = "not_allergic", "Not an allergic reaction"

    # For an allergic reaction to the drug (practice.signals ASKS_WHETHER_ALLERGIC), what the acknowledging clinician
    # found; a prescriber may correct a confirmed finding later, with a reason, when it proves wrong.
    acknowledgement_finding = models.CharField(max_length=20, choices=Finding.choices, blank=True)
    finding_corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finding_corrected_at = models.DateTimeField(null=True, blank=True)
    finding_correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-priority", "raised_at", "id"]
        constraints = [
            # Two answers submitted at once cannot open two alerts for one patient and kind.
            models.UniqueConstraint(
                fields=["join_key"], condition=models.Q(acknowledged_at__isnull=True), name="one_open_alert_per_key"
            ),
            models.CheckConstraint(
                condition=models.Q(acknowledged_at__isnull=True)
                | (~models.Q(acknowledgement_note="") & models.Q(acknowledged_by__isnull=False)),
                name="acknowledgement_needs_note_and_person",
            ),
        ]
        indexes = [
            models.Index(fields=["acknowledged_at", "raised_at"]),
            models.Index(fields=["acknowledged_at", "priority", "raised_at"], name="alert_queue_order"),
        ]

    def __str__(self) -> str:
        return f"alert {self.kind}/{self.rule} for patient {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def pages(self) -> bool:
        return self.priority in self.PAGING

    @property
    def kind_label(self) -> str:
        return alert_kind_label(self.kind)

    @property
    def asks_whether_allergic(self) -> bool:
        return self.kind in ASKS_WHETHER_ALLERGIC


def alert_kind_label(kind: str) -> str:
    return ALERT_KINDS.get(kind) or SAFETY_EVENT_KINDS.get(kind, kind.replace("_", " "))


ALERT_KINDS = {SUICIDE_RISK: "Suicide-risk answer"}


class AlertOccurrence(models.Model):
    """Each time something raised or joined an alert: the queue's history. The unique source key makes a
    repeated save, a re-sent signal or a second worker a no-op."""

    alert = models.ForeignKey(CriticalAlert, on_delete=models.CASCADE, related_name="occurrences")
    # assessment:<id>:<rule>:<level> for an answer, <kind>:<object_type>:<object_id> for an event.
    source_key = models.CharField(max_length=160, unique=True)
    assessment = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=60)
    level = models.CharField(max_length=20, blank=True)
    priority = models.PositiveSmallIntegerField(choices=CriticalAlert.Priority.choices)
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.source_key} on alert {self.alert_id}"


class UrineToxicology(models.Model):
    """A urine drug screen's result, entered by staff (long-term safety follow-up: use outside the clinic). The
    panel's substances are coded (data/urine_toxicology.yaml); a substance found that the patient is not prescribed
    raises a review alert."""

    class Result(models.TextChoices):
        NEGATIVE = "negative", "Negative for every substance tested"
        POSITIVE = "positive", "Positive for one or more substances"
        INVALID = "invalid", "Invalid or not interpretable"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="urine_toxicology")
    collected_on = models.DateField()
    result = models.CharField(max_length=10, choices=Result.choices)
    # Codes from data/urine_toxicology.yaml: what was found, and which of those the patient is prescribed.
    substances_found = models.JSONField(default=list, blank=True)
    prescribed_found = models.JSONField(default=list, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-collected_on", "-pk"]
        indexes = [models.Index(fields=["patient", "collected_on"])]

    def __str__(self) -> str:
        return f"urine toxicology {self.collected_on} for patient {self.patient_id}: {self.result}"

    @property
    def unexpected(self) -> list[str]:
        """Substances found that the patient is not prescribed."""
        return [code for code in self.substances_found if code not in self.prescribed_found]
