"""Pluggable notification channels. A channel knows a patient's address on it and how to deliver a message, through
kapstone.delivery (email, or SMS through the practice's provider). Messages never carry clinical details: they ask
the patient to sign in. Every send carries the notification's dedupe key as its idempotency key."""

from typing import Protocol

from kapstone import delivery


class Channel(Protocol):
    name: str

    def address_for(self, patient) -> str: ...

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None: ...


class EmailChannel:
    name = "email"

    def address_for(self, patient) -> str:
        return patient.email

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        delivery.send_email(to=to, subject=subject, body=body, idempotency_key=idempotency_key)


class SmsChannel:
    name = "sms"

    def __init__(self, provider: delivery.SmsProvider | None = None):
        self._provider = provider

    @property
    def provider(self) -> delivery.SmsProvider:
        if self._provider is None:
            self._provider = delivery.sms_provider()
        return self._provider

    def address_for(self, patient) -> str:
        return patient.phone

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        self.provider.send_sms(to=to, body=f"{subject}: {body}", idempotency_key=idempotency_key)


CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "sms": SmsChannel()}


def channel(name: str) -> Channel:
    return CHANNELS[name]
