"""Delivery of staff pages, through kapstone.delivery. SMS goes through the provider settings.KAPSTONE_SMS_PROVIDER
names (the same setting and SmsProvider protocol as patient notifications): the console in the demo, Twilio in
production. Message bodies never carry patient information: only a link to the alert, behind sign-in."""

import os

from django.core.exceptions import ImproperlyConfigured

from kapstone import delivery


class DeliveryFailed(Exception):
    """The provider refused or could not take the message; the message says why, for the alert's page."""


class TwilioSmsProvider:
    """Sends SMS through Twilio's Messages API. Configured from the environment: TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (E.164) or TWILIO_MESSAGING_SERVICE_SID."""

    def __init__(self):
        account, token = os.environ.get("TWILIO_ACCOUNT_SID", ""), os.environ.get("TWILIO_AUTH_TOKEN", "")
        self.sender = os.environ.get("TWILIO_FROM_NUMBER", "")
        self.service = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
        if not (account and token and (self.sender or self.service)):
            raise ImproperlyConfigured(
                "TwilioSmsProvider needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER "
                "(or TWILIO_MESSAGING_SERVICE_SID)."
            )
        # Deferred on purpose: the twilio package is only needed where the practice sends SMS through it.
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # Twilio's client waits forever by default: a send to an API that stopped answering would hold its worker
        # for good while the sweep, once the lease ran out, sent the page again beside it.
        self.client = Client(account, token, http_client=TwilioHttpClient(timeout=delivery.SEND_TIMEOUT_SECONDS))

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> None:
        # Twilio's Messages API takes no idempotency key; a retry after a worker died mid-send may repeat the text,
        # which for a page is the safer failure. The key is part of the protocol for gateways that honour one.
        from twilio.base.exceptions import TwilioException

        sender = {"messaging_service_sid": self.service} if self.service else {"from_": self.sender}
        try:
            self.client.messages.create(to=to, body=body, **sender)
        except TwilioException as error:
            # A refused number (e.g. 21211 invalid 'To') or an outage: the caller retries, then shows it.
            raise DeliveryFailed(f"SMS provider refused the message: {error}") from error


def deliver(*, channel: str, address: str, subject: str, body: str, idempotency_key: str) -> None:
    """Sends one page; raises DeliveryFailed (or the transport's own error) when it does not go. Every try of one
    page carries the same key (for email, the same Message-ID), so a mail system can drop a repeat."""
    if channel == "email":
        delivery.send_email(to=address, subject=subject, body=body, idempotency_key=idempotency_key)
    elif channel == "sms":
        delivery.sms_provider().send_sms(to=address, body=f"{subject}. {body}", idempotency_key=idempotency_key)
    else:
        raise DeliveryFailed(f"no channel {channel!r}")
