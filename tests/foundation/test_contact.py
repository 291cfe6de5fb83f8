"""When a patient may be messaged is answered by the app that keeps their choices (integration), through
patients.contact, so lower apps that message patients (measures) ask without importing it."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from kapstone.integration.models import NotificationPreference
from kapstone.patients import contact


def test_a_patient_who_turned_email_off_is_not_emailed(cast):
    NotificationPreference.objects.create(patient=cast.alice, by_email=False, by_sms=True)
    now = datetime.datetime(2026, 3, 10, 15, 0, tzinfo=datetime.UTC)
    assert contact.may_message_now(patient=cast.alice, channel="email", now=now) is False


def test_without_a_registered_rule_no_message_goes(cast, monkeypatch):
    monkeypatch.setattr(contact, "_rule", [])
    with pytest.raises(ImproperlyConfigured):
        contact.may_message_now(patient=cast.alice, channel="email", now=datetime.datetime.now(datetime.UTC))
