from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password

from kapstone.accounts.roles import STAFF_ROLES, Role


class StaffForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$", max_length=150, help_text="3-150 letters, digits and . @ + - _"
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r in STAFF_ROLES])
    credentials = forms.CharField(max_length=60, required=False, help_text="e.g. MD, PhD, RN")
    temporary_password = forms.CharField(widget=forms.PasswordInput, help_text="Give it to them in person.")

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("temporary_password")
        if password:
            candidate = get_user_model()(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                validate_password(password, candidate)
            except forms.ValidationError as problems:
                self.add_error("temporary_password", problems)
        return cleaned
