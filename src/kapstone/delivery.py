"""How a message leaves Kapstone, for every app that sends one (patient notifications, staff pages): email with a
stable Message-ID, and SMS through a provider named by settings.KAPSTONE_SMS_PROVIDER (a dotted path) so a practice
can plug in its own gateway. It sits below every app, so the apps that send share it without importing each other.

Every send carries an idempotency key: a send retried after its worker died mid-send carries the same key, so a
gateway that honours it (or a mail system that drops a repeated Message-ID) delivers the message once."""

import hashlib
import sys
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.utils import DNS_NAME
from django.utils.module_loading import import_string

DEFAULT_SMS_PROVIDER = "kapstone.delivery.ConsoleSmsProvider"

# Operational: a mail server that has not answered in a minute is treated as down, so a send never runs past the
# lease after which a sweep would reclaim it (integration.services.SEND_LEASE).
SEND_TIMEOUT_SECONDS = 60


class SmsProvider(Protocol):
    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None: ...


class ConsoleSmsProvider:
    """For the demo and development: prints the text message instead of sending it."""

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None:
        sys.stdout.write(f"[SMS to {to}] {body}\n")
        sys.stdout.flush()


def sms_provider() -> SmsProvider:
    provider: SmsProvider = import_string(getattr(settings, "KAPSTONE_SMS_PROVIDER", DEFAULT_SMS_PROVIDER))()
    return provider


def message_id(idempotency_key: str) -> str:
    """The same Message-ID for every try of one message; hashed, since the key names the patient's record."""
    return f"<kapstone.{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{DNS_NAME}>"


def send_email(*, to: str, subject: str, body: str, idempotency_key: str) -> None:
    message = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        headers={"Message-ID": message_id(idempotency_key)},
        connection=get_connection(fail_silently=False, timeout=SEND_TIMEOUT_SECONDS),
    )
    message.send()
