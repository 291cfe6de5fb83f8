"""Forms that build an intake dict for validate_intake, and the smaller forms of the screening page and portal.

The staff intake is one main form (field names are the intake's dotted paths with "__") plus one formset per
list (medications, trials, ...). Every row field is optional, so a blank row is simply left out; a row that is
partly filled must give its required parts. The engine's validator has the last word: its messages, which name
dotted paths, are put back next to the field or row they name (IntakeEditor.show_errors).
"""

import copy
import datetime
import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from kapstone.accounts.fields import StaffChoiceField
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.baseforms import Form
from kapstone.patients.models import ExternalClinician, Patient
from kapstone.screening.intake_schema import EPISODE_SEVERITIES
from kapstone.screening.models import Consultation
from kapstone.screening.services import MIN_JUSTIFICATION_CHARS
from kapstone.screening.uploads import reply_file_kind

INDICATION_LABELS = {
    "depression": "Depression",
    "anxiety": "Anxiety",
    "ptsd": "PTSD",
    "ocd": "OCD",
    "eating_disorder": "Eating disorder",
    "compulsive_behaviours": "Compulsive behaviours",
}
RESPONSE_LABELS = {
    "no_response": "No response",
    "partial_response": "Partial response (<50%)",
    "response": "Response (≥50%)",
    "remission": "Remission",
}
PATIENT_RESPONSE_LABELS = {
    "no_response": "It did not help",
    "partial_response": "It helped a little",
    "response": "It helped a lot",
    "remission": "I got fully better",
}

PSYCHIATRIC_QUESTIONS = {
    "current_psychosis": ("Current psychosis", "Do you hear or see things others don't, right now?"),
    "current_mania": ("Current mania or hypomania", "Are you in a 'high' (manic) phase right now?"),
    "history_of_psychosis": ("History of psychosis", "Have you ever had psychosis?"),
    "primary_psychotic_disorder": (
        "Primary psychotic disorder (schizophrenia, schizoaffective disorder)",
        "Have you been told you have schizophrenia or schizoaffective disorder?",
    ),
    "first_degree_relative_psychosis": (
        "Psychosis in a first-degree relative",
        "Has a parent, brother, sister or child of yours had psychosis?",
    ),
    "bipolar_disorder": ("Bipolar disorder", "Have you been told you have bipolar disorder?"),
}
MEDICAL_QUESTIONS = {
    "hypertension": ("Hypertension", "Do you have high blood pressure?"),
    "cardiovascular_disease": ("Cardiovascular disease", "Do you have heart disease?"),
    "heart_failure": ("Heart failure", "Have you been told you have heart failure?"),
    "significant_arrhythmia": ("Significant arrhythmia", "Do you have an irregular heartbeat that needs treatment?"),
    "aneurysmal_vascular_disease_or_avm": (
        "Aneurysmal vascular disease or AVM",
        "Have you had an aneurysm or a malformed blood vessel (AVM)?",
    ),
    "intracerebral_haemorrhage": ("Intracerebral haemorrhage", "Have you ever had bleeding in the brain?"),
    "raised_intracranial_pressure": ("Raised intracranial pressure", "Have you had raised pressure in the skull?"),
    "raised_intraocular_pressure": ("Raised intraocular pressure (glaucoma)", "Do you have glaucoma?"),
    "untreated_hyperthyroidism": ("Untreated hyperthyroidism", "Do you have an overactive thyroid not treated?"),
    "significant_liver_disease": ("Significant liver disease", "Do you have liver disease?"),
    "pregnant": ("Pregnant", "Are you pregnant, or could you be?"),
    "breastfeeding": ("Breastfeeding", "Are you breastfeeding?"),
    "ketamine_hypersensitivity": (
        "Hypersensitivity to ketamine or esketamine",
        "Have you had an allergic reaction to ketamine or esketamine?",
    ),
}
OTHER_TREATMENTS = {"ect": "ECT", "tms": "TMS", "esketamine": "Esketamine (Spravato)"}

YES_NO = [("yes", "Yes"), ("no", "No")]
YES_NO_UNSURE = [("yes", "Yes"), ("no", "No"), ("unsure", "Not sure")]


def _yes_no_field(label: str, choices=YES_NO) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        empty_value=None,
        widget=forms.RadioSelect(attrs={"class": "yes-no"}),
    )


def _as_choice(value) -> str | None:
    return {True: "yes", False: "no"}.get(value)


