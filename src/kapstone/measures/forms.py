"""Forms for questionnaires, staff-entered totals and alert acknowledgement. The questionnaire form is built
from the instrument's definition; the scoring engine has the last word on what is valid."""

import datetime

from django import forms

from kapstone.baseforms import Form
from kapstone.measures.dates import entered_date_problem
from kapstone.measures.long_term_safety import substance_labels
from kapstone.measures.models import Assessment, CriticalAlert, UrineToxicology
from kapstone.measures.scoring import Instrument, Item, ScoringError, get_instrument, list_instruments
from kapstone.measures.services import AMENDMENT_REASON_MAX
from kapstone.practice.templatetags.kapstone_tags import day_in_words

SAVE = "save"
SUBMIT = "submit"
FREE_TEXT = "free_text"


def _field_name(number: int) -> str:
    return f"item_{number}"


def _asked_only_if(instrument: Instrument, condition) -> str:
    """Says when a gated question applies, for the simple gate "item N equals V" the instruments use."""
    if set(condition) == {"item", "eq"}:
        gate = next(item for item in instrument.items if item.number == condition["item"])
        answer = dict(gate.responses.options).get(condition["eq"], condition["eq"])
        return f"Answer this only if your answer to question {gate.number} was “{answer}”; otherwise leave it."
    return "Answer this only if it applies to you; otherwise leave it."


