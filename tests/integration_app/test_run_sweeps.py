"""`kapstone run_sweeps`, which sends delayed reminders when no Celery worker runs them (`make run`)."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from kapstone.integration import services
from kapstone.integration.models import IntegrationWindow, Notification, NotificationPreference
from tests.integration_app.factories import given_dose


@pytest.fixture
def always_awake(cast):
    return NotificationPreference.objects.create(
        patient=cast.alice, quiet_start=datetime.time(0), quiet_end=datetime.time(0)
    )


def run_sweeps(*args) -> str:
    out = io.StringIO()
    call_command("run_sweeps", *args, stdout=out)
    return out.getvalue()


def test_one_round_sends_a_due_reminder_once_and_a_second_round_sends_nothing(cast, always_awake):
    window = services.window_open(dose_record=given_dose(cast))
    # Under `make run` the prompt's own eager task ran at once and found it not yet due; now its time has come.
    first, *later = Notification.objects.filter(window=window).order_by("scheduled_for")
    Notification.objects.filter(pk=first.pk).update(scheduled_for=timezone.now() - datetime.timedelta(minutes=1))

    [line] = run_sweeps("--once").splitlines()
    assert line.endswith(" send-due-notifications: 1 handled")
    assert len(mail.outbox) == 1 and "journal" in mail.outbox[0].body
    assert Notification.objects.get(pk=first.pk).status == Notification.Status.SENT
    assert {n.status for n in later} == {Notification.Status.PENDING}

    assert run_sweeps("--once") == ""
    assert len(mail.outbox) == 1
    assert all(Notification.objects.get(pk=n.pk).status == Notification.Status.PENDING for n in later)


LOST_WINDOWS_ENTRY = {
    "open-missing-integration-windows": {
        "task": "kapstone.integration.tasks.open_missing_integration_windows",
        "schedule": 600.0,
    }
}


@pytest.fixture
def lost_windows_scheduled(settings):
    """The lost-window sweep in the beat schedule, whether or not settings.py already lists it."""
    settings.CELERY_BEAT_SCHEDULE = {**settings.CELERY_BEAT_SCHEDULE, **LOST_WINDOWS_ENTRY}


def test_a_round_runs_every_sweep_of_the_beat_schedule(cast, settings, lost_windows_scheduled, monkeypatch):
    from kapstone.celery import app

    app.loader.import_default_modules()
    names = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "kapstone.integration.tasks.open_missing_integration_windows" in names
    ran = []
    for name in names:
        monkeypatch.setattr(app.tasks[name], "run", lambda *a, name=name, **k: ran.append(name) or 0)
    assert run_sweeps("--once") == ""
    assert sorted(ran) == sorted(names)


def test_one_round_opens_a_window_lost_when_the_dose_was_recorded_and_the_next_round_opens_none(
    cast, always_awake, lost_windows_scheduled
):
    record = given_dose(cast)
    [line] = run_sweeps("--once").splitlines()
    assert line.endswith(" open-missing-integration-windows: 1 handled")
    assert IntegrationWindow.objects.filter(dose_record=record).exists()
    assert run_sweeps("--once") == ""
    assert IntegrationWindow.objects.count() == 1


def test_a_failing_sweep_is_reported_and_the_others_still_run(cast, always_awake, monkeypatch):
    from kapstone.measures import tasks as measures_tasks

    def broken(*args, **kwargs):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(measures_tasks.send_due_reminders, "run", broken)
    services.notify(patient=cast.alice, kind="test", dedupe_key="due", subject="Due", body="Sign in")
    err = io.StringIO()
    with pytest.raises(CommandError, match="a sweep failed") as failure:
        call_command("run_sweeps", "--once", stdout=io.StringIO(), stderr=err)
    assert failure.value.returncode == 1
    assert "send-due-questionnaire-reminders failed: mail server down" in err.getvalue()
    assert [message.subject for message in mail.outbox] == ["Due"]


@pytest.mark.parametrize("every", ["0", "-5", "86400"])
def test_an_interval_out_of_range_is_refused_with_exit_status_2(db, every):
    with pytest.raises(CommandError, match="--every must be between 1 and 3600 seconds") as refusal:
        call_command("run_sweeps", "--every", every, "--once")
    assert refusal.value.returncode == 2
