"""Background work for the creativity tasks: the sweep that closes and scores tasks whose time ran out while
the patient was away, and marks unstarted ones whose window passed. Scoring on hand-in happens in the request;
this catches the rest. Idempotent (a closed task is never closed again), so acks_late is safe."""

from celery import shared_task

from kapstone.creativity import services


@shared_task(acks_late=True)
def close_overdue_tasks() -> int:
    return services.administrations_close_overdue()
