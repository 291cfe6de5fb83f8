"""Paging and escalation on a controlled clock: who is paged at once, when an alert moves down the rota, that
nothing is sent twice, and that a failing SMS provider holds up nothing else."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection, connections

from kapstone.alerts import selectors, services
from kapstone.alerts.models import AlertNotification, EscalationStep
from kapstone.audit.models import AuditEvent
from kapstone.measures import services as measures_services
from kapstone.measures.models import CriticalAlert
from tests.alerts.conftest import MONDAY_10AM
from tests.measures.factories import due_assessment, open_alert

MINUTES = datetime.timedelta(minutes=1)


def recipients(alert, step):
    return {
        (n.recipient.username, n.role_in_step)
        for n in AlertNotification.objects.filter(alert=alert, step=step, channel="email")
    }


def test_an_urgent_alert_pages_the_care_teams_prescriber_and_whoever_is_on_call_at_once(cast, paging):
    alert = open_alert(cast.alice)
    assert services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    assert recipients(alert, 0) == {("bob", "prescriber on the care team"), ("charlie", "on call")}
    # Bob gave a mobile number, so he is paged by SMS as well; a therapist on the team is not paged.
    assert AlertNotification.objects.filter(alert=alert, recipient=cast.bob, channel="sms").exists()
    assert not services.alert_page(alert_id=alert.pk, now=MONDAY_10AM), "a second page of the same step"
    assert AuditEvent.objects.filter(object_type="critical_alert", object_id=str(alert.pk), action="update").exists()


def test_raising_an_alert_pages_once_its_transaction_commits(cast, paging, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert = open_alert(cast.alice)
    assert EscalationStep.objects.filter(alert=alert, step=0).exists()
    sent = {message.to[0] for message in mail.outbox if message.subject.startswith("Kapstone: an alert")}
    # Bob as the care team's prescriber; beside him whoever the rota names at the real hour the test runs.
    assert "bob@practice.example" in sent and len(sent) == 2


def test_an_unacknowledged_alert_escalates_down_the_rota_and_to_the_medical_director_until_acknowledged(cast, paging):
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    assert services.alerts_escalate_due(now=MONDAY_10AM + 14 * MINUTES) == 0
    assert services.alerts_escalate_due(now=MONDAY_10AM + 15 * MINUTES) == 1
    assert recipients(alert, 1) == {("dora", "next on the rota"), ("medic", "medical director")}
    assert services.alerts_escalate_due(now=MONDAY_10AM + 29 * MINUTES) == 0
    assert services.alerts_escalate_due(now=MONDAY_10AM + 30 * MINUTES) == 1
    assert ("medic", "medical director") in recipients(alert, 2) and len(recipients(alert, 2)) == 2
    measures_services.alert_acknowledge(actor=cast.bob, alert=alert, note="Called Alice; safe with her partner.")
    assert services.alerts_escalate_due(now=MONDAY_10AM + 120 * MINUTES) == 0
    assert list(EscalationStep.objects.filter(alert=alert).values_list("step", flat=True)) == [0, 1, 2]


def test_the_escalation_interval_is_the_practices_setting(cast, paging):
    from kapstone.practice.settings_store import practice_value_set

    practice_value_set(actor=cast.admin, key="alerts.acknowledge_within_minutes", value=5, reason="On-call policy")
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    assert services.alerts_escalate_due(now=MONDAY_10AM + 5 * MINUTES) == 1


def test_a_review_alert_pages_nobody(cast, paging):
    assessment = due_assessment(cast.alice, "qids-sr16")
    measures_services.assessment_save_answers(actor=None, assessment=assessment, answers={12: 1}, submit=False)
    alert = CriticalAlert.objects.get()
    assert not services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    assert services.alerts_escalate_due(now=MONDAY_10AM + 60 * MINUTES) == 0
    assert not AlertNotification.objects.exists()


def test_a_sweep_pages_an_alert_whose_first_page_was_lost(cast, paging):
    alert = open_alert(cast.alice)
    assert services.alerts_escalate_due(now=MONDAY_10AM) == 1
    assert recipients(alert, 0)


def test_a_rota_gap_falls_back_to_the_default_then_the_medical_director(cast, paging):
    sunday = MONDAY_10AM - datetime.timedelta(days=1)
    assert selectors.on_call_now(now=sunday) == ([paging["director"]], "medical_director")
    services.rota_default_set(actor=cast.bob, prescriber=cast.charlie)
    assert selectors.on_call_now(now=sunday) == ([cast.charlie], "default")
    # Monday 07:00 is still inside dora's overnight slot from Monday evening? No: that covers Tuesday morning.
    assert selectors.on_call_now(now=MONDAY_10AM - 3 * 60 * MINUTES)[1] == "default"
    assert selectors.on_call_now(now=MONDAY_10AM + 20 * 60 * MINUTES) == ([paging["dora"]], "rota")


def test_messages_carry_no_patient_information_only_a_link_after_sign_in(cast, paging):
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    services.notifications_deliver_due(now=MONDAY_10AM)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        for secret in ("Alice", "Abernathy", cast.alice.record_number, "PHQ", "suicid", "Item 9"):
            assert secret.lower() not in (message.subject + message.body).lower()
        assert f"/alerts/{alert.pk}/" in message.body


class RefusingProvider:
    def send_sms(self, *, to, body, idempotency_key):
        from kapstone.alerts.providers import DeliveryFailed

        raise DeliveryFailed("21211 The 'To' number is not a valid phone number")


def test_a_failing_sms_provider_holds_up_no_email_is_retried_then_shown_on_the_alert(
    cast, paging, settings, client_for
):
    settings.KAPSTONE_SMS_PROVIDER = "tests.alerts.test_paging_and_escalation.RefusingProvider"
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    assert services.notifications_deliver_due(now=MONDAY_10AM) == 2  # both emails, despite the SMS
    sms = AlertNotification.objects.get(alert=alert, channel="sms")
    assert (sms.status, sms.attempts) == ("pending", 1) and "not a valid phone number" in sms.last_error
    assert services.notifications_deliver_due(now=MONDAY_10AM + MINUTES) == 0  # its pause is not over
    assert sms.next_attempt_at == MONDAY_10AM + 2 * MINUTES
    services.notifications_deliver_due(now=MONDAY_10AM + 2 * MINUTES)
    services.notifications_deliver_due(now=MONDAY_10AM + 6 * MINUTES)
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == ("failed", 3)
    assert len(mail.outbox) == 2
    page = client_for(cast.bob).get(f"/alerts/{alert.pk}/").content.decode()
    assert "could not be delivered" in page and "not a valid phone number" in page


def test_a_page_is_sent_once_however_many_times_it_is_delivered(cast, paging):
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    email = AlertNotification.objects.filter(alert=alert, channel="email").first()
    assert services.notification_deliver(notification_id=email.pk, now=MONDAY_10AM) == "sent"
    assert services.notification_deliver(notification_id=email.pk, now=MONDAY_10AM) == "skipped"
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_take_each_step_and_send_each_page_once(cast, paging):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (the in-memory SQLite test database locks a table)")
    alert = open_alert(cast.alice)
    services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    later = MONDAY_10AM + 15 * MINUTES
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.alerts_escalate_due(now=later)
            services.notifications_deliver_due(now=later)
        except Exception as error:  # surfaced below: a worker must not fail on the other's work
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(EscalationStep.objects.filter(alert=alert).values_list("step", flat=True)) == [0, 1]
    sent = AlertNotification.objects.filter(status="sent")
    assert sent.count() == AlertNotification.objects.count()
    assert len(mail.outbox) == AlertNotification.objects.filter(channel="email").count()


def test_a_prescriber_whose_facilitation_grant_has_ended_is_not_paged_as_the_patient_s_prescriber(cast, paging):
    """A grant for facilitating the patient's course opens nothing outside its window (docs/architecture.md, "Who
    sees a patient"), so its prescriber is not paged about a patient whose record they may no longer open."""
    from kapstone.accounts.roles import Role
    from kapstone.patients.models import CareTeamMembership
    from tests.conftest import make_user

    now = datetime.datetime.now(datetime.UTC)
    past = make_user("paula", Role.PRESCRIBER)
    current = make_user("quinn", Role.PRESCRIBER)
    for staff, until in ((past, now - datetime.timedelta(days=1)), (current, now + datetime.timedelta(days=1))):
        CareTeamMembership.objects.create(
            patient=cast.alice,
            staff=staff,
            granted_for_group_id=1,
            granted_from=now - datetime.timedelta(days=30),
            granted_until=until,
        )
    alert = open_alert(cast.alice)
    assert services.alert_page(alert_id=alert.pk, now=MONDAY_10AM)
    paged = {name for name, why in recipients(alert, 0) if why == "prescriber on the care team"}
    assert paged == {"bob", "quinn"}
