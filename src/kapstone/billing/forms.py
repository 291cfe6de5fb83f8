"""Billing forms. Each checks the shape of what was typed; the services check it against the account."""

import datetime

from django import forms
from django.utils import timezone

from kapstone.accounts.fields import staff_label
from kapstone.baseforms import Form, ModelForm
from kapstone.billing import codes
from kapstone.billing.models import MAX_AMOUNT, AccountEntry, StaffBillingProfile

# An input limit on one superbill or export: a tax year and a little. Longer periods are asked for year by year.
MAX_PERIOD_DAYS = 400


def _amount_field(label: str = "Amount ($)") -> forms.DecimalField:
    return forms.DecimalField(
        label=label, max_digits=10, decimal_places=2, min_value=0.01, max_value=MAX_AMOUNT, localize=False
    )


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}))


class FeeForm(Form):
    code = forms.ChoiceField(label="Service")
    amount = _amount_field("Fee ($)")
    reason = forms.CharField(label="Why", max_length=300, help_text="For example: 2027 fee schedule.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [(c, f"{c} · {s.label}") for c, s in codes.service_codes().items()]


class StaffProfileForm(ModelForm):
    class Meta:
        model = StaffBillingProfile
        fields = ["npi", "licence_number", "licence_state"]


class ChargeForm(Form):
    visit = forms.TypedChoiceField(label="Visit", coerce=int, empty_value=None, required=False)
    on_date = forms.DateField(
        label="Date of service (when no visit is chosen)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    code = forms.ChoiceField(label="Service")
    modifiers = forms.CharField(label="Modifiers", max_length=20, required=False, help_text="For example: 95")
    units = forms.IntegerField(label="Units", min_value=1, max_value=99, initial=1)
    place_of_service = forms.ChoiceField(label="Place of service", required=False)
    rendering_clinician = forms.TypedChoiceField(label="Rendering clinician", coerce=int, empty_value=None)

    def __init__(self, *args, visit_choices, clinicians, **kwargs):
        # The account page holds this form beside the payment and adjustment forms, which share field names:
        # their own ids keep each label tied to its own control.
        kwargs.setdefault("auto_id", "charge_%s")
        super().__init__(*args, **kwargs)
        self.fields["visit"].choices = [("", "No visit (give the date)"), *visit_choices]
        self.fields["code"].choices = [(c, f"{c} · {s.label}") for c, s in codes.service_codes().items()]
        self.fields["place_of_service"].choices = [("", "From the visit")] + [
            (c, f"{c} · {p.label}") for c, p in codes.places_of_service().items()
        ]
        self.fields["rendering_clinician"].choices = [(u.pk, staff_label(u)) for u in clinicians]
        self.clinicians = {u.pk: u for u in clinicians}

    def clean(self):
        data = super().clean()
        if not data.get("visit") and not data.get("on_date"):
            raise forms.ValidationError("Choose the visit, or give the date of service.")
        return data


class PaymentForm(Form):
    amount = _amount_field()
    method = forms.ChoiceField(label="Paid by", choices=AccountEntry.Method.choices[1:])
    on_date = _date_field("Date received")
    reference = forms.CharField(label="Reference", max_length=60, required=False)
    visit = forms.TypedChoiceField(label="For the visit", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, visit_choices=(), **kwargs):
        kwargs.setdefault("auto_id", "payment_%s")  # shares the account page with ChargeForm: see there
        super().__init__(*args, **kwargs)
        self.fields["visit"].choices = [("", "The account in general"), *visit_choices]
        self.fields["on_date"].initial = timezone.localdate()


class AdjustmentForm(Form):
    amount = _amount_field()
    reason = forms.CharField(label="Why", max_length=300, help_text="For example: sliding-scale discount.")
    on_date = _date_field("Date")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "adjustment_%s")  # shares the account page with ChargeForm: see there
        super().__init__(*args, **kwargs)


class RefundForm(Form):
    amount = _amount_field()
    method = forms.ChoiceField(label="Returned by", choices=AccountEntry.Method.choices[1:])
    reason = forms.CharField(label="Why", max_length=300)
    reference = forms.CharField(label="Reference", max_length=60, required=False)


class SelfPayForm(Form):
    self_pay = forms.BooleanField(label="Pays the practice directly (uninsured or self-pay)", required=False)


class PeriodForm(Form):
    start = _date_field("From")
    end = _date_field("To")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The period ends before it starts.")
            if (end - start) > datetime.timedelta(days=MAX_PERIOD_DAYS):
                raise forms.ValidationError(f"Ask for at most {MAX_PERIOD_DAYS} days at a time.")
        return data
