"""Who is paged for an alert and when: staff paging numbers, the on-call rota, each notification sent for an
alert (its step of escalation, recipient and channel), and each patient's safety plan, versioned.

The alerts themselves are measures.CriticalAlert: the one queue the care team works from."""

from django.conf import settings
from django.db import models

from kapstone.measures.models import CriticalAlert
from kapstone.patients.models import Patient


class StaffContact(models.Model):
    """How to reach a staff member outside Kapstone, and who covers the rota's empty hours by default."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paging")
    # E.164, checked by the form (the SMS provider refuses anything else).
    mobile = models.CharField(max_length=20, blank=True)
    is_default_on_call = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default_on_call"],
                condition=models.Q(is_default_on_call=True),
                name="one_default_on_call_prescriber",
            )
        ]

    def __str__(self) -> str:
        return f"paging for {self.user}"


class OnCallSlot(models.Model):
    """One prescriber on call on one weekday from a time to a time (practice local time). A slot whose end is
    at or before its start runs past midnight into the next day."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_call_slots")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["weekday", "starts", "id"]
        constraints = [
            models.UniqueConstraint(fields=["prescriber", "weekday", "starts"], name="one_slot_per_prescriber_start")
        ]

    def __str__(self) -> str:
        return f"{self.prescriber} on {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"

    @property
    def overnight(self) -> bool:
        return self.ends <= self.starts


class EscalationStep(models.Model):
    """One step of an alert's paging: 0 is the first page, each later step an escalation. Unique per alert and
    step, so a step is taken once however many workers sweep; it is recorded even when nobody could be paged."""

    alert = models.ForeignKey(CriticalAlert, on_delete=models.CASCADE, related_name="escalation_steps")
    step = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    nobody_to_page = models.BooleanField(default=False)

    class Meta:
        ordering = ["alert", "step"]
        constraints = [models.UniqueConstraint(fields=["alert", "step"], name="one_escalation_step")]

    def __str__(self) -> str:
        return f"step {self.step} of alert {self.alert_id}"


class AlertNotification(models.Model):
    """One message to one person on one channel at one step of an alert's escalation. Unique per alert, step,
    recipient and channel, so two workers (or a sweep and the immediate page) can never send it twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    alert = models.ForeignKey(CriticalAlert, on_delete=models.CASCADE, related_name="notifications")
    # 0 = the first page (care-team prescribers and the on-call prescriber); 1, 2... = escalations.
    step = models.PositiveSmallIntegerField()
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role_in_step = models.CharField(max_length=60, help_text="Why this person: care team, on call, next in rota...")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    # When a worker took it to send; a send still 'sending' long after this was cut off and is taken back.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "step", "recipient", "channel"], name="one_notification_per_step_recipient_channel"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} for alert {self.alert_id} (step {self.step})"


class SafetyPlan(models.Model):
    """One version of a patient's safety plan, in the six steps of the Stanley-Brown Safety Planning
    Intervention (Stanley & Brown 2012). Each save is a new version; the latest is the plan in force."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="safety_plans")
    version = models.PositiveIntegerField()
    warning_signs = models.TextField(blank=True)
    coping_strategies = models.TextField(blank=True)
    distraction_people_places = models.TextField(blank=True)
    help_people = models.TextField(blank=True)
    professionals_agencies = models.TextField(blank=True)
    environment_safety = models.TextField(blank=True)
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    SECTIONS = (
        ("warning_signs", "1. Warning signs"),
        ("coping_strategies", "2. Things I can do on my own to take my mind off my problems"),
        ("distraction_people_places", "3. People and places that help me take my mind off things"),
        ("help_people", "4. People I can ask for help"),
        ("professionals_agencies", "5. Professionals and crisis lines I can contact"),
        ("environment_safety", "6. Making my environment safe"),
    )

    class Meta:
        ordering = ["patient", "-version"]
        constraints = [models.UniqueConstraint(fields=["patient", "version"], name="one_safety_plan_version")]

    def __str__(self) -> str:
        return f"safety plan v{self.version} for patient {self.patient_id}"

    @property
    def sections(self) -> list[tuple[str, str]]:
        return [(label, getattr(self, name)) for name, label in self.SECTIONS]
