"""Listeners for what the lower apps announce: a safety event goes on the queue; an alert that pages is paged
straight away (after its transaction commits, as both signals are sent from transaction.on_commit)."""

import logging

from kapstone.alerts import services, tasks
from kapstone.measures.signals import alert_raised
from kapstone.practice.signals import safety_event

logger = logging.getLogger(__name__)


def on_safety_event(sender, *, kind, level, patient_id, summary, object_type, object_id, **kwargs):
    services.safety_event_receive(
        kind=kind, level=level, patient_id=patient_id, summary=summary, object_type=object_type, object_id=object_id
    )


def on_alert_raised(sender, *, alert_id, **kwargs):
    try:
        tasks.page_alert.delay(alert_id)
    except Exception:
        # The broker is away: the escalation sweep pages any open alert that has no first step yet.
        logger.exception("could not queue the page for alert %s; the sweep will page it", alert_id)


def connect() -> None:
    safety_event.connect(on_safety_event, dispatch_uid="alerts.safety_event")
    alert_raised.connect(on_alert_raised, dispatch_uid="alerts.alert_raised")
