"""Passkeys as a staff member's second factor, and the two-step sign-in they need: password first, then the code
or the passkey on a page of its own."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent
from tests.foundation.softkey import SoftPasskey, stored_passkey

# A staff action asked to confirm, confirmed (accounts.staff_views.STAFF_ACTION_CONFIRM).
CONFIRMED = {"confirm": "yes"}

LOGIN = reverse("accounts:login")
SECOND_STEP = reverse("accounts:sign_in_second_step")
SIGN_IN_BEGIN = reverse("accounts:passkey_sign_in_begin")
SIGN_IN_COMPLETE = reverse("accounts:passkey_sign_in_complete")
ENROL_BEGIN = reverse("accounts:passkey_enrol_begin")
ENROL_COMPLETE = reverse("accounts:passkey_enrol_complete")
PASSWORD = "correct-horse-battery"


def code(user) -> str:
    return f"{totp(TOTPDevice.objects.get(user=user, confirmed=True).bin_key):06d}"


def password_step(user, client=None) -> Client:
    client = client or Client()
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url == SECOND_STEP
    return client


def post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def enrolled(user, client_for) -> SoftPasskey:
    """A passkey enrolled through the real enrolment endpoints, by the user signed in with their code."""
    key = SoftPasskey()
    client = client_for(user)
    options = client.post(ENROL_BEGIN).json()
    response = post_json(client, ENROL_COMPLETE, key.register(options))
    assert response.status_code == 200, response.content
    return key


def signed_in_with(key, user, client=None):
    client = password_step(user, client)
    options = client.post(SIGN_IN_BEGIN).json()
    return client, post_json(client, SIGN_IN_COMPLETE, key.assert_(options))


# --- the two-step sign-in ----------------------------------------------------------------------------------------


def test_the_password_alone_signs_nobody_in(cast):
    client = password_step(cast.bob)
    assert client.get(reverse("patients:list")).url.startswith(LOGIN)
    assert not AuditEvent.objects.filter(action="login", actor_id=cast.bob.pk).exists()


def test_the_second_step_takes_the_code_and_signs_in(cast):
    client = password_step(cast.bob)
    response = client.post(SECOND_STEP, {"otp_token": code(cast.bob)})
    assert response.status_code == 302 and response.url == reverse("home:home")
    assert client.get(reverse("patients:list")).status_code == 200
    event = AuditEvent.objects.get(action="login", actor_id=cast.bob.pk)
    assert json.loads(event.detail)["method"] == "authenticator_app"


def test_the_second_step_keeps_where_the_person_was_going(cast):
    client = Client()
    target = reverse("patients:list")
    client.post(LOGIN + f"?next={target}", {"username": "bob", "password": PASSWORD, "next": target})
    assert client.post(SECOND_STEP, {"otp_token": code(cast.bob)}).url == target


def test_the_second_step_is_out_of_reach_without_the_password(cast):
    response = Client().get(SECOND_STEP)
    assert response.status_code == 302 and response.url == LOGIN
    assert Client().post(SECOND_STEP, {"otp_token": "123456"}).url == LOGIN


def test_a_wrong_password_never_reaches_the_second_step(cast):
    client = Client()
    response = client.post(LOGIN, {"username": "bob", "password": "wrong-password-123"})
    assert response.status_code == 200
    assert client.get(SECOND_STEP).url == LOGIN


def test_the_second_step_expires(cast, settings):
    client = password_step(cast.bob)
    settings.SIGN_IN_SECOND_STEP_SECONDS = -1
    assert client.post(SECOND_STEP, {"otp_token": code(cast.bob)}).url == LOGIN
    settings.SIGN_IN_SECOND_STEP_SECONDS = 300
    assert client.get(SECOND_STEP).url == LOGIN, "an expired step is gone, not merely waiting"


def test_a_reset_of_two_factor_ends_a_sign_in_halfway(cast, client_for):
    client = password_step(cast.bob)
    client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED)
    assert client.get(SECOND_STEP).url == LOGIN


def test_a_wrong_code_at_the_second_step_is_refused_and_counts_towards_the_lockout(cast, settings):
    client = password_step(cast.bob)
    response = client.post(SECOND_STEP, {"otp_token": "000000"})
    assert response.status_code == 400 and "not right or has expired" in response.content.decode()
    assert AuditEvent.objects.filter(object_type="sign_in_failed").count() == 1
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(SECOND_STEP, {"otp_token": "000000"})
    response = client.post(SECOND_STEP, {"otp_token": code(cast.bob)})
    assert response.status_code in (302, 429)
    assert client.get(reverse("patients:list")).status_code == 302
    assert Client().post(LOGIN, {"username": "bob", "password": PASSWORD}).status_code == 429


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "Enter the 6-digit code"),
        ({"otp_token": ""}, "Enter the 6-digit code"),
        ({"otp_token": "x" * 500}, "at most 8 characters"),
        ({"otp_token": "12 34 56"}, "not right or has expired"),
    ],
)
def test_garbage_at_the_second_step_is_answered_with_a_message(cast, data, message):
    response = password_step(cast.bob).post(SECOND_STEP, data)
    assert response.status_code == 400 and message in response.content.decode()


def test_the_one_step_sign_in_with_password_and_code_still_works(cast):
    client = Client()
    response = client.post(LOGIN, {"username": "bob", "password": PASSWORD, "otp_token": code(cast.bob)})
    assert response.url == reverse("home:home")
    assert client.get(reverse("patients:list")).status_code == 200


# --- enrolling, listing, removing -------------------------------------------------------------------------------


def test_staff_enrol_a_passkey_from_their_two_factor_page(cast, client_for):
    page = client_for(cast.bob).get(reverse("accounts:two_factor"))
    assert "Add a passkey" in page.content.decode() and "You have no passkey yet" in page.content.decode()
    enrolled(cast.bob, client_for)
    passkey = WebAuthnCredential.objects.get(user=cast.bob)
    assert passkey.confirmed and passkey.name == "Passkey"
    event = AuditEvent.objects.get(object_type="passkey", action="create")
    assert event.actor_id == cast.bob.pk and event.object_id == str(passkey.pk)
    page = client_for(cast.bob).get(reverse("accounts:two_factor"))
    assert "Remove Passkey" in page.content.decode()


def test_a_passkey_and_its_audit_row_land_together_or_not_at_all(cast, client_for, monkeypatch):
    client = client_for(cast.bob)
    options = client.post(ENROL_BEGIN).json()

    def audit_trail_unavailable(**kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(audit, "record", audit_trail_unavailable)
    with pytest.raises(RuntimeError):
        post_json(client, ENROL_COMPLETE, SoftPasskey().register(options))
    assert not WebAuthnCredential.objects.exists()


def test_a_passkey_made_for_another_site_is_refused_at_enrolment(cast, client_for):
    client = client_for(cast.bob)
    options = client.post(ENROL_BEGIN).json()
    response = post_json(client, ENROL_COMPLETE, SoftPasskey(origin="https://evil.example").register(options))
    assert response.status_code == 422 and response.json()["detail"]
    assert not WebAuthnCredential.objects.exists() and not AuditEvent.objects.filter(object_type="passkey").exists()


def test_enrolment_needs_a_fresh_challenge(cast, client_for):
    response = post_json(client_for(cast.bob), ENROL_COMPLETE, SoftPasskey().register({"challenge": "AAAA"}))
    assert response.status_code == 400 and response.json()["detail"]


def test_patients_cannot_enrol_a_passkey(cast, client_for):
    assert client_for(cast.alice_user).post(ENROL_BEGIN).status_code == 403


def test_staff_remove_their_own_passkey(cast, client_for):
    passkey = stored_passkey(cast.bob)
    response = client_for(cast.bob).post(reverse("accounts:passkey_remove", args=[passkey.pk]), follow=True)
    assert "is removed" in response.content.decode()
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert AuditEvent.objects.filter(object_type="passkey", action="delete", object_id=str(passkey.pk)).exists()


def test_nobody_removes_someone_elses_passkey(cast, client_for):
    passkey = stored_passkey(cast.bob)
    assert client_for(cast.charlie).post(reverse("accounts:passkey_remove", args=[passkey.pk])).status_code == 404
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_the_only_second_factor_is_not_removed(cast, client_for):
    key = enrolled(cast.bob, client_for)
    client, _ = signed_in_with(key, cast.bob)
    TOTPDevice.objects.filter(user=cast.bob).delete()
    passkey = WebAuthnCredential.objects.get(user=cast.bob)
    response = client.post(reverse("accounts:passkey_remove", args=[passkey.pk]), follow=True)
    assert "your only second factor" in response.content.decode()
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_resetting_two_factor_removes_passkeys_and_ends_sessions(cast, client_for):
    key = enrolled(cast.bob, client_for)
    client, response = signed_in_with(key, cast.bob)
    assert response.status_code == 200
    client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "reset_two_factor"]), CONFIRMED)
    assert not WebAuthnCredential.objects.filter(user=cast.bob).exists()
    assert client.get(reverse("patients:list")).url.startswith(LOGIN)


# --- signing in with a passkey ----------------------------------------------------------------------------------


def test_staff_sign_in_with_password_then_passkey(cast, client_for):
    key = enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    page = client.get(SECOND_STEP).content.decode()
    assert "Use my passkey" in page and "otp_webauthn_auth.js" in page
    options = client.post(SIGN_IN_BEGIN).json()
    assert [c["id"] for c in options["allowCredentials"]] == [key.register({"challenge": ""})["id"]]
    response = post_json(client, SIGN_IN_COMPLETE, key.assert_(options))
    assert response.status_code == 200 and response.json()["redirect_url"] == reverse("home:home")
    assert client.get(reverse("patients:list")).status_code == 200
    event = AuditEvent.objects.filter(action="login", actor_id=cast.bob.pk).latest("id")
    assert json.loads(event.detail)["method"] == "passkey"
    assert WebAuthnCredential.objects.get(user=cast.bob).last_used_at is not None


def test_a_forged_passkey_answer_is_refused_with_a_message(cast, client_for):
    key = enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    options = client.post(SIGN_IN_BEGIN).json()
    response = post_json(
        client, SIGN_IN_COMPLETE, key.assert_(options, signing_key=ec.generate_private_key(ec.SECP256R1()))
    )
    assert response.status_code == 422 and response.json()["detail"]
    assert client.get(reverse("patients:list")).url.startswith(LOGIN)
    assert AuditEvent.objects.filter(object_type="sign_in_failed").count() == 1


def test_an_answer_is_used_once(cast, client_for):
    key = enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    answer = key.assert_(client.post(SIGN_IN_BEGIN).json())
    other = password_step(cast.bob, Client())
    response = post_json(other, SIGN_IN_COMPLETE, answer)
    assert response.status_code == 400, "a challenge belongs to the session that asked for it"
    assert other.get(reverse("patients:list")).url.startswith(LOGIN)


def test_another_persons_passkey_does_not_complete_bobs_sign_in(cast, client_for):
    charlies = enrolled(cast.charlie, client_for)
    enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    response = post_json(client, SIGN_IN_COMPLETE, charlies.assert_(client.post(SIGN_IN_BEGIN).json()))
    assert response.status_code == 403 and response.json()["detail"]
    assert client.get(reverse("patients:list")).url.startswith(LOGIN)


def test_the_passkey_endpoints_answer_only_during_a_second_step(cast, client_for):
    key = enrolled(cast.bob, client_for)
    for client in (Client(), client_for(cast.bob)):
        response = client.post(SIGN_IN_BEGIN)
        assert response.status_code == 403 and "expired" in response.json()["detail"]
        assert post_json(client, SIGN_IN_COMPLETE, key.assert_({"challenge": "AAAA"})).status_code == 403


def test_a_locked_login_cannot_finish_with_a_passkey(cast, client_for, settings):
    key = enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post(LOGIN, {"username": "bob", "password": "wrong-password-123"})
    response = client.post(SIGN_IN_BEGIN)
    assert response.status_code == 403 and "locked" in response.json()["detail"]
    assert post_json(client, SIGN_IN_COMPLETE, key.assert_({"challenge": "AAAA"})).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        "{}",
        json.dumps({"id": "x", "rawId": "x", "type": "public-key", "response": {}}),
        json.dumps({"id": "!!", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": 5}}),
        json.dumps(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
            }
        ),
    ],
)
def test_garbage_passkey_answers_are_refused_calmly(cast, client_for, body):
    enrolled(cast.bob, client_for)
    client = password_step(cast.bob)
    client.post(SIGN_IN_BEGIN)
    response = client.post(SIGN_IN_COMPLETE, body, content_type="application/json")
    assert 400 <= response.status_code < 500 and response.json()["detail"]
    enrol = client_for(cast.bob)
    enrol.post(ENROL_BEGIN)
    response = enrol.post(ENROL_COMPLETE, body, content_type="application/json")
    assert 400 <= response.status_code < 500 and response.json()["detail"]
