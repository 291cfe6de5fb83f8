"""Whether a message may go to a patient now. The patient's chosen channels and quiet hours belong to the
integration app, which sits above some apps that message patients (measures sends questionnaire links); it registers
its rule here from its ready(), so those apps ask without importing it."""

import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from kapstone.patients.models import Patient


class ContactRule(Protocol):
    def __call__(self, *, patient: Patient, channel: str, now: datetime.datetime) -> bool: ...


_rule: list[ContactRule] = []


def register(rule: ContactRule) -> None:
    _rule[:] = [rule]


def may_message_now(*, patient: Patient, channel: str, now: datetime.datetime) -> bool:
    """Whether a message on this channel may go to the patient now (their choice of channels, their quiet hours)."""
    if not _rule:
        # Messaging a patient without knowing their quiet hours could wake them: refuse rather than guess.
        raise ImproperlyConfigured("No app registered the rule for when patients may be messaged (integration does).")
    return _rule[0](patient=patient, channel=channel, now=now)
