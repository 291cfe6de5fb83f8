from django import forms
from django.contrib.auth import get_user_model

from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.baseforms import Form


class StaffForm(Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$", max_length=150, help_text="3-150 letters, digits and . @ + - _"
    )
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(help_text="Their own work address: the link to choose their password goes there.")
    # No role is chosen for the admin: the first in the list was "Practice admin", so a form sent without a look at
    # the list made a new admin.
    role = forms.ChoiceField(
        choices=[("", "Choose a role"), *((r.value, r.label) for r in Role if r in STAFF_ROLES)],
        error_messages={"required": "Choose the staff member's role: it decides what they can see and do."},
    )
    credentials = forms.CharField(max_length=60, required=False, help_text="e.g. MD, PhD, RN")

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username
