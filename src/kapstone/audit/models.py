"""The audit trail: append-only, hash-chained rows of who did what to whose record, when and from where."""

import hashlib
import json
from typing import Any

from django.db import models

from kapstone.audit import labels


class Action(models.TextChoices):
    CREATE = "create", "Create"
    READ = "read", "Read"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"
    LOGIN = "login", "Sign in"
    LOGOUT = "logout", "Sign out"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AppendOnlyModel(models.Model):
    """Rows are written once and never changed or removed; the database refuses it too (migration 0004)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    # Any: Model.save's own arguments, passed through unchanged.
    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(AppendOnlyModel):
    # Plain ids and names rather than foreign keys: a row must read the same forever, whatever happens to
    # the user or record it names, or its hash would break.
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=10, choices=Action.choices)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True, help_text="Canonical JSON.")
    ip_address = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"

    def compute_hash(self) -> str:
        payload = json.dumps([self.prev_hash, *self._hashed_after_previous()], separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def payload_after_previous(self) -> str:
        """The hashed payload after the previous hash's place: compute_hash hashes '["<prev_hash>",' followed by
        this, which is how PostgreSQL's audit_append (migration 0007) completes it once it holds a chain's head. The
        previous hash is 64 hex digits, which JSON writes unescaped, so the two agree byte for byte."""
        return json.dumps(self._hashed_after_previous(), separators=(",", ":"))[1:]

    def _hashed_after_previous(self) -> list[object]:
        return [
            self.at.isoformat(timespec="microseconds"),
            self.actor_id,
            self.actor_label,
            self.action,
            self.patient_id,
            self.object_type,
            self.object_id,
            self.detail,
            self.ip_address,
        ]

    @property
    def action_words(self) -> str:
        """What was done, in the trail page's plain words ("Viewed")."""
        return labels.action_words(self.action)

    @property
    def object_words(self) -> str:
        """What it was done to, in plain words ("Dose order"); "" for an event about no object."""
        return labels.object_words(self.object_type)

    @property
    def detail_data(self) -> dict:
        return json.loads(self.detail) if self.detail else {}

    @property
    def listed_patient_ids(self) -> set[int]:
        """The patients a list read showed: detail["patient_ids"], which the hash covers."""
        return {int(patient_id) for patient_id in self.detail_data.get("patient_ids", [])}


class AuditEventPatient(AppendOnlyModel):
    """One patient a list read showed, so that patient's trail finds the event with one indexed lookup.

    Derived from the event's detail["patient_ids"] as the event is written; the hash covers the detail and not
    these rows, so verify_audit checks them against it.
    """

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="listed_patients")
    patient_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient_id", "event"], name="audit_eventpatient_once_per_event")
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} lists patient {self.patient_id}"


# The trail is written as parallel chains (a chain per writer at a time, opened as writers meet) so that appends
# need not queue behind one head; more than this many writers at once wait for a chain.
CHAINS_AT_MOST = 64


def chain_start(chain: int) -> str:
    """The hash a chain starts from: its number less one, as 64 hex digits. Chain 1 starts from all zeros, the
    trail's first start; no SHA-256 of an entry can be one of these in practice."""
    return f"{chain - 1:064x}"


class AuditChainHead(models.Model):
    """One row holding the newest hash; writers lock it so the chain never forks under concurrency."""

    last_hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"head at event {self.last_event_id}"
