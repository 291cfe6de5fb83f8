"""Builders for creativity tests (synthetic data only)."""

import datetime

from django.utils import timezone

from kapstone.creativity import services
from kapstone.creativity.models import CreativityAdministration, Task


def due_task(patient, task=Task.AUT, *, occasion="baseline", due_at=None) -> CreativityAdministration:
    """A task due now in the patient's portal, made by the service as staff would (no dosing session today)."""
    due_at = due_at or timezone.now() - datetime.timedelta(minutes=1)
    (administration,) = services.administrations_schedule(
        actor=None, patient=patient, occasion=occasion, tasks=(task,), due_at=due_at
    )
    return administration


def started_task(patient, task=Task.AUT, *, at=None, **kwargs) -> CreativityAdministration:
    if at is not None:
        kwargs.setdefault("due_at", at - datetime.timedelta(minutes=1))
    administration = due_task(patient, task, **kwargs)
    return services.administration_start(actor=None, administration=administration, now=at)
