import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from kapstone import delivery
from kapstone.audit.models import AuditEvent
from kapstone.dosing.models import DoseRecord
from kapstone.dosing.signals import dose_administered
from kapstone.integration import services, tasks
from kapstone.integration.models import IntegrationWindow, Notification, NotificationPreference
from kapstone.integration.notifications import CHANNELS, EmailChannel, SmsChannel
from tests.conftest import signed_in_client
from tests.integration_app.factories import given_dose, journal_entry

NO_QUIET = {"quiet_start": datetime.time(0), "quiet_end": datetime.time(0)}


@pytest.fixture
def always_awake(cast):
    return NotificationPreference.objects.create(patient=cast.alice, **NO_QUIET)


def open_window(cast, *, hours_ago: float = 0):
    record = given_dose(cast, at=timezone.now() - datetime.timedelta(hours=hours_ago))
    return services.window_open(dose_record=record)


def test_a_given_dose_opens_the_window_and_queues_the_prompts(cast, always_awake, django_capture_on_commit_callbacks):
    record = given_dose(cast)
    with django_capture_on_commit_callbacks(execute=True):
        dose_administered.send(sender=DoseRecord, record=record)
    window = IntegrationWindow.objects.get(dose_record=record)
    prompts = list(Notification.objects.filter(window=window).order_by("scheduled_for"))
    assert [p.scheduled_for - window.dosed_at for p in prompts] == [datetime.timedelta(hours=h) for h in (3, 24, 44)]
    assert {p.channel for p in prompts} == {"email"}
    assert all(p.status == Notification.Status.PENDING for p in prompts)
    assert mail.outbox == []  # not due yet: the eager task found nothing to send


def test_opening_a_window_twice_queues_nothing_more(cast, always_awake):
    window = open_window(cast)
    again = services.window_open(dose_record=window.dose_record)
    assert again == window
    assert Notification.objects.count() == 3


