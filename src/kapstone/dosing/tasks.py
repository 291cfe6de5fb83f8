"""Background work for the dosing room. The digest sweep is idempotent (one row per session, recipient and
channel, and a conditional claim before each send), so acks_late, retries and two workers are safe."""

from celery import shared_task

from kapstone.dosing import services


@shared_task(acks_late=True, max_retries=3, autoretry_for=(Exception,), retry_backoff=True)
def send_readiness_digests() -> int:
    """The beat sweep: the evening before each dosing session, its facilitators' readiness digests."""
    return services.readiness_digests_send_due()


@shared_task(acks_late=True, max_retries=3, autoretry_for=(Exception,), retry_backoff=True)
def sweep_loss_reports() -> int:
    """The beat sweep: a count discrepancy left open past its day becomes a loss report, and the responsible
    prescriber of each report not yet filed is reminded once a day."""
    return services.loss_reports_open_due() + services.loss_reports_remind()
