"""Forms for questionnaires, staff-entered totals and alert acknowledgement. The questionnaire form is built
from the instrument's definition; the scoring engine has the last word on what is valid."""

import datetime

from django import forms

from kapstone.measures.dates import entered_date_problem
from kapstone.measures.scoring import Instrument, ScoringError, get_instrument, list_instruments
from kapstone.measures.services import AMENDMENT_REASON_MAX

SAVE = "save"
SUBMIT = "submit"


def _field_name(number: int) -> str:
    return f"item_{number}"


def _asked_only_if(instrument: Instrument, condition) -> str:
    """Says when a gated question applies, for the simple gate "item N equals V" the instruments use."""
    if set(condition) == {"item", "eq"}:
        gate = next(item for item in instrument.items if item.number == condition["item"])
        answer = dict(gate.responses.options).get(condition["eq"], condition["eq"])
        return f"Answer this only if your answer to question {gate.number} was “{answer}”; otherwise leave it."
    return "Answer this only if it applies to you; otherwise leave it."


class QuestionnaireForm(forms.Form):
    """One radio group per question (a number box for 0-100 scales). Every field is optional here, so a
    partial save works; a submit asks the scoring engine whether every asked question is answered."""

    def __init__(self, *args, instrument: Instrument, initial_answers: dict[int, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            name = _field_name(item.number)
            initial = (initial_answers or {}).get(item.number)
            label = item.text or item.label
            if item.responses.options:
                self.fields[name] = forms.TypedChoiceField(
                    label=label,
                    choices=[(str(value), text) for value, text in item.responses.options],
                    coerce=int,
                    empty_value=None,
                    required=False,
                    widget=forms.RadioSelect,
                    initial=None if initial is None else str(initial),
                )
            else:
                self.fields[name] = forms.IntegerField(
                    label=label,
                    min_value=item.responses.minimum,
                    max_value=item.responses.maximum,
                    required=False,
                    initial=initial,
                    help_text=item.responses.describe().capitalize() + ".",
                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                )
            if item.ask_only_if:
                self.fields[name].help_text = _asked_only_if(instrument, item.ask_only_if)

    def answers(self) -> dict[int, int | None]:
        return {item.number: self.cleaned_data.get(_field_name(item.number)) for item in self.instrument.items}

    def questions(self):
        return [self[_field_name(item.number)] for item in self.instrument.items]

    def add_missing_errors(self, missing: tuple[int, ...]) -> None:
        for number in missing:
            self.add_error(_field_name(number), "Please answer this question.")


def entered_total_choices() -> list[tuple[str, str]]:
    return [(i.id, i.short_name) for i in list_instruments() if i.entry == "total_only"]


def item_instrument_choices() -> list[tuple[str, str]]:
    return [(i.id, f"{i.short_name} — {i.name}") for i in list_instruments() if i.entry == "items"]


class EnteredTotalForm(forms.Form):
    """A total from a licensed paper or vendor form the practice holds; the items are never recorded."""

    instrument = forms.ChoiceField(label="Instrument", choices=entered_total_choices)
    total = forms.IntegerField(label="Total score")
    completed_on = forms.DateField(
        label="Date given", widget=forms.DateInput(attrs={"type": "date"}), initial=datetime.date.today
    )

    def clean_completed_on(self):
        day = self.cleaned_data["completed_on"]
        problem = entered_date_problem(day)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def clean(self):
        cleaned = super().clean()
        instrument_id, total = cleaned.get("instrument"), cleaned.get("total")
        if instrument_id and total is not None:
            low, high = get_instrument(instrument_id).total_range
            if not low <= total <= high:
                self.add_error("total", f"The total must be between {low} and {high}.")
        return cleaned


class AmendTotalForm(forms.Form):
    """Correct an entered total's value or date, or void it, always with the reason."""

    CORRECT, VOID = "correct", "void"

    action = forms.ChoiceField(
        label="Change",
        choices=[(CORRECT, "Correct the total or date"), (VOID, "Void it (entered by mistake)")],
        widget=forms.RadioSelect,
        initial=CORRECT,
    )
    total = forms.IntegerField(label="Corrected total", required=False)
    completed_on = forms.DateField(
        label="Corrected date given", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label="Reason",
        max_length=AMENDMENT_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required; kept in the audit trail.",
    )

    def __init__(self, *args, assessment, **kwargs):
        kwargs.setdefault("initial", {"total": assessment.total_display, "completed_on": assessment.completed_at})
        super().__init__(*args, **kwargs)
        self.assessment = assessment

    def clean_completed_on(self):
        day = self.cleaned_data.get("completed_on")
        problem = day and entered_date_problem(day)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") != self.CORRECT:
            return cleaned
        total = cleaned.get("total")
        if total is None:
            self.add_error("total", "Give the corrected total.")
        else:
            low, high = get_instrument(self.assessment.instrument_id).total_range
            if not low <= total <= high:
                self.add_error("total", f"The total must be between {low} and {high}.")
        if not cleaned.get("completed_on") and "completed_on" not in self.errors:
            self.add_error("completed_on", "Give the date the form was given.")
        return cleaned


class StartQuestionnaireForm(forms.Form):
    instrument = forms.ChoiceField(label="Questionnaire", choices=item_instrument_choices)

    def clean_instrument(self):
        try:
            return get_instrument(self.cleaned_data["instrument"]).id
        except ScoringError as error:
            raise forms.ValidationError(str(error)) from None


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required: for example, called the patient and reviewed the safety plan.",
    )

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Write what was done before acknowledging.")
        return note
