"""Security probes, seventh round: a witness's wrong password as the admins' security screen shows it, and what a
right one clears; emailed links under a Host header the visitor chose; codes used twice; rights changed or ended
under an open session; what a researcher's pages and the research export show; a receipt of the same invoice sent
twice, and raced. tests/test_security_probes.py and rounds 2 to 6 hold the earlier rounds."""

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.accounts.services import SecondSignatureRefused, second_signature_confirm
from kapstone.audit.models import AuditEvent
from tests.conftest import CAST_PASSWORD, signed_in_client

WRONG = "not-the-witness-password-7"


def _witness_with(recorder, witness, password: str):
    """`witness`'s password typed at `recorder`'s screen, as a ledger form confirms its second signature."""
    request = RequestFactory().post("/dosing/ledger/count/", REMOTE_ADDR="10.0.0.7")
    request.user = recorder
    return second_signature_confirm(request=request, signer=witness, password=password, roles=tuple(Role))


def _failures(user) -> int:
    return sum(
        AccessAttempt.objects.filter(username=user.get_username()).values_list("failures_since_start", flat=True)
    )


# --- a witness's password on the security screen ---------------------------------------------------------------


def test_a_wrong_witness_password_is_shown_as_a_witness_s_at_the_recorder_s_screen_not_as_a_sign_in(cast):
    """It counts towards the witness's lockout as a failed sign-in does, but the admin reading the screen is told
    what it was: the witness's password, typed at the nurse's screen, not someone trying to sign in as bob."""
    with pytest.raises(SecondSignatureRefused):
        _witness_with(cast.nurse, cast.bob, WRONG)
    assert _failures(cast.bob) == 1
    Client().post(reverse("accounts:login"), {"username": "theo", "password": WRONG})
    failed = AuditEvent.objects.get(object_type="sign_in_failed", detail__contains="second_signature")
    assert failed.detail_data == {"username": "bob", "second_signature": "witness", "recorded_by": "nina"}
    assert CAST_PASSWORD not in failed.detail and WRONG not in failed.detail
    page = signed_in_client(cast.admin).get(reverse("accounts:security")).content.decode()
    assert "Wrong witness password" in page and "bob as witness, at nina&#x27;s screen" in page
    # A wrong password at sign-in is still said as one.
    assert re.search(r"Failed sign-in</td><td>theo</td>", page)


def test_a_right_witness_password_does_not_clear_the_witness_s_earlier_failures(cast, settings):
    """Django-axes clears a login's failures at a sign-in, which takes the password and the second factor. A witness
    signature is the password alone: were it to clear them, whoever had seen bob's password typed at a screen could
    try his authenticator codes at sign-in, then sign as his witness to start the count again, without end. Only a
    whole sign-in, the cool-off time or an admin's unlock clears the count."""
    settings.AXES_FAILURE_LIMIT = 3
    password_known = Client()
    password_known.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
    for _ in range(2):
        password_known.post(reverse("accounts:sign_in_second_step"), {"otp_token": "000000"})
    assert _failures(cast.bob) == 2
    assert _witness_with(cast.nurse, cast.bob, CAST_PASSWORD).signer == cast.bob
    assert _failures(cast.bob) == 2, "the right witness password cleared the wrong codes"
    password_known.post(reverse("accounts:sign_in_second_step"), {"otp_token": "000000"})
    answer = Client().post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
    assert "Account locked" in answer.content.decode()
    with pytest.raises(SecondSignatureRefused, match="locked"):
        _witness_with(cast.nurse, cast.bob, CAST_PASSWORD)
