"""Background work for the outcomes report: building a stored report (snapshots.py). Without a Celery worker
(no REDIS_URL) tasks run eagerly, so the page view that finds its report out of date builds it itself."""

from celery import shared_task

from kapstone.outcomes import selectors, services, snapshots


@shared_task
def build_report_snapshot(filters: dict, facilitator_label: str, min_cell: int, digest: str, last_change: int) -> None:
    """Builds and stores one report from the input fingerprint the page read (`digest`, `last_change`); on failure
    gives up its claim, so the next page view starts another build."""
    parsed = selectors.ReportFilters.from_plain(filters)
    try:
        services.report_snapshot_build(
            filters=parsed,
            facilitator_label=facilitator_label,
            min_cell=min_cell,
            inputs=(digest, last_change),
        )
    except BaseException:
        snapshots.release_build(snapshots.report_key(filters, facilitator_label, min_cell))
        raise
