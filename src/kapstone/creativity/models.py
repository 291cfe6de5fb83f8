"""Creativity tasks given to patients: the Alternative Uses Task (AUT) and the Divergent Association Task
(DAT), each administration with its clock, the patient's answers and the automated scores.

Scores come from kapstone.creativity.scoring and .dat; the timing and form rotation rules from .protocol.
"""

from django.conf import settings
from django.db import models

from kapstone.creativity import protocol
from kapstone.patients.models import Patient


class Task(models.TextChoices):
    AUT = protocol.AUT, "Alternative uses"
    DAT = protocol.DAT, "Unrelated words"


class Occasion(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    END_OF_COURSE = "end_of_course", "End of course"
    FOLLOW_UP_1M = "follow_up_1m", "1-month follow-up"
    FOLLOW_UP_3M = "follow_up_3m", "3-month follow-up"
    FOLLOW_UP_6M = "follow_up_6m", "6-month follow-up"


class CreativityAdministration(models.Model):
    """One task for one patient on one occasion, from due to scored."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        IN_PROGRESS = "in_progress", "Started"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Not done"

    OPEN_STATUSES = (Status.DUE, Status.IN_PROGRESS)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="creativity_administrations")
    group = models.ForeignKey(
        "program.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="creativity_administrations"
    )
    task = models.CharField(max_length=3, choices=Task.choices)
    occasion = models.CharField(max_length=20, choices=Occasion.choices)
    # The AUT form and its objects as given (objects copied so a later edit of aut_forms.yaml cannot rewrite
    # history); DAT administrations have form "dat" and no objects.
    form_id = models.CharField(max_length=10)
    forms_version = models.PositiveIntegerField()
    prompts = models.JSONField(default=list, blank=True)
    seconds_per_part = models.PositiveIntegerField()
    due_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DUE)
    started_at = models.DateTimeField(null=True, blank=True)
    part = models.PositiveSmallIntegerField(default=0, help_text="0-based index of the part (object) under way.")
    part_deadline = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True, help_text="When the last part ends.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_by_timer = models.BooleanField(default=False)
    scored_at = models.DateTimeField(null=True, blank=True)
    # AUT summary: each per-object score averaged over the form's objects, so forms of any size compare.
    fluency = models.FloatField(null=True, blank=True, help_text="Valid, non-duplicate responses per object.")
    flexibility = models.FloatField(null=True, blank=True, help_text="Distinct categories per object.")
    originality_mean = models.FloatField(null=True, blank=True)
    originality_top2 = models.FloatField(null=True, blank=True, help_text="Mean of the best two, per object.")
    elaboration_mean = models.FloatField(null=True, blank=True)
    object_summaries = models.JSONField(default=list, blank=True)
    # DAT: the words as typed (kept while the clock runs) and the score.
    dat_words = models.JSONField(default=list, blank=True)
    dat_score = models.FloatField(null=True, blank=True)
    dat_percentile = models.FloatField(null=True, blank=True)
    dat_result = models.JSONField(null=True, blank=True)
    # What a hand-in had to trim to the input limits (ideas past the limit left out, answers cut short), in
    # words for the clinician: a hand-in never fails over size, so this is where the patient's excess shows.
    hand_in_notes = models.JSONField(default=list, blank=True)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # Scheduling a group twice must not double anyone's tasks.
            models.UniqueConstraint(
                fields=["patient", "group", "occasion", "task"],
                condition=models.Q(group__isnull=False),
                name="one_creativity_task_per_course_occasion",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status", "due_at"]),
            models.Index(fields=["status", "deadline"]),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.occasion} for patient {self.patient_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def parts(self) -> int:
        return len(self.prompts) if self.task == Task.AUT else 1

    @property
    def total_seconds(self) -> int:
        return self.parts * self.seconds_per_part

    @property
    def part_minutes(self) -> int:
        return round(self.seconds_per_part / 60)

    @property
    def total_minutes(self) -> int:
        return round(self.total_seconds / 60)


class AUTResponse(models.Model):
    """One idea typed for one object. Rows are pending until the administration closes and is scored."""

    PENDING = "pending"
    DUPLICATE = "duplicate"

    administration = models.ForeignKey(CreativityAdministration, on_delete=models.CASCADE, related_name="responses")
    prompt = models.CharField(max_length=40)
    order = models.PositiveSmallIntegerField()
    text = models.TextField()
    cut_to_limit = models.BooleanField(default=False, help_text="Handed in longer than the limit and cut to it.")
    # "ok", "truncated", "empty", "too_short", "not_english_or_garbage", "repetitive", "not_english",
    # "duplicate" (scoring.py), or pending.
    status = models.CharField(max_length=30, default=PENDING)
    originality = models.FloatField(null=True, blank=True)
    elaboration = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["administration", "prompt", "order"]
        constraints = [
            models.UniqueConstraint(fields=["administration", "prompt", "order"], name="one_response_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.prompt} #{self.order}: {self.text[:40]}"

    @property
    def counts(self) -> bool:
        return self.originality is not None and self.status != self.DUPLICATE
