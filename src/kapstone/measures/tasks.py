"""Background work for questionnaires, run by Celery beat or by `kapstone send_reminders` from cron."""

import smtplib

from celery import shared_task

from kapstone.measures import services


@shared_task(
    bind=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError, services.RemindersNotDelivered),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=5,
)
def send_due_reminders(self) -> int:
    """Sends the invitations and reminders owed now. Idempotent: each reminder has a unique log row, so a
    retry or a second worker never sends one twice, and a completed questionnaire is never reminded."""
    return services.reminders_send_due()
