"""Background work for paging. Every task is idempotent (unique steps and notifications, a conditional claim
before each send), so acks_late, retries and two workers are safe."""

from celery import shared_task

from kapstone.alerts import services

RETRYING = {"autoretry_for": (Exception,), "retry_backoff": True, "retry_backoff_max": 300, "retry_jitter": True}


@shared_task(acks_late=True, max_retries=5, **RETRYING)
def page_alert(alert_id: int) -> bool:
    return services.alert_page(alert_id=alert_id)


@shared_task(acks_late=True, max_retries=3, **RETRYING)
def send_alert_notification(notification_id: int) -> str:
    # A channel's own failure is handled inside (retried later by the sweep, then shown); what reaches Celery's
    # retry is a fault around it, such as the database being away.
    return services.notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True, max_retries=3, **RETRYING)
def escalate_alerts() -> int:
    """The beat sweep: escalates unacknowledged alerts whose interval has passed, pages any whose first page
    was lost, and retries messages whose pause is over."""
    return services.alerts_escalate_due() + services.notifications_deliver_due()
