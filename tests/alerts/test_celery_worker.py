"""An escalation through a real Celery worker and Redis, as production runs it (see
tests/integration_app/test_celery_worker.py for the worker fixture)."""

import datetime

import pytest
from django.core import mail
from django.db import OperationalError
from django.utils import timezone

from kapstone.alerts import tasks
from kapstone.alerts.models import AlertNotification, EscalationStep
from tests.integration_app.test_celery_worker import worker  # noqa: F401 - the fixture
from tests.measures.factories import open_alert

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, tries=100):
    for _ in range(tries):
        try:
            if condition():
                return True
        except OperationalError as refused:
            # On SQLite the worker thread shares the in-memory test database's cache, where a read of a table the
            # worker is writing is refused at once ("database table is locked") rather than waited for: the write
            # is what this waits for, so it asks again once the worker has run the sweep below.
            if "locked" not in str(refused):
                raise
        tasks.escalate_alerts.delay().get(timeout=30)
    return condition()


def test_a_real_worker_pages_then_escalates_an_unacknowledged_alert_once(cast, paging, worker):  # noqa: F811
    alert = open_alert(cast.alice)  # committed: its alert_raised signal queued the first page on the worker
    assert wait_for(lambda: EscalationStep.objects.filter(alert=alert, step=0).exists())
    assert tasks.page_alert.delay(alert.pk).get(timeout=30) is False, "paged twice"
    assert wait_for(lambda: not AlertNotification.objects.filter(status="pending").exists())
    # The interval passes: the first page is moved back in time rather than the test waiting for it.
    EscalationStep.objects.filter(alert=alert, step=0).update(at=timezone.now() - datetime.timedelta(hours=1))
    assert tasks.escalate_alerts.delay().get(timeout=30) >= 1
    assert wait_for(lambda: not AlertNotification.objects.filter(status="pending").exists())
    assert list(EscalationStep.objects.filter(alert=alert).values_list("step", flat=True)) == [0, 1]
    escalated = {n.recipient.username for n in AlertNotification.objects.filter(alert=alert, step=1)}
    assert "medic" in escalated
    emails = AlertNotification.objects.filter(alert=alert, channel="email")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(n.address for n in emails)
