from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.validators import MaxLengthValidator
from django_otp import match_token, user_has_device


class LoginForm(AuthenticationForm):
    """Password, then (for staff) the six-digit code from their authenticator app, in one step."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Staff: the 6-digit code from your authenticator app. Patients leave this empty.",
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
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        self.otp_device = match_token(user, token)
        if self.otp_device is None:
            # A wrong code counts towards the lockout like a wrong password.
            user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=self.request)
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        return cleaned


class ConfirmDeviceForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordResetRequestForm(forms.Form):
    identifier = forms.CharField(
        label="Username or email address", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=150)
