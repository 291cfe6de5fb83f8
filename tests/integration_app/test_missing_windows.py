"""The sweep that opens integration windows lost when the window task failed or the broker was down."""

import datetime
import logging

import pytest
from django.conf import settings as project_settings
from django.db import OperationalError
from django.utils import timezone

from kapstone.dosing.models import DoseRecord
from kapstone.dosing.signals import dose_administered
from kapstone.integration import services, tasks
from kapstone.integration.models import IntegrationWindow, Notification, NotificationPreference
from kapstone.program.models import Enrolment
from tests.integration_app.factories import given_dose

SWEEP = "kapstone.integration.tasks.open_missing_integration_windows"


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.open_integration_window, "delay", refuse)


@pytest.fixture
def always_awake(cast):
    return NotificationPreference.objects.create(
        patient=cast.alice, quiet_start=datetime.time(0), quiet_end=datetime.time(0)
    )


def test_a_dose_recorded_while_the_broker_is_down_gets_its_window_and_prompts_from_the_sweep(
    cast, always_awake, broker_down, caplog, django_capture_on_commit_callbacks
):
    record = given_dose(cast)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        dose_administered.send(sender=DoseRecord, record=record)
    assert "could not open the integration window" in caplog.text
    assert not IntegrationWindow.objects.filter(dose_record=record).exists()

    assert tasks.open_missing_integration_windows.delay().get() == 1
    window = IntegrationWindow.objects.get(dose_record=record)
    assert window.dosed_at == record.administered_at
    assert Notification.objects.filter(window=window).count() == 3


def test_a_second_sweep_opens_nothing_and_queues_nothing_more(cast, always_awake):
    given_dose(cast)
    assert tasks.open_missing_integration_windows.delay().get() == 1
    assert tasks.open_missing_integration_windows.delay().get() == 0
    assert IntegrationWindow.objects.count() == 1
    assert Notification.objects.count() == 3


def test_a_long_lost_window_is_opened_for_the_record_without_sending_stale_prompts(cast, always_awake):
    record = given_dose(cast, at=timezone.now() - datetime.timedelta(days=10))
    assert tasks.open_missing_integration_windows.delay().get() == 1
    window = IntegrationWindow.objects.get(dose_record=record)
    assert not Notification.objects.filter(window=window).exists()


def test_a_dose_not_yet_given_and_a_dose_whose_window_is_open_are_left_alone(cast):
    session = cast.dosing_session()
    alice, waiting, *_ = [e.patient for e in Enrolment.objects.filter(group=session.group).order_by("id")]
    tasks.open_integration_window.delay(given_dose(cast).pk)
    DoseRecord.objects.create(session=session, patient=waiting)
    assert tasks.open_missing_integration_windows.delay().get() == 0
    assert list(IntegrationWindow.objects.values_list("patient", flat=True)) == [alice.pk]


def test_each_sweep_opens_at_most_its_limit_newest_dose_first(cast):
    session = cast.dosing_session()
    patients = [e.patient for e in Enrolment.objects.filter(group=session.group).order_by("id")]
    now = timezone.now()
    for hours_ago, patient in enumerate(patients, start=1):
        DoseRecord.objects.create(
            session=session, patient=patient, administered_at=now - datetime.timedelta(hours=hours_ago)
        )
    assert tasks.open_missing_integration_windows.delay(limit=2).get() == 2
    assert set(IntegrationWindow.objects.values_list("patient", flat=True)) == {p.pk for p in patients[:2]}
    assert tasks.open_missing_integration_windows.delay(limit=2).get() == 1
    assert IntegrationWindow.objects.count() == len(patients)


def test_a_window_that_cannot_be_opened_does_not_hold_up_the_others_and_fails_the_sweep_until_it_opens(
    cast, monkeypatch
):
    session = cast.dosing_session()
    patients = [e.patient for e in Enrolment.objects.filter(group=session.group).order_by("id")]
    records = [DoseRecord.objects.create(session=session, patient=p, administered_at=timezone.now()) for p in patients]
    stuck = records[1]
    real_window_open = services.window_open

    def window_open(*, dose_record):
        if dose_record.pk == stuck.pk:
            raise OperationalError("lock timeout")
        return real_window_open(dose_record=dose_record)

    monkeypatch.setattr(services, "window_open", window_open)
    with pytest.raises(services.IntegrationError, match=rf"dose records \[{stuck.pk}\] \(2 opened\)"):
        services.missing_windows_open(limit=10)
    assert IntegrationWindow.objects.count() == 2
    monkeypatch.setattr(services, "window_open", real_window_open)
    assert services.missing_windows_open(limit=10) == 1
    assert IntegrationWindow.objects.filter(dose_record=stuck).exists()


def test_the_beat_schedule_runs_the_sweep_so_run_sweeps_does_too():
    assert SWEEP in {entry["task"] for entry in project_settings.CELERY_BEAT_SCHEDULE.values()}
