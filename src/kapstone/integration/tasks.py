"""Background work for integration. Every task is idempotent: the Notification dedupe key and the
one-window-per-dose constraint make a retried or redelivered task a no-op, so acks_late is safe."""

import logging

from celery import shared_task
from django.utils import timezone

from kapstone.dosing.models import DoseRecord
from kapstone.integration import services
from kapstone.integration.models import Notification

logger = logging.getLogger(__name__)

RETRYING = {"autoretry_for": (Exception,), "retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True}


@shared_task(acks_late=True, max_retries=5, **RETRYING)
def open_integration_window(dose_record_id: int) -> int | None:
    record = DoseRecord.objects.filter(pk=dose_record_id).first()
    if record is None:
        # Gone between the dose and this task (a restore with --replace, a test practice reset): retrying cannot
        # bring it back, so say why once instead of failing five times.
        logger.warning("dose record %s no longer exists; no integration window to open", dose_record_id)
        return None
    return services.window_open(dose_record=record).pk


@shared_task(acks_late=True, max_retries=3, **RETRYING)
def open_missing_integration_windows(limit: int = 200) -> int:
    """The beat sweep behind open_integration_window: a dose whose window task was lost still gets its window."""
    return services.missing_windows_open(limit=limit)


@shared_task(acks_late=True, max_retries=8, **RETRYING)
def send_notification(notification_id: int) -> str:
    return services.notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True, max_retries=3, **RETRYING)
def send_due_notifications(limit: int = 500) -> int:
    """The safety net behind each message's own task: takes back sends whose worker died mid-send, then queues
    every pending message that is due (its own task lost, never published, or deferred)."""
    services.notifications_reclaim_stuck()
    due = list(
        Notification.objects.filter(status=Notification.Status.PENDING, scheduled_for__lte=timezone.now())
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        send_notification.delay(notification_id)
    return len(due)


@shared_task(acks_late=True, max_retries=3, **RETRYING)
def remove_orphan_uploads() -> int:
    """Deletes journal pictures a crash left in storage without their row (services.journal_orphan_uploads_remove)."""
    return len(services.journal_orphan_uploads_remove())
