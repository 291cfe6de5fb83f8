"""The Twilio SMS provider gives up on an API that accepts the connection and never answers, after the same timeout
as a mail send (delivery.SEND_TIMEOUT_SECONDS), so the send fails and is retried instead of holding its worker."""

import socket
import time

import pytest
import requests

from kapstone import delivery
from kapstone.alerts.providers import TwilioSmsProvider


@pytest.fixture
def twilio_account(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "synthetic-token")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+15550100000")


def test_the_provider_waits_no_longer_than_a_mail_send(twilio_account):
    assert TwilioSmsProvider().client.http_client.timeout == delivery.SEND_TIMEOUT_SECONDS


def test_an_api_that_never_answers_fails_the_send_within_the_timeout(twilio_account, monkeypatch):
    monkeypatch.setattr(delivery, "SEND_TIMEOUT_SECONDS", 1)
    provider = TwilioSmsProvider()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        started = time.monotonic()
        with pytest.raises(requests.exceptions.Timeout):
            provider.client.http_client.request("POST", f"http://127.0.0.1:{listener.getsockname()[1]}/Messages.json")
    assert time.monotonic() - started < 10
