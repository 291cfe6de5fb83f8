import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from kapstone import formrender
from kapstone.accounts.fields import StaffChoiceField, StaffMultipleChoiceField
from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES
from kapstone.baseforms import Form, ModelForm
from kapstone.compiled_once import compiled_once
from kapstone.patients.models import ChildbearingPotential, Diagnosis, ExternalClinician, Medication, Patient

# The oldest date of birth the form accepts; anything earlier is a typing slip, not a patient.
EARLIEST_BIRTH_YEAR = 1900


class PatientForm(ModelForm):
    # The model keeps a free-text address; the form bounds it, as every text a person types is bounded.
    address = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Patient
        fields = [
            "given_name",
            "family_name",
            "preferred_name",
            "date_of_birth",
            "sex",
            "gender_identity",
            "pronouns",
            "email",
            "phone",
            "address",
            "postal_code",
            "emergency_contact_name",
            "emergency_contact_relationship",
            "emergency_contact_phone",
        ]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
        }

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        if born > datetime.date.today():
            raise forms.ValidationError("The date of birth is in the future.")
        if born.year < EARLIEST_BIRTH_YEAR:
            raise forms.ValidationError(f"The date of birth is before {EARLIEST_BIRTH_YEAR}; check the year.")
        return born

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("emergency_contact_name") and not cleaned.get("emergency_contact_phone"):
            self.add_error("emergency_contact_phone", "Give a phone number for the emergency contact.")
        return cleaned


class DiagnosisForm(ModelForm):
    class Meta:
        model = Diagnosis
        fields = ["icd10_code", "description", "is_primary", "noted_on"]
        widgets = {"noted_on": forms.DateInput(attrs={"type": "date"})}

    def clean_icd10_code(self):
        return self.cleaned_data["icd10_code"].strip().upper()


class MedicationForm(ModelForm):
    class Meta:
        model = Medication
        fields = ["name", "dose", "frequency", "started_on"]
        widgets = {"started_on": forms.DateInput(attrs={"type": "date"})}


class ExternalClinicianForm(ModelForm):
    class Meta:
        model = ExternalClinician
        fields = ["kind", "name", "organisation", "phone", "email"]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("phone") and not cleaned.get("email"):
            raise forms.ValidationError("Give a phone number or an email address so the team can be consulted.")
        return cleaned


def _clinicians() -> QuerySet[User]:
    return get_user_model().objects.filter(role__in=CLINICAL_ROLES, is_active=True)


@compiled_once()
def _offered_clinicians() -> QuerySet[User]:
    # Compiled once: the care team page compiled this read, and wrote it out twice to tell its two fields' reads
    # apart, on every request (issue 19).
    return _clinicians()


class CareTeamForm(Form):
    staff = StaffMultipleChoiceField(
        queryset=_clinicians(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Clinicians on the care team can open this record.",
    )
    lead = StaffChoiceField(queryset=_clinicians(), required=False, empty_label="No lead named")

    def offer_clinicians(self) -> None:
        """Offers the team and its lead from one read of the clinicians, as the fields would offer them."""
        clinicians = _offered_clinicians()
        for name in ("staff", "lead"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)  # as declared
            field.widget.choices = formrender.choices_of(field, clinicians)

    def clean(self):
        cleaned = super().clean()
        lead, staff = cleaned.get("lead"), cleaned.get("staff")
        if lead and staff is not None and lead not in staff:
            self.add_error("lead", "The lead clinician must be on the care team.")
        return cleaned


RECORD_PART_FORMS = {
    "diagnosis": DiagnosisForm,
    "medication": MedicationForm,
    "external_clinician": ExternalClinicianForm,
}


class ChildbearingForm(Form):
    potential = forms.ChoiceField(
        choices=ChildbearingPotential.choices,
        required=False,
        label="Childbearing potential",
        help_text='The dosing room accepts a pregnancy test marked "not applicable" only where "no" is recorded.',
    )