class QuestionnaireForm(Form):
    """One radio group per question (a number box for 0-100 scales). Every field is optional here, so a
    partial save works; a submit asks the scoring engine whether every asked question is answered."""

    def __init__(
        self,
        *args,
        instrument: Instrument,
        initial_answers: dict[int, int] | None = None,
        initial_free_text: str = "",
        **kwargs,
    ):
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
            for pair in instrument.answer_either:
                if item.number in pair:
                    self.fields[name].help_text = f"Answer either question {pair[0]} or question {pair[1]}, not both."
        free_text = instrument.definition.get("free_text")
        if free_text:
            self.fields[FREE_TEXT] = forms.CharField(
                label=free_text["label"],
                required=False,
                max_length=int(free_text["max_length"]),
                initial=initial_free_text,
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def clean(self):
        cleaned = super().clean()
        # A post answering a question this form does not ask was not made from it: refuse the whole post rather
        # than save the rest as if the extra answer had not been sent.
        unknown = sorted(key for key in self.data if key.startswith("item_") and key not in self.fields)
        if unknown:
            raise forms.ValidationError(
                f"This questionnaire has no question {unknown[0].removeprefix('item_')}; nothing was saved."
            )
        return cleaned

    def answers(self) -> dict[int, int | None]:
        return {item.number: self.cleaned_data.get(_field_name(item.number)) for item in self.instrument.items}

    def free_text(self) -> str | None:
        """The written answer, for a form that asks one; None for a form that does not."""
        return self.cleaned_data.get(FREE_TEXT, "") if FREE_TEXT in self.fields else None

    def questions(self):
        written = [self[FREE_TEXT]] if FREE_TEXT in self.fields else []
        return [self[_field_name(item.number)] for item in self.instrument.items] + written

    def add_missing_errors(self, missing: tuple[int, ...]) -> None:
        for number in missing:
            self.add_error(_field_name(number), "Please answer this question.")


def entered_total_choices() -> list[tuple[str, str]]:
    return [(i.id, i.short_name) for i in list_instruments() if i.entry == "total_only"]


def item_instrument_choices() -> list[tuple[str, str]]:
    return [(i.id, f"{i.short_name} — {i.name}") for i in list_instruments() if i.entry == "items"]


def _entered_item_field(instrument: Instrument, item) -> str:
    return f"item_{instrument.id.replace('-', '_')}_{item.number}"


UNSCHEDULED = ""


class EnteredTotalForm(Form):
    """A total from a licensed paper or vendor form the practice holds; the items are never recorded, except those
    an instrument records on their own beside its total (BDI-II item 9), asked for when that instrument is chosen.
    A total can complete one of the patient's scheduled questionnaires (baseline, end of course), so it counts in
    the course's report, or be recorded as unscheduled."""

    instrument = forms.ChoiceField(label="Instrument", choices=entered_total_choices)
    total = forms.IntegerField(label="Total score")
    completed_on = forms.DateField(
        label="Date given", widget=forms.DateInput(attrs={"type": "date"}), initial=datetime.date.today
    )

    def __init__(self, *args, scheduled=(), **kwargs):
        """`scheduled`: the patient's open questionnaires of total-only instruments, offered as occasions."""
        super().__init__(*args, **kwargs)
        self.scheduled = {str(a.pk): a for a in scheduled}
        self.entered_fields: dict[str, tuple[Instrument, Item]] = {}
        for instrument in list_instruments():
            for item in instrument.entered_items if instrument.entry == "total_only" else ():
                name = _entered_item_field(instrument, item)
                self.entered_fields[name] = (instrument, item)
                self.fields[name] = forms.IntegerField(
                    label=f"{instrument.short_name} {item.label}",
                    required=False,
                    min_value=item.responses.minimum,
                    max_value=item.responses.maximum,
                    help_text=f"Only for the {instrument.short_name}; required with it.",
                )
        self.fields["occasion"] = forms.ChoiceField(
            label="Occasion",
            required=False,
            choices=[(UNSCHEDULED, f"{Assessment.AD_HOC_LABEL} (not on the course plan)")]
            + [
                (key, f"{a.instrument_name}: {a.occasion_display}, due {day_in_words(a.due_at)}")
                for key, a in self.scheduled.items()
            ],
            help_text="A scheduled questionnaire this total completes, so it counts at that occasion of the course.",
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
        if not instrument_id:
            return cleaned
        instrument = get_instrument(instrument_id)
        if total is not None:
            low, high = instrument.total_range
            if not low <= total <= high:
                self.add_error("total", f"The total must be between {low} and {high}.")
        for name, (owner, item) in self.entered_fields.items():
            if owner.id != instrument_id:
                if cleaned.get(name) is not None:
                    self.add_error(name, f"This item belongs to the {owner.short_name}; leave it blank.")
            elif item.required and cleaned.get(name) is None and name not in self.errors:
                self.add_error(name, f"Enter {item.label.split(':')[0].lower()}: the {owner.short_name} needs it.")
        chosen = self.scheduled.get(cleaned.get("occasion") or UNSCHEDULED)
        if chosen is not None and chosen.instrument_id != instrument_id:
            self.add_error(
                "occasion", f"That occasion is for the {chosen.instrument_name}, not the {instrument.short_name}."
            )
        return cleaned

    def entered_items(self) -> dict[int, int | None]:
        instrument_id = self.cleaned_data["instrument"]
        return {
            item.number: self.cleaned_data.get(name)
            for name, (owner, item) in self.entered_fields.items()
            if owner.id == instrument_id
        }

    def scheduled_assessment(self):
        return self.scheduled.get(self.cleaned_data.get("occasion") or UNSCHEDULED)


class AmendTotalForm(Form):
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


class StartQuestionnaireForm(Form):
    instrument = forms.ChoiceField(label="Questionnaire", choices=item_instrument_choices)

    def clean_instrument(self):
        try:
            return get_instrument(self.cleaned_data["instrument"]).id
        except ScoringError as error:
            raise forms.ValidationError(str(error)) from None


class AcknowledgeForm(Form):
    note = forms.CharField(
        label="What was done",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required: for example, called the patient and reviewed the safety plan.",
    )

    # Asked, and required, only for an allergic reaction to the drug (CriticalAlert.asks_whether_allergic).
    finding = forms.ChoiceField(
        label="Was it an allergic reaction to the drug?",
        choices=CriticalAlert.Finding.choices,
        widget=forms.RadioSelect,
        help_text=(
            "A confirmed one excludes further doses and courses until a prescriber corrects it with a reason; only a "
            "prescriber finds a reaction not allergic."
        ),
        error_messages={"required": "Say whether it was an allergic reaction to the drug."},
    )

    def __init__(self, *args, asks_finding: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not asks_finding:
            del self.fields["finding"]

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Write what was done before acknowledging.")
        return note


class FindingCorrectionForm(Form):
    reason = forms.CharField(
        label="Why it was not an allergic reaction to the drug",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required: for example, the allergist's skin and challenge tests were negative.",
    )


class UrineToxicologyForm(Form):
    """A urine drug screen's result, by the coded panel (data/urine_toxicology.yaml)."""

    collected_on = forms.DateField(
        label="Date collected", widget=forms.DateInput(attrs={"type": "date"}), initial=datetime.date.today
    )
    result = forms.ChoiceField(label="Result", choices=UrineToxicology.Result.choices)
    substances_found = forms.MultipleChoiceField(
        label="Substances found", required=False, widget=forms.CheckboxSelectMultiple
    )
    prescribed_found = forms.MultipleChoiceField(
        label="Of those, prescribed to the patient",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A substance found that is not prescribed puts a review alert in the care team's queue.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = list(substance_labels().items())
        self.fields["substances_found"].choices = choices
        self.fields["prescribed_found"].choices = choices

    def clean_collected_on(self):
        day = self.cleaned_data["collected_on"]
        problem = entered_date_problem(day)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def clean(self):
        cleaned = super().clean()
        found = set(cleaned.get("substances_found") or [])
        if cleaned.get("result") == UrineToxicology.Result.POSITIVE and not found:
            self.add_error("substances_found", "Tick what was found.")
        elif cleaned.get("result") in (UrineToxicology.Result.NEGATIVE, UrineToxicology.Result.INVALID) and found:
            self.add_error("substances_found", "A negative or invalid screen names nothing found.")
        if not set(cleaned.get("prescribed_found") or []) <= found:
            self.add_error("prescribed_found", "Only a substance that was found can be marked as prescribed.")
        return cleaned
