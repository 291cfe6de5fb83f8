from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator

from kapstone.accounts.fields import StaffChoiceField
from kapstone.accounts.roles import Role
from kapstone.alerts.models import OnCallSlot, SafetyPlan
from kapstone.baseforms import Form

# E.164: a plus, a country code and up to 15 digits in all, which is what SMS providers accept.
E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "Enter the number in international form, e.g. +15555550123.")
SECTION_MAX_CHARACTERS = 4000  # an input limit: a plan the patient can read in a crisis is short


def _prescribers():
    return get_user_model().objects.filter(role=Role.PRESCRIBER, is_active=True)


class SlotForm(Form):
    prescriber = StaffChoiceField(queryset=_prescribers(), label="Prescriber on call")
    weekday = forms.TypedChoiceField(choices=OnCallSlot.Weekday.choices, coerce=int, label="Day")
    starts = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time"}))
    ends = forms.TimeField(
        label="Until",
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="An end at or before the start runs overnight into the next day.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = _prescribers()

    def clean(self):
        data = super().clean()
        if data.get("starts") is not None and data.get("starts") == data.get("ends"):
            raise forms.ValidationError("The slot needs a start and an end that differ.")
        return data


class DefaultOnCallForm(Form):
    prescriber = StaffChoiceField(
        queryset=_prescribers(),
        required=False,
        label="Default on-call prescriber",
        help_text="Covers every hour no slot does. Leave blank for none: a gap then goes to the medical director.",
    )

    def __init__(self, *args, **kwargs):
        # The rota page holds this form beside SlotForm, whose field is also "prescriber": its own ids keep each
        # label tied to its own control.
        kwargs.setdefault("auto_id", "default_%s")
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].queryset = _prescribers()


class PagingNumberForm(Form):
    mobile = forms.CharField(
        required=False,
        max_length=16,
        validators=[E164],
        label="Mobile number for SMS pages",
        help_text="International form, e.g. +15555550123. Leave blank to be paged by email only.",
    )


class SafetyPlanForm(Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in SafetyPlan.SECTIONS:
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=SECTION_MAX_CHARACTERS,
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def clean(self):
        data = super().clean()
        if not any((data.get(name) or "").strip() for name, _ in SafetyPlan.SECTIONS):
            raise forms.ValidationError("Write at least one section of the plan with the patient.")
        return data
