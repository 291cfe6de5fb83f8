from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.contrib.auth.signals import user_login_failed
from django.core.validators import MaxLengthValidator
from django_otp import match_token, user_has_device

from kapstone.baseforms import Form, NamedRequiredMixin, SignInForm


class LoginForm(SignInForm):
    """Password and, for staff, the six-digit code from their authenticator app in the same step. Staff who leave
    the code empty continue to a second step, where they give the code or use a passkey."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Staff: the 6-digit code from your authenticator app, or leave it empty to use a passkey next. "
        "Patients leave this empty.",
    )

    # Argon2 hashes whatever it is given: a bound keeps a pasted megabyte from costing the server a hash of it.
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That code is not right or has expired. Codes change every 30 seconds.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.otp_device = None
        self.second_step_needed = False
        # Django sets the username's max_length for the browser only; without the validator an over-long name
        # reached the lockout log (a 255-character column) and PostgreSQL refused the write with a 500.
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not user.is_staff_member or not user_has_device(user):
            return cleaned
        token = (cleaned.get("otp_token") or "").replace(" ", "")
        if not token:
            self.second_step_needed = True
            return cleaned
        self.otp_device = code_device(user, token)
        if self.otp_device is None:
            count_failed_second_factor(user, self.request)
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        return cleaned


def code_device(user, token: str):
    """The user's authenticator app (or recovery code) that accepts this code, or None."""
    return match_token(user, token.replace(" ", "")[:8]) if token else None


def count_failed_second_factor(user, request) -> None:
    """A wrong code or a refused passkey counts towards the lockout, and into the audit trail, like a wrong password."""
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


class ConfirmIdentityForm(Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=4096,  # as LoginForm's: argon2 hashes whatever it is given
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SecondStepForm(Form):
    otp_token = forms.CharField(
        label="Authenticator code",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"required": LoginForm.error_messages["otp_required"]},
    )


class ConfirmDeviceForm(Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordResetRequestForm(Form):
    identifier = forms.CharField(
        label="Username or email address", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )


class UnlockForm(Form):
    username = forms.CharField(max_length=150)


class CountedPasswordChangeForm(NamedRequiredMixin, PasswordChangeForm):
    """Django's form, but a wrong old password counts towards the login's lockout, as a wrong password at sign-in
    does: the form checked the old password as often as it was sent, so whoever found a session left open could
    guess the password without limit, then keep it, or choose a new one that shuts its owner out."""

    def __init__(self, user, *args, request, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is None or checked.pk != self.user.pk:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class NewPasswordForm(NamedRequiredMixin, SetPasswordForm):
    """Django's form to choose a password from an emailed link, whose empty fields are named (NamedRequiredMixin)."""
