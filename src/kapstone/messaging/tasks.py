"""Background work for messages to patients. The reminder sweep is idempotent (each reminder's dedupe key names
the session, its version and the patient), so acks_late, retries and two workers never send one twice."""

from celery import shared_task

from kapstone.messaging import services


@shared_task(acks_late=True, max_retries=3, autoretry_for=(Exception,), retry_backoff=True)
def send_session_reminders() -> int:
    """The beat sweep: in the day before each session, its enrolled patients' reminders."""
    return services.session_reminders_send_due()