def _number(label: str, low: float, high: float, **kwargs) -> forms.FloatField:
    return forms.FloatField(label=label, required=False, min_value=low, max_value=high, **kwargs)


def _date(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


def _compact(row: dict) -> dict:
    """A row without its empty parts; whole numbers written as such (8.0 weeks reads as 8 weeks)."""
    compact = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, datetime.date):
            value = value.isoformat()
        compact[key] = value
    return compact


# ---------------------------------------------------------------------------------------------------------------
# Rows of the staff intake


class RowForm(Form):
    """A list entry. `required` names the parts a partly filled row must give; `flags` are checkboxes that
    alone do not make a row worth keeping."""

    required: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        given = [name for name, value in cleaned.items() if value not in (None, "") and name not in self.flags]
        self.is_blank = not given and not self.errors
        if not self.is_blank:
            for name in self.required:
                if cleaned.get(name) in (None, ""):
                    self.add_error(name, "Fill this in, or clear the whole row.")
        return cleaned

    def entry(self) -> dict | None:
        return None if getattr(self, "is_blank", True) else _compact(self.cleaned_data)


class SubstanceRow(RowForm):
    required = ("substance", "last_use")
    flags = ("involves_dissociatives",)
    substance = forms.CharField(max_length=200, required=False)
    last_use = _date("Last use", required=False)
    involves_dissociatives = forms.BooleanField(label="Ketamine or another dissociative", required=False)


class MedicationRow(RowForm):
    required = ("name",)
    name = forms.CharField(label="Medication", max_length=200, required=False)
    dose_mg_per_day = _number("Dose (mg/day)", 0, 100_000)


class TrialRow(RowForm):
    required = ("drug", "weeks")
    flags = ("adequate_dose",)
    drug = forms.CharField(max_length=200, required=False)
    dose_mg_per_day = _number("Dose (mg/day)", 0, 100_000)
    weeks = _number("Weeks", 0, 1000)
    adequate_dose = forms.BooleanField(label="Adequate dose", required=False)
    improvement_percent = _number("Improvement %", -100, 100)
    response = forms.ChoiceField(choices=[("", "—"), *RESPONSE_LABELS.items()], required=False)


class AugmentationRow(RowForm):
    required = ("drug",)
    drug = forms.CharField(max_length=200, required=False)
    dose_mg_per_day = _number("Dose (mg/day)", 0, 100_000)
    weeks = _number("Weeks", 0, 1000)


class PsychotherapyRow(RowForm):
    required = ("modality",)
    flags = ("evidence_based",)
    modality = forms.CharField(max_length=200, required=False, help_text="e.g. CBT, DBT, EMDR")
    evidence_based = forms.BooleanField(label="Evidence-based", required=False)
    sessions = forms.IntegerField(min_value=0, max_value=1000, required=False)
    improvement_percent = _number("Improvement %", -100, 100)
    response = forms.ChoiceField(choices=[("", "—"), *RESPONSE_LABELS.items()], required=False)


class OtherTreatmentRow(RowForm):
    required = ("kind",)
    kind = forms.ChoiceField(choices=[("", "—"), *OTHER_TREATMENTS.items()], required=False)
    sessions = forms.IntegerField(min_value=0, max_value=1000, required=False)
    year = forms.IntegerField(min_value=1900, max_value=2200, required=False)
    improvement_percent = _number("Improvement %", -100, 100)
    response = forms.ChoiceField(choices=[("", "—"), *RESPONSE_LABELS.items()], required=False)


# (formset prefix, row form, blank rows offered, heading, the intake list it fills)
LISTS = [
    ("substances", SubstanceRow, 2, "Substance use disorders", "psychiatric.substance_use_disorders"),
    ("medications", MedicationRow, 4, "Current medications", "medications"),
    ("trials", TrialRow, 6, "Antidepressant trials", "prior_treatments.antidepressant_trials"),
    ("augmentations", AugmentationRow, 2, "Augmentation", "prior_treatments.augmentations"),
    ("psychotherapy", PsychotherapyRow, 3, "Psychotherapy courses", "prior_treatments.psychotherapy"),
    ("other", OtherTreatmentRow, 2, "ECT, TMS and esketamine", None),
]
# Each list's formset class, made once: formset_factory makes a new class on each call, and a list drawn by the
# same class is drawn from the same kept drawing (intake_fields.rows).
FORMSETS = {
    prefix: forms.formset_factory(row_form, extra=blank_rows, max_num=60, validate_max=True)
    for prefix, row_form, blank_rows, *_ in LISTS
}


