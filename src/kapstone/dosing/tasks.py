"""Background work for the dosing room. The digest sweep is idempotent (one row per session, recipient and
channel, and a conditional claim before each send), so acks_late, retries and two workers are safe."""

from celery import shared_task

from kapstone.dosing import services


@shared_task(acks_late=True, max_retries=3, autoretry_for=(Exception,), retry_backoff=True)
def send_readiness_digests() -> int:
    """The beat sweep: the evening before each dosing session, its facilitators' readiness digests."""
    return services.readiness_digests_send_due()
