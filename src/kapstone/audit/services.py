"""The one door for writing the audit trail. Services call `record` inside their own transaction, so a
change and its audit row land together or not at all."""

import json

from django.db import transaction
from django.utils import timezone

from kapstone.audit import context
from kapstone.audit.models import Action, AuditChainHead, AuditEvent, AuditEventPatient

__all__ = ["Action", "record"]

GENESIS_HASH = "0" * 64


@transaction.atomic
def record(
    *,
    action: Action,
    patient=None,
    patient_id: int | None = None,
    object_type: str = "",
    object_id="",
    detail: dict | None = None,
    actor=None,
) -> AuditEvent:
    """Append one event. The actor and address come from the request (or command) context unless given.

    A read of a list names the patients it showed in detail["patient_ids"]; each is linked to the event so their
    own trail shows it.
    """
    ambient = context.current()
    if actor is not None:
        actor_id, actor_label = actor.pk, actor.get_username()
        ip_address = ambient.ip_address if ambient else ""
    elif ambient is not None:
        actor_id, actor_label, ip_address = ambient.actor_id, ambient.actor_label, ambient.ip_address
    else:
        actor_id, actor_label, ip_address = None, "system", ""
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
    event = AuditEvent(
        at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        patient_id=patient.pk if patient is not None else patient_id,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str),
        ip_address=ip_address,
        prev_hash=head.last_hash,
    )
    event.hash = event.compute_hash()
    event.save()
    AuditEventPatient.objects.bulk_create(
        AuditEventPatient(event=event, patient_id=patient_id) for patient_id in sorted(event.listed_patient_ids)
    )
    head.last_hash, head.last_event_id = event.hash, event.pk
    head.save(update_fields=["last_hash", "last_event_id"])
    return event
