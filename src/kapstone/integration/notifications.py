"""Pluggable notification channels. A channel knows a patient's address on it and how to deliver a message;
SMS goes through a provider so a practice can plug in its own gateway (settings.KAPSTONE_SMS_PROVIDER, a dotted
path). Messages never carry clinical details: they ask the patient to sign in.

Every send carries an idempotency key (the notification's dedupe key): a send retried after its worker died
mid-send carries the same key, so a gateway that honours it (or a mail system that drops a repeated Message-ID)
delivers the message once."""

import hashlib
import sys
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.utils import DNS_NAME
from django.utils.module_loading import import_string

DEFAULT_SMS_PROVIDER = "kapstone.integration.notifications.ConsoleSmsProvider"


class Channel(Protocol):
    name: str

    def address_for(self, patient) -> str: ...

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None: ...


class SmsProvider(Protocol):
    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None: ...


# Operational: a mail server that has not answered in a minute is treated as down, so a send never runs past the
# lease after which the sweep would reclaim it (services.SEND_LEASE).
SEND_TIMEOUT_SECONDS = 60


class ConsoleSmsProvider:
    """For the demo and development: prints the text message instead of sending it."""

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None:
        sys.stdout.write(f"[SMS to {to}] {body}\n")
        sys.stdout.flush()


def message_id(idempotency_key: str) -> str:
    """The same Message-ID for every try of one message; hashed, since the key names the patient's record."""
    return f"<kapstone.{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{DNS_NAME}>"


class EmailChannel:
    name = "email"

    def address_for(self, patient) -> str:
        return patient.email

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        message = EmailMessage(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [to],
            headers={"Message-ID": message_id(idempotency_key)},
            connection=get_connection(fail_silently=False, timeout=SEND_TIMEOUT_SECONDS),
        )
        message.send()


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

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        self.provider.send_sms(to=to, body=f"{subject}: {body}", idempotency_key=idempotency_key)


CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "sms": SmsChannel()}


def channel(name: str) -> Channel:
    return CHANNELS[name]
