"""Passkeys (WebAuthn) as a staff member's second factor: enrol, list and remove them, and sign in with one.

django-otp-webauthn's views do the WebAuthn checks; these subclasses decide who may run them. Enrolling needs a
signed-in staff member who has passed two-factor (roles_required). Signing in with a passkey needs the second step
of a sign-in: a correct password for this session, still fresh, and a login that is not locked. The library's own
URLs are not mounted, so its passwordless sign-in cannot be reached at all.
"""

import logging

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_otp_webauthn import exceptions
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from kapstone.accounts import passkeys, second_step, selectors, services
from kapstone.accounts.forms import count_failed_second_factor
from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import STAFF_ROLES

# What a forged or garbled answer can raise inside the library beyond its own API errors (base64, CBOR, JSON
# shapes it does not rewrite, JSON nested deeper than Python's recursion limit): each becomes a refusal with a
# message, never a 500.
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)
logger = logging.getLogger(__name__)


class PasskeyRefused(exceptions.OTPWebAuthnApiError):
    status_code = 400
    default_code = "passkey_refused"
    default_detail = "That passkey answer could not be checked. Try again, or use the code from your authenticator app."


class SignInExpired(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "sign_in_expired"
    default_detail = "Your sign-in has expired. Reload the page and enter your username and password again."


class SignInLocked(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "locked"
    default_detail = "This login is locked after repeated failed attempts. An admin can unlock it."


class _Readable:
    """Turns an unreadable answer into a refusal the page shows, instead of a 500."""

    def handle_exception(self, exc):
        if isinstance(exc, UNREADABLE):
            # Logged, so that a fault of ours that raises the same kinds of error is still seen.
            logger.warning("Refused an unreadable passkey request", exc_info=exc)
            exc = PasskeyRefused()
        return super().handle_exception(exc)


class _SecondStep(_Readable):
    """The user is the one whose password this session gave in the last few minutes, not request.user."""

    def get_user(self):
        return second_step.pending_user(self.request)

    def check_can_authenticate(self):
        user = self.get_user()
        if user is None:
            raise SignInExpired()
        if AxesProxyHandler.is_locked(self.request, credentials={"username": user.get_username()}):
            second_step.end(self.request)
            raise SignInLocked()


class SignInBegin(_SecondStep, BeginCredentialAuthenticationView):
    pass


class SignInComplete(_SecondStep, CompleteCredentialAuthenticationView):
    def post(self, request, *args, **kwargs):
        user = self.get_user()
        self.next_url = second_step.next_url(request)
        try:
            return super().post(request, *args, **kwargs)
        except (exceptions.OTPWebAuthnApiError, *UNREADABLE) as refusal:
            # A passkey answer that does not check out counts towards the lockout like a wrong code; a lost or
            # never-started challenge is not an answer at all.
            if user is not None and not isinstance(refusal, exceptions.InvalidState):
                count_failed_second_factor(user, request)
            raise

    def complete_auth(self, device):
        second_step.complete(self.request, user=device.user, device=device, method="passkey")

    def get_success_url(self):
        return self.next_url or reverse("home:home")


class EnrolBegin(_Readable, BeginCredentialRegistrationView):
    pass


class EnrolComplete(_Readable, CompleteCredentialRegistrationView):
    """The new passkey and its audit row are written by passkeys.PasskeyHelper."""


@roles_required(*STAFF_ROLES)
@identity_confirmed("manage your second factors")
def two_factor(request):
    """A staff member's own second factors: their authenticator app and their passkeys."""
    context = {
        "passkeys": selectors.passkeys_of(user=request.user),
        "has_app": selectors.has_code_device(user=request.user),
        "webauthn_config": passkeys.client_config(request),
    }
    return render(request, "accounts/two_factor.html", context)


@roles_required(*STAFF_ROLES)
@require_POST
@identity_confirmed("remove a passkey")
def passkey_remove(request, passkey_id):
    try:
        name = services.passkey_remove(actor=request.user, passkey_id=passkey_id)
    except WebAuthnCredential.DoesNotExist:
        raise Http404 from None
    except services.AccountError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{name} is removed; it no longer signs you in.")
    return redirect("accounts:two_factor")
