"""The second step of a staff sign-in: between a correct password and the code or passkey that completes it.

Nobody is signed in during this step. The session only remembers who gave the right password, when, and a hash of
their password and session generation, so the step lapses after settings.SIGN_IN_SECOND_STEP_SECONDS, and a
password change, a deactivation or an admin's "Reset two-factor" in the meantime ends it as well.
"""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.utils.crypto import constant_time_compare
from django_otp import login as otp_login

from kapstone.accounts import services

PENDING_KEY = "kapstone_sign_in_second_step"
# The password was checked by the model backend (through axes' backend); the session names it as the one used:
# Kapstone's, which reads the signed-in user of each later request (kapstone.accounts.signed_in).
SIGN_IN_BACKEND = "kapstone.accounts.signed_in.SignedInUserBackend"


def begin(request, *, user, next_url: str) -> None:
    # A new session key: whatever the visitor held before the password does not carry into the signed-in session.
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "started": time.time(),
        "auth_hash": user.get_session_auth_hash(),
        "next": next_url,
    }


def pending_user(request):
    """The user who gave the right password for this session, while the step lasts; otherwise None."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("started", 0)) > settings.SIGN_IN_SECOND_STEP_SECONDS:
        end(request)
        return None
    user = get_user_model().objects.filter(pk=pending.get("user_id"), is_active=True).first()
    if user is None or not constant_time_compare(str(pending.get("auth_hash", "")), user.get_session_auth_hash()):
        end(request)
        return None
    return user


def next_url(request) -> str:
    return str((request.session.get(PENDING_KEY) or {}).get("next", ""))


def end(request) -> None:
    request.session.pop(PENDING_KEY, None)


def complete(request, *, user, device, method: str) -> None:
    """The second factor matched: the person is signed in, verified by that device, and it is audited."""
    end(request)
    auth_login(request, user, backend=SIGN_IN_BACKEND)
    otp_login(request, device)
    services.sign_in_record(user=user, two_factor=True, method=method)
