"""Sign-in and sign-out are audited by the accounts services the views call, with the same detail whichever way the
person came in or left: the password alone, the password and a code, the second step, or signing out."""

import json

from django.test import Client
from django.urls import reverse

from kapstone.accounts import services
from kapstone.audit.models import AuditEvent
from tests.foundation.test_login import LOGIN, current_code


def _last(action: str, user) -> dict:
    event = AuditEvent.objects.filter(action=action, actor_id=user.pk).order_by("-pk").first()
    assert event is not None
    return json.loads(event.detail)


def test_a_patient_signing_in_with_the_password_alone_is_audited_without_two_factor(cast):
    Client().post(LOGIN, {"username": cast.alice_user.username, "password": "correct-horse-battery"})
    assert _last("login", cast.alice_user) == {"two_factor": False}


def test_staff_signing_in_with_a_code_is_audited_with_two_factor(cast):
    Client().post(LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": current_code(cast.bob)})
    assert _last("login", cast.bob) == {"two_factor": True}


def test_staff_completing_the_second_step_is_audited_with_the_method(cast):
    client = Client()
    client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery"})
    client.post(reverse("accounts:sign_in_second_step"), {"otp_token": current_code(cast.bob)})
    assert _last("login", cast.bob) == {"two_factor": True, "method": "authenticator_app"}


def test_signing_out_is_audited_with_no_detail(cast):
    client = Client()
    client.force_login(cast.alice_user)
    client.post(reverse("accounts:logout"))
    assert _last("logout", cast.alice_user) == {}


def test_the_sign_out_service_names_why_a_session_ended(cast):
    services.sign_out_record(user=cast.bob, ended="session lifetime")
    assert _last("logout", cast.bob) == {"ended": "session lifetime"}
    services.sign_out_record(user=cast.bob, locked_out=True)
    assert _last("logout", cast.bob) == {"locked_out": True}


def test_a_confirmed_identity_is_audited_as_a_sign_in(cast):
    services.identity_confirm_record(user=cast.bob)
    assert _last("login", cast.bob) == {"identity_confirmed": True}
