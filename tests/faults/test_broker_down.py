"""Redis down: a request that publishes a task neither fails nor waits on the broker, and the sweeps do the work
once it is back (issue 16: with Redis down, "Give the dose" hung about 19 s)."""

import datetime
import socket
import time

import pytest
from django.core import mail

from kapstone.celery import app
from kapstone.dosing.models import DoseRecord
from kapstone.dosing.signals import dose_administered
from kapstone.integration import services, tasks
from kapstone.integration.models import IntegrationWindow, Notification, NotificationPreference
from tests.integration_app.factories import given_dose
from tests.integration_app.test_celery_worker import reset_connections

CONFIG_KEYS = ("broker_url", "result_backend", "task_always_eager")
# Celery's own retries took about 19 s here; the publish timeout is 1 s. Generous, so a busy machine never fails it.
HELD_AT_MOST_SECONDS = 5


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_down():
    saved = {key: app.conf[key] for key in CONFIG_KEYS}
    url = f"redis://127.0.0.1:{closed_port()}/0"
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    reset_connections()
    try:
        yield
    finally:
        app.conf.update(saved)
        reset_connections()


def test_queueing_a_message_with_redis_down_returns_at_once_and_the_sweep_sends_it(
    cast, redis_down, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(patient=cast.alice, quiet_start=datetime.time(0), quiet_end=datetime.time(0))
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="down", subject="Hi", body="x")
    assert time.monotonic() - started < HELD_AT_MOST_SECONDS
    assert Notification.objects.get(pk=queued.pk).status == Notification.Status.PENDING

    app.conf.update(task_always_eager=True)  # Redis is back (in-process, as without REDIS_URL)
    tasks.send_due_notifications.apply().get()
    assert Notification.objects.get(pk=queued.pk).status == Notification.Status.SENT
    assert len(mail.outbox) == 1


def test_a_dose_given_with_redis_down_does_not_wait_and_its_window_is_opened_by_the_sweep(cast, redis_down):
    record = given_dose(cast)
    started = time.monotonic()
    dose_administered.send(sender=DoseRecord, record=record)
    assert time.monotonic() - started < HELD_AT_MOST_SECONDS
    assert not IntegrationWindow.objects.filter(dose_record=record).exists()

    app.conf.update(task_always_eager=True)
    assert tasks.open_missing_integration_windows.apply().get() == 1
    assert IntegrationWindow.objects.filter(dose_record=record).exists()
