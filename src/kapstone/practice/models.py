from django.conf import settings
from django.db import models
from django.utils import timezone


class PracticeSetting(models.Model):
    """A practice's own value for a clinical or operational setting whose cited default lives in a data file.

    Where practices differ (dose ceilings, BP thresholds, integration windows), the data file holds the default
    and its source; a row here overrides it for this practice, with who changed it and why.
    """

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    reason = models.TextField(help_text="Why the practice departs from the cited default.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"


class SettingProposal(models.Model):
    """An admin's proposed change to a clinical setting, which takes effect only when a prescriber approves it.

    Approval runs every check again against the settings then in force; a proposal is decided once (the row is
    locked while it is decided), and the proposer never decides their own.
    """

    class Action(models.TextChoices):
        CHANGE = "change", "Change"
        RESET = "reset", "Reset to the cited default"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a prescriber"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    key = models.CharField(max_length=100)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.CHANGE)
    # The value as it would be stored (already read and checked against the setting's kind); null for a reset.
    value = models.JSONField(null=True, blank=True)
    reason = models.TextField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="setting_proposals"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="setting_proposals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["proposed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_by__isnull=True, decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_by__isnull=False, decided_at__isnull=False)),
                name="setting_proposal_decided_with_who_and_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.key} ({self.status})"
