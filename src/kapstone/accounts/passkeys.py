"""Passkeys (WebAuthn) through django-otp-webauthn: the helper that checks a new passkey, and the settings its
scripts read from the page."""

from django.db import transaction
from django.middleware import csrf
from django.urls import reverse
from django_otp_webauthn.helpers import WebAuthnHelper

from kapstone.accounts import services


class PasskeyHelper(WebAuthnHelper):
    """The library's helper (settings.OTP_WEBAUTHN_HELPER_CLASS), with a new passkey and its audit row written
    together or not at all."""

    def register_complete(self, user, state: dict, data: dict):
        with transaction.atomic():
            passkey = super().register_complete(user=user, state=state, data=data)
            services.passkey_enrolled(actor=user, passkey=passkey)
        return passkey


def client_config(request) -> dict:
    """What the library's scripts read from the page (json_script "otp_webauthn_config"): Kapstone's own URLs for
    each ceremony, and the CSRF token they send back."""
    return {
        "csrfToken": csrf.get_token(request),
        "beginRegistrationUrl": reverse("accounts:passkey_enrol_begin"),
        "completeRegistrationUrl": reverse("accounts:passkey_enrol_complete"),
        "beginAuthenticationUrl": reverse("accounts:passkey_sign_in_begin"),
        "completeAuthenticationUrl": reverse("accounts:passkey_sign_in_complete"),
        # No passkey autofill in the username field: the password always comes first.
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
    }