def test_a_due_prompt_is_sent_once_even_when_the_task_runs_again(
    cast, always_awake, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        window = open_window(cast, hours_ago=4)
    # Only the +24 h and +44 h prompts are ahead; the +3 h one had passed when the window opened.
    assert Notification.objects.filter(window=window).count() == 2
    first = Notification.objects.filter(window=window).first()
    first.scheduled_for = timezone.now() - datetime.timedelta(minutes=1)
    first.save()
    assert tasks.send_notification.delay(first.pk).get() == "sent"
    assert tasks.send_notification.delay(first.pk).get() == "sent"
    assert len(mail.outbox) == 1
    assert "journal" in mail.outbox[0].body and "ketamine" not in mail.outbox[0].body.lower()


def test_notify_with_the_same_key_sends_once(cast, always_awake, django_capture_on_commit_callbacks):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(patient=cast.alice, kind="test", dedupe_key="same-key", subject="Hello", body="Sign in")
    assert Notification.objects.filter(dedupe_key="same-key:email").count() == 1
    assert len(mail.outbox) == 1


def test_reminders_stop_once_the_patient_has_written_in_the_window(cast, always_awake):
    window = open_window(cast, hours_ago=30)
    reminder = Notification.objects.filter(window=window).first()
    Notification.objects.filter(pk=reminder.pk).update(scheduled_for=timezone.now())
    journal_entry(cast.alice, text="I noticed I was gentler with myself")
    assert services.notification_deliver(notification_id=reminder.pk) == Notification.Status.SKIPPED
    assert mail.outbox == []
    assert Notification.objects.get(pk=reminder.pk).note == "the integration work is already done"


def test_reminders_stop_once_an_integration_session_note_is_recorded(cast, always_awake):
    from kapstone.program.models import GroupSession

    window = open_window(cast, hours_ago=30)
    dosing = window.dosing_session
    session = GroupSession.objects.create(
        group=dosing.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=1,
        starts_at=timezone.now() - datetime.timedelta(hours=1),
        ends_at=timezone.now(),
        follows_dosing=dosing,
    )
    services.integration_note_add(actor=cast.therapist, patient=cast.alice, session=session, text="Attended.")
    reminder = Notification.objects.filter(window=window).first()
    Notification.objects.filter(pk=reminder.pk).update(scheduled_for=timezone.now())
    assert services.notification_deliver(notification_id=reminder.pk) == Notification.Status.SKIPPED


def test_a_message_in_quiet_hours_waits_until_they_end(cast):
    now = timezone.now().astimezone(datetime.UTC)
    start = (now - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + datetime.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    NotificationPreference.objects.create(patient=cast.alice, time_zone="UTC", quiet_start=start, quiet_end=end)
    [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="quiet", subject="Hi", body="Sign in")
    assert queued.scheduled_for > now + datetime.timedelta(hours=1)
    assert services.notification_deliver(notification_id=queued.pk) == "not_due"
    assert mail.outbox == []


def test_a_patient_who_chose_text_messages_gets_one_on_the_console(cast, capsys):
    NotificationPreference.objects.create(patient=cast.alice, by_email=False, by_sms=True, **NO_QUIET)
    [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="sms", subject="Hi", body="Sign in")
    assert services.notification_deliver(notification_id=queued.pk) == Notification.Status.SENT
    assert "[SMS to 555-0100] Hi: Sign in" in capsys.readouterr().out
    assert mail.outbox == []


class FlakyProvider:
    """An SMS gateway that fails its first `failures` sends."""

    def __init__(self, failures: float):
        self.failures, self.calls = failures, 0

    def send_sms(self, *, to, body, idempotency_key):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("gateway down")


class UnreachableEmail(EmailChannel):
    def send(self, *, to, subject, body, idempotency_key):
        raise ConnectionRefusedError(f"mail server refused {to}")


def texting_alice(cast, monkeypatch, provider) -> Notification:
    monkeypatch.setitem(CHANNELS, "sms", SmsChannel(provider))
    NotificationPreference.objects.create(patient=cast.alice, by_email=False, by_sms=True, **NO_QUIET)
    [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="flaky", subject="Hi", body="x")
    return queued


def make_due(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(scheduled_for=timezone.now())


def test_a_failed_send_is_tried_again_after_a_pause_and_delivered_once(cast, monkeypatch):
    provider = FlakyProvider(failures=1)
    queued = texting_alice(cast, monkeypatch, provider)
    before = timezone.now()
    assert tasks.send_notification.apply(args=[queued.pk]).get() == "retry_later"
    queued.refresh_from_db()
    assert queued.status == Notification.Status.PENDING and queued.attempts == 1
    assert queued.scheduled_for >= before + services.FIRST_RETRY_AFTER
    assert tasks.send_notification.apply(args=[queued.pk]).get() == "not_due"
    make_due(queued)
    assert tasks.send_notification.apply(args=[queued.pk]).get() == "sent"
    assert tasks.send_notification.apply(args=[queued.pk]).get() == "sent"
    assert provider.calls == 2
    assert Notification.objects.get(pk=queued.pk).attempts == 2


def test_a_message_that_never_goes_through_waits_longer_each_time_then_is_marked_undeliverable_and_left_alone(
    cast, monkeypatch
):
    provider = FlakyProvider(failures=float("inf"))
    queued = texting_alice(cast, monkeypatch, provider)
    pauses = []
    for _ in range(services.DELIVERY_ATTEMPTS - 1):
        make_due(queued)
        before = timezone.now()
        assert services.notification_deliver(notification_id=queued.pk) == "retry_later"
        queued.refresh_from_db()
        pauses.append(queued.scheduled_for - before)
    first = services.FIRST_RETRY_AFTER
    assert [pause // datetime.timedelta(minutes=1) for pause in pauses] == [
        (first * 2**n) // datetime.timedelta(minutes=1) for n in range(services.DELIVERY_ATTEMPTS - 1)
    ]
    make_due(queued)
    assert services.notification_deliver(notification_id=queued.pk) == Notification.Status.FAILED
    queued.refresh_from_db()
    assert queued.status == Notification.Status.FAILED and queued.attempts == services.DELIVERY_ATTEMPTS
    assert queued.note == f"could not be delivered after {services.DELIVERY_ATTEMPTS} attempts (ConnectionError)"
    audited = AuditEvent.objects.filter(object_type="notification", object_id=str(queued.pk))
    assert {"status": "failed", "channel": "sms"} in [event.detail_data for event in audited]

    assert tasks.send_due_notifications.delay().get() == 0
    assert services.notification_deliver(notification_id=queued.pk) == Notification.Status.FAILED
    assert provider.calls == services.DELIVERY_ATTEMPTS


def test_staff_see_a_prompt_that_could_not_be_delivered_on_the_timeline_and_the_adherence_page(
    cast, always_awake, monkeypatch
):
    monkeypatch.setitem(CHANNELS, "email", UnreachableEmail())
    window = open_window(cast, hours_ago=4)
    prompt = Notification.objects.filter(window=window).first()
    Notification.objects.filter(pk=prompt.pk).update(attempts=services.DELIVERY_ATTEMPTS - 1)
    make_due(prompt)
    assert services.notification_deliver(notification_id=prompt.pk) == Notification.Status.FAILED

    timeline = signed_in_client(cast.nurse).get(reverse("integration:timeline", args=[cast.alice.pk]))
    page = timeline.content.decode()
    assert "Message could not be delivered" in page
    assert f"A journaling prompt from your care team · by email, {services.DELIVERY_ATTEMPTS} attempts" in page
    adherence = signed_in_client(cast.bob).get(reverse("integration:adherence")).content.decode()
    assert "a prompt could not be delivered" in adherence
    own = signed_in_client(cast.alice_user).get(reverse("integration:my_timeline")).content.decode()
    assert "could not be delivered" not in own


def test_the_sweep_sends_what_is_due_and_nothing_else(cast, always_awake):
    services.notify(patient=cast.alice, kind="test", dedupe_key="now", subject="Now", body="x")
    services.notify(
        patient=cast.alice,
        kind="test",
        dedupe_key="later",
        subject="Later",
        body="x",
        not_before=timezone.now() + datetime.timedelta(days=1),
    )
    assert tasks.send_due_notifications.delay().get() == 1
    assert [m.subject for m in mail.outbox] == ["Now"]


class RememberingGateway:
    """An SMS gateway that honours idempotency keys, as a real one does: a repeated key is not sent again."""

    def __init__(self):
        self.delivered: dict[str, str] = {}

    def send_sms(self, *, to, body, idempotency_key):
        self.delivered.setdefault(idempotency_key, body)


def stuck_mid_send(notification: Notification, *, attempts: int, minutes_ago: float) -> None:
    """As a worker killed between claiming a send and settling it leaves the row."""
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENDING,
        attempts=attempts,
        claimed_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


def test_a_send_stuck_past_its_lease_is_reclaimed_and_sent_under_the_same_key(cast, monkeypatch):
    gateway = RememberingGateway()
    queued = texting_alice(cast, monkeypatch, gateway)
    gateway.send_sms(to="555-0100", body="Hi: x", idempotency_key=queued.dedupe_key)  # it left before the crash
    stuck_mid_send(queued, attempts=1, minutes_ago=services.SEND_LEASE.total_seconds() / 60 + 1)
    tasks.send_due_notifications.apply().get()
    queued.refresh_from_db()
    assert queued.status == Notification.Status.SENT and queued.attempts == 2
    assert list(gateway.delivered) == [queued.dedupe_key]
    reclaim = AuditEvent.objects.filter(object_type="notification", object_id=str(queued.pk)).order_by("id")
    assert {"status": "pending", "channel": "sms", "reclaimed": True} in [e.detail_data for e in reclaim]


def test_a_send_within_its_lease_is_left_to_its_worker(cast, monkeypatch):
    queued = texting_alice(cast, monkeypatch, RememberingGateway())
    stuck_mid_send(queued, attempts=1, minutes_ago=1)
    assert services.notifications_reclaim_stuck() == 0
    assert Notification.objects.get(pk=queued.pk).status == Notification.Status.SENDING


def test_a_stuck_send_on_its_last_attempt_is_shown_as_failed(cast, monkeypatch):
    gateway = RememberingGateway()
    queued = texting_alice(cast, monkeypatch, gateway)
    stuck_mid_send(queued, attempts=services.DELIVERY_ATTEMPTS, minutes_ago=60)
    assert services.notifications_reclaim_stuck() == 1
    queued.refresh_from_db()
    assert queued.status == Notification.Status.FAILED
    assert "the last did not finish" in queued.note
    assert services.notifications_reclaim_stuck() == 0
    assert gateway.delivered == {}


def test_every_try_of_an_email_carries_the_same_message_id(cast, always_awake):
    [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="mid", subject="Hi", body="Sign in")
    assert services.notification_deliver(notification_id=queued.pk) == Notification.Status.SENT
    expected = delivery.message_id(queued.dedupe_key)
    assert mail.outbox[0].extra_headers["Message-ID"] == expected
    assert "mid" not in expected.split("@")[0]


def test_a_broker_that_cannot_be_reached_neither_fails_nor_loses_the_message(
    cast, always_awake, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        [queued] = services.notify(patient=cast.alice, kind="test", dedupe_key="b", subject="Hi", body="x")
    assert Notification.objects.get(pk=queued.pk).status == Notification.Status.PENDING
    monkeypatch.undo()
    assert tasks.send_due_notifications.apply().get() == 1
    assert [m.subject for m in mail.outbox] == ["Hi"]
