import datetime

import pytest
from django.core import mail
from django.utils import timezone

from kapstone.integration.models import NotificationPreference
from kapstone.measures import services
from kapstone.measures.models import Assessment

pytestmark = [pytest.mark.django_db, pytest.mark.quiet_hours]


def due_phq9(patient):
    return Assessment.objects.create(
        patient=patient,
        instrument_id="phq9",
        instrument_version=1,
        occasion="baseline",
        occasion_label="Baseline",
        due_at=timezone.now() - datetime.timedelta(hours=1),
        status=Assessment.Status.DUE,
    )


def test_questionnaire_links_wait_for_the_end_of_the_patients_quiet_hours(cast):
    due_phq9(cast.alice)
    NotificationPreference.objects.create(
        patient=cast.alice, time_zone="UTC", quiet_start=datetime.time(0, 0), quiet_end=datetime.time(23, 59, 59)
    )
    assert services.reminders_send_due() == 0 and mail.outbox == []


def test_questionnaire_links_go_when_the_patient_may_be_messaged(cast):
    due_phq9(cast.alice)
    NotificationPreference.objects.create(
        patient=cast.alice, quiet_start=datetime.time(0, 0), quiet_end=datetime.time(0, 0)
    )  # equal ends: no quiet hours
    assert services.reminders_send_due(now=timezone.now()) >= 1
    assert mail.outbox and mail.outbox[0].to == [cast.alice.email]