class IntakeMainForm(Form):
    assessment_date = _date("Assessment date", initial=datetime.date.today)
    indications = forms.MultipleChoiceField(
        choices=list(INDICATION_LABELS.items()), widget=forms.CheckboxSelectMultiple, required=False
    )
    current_episode__duration_months = _number("Current episode: months", 0, 1200)
    current_episode__severity = forms.ChoiceField(
        label="Current episode: severity",
        choices=[("", "—"), *[(s, s.replace("_", " ").capitalize()) for s in EPISODE_SEVERITIES]],
        required=False,
    )
    medical__mi_or_unstable_angina_date = _date("Date of last heart attack or unstable angina", required=False)
    vitals__systolic = _number("Systolic BP (mmHg)", 40, 300)
    vitals__diastolic = _number("Diastolic BP (mmHg)", 20, 200)
    vitals__heart_rate = _number("Heart rate (/min)", 20, 250)
    vitals__weight_kg = _number("Weight (kg)", 2, 400)
    vitals__height_cm = _number("Height (cm)", 40, 250)

    PSYCHIATRIC = [f"psychiatric__{name}" for name in PSYCHIATRIC_QUESTIONS]
    MEDICAL = [f"medical__{name}" for name in MEDICAL_QUESTIONS]
    EPISODE = ["current_episode__duration_months", "current_episode__severity"]
    VITALS = ["vitals__systolic", "vitals__diastolic", "vitals__heart_rate", "vitals__weight_kg", "vitals__height_cm"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A copy of the questions' fields, as Django copies a form's declared fields: making nineteen choice fields
        # for each form (their choices checked and normalized one by one) cost more than copying them (issue 19).
        self.fields.update(copy.deepcopy(_MAIN_QUESTION_FIELDS))

    def section(self, names: list[str]):
        return [self[name] for name in names]


# The staff intake's yes/no questions, after the main form's declared fields, made once for every form.
_MAIN_QUESTION_FIELDS = {
    **{f"psychiatric__{name}": _yes_no_field(label) for name, (label, _) in PSYCHIATRIC_QUESTIONS.items()},
    **{f"medical__{name}": _yes_no_field(label) for name, (label, _) in MEDICAL_QUESTIONS.items()},
}


def _initial_main(data: dict) -> dict:
    """The main form's starting values from an earlier intake. A new version is a new assessment, so its date
    (today, the field's default) and blood pressure are never carried over: the screening it makes must rest on
    a fresh reading (the enrolment gate refuses an expired screening)."""
    initial = {}
    if data.get("indications") is not None:
        initial["indications"] = data["indications"]
    for group in ("current_episode", "psychiatric", "medical"):
        for key, value in (data.get(group) or {}).items():
            if isinstance(value, bool):
                initial[f"{group}__{key}"] = _as_choice(value)
            elif not isinstance(value, list) and value is not None:
                initial[f"{group}__{key}"] = value
    return initial


def _list_at(data: dict, dotted: str) -> list:
    value: Any = data  # Any: the intake is parsed JSON, whatever its shape at each part
    for part in dotted.split("."):
        value = (value or {}).get(part)
    return value or []


def _initial_rows(data: dict, prefix: str, path: str | None) -> list[dict]:
    if path is not None:
        return list(_list_at(data, path))
    prior = data.get("prior_treatments") or {}
    return [{"kind": kind, **course} for kind in OTHER_TREATMENTS for course in prior.get(kind) or []]


class IntakeEditor:
    """The staff intake form: the main form and one formset per list, validated together into an intake dict."""

    def __init__(self, *, patient: Patient, initial: dict, data=None):
        self.patient = patient
        self.main = IntakeMainForm(data, initial=_initial_main(initial))
        self.formsets = {}
        self.headings = {}
        for prefix, _, _, heading, path in LISTS:
            rows = _initial_rows(initial, prefix, path)
            # A bound formset compares each row with its initial value and skips unchanged rows without cleaning
            # them; the rows are rebuilt from what was posted, so a bound formset gets no initial.
            self.formsets[prefix] = FORMSETS[prefix](data, initial=None if data is not None else rows, prefix=prefix)
            self.headings[prefix] = heading
        self.problems: list[str] = []

    def lists(self):
        return [(prefix, self.headings[prefix], formset) for prefix, formset in self.formsets.items()]

    def is_valid(self) -> bool:
        valid = self.main.is_valid()
        for formset in self.formsets.values():
            valid = formset.is_valid() and valid
        return valid

    def _rows(self, prefix: str) -> list[tuple[int, dict]]:
        entries = [(index, form.entry()) for index, form in enumerate(self.formsets[prefix].forms)]
        return [(index, entry) for index, entry in entries if entry is not None]

    def build(self) -> dict:
        """The intake dict from the cleaned forms; call after is_valid()."""
        cleaned = self.main.cleaned_data
        # intake list path -> {position in list: (prefix, form index)}
        self._row_index: dict[str, dict[int, tuple[str, int]]] = {}

        def rows(prefix: str, path: str, strip: str | None = None) -> list[dict]:
            kept = self._rows(prefix)
            if strip is not None:
                kept = [(index, entry) for index, entry in kept if entry.pop("kind") == strip]
            self._row_index[path] = {position: (prefix, index) for position, (index, _) in enumerate(kept)}
            return [entry for _, entry in kept]

        def group(names: list[str]) -> dict:
            return {name.split("__", 1)[1]: cleaned.get(name) for name in names}

        data = {
            "assessment_date": cleaned["assessment_date"].isoformat(),
            "date_of_birth": self.patient.date_of_birth.isoformat(),
            "indications": list(cleaned["indications"]),
            "psychiatric": {
                **group(IntakeMainForm.PSYCHIATRIC),
                "substance_use_disorders": rows("substances", "psychiatric.substance_use_disorders"),
            },
            "medical": _compact(group([*IntakeMainForm.MEDICAL, "medical__mi_or_unstable_angina_date"])),
            "medications": rows("medications", "medications"),
            "prior_treatments": {
                "antidepressant_trials": rows("trials", "prior_treatments.antidepressant_trials"),
                "augmentations": rows("augmentations", "prior_treatments.augmentations"),
                "psychotherapy": rows("psychotherapy", "prior_treatments.psychotherapy"),
            },
        }
        for kind in OTHER_TREATMENTS:
            path = f"prior_treatments.{kind}"
            data["prior_treatments"][kind] = rows("other", path, strip=kind)
        episode = _compact(group(IntakeMainForm.EPISODE))
        if episode:
            data["current_episode"] = episode
        vitals = _compact(group(IntakeMainForm.VITALS))
        if vitals:
            data["vitals"] = vitals
        return data

    _PATH = re.compile(r"^(?P<list>[a-z_.]+)\[(?P<index>\d+)\](?:\.(?P<field>[a-z_]+))?|^(?P<plain>[a-z_.]+)")

    def show_errors(self, messages: list[str]) -> None:
        """Puts the validator's messages next to the field or row they name; the rest go above the form."""
        for message in messages:
            match = self._PATH.match(message)
            placed = False
            if match and match["list"] and match["list"] in getattr(self, "_row_index", {}):
                where = self._row_index[match["list"]].get(int(match["index"]))
                if where is not None:
                    form = self.formsets[where[0]].forms[where[1]]
                    form.add_error(match["field"] if match["field"] in form.fields else None, message)
                    placed = True
            elif match and match["plain"]:
                name = match["plain"].replace(".", "__")
                if name in self.main.fields:
                    self.main.add_error(name, message)
                    placed = True
            if not placed:
                self.problems.append(message)


# ---------------------------------------------------------------------------------------------------------------
# The patient's pre-intake (portal)


class PreIntakeForm(Form):
    indications = forms.MultipleChoiceField(
        label="What would you like help with?",
        choices=list(INDICATION_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    medications = forms.CharField(
        label="Medicines you take now",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="One per line with the dose per day, e.g. “sertraline 100 mg”.",
    )
    other_treatments = forms.MultipleChoiceField(
        label="Have you had any of these treatments?",
        choices=list(OTHER_TREATMENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    substance_use = forms.CharField(
        label="Alcohol or drugs: anything your care team should know?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        help_text="For example a substance you used to have problems with, and when you last used it.",
    )

    PSYCHIATRIC = [f"psychiatric__{name}" for name in PSYCHIATRIC_QUESTIONS]
    MEDICAL = [f"medical__{name}" for name in MEDICAL_QUESTIONS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for group, questions in (("psychiatric", PSYCHIATRIC_QUESTIONS), ("medical", MEDICAL_QUESTIONS)):
            for name, (_, question) in questions.items():
                self.fields[f"{group}__{name}"] = _yes_no_field(question, YES_NO_UNSURE)

    def section(self, names: list[str]):
        return [self[name] for name in names]


class PriorMedicineRow(RowForm):
    required = ("drug",)
    drug = forms.CharField(label="Medicine", max_length=200, required=False)
    weeks = _number("About how many weeks?", 0, 1000)
    response = forms.ChoiceField(
        label="Did it help?", choices=[("", "—"), *PATIENT_RESPONSE_LABELS.items()], required=False
    )


class PriorTherapyRow(RowForm):
    required = ("modality",)
    modality = forms.CharField(label="Kind of therapy", max_length=200, required=False, help_text="e.g. CBT")
    sessions = forms.IntegerField(label="About how many sessions?", min_value=0, max_value=1000, required=False)
    response = forms.ChoiceField(
        label="Did it help?", choices=[("", "—"), *PATIENT_RESPONSE_LABELS.items()], required=False
    )


PriorMedicineFormSet = forms.formset_factory(PriorMedicineRow, extra=4, max_num=4)
PriorTherapyFormSet = forms.formset_factory(PriorTherapyRow, extra=2, max_num=2)
_DOSE = re.compile(r"^(?P<name>.*?)[\s,]+(?P<dose>\d+(?:\.\d+)?)\s*mg\b(?P<rest>.*)$", re.IGNORECASE)
# What may follow "N mg" for N to be the dose per day. Anything else ("twice a day", "as needed", "x3") makes N the
# strength of one dose, so the daily dose is left for staff to ask: read as a day's dose it would under-count a
# benzodiazepine load.
_PER_DAY = re.compile(
    r"^[\s.,;:()/-]*(?:(?:once\s+)?(?:(?:a|per|each|every|/)\s*day|daily)|at night)?[\s.,;:()]*$", re.IGNORECASE
)
# "0,5 mg" (a decimal comma) or "1,000 mg" (a thousands separator): which one is a guess staff must not inherit.
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")


def parse_medication_lines(text: str) -> list[dict]:
    """ "sertraline 100 mg" or "sertraline 100 mg a day" -> {"name": "sertraline", "dose_mg_per_day": 100}; a line
    without a daily dose in mg ("lorazepam 1 mg twice a day", "levothyroxine 75 mcg") keeps the whole line as the
    name, for staff to complete."""
    entries = []
    for line in text.splitlines():
        line = " ".join(line.split())[:200]
        if not line:
            continue
        match = None if _DIGIT_COMMA_DIGIT.search(line) else _DOSE.match(line)
        if match and match["name"] and _PER_DAY.match(match["rest"]):
            dose = float(match["dose"])
            entries.append({"name": match["name"], "dose_mg_per_day": int(dose) if dose.is_integer() else dose})
        else:
            entries.append({"name": line})
    return entries


def pre_intake_data(form: PreIntakeForm, medicines, therapies) -> dict:
    """The draft intake from the patient's answers; "not sure" answers are left out for staff to ask."""
    cleaned = form.cleaned_data

    def answers(names: list[str]) -> dict:
        return {name.split("__", 1)[1]: cleaned[name] for name in names if cleaned.get(name) is not None}

    trials = [entry for entry in (row.entry() for row in medicines.forms) if entry]
    courses = [entry for entry in (row.entry() for row in therapies.forms) if entry]
    return {
        "indications": list(cleaned["indications"]),
        "psychiatric": answers(PreIntakeForm.PSYCHIATRIC),
        "medical": answers(PreIntakeForm.MEDICAL),
        "medications": parse_medication_lines(cleaned["medications"]),
        "prior_treatments": {
            "antidepressant_trials": trials,
            "psychotherapy": courses,
            **{kind: [{}] for kind in cleaned["other_treatments"]},
        },
        "patient_notes": {"substance_use": cleaned["substance_use"].strip()},
    }


# ---------------------------------------------------------------------------------------------------------------
# The screening page's forms


class OverrideForm(Form):
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=MIN_JUSTIFICATION_CHARS,
        max_length=4000,
        help_text="Why it is safe to go ahead despite the reasons listed. Applies to this screening only.",
    )


class AdviceOverrideForm(Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=MIN_JUSTIFICATION_CHARS,
        max_length=4000,
        help_text="Why it is safe to go ahead despite this advice. Applies to this advice only.",
    )


class WithoutAdviceForm(Form):
    """A prescriber's decision to go ahead without the advice of a clinician who did not reply or declined."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=MIN_JUSTIFICATION_CHARS,
        max_length=4000,
        help_text=(
            "Why it is safe to go ahead without this clinician's advice. Applies to this contact only: a later "
            "contact that has no answer needs its own decision."
        ),
    )


def _staff_choices():
    return (
        get_user_model()
        .objects.filter(is_active=True, role__in=[*CLINICAL_ROLES, Role.ADMIN])
        .order_by("last_name", "first_name")
    )


class ConsultationForm(Form):
    external_clinician = forms.ModelChoiceField(
        queryset=ExternalClinician.objects.none(),
        required=False,
        label="Outside clinician",
        empty_label="Not listed: type the name below",
    )
    clinician_name = forms.CharField(
        max_length=200,
        required=False,
        label="…or who was contacted",
        help_text=(
            "Only someone not on the outside team list: a listed clinician's advice counts for the enrolment gate "
            "only when they are chosen above."
        ),
    )
    staff = StaffChoiceField(queryset=get_user_model().objects.none(), label="Staff member who made contact")
    contacted_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    method = forms.ChoiceField(choices=Consultation.Method.choices, label="How")
    # No outcome is chosen for the person logging the contact: "Supports KAP" first and chosen by default let a call
    # logged in haste ("left a voicemail") pass the enrolment gate's consultation.
    outcome = forms.ChoiceField(choices=[("", "Choose the outcome"), *Consultation.Outcome.choices])
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)
    reply_file = forms.FileField(
        required=False, label="Their reply (optional)", help_text="PDF, PNG, JPEG or plain text, up to 5 MB."
    )

    def __init__(self, *args, patient: Patient, user, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "staff": user if user.role != Role.ADMIN else None,
                "contacted_at": timezone.localtime().replace(second=0),
            },
        )
        super().__init__(*args, **kwargs)
        self.patient = patient
        clinician, staff = self.fields["external_clinician"], self.fields["staff"]
        assert isinstance(clinician, forms.ModelChoiceField) and isinstance(staff, forms.ModelChoiceField)  # declared
        clinician.queryset = ExternalClinician.objects.filter(patient=patient)
        staff.queryset = _staff_choices()

    def clean_reply_file(self):
        uploaded = self.cleaned_data.get("reply_file")
        if uploaded:
            reply_file_kind(uploaded)
        return uploaded

    def clean_contacted_at(self):
        when = self.cleaned_data["contacted_at"]
        if when > timezone.now() + datetime.timedelta(minutes=5):
            raise forms.ValidationError("The contact time is in the future.")
        # A mistyped year (1899 for 2026) was logged, and a consultation counts towards the enrolment gate.
        if timezone.localtime(when).date() < self.patient.date_of_birth:
            raise forms.ValidationError("The contact time is before the patient was born: check the year.")
        return when

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("external_clinician") and not (cleaned.get("clinician_name") or "").strip():
            self.add_error("clinician_name", "Choose the outside clinician, or type who was contacted.")
        return cleaned


class PaperConsentForm(Form):
    signed_name = forms.CharField(max_length=200, label="Name as signed on the paper form")
    signed_at = forms.DateTimeField(
        label="Signed at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )


class ConsentSignForm(Form):
    typed_name = forms.CharField(max_length=200, label="Type your full name")
    understood = forms.BooleanField(label="I have read and understood this form")


class WithdrawForm(Form):
    """The patient's own withdrawal in the portal: they need give no reason."""

    reason = forms.CharField(
        max_length=1000,
        required=False,
        label="Reason (optional)",
        help_text="You do not have to give one. Your care team reads what you write.",
        error_messages={"max_length": "Please keep the reason to 1,000 characters at most."},
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StaffWithdrawForm(Form):
    """Staff recording a withdrawal for the patient say how they heard: the record must show it came from the patient,
    since the enrolment gate stays closed on it until the consent form is signed again."""

    reason = forms.CharField(
        max_length=1000,
        label="How the patient told you",
        help_text="For example: by phone to the nurse on Monday.",
        error_messages={
            "required": "Say how the patient told you they are withdrawing: nothing is changed until you do."
        },
        widget=forms.Textarea(attrs={"rows": 2}),
    )
