"""Pluggable notification channels. A channel knows a patient's address on it and how to deliver a message;
SMS goes through a provider so a practice can plug in its own gateway (settings.KAPSTONE_SMS_PROVIDER, a dotted
path). Messages never carry clinical details: they ask the patient to sign in."""

import sys
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

DEFAULT_SMS_PROVIDER = "kapstone.integration.notifications.ConsoleSmsProvider"


class Channel(Protocol):
    name: str

    def address_for(self, patient) -> str: ...

    def send(self, *, to: str, subject: str, body: str) -> None: ...


class SmsProvider(Protocol):
    def send_sms(self, *, to: str, body: str) -> None: ...


class ConsoleSmsProvider:
    """For the demo and development: prints the text message instead of sending it."""

    def send_sms(self, *, to: str, body: str) -> None:
        sys.stdout.write(f"[SMS to {to}] {body}\n")
        sys.stdout.flush()


class EmailChannel:
    name = "email"

    def address_for(self, patient) -> str:
        return patient.email

    def send(self, *, to: str, subject: str, body: str) -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)


class SmsChannel:
    name = "sms"

    def __init__(self, provider: SmsProvider | None = None):
        self._provider = provider

    @property
    def provider(self) -> SmsProvider:
        if self._provider is None:
            self._provider = import_string(getattr(settings, "KAPSTONE_SMS_PROVIDER", DEFAULT_SMS_PROVIDER))()
        return self._provider

    def address_for(self, patient) -> str:
        return patient.phone

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.provider.send_sms(to=to, body=f"{subject}: {body}")


CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "sms": SmsChannel()}


def channel(name: str) -> Channel:
    return CHANNELS[name]
