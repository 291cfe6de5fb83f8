"""Celery tasks as a worker meets them after a crash, a duplicate delivery or a wait in the queue: a task whose
record is gone does nothing, says why once and is not retried; every task that retries stops after a bounded number
of tries with a growing pause."""

import logging

import pytest

from kapstone.alerts import tasks as alert_tasks
from kapstone.celery import app
from kapstone.integration import tasks as integration_tasks
from kapstone.integration.models import IntegrationWindow, Notification

GONE = 987654
# Celery's retry_backoff_max default, in seconds: a task that retries with a backoff and names no maximum waits at
# most this long between tries.
CELERY_DEFAULT_BACKOFF_MAX = 600


@pytest.mark.parametrize(
    "task,logged",
    [
        (integration_tasks.open_integration_window, f"dose record {GONE} no longer exists"),
        (integration_tasks.send_notification, f"notification {GONE} no longer exists"),
        (alert_tasks.page_alert, f"alert {GONE} no longer exists"),
        (alert_tasks.send_alert_notification, f"page {GONE} no longer exists"),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_a_task_whose_record_is_gone_does_nothing_and_says_why_once(db, caplog, task, logged):
    caplog.set_level(logging.INFO)
    result = task.apply(args=[GONE])
    assert result.successful(), result.traceback
    assert [record.getMessage() for record in caplog.records if logged in record.getMessage()] != []
    assert not [record for record in caplog.records if "retry" in record.getMessage().lower()]
    assert not IntegrationWindow.objects.exists() and not Notification.objects.exists()


def kapstone_tasks():
    app.loader.import_default_modules()
    return sorted((name, task) for name, task in app.tasks.items() if name.startswith("kapstone."))


def test_every_task_that_retries_stops_after_a_bounded_number_of_tries_with_a_growing_pause():
    retrying = [(name, task) for name, task in kapstone_tasks() if getattr(task, "autoretry_for", ())]
    assert len(retrying) >= 10
    for name, task in retrying:
        assert task.max_retries is not None and 1 <= task.max_retries <= 8, name
        assert task.retry_backoff, name
        assert (getattr(task, "retry_backoff_max", None) or CELERY_DEFAULT_BACKOFF_MAX) <= 3600, name
