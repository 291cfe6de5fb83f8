"""The intake forms' fields and row tables, written out in Python (screening/intake_fields.py), come out exactly as
the templates they replace (intake_field_template.html and intake_rows_template.html beside this file) drew them:
the staff intake empty, started from an intake with every list filled, a long list, awkward text, posted with
errors on fields and rows, with the validator's messages placed back, and with a broken or overfull list; the
portal's pre-intake empty and posted with errors; and a form of awkward labels and help texts."""

from pathlib import Path

import pytest
from django import forms
from django.template import Context, Template

from kapstone.screening import intake_fields
from kapstone.screening.forms import (
    LISTS,
    MEDICAL_QUESTIONS,
    PSYCHIATRIC_QUESTIONS,
    IntakeEditor,
    PreIntakeForm,
    PriorMedicineFormSet,
    PriorTherapyFormSet,
)
from tests.screening.helpers import intake

pytestmark = pytest.mark.django_db

FIELD = Template(Path(__file__).with_name("intake_field_template.html").read_text())
ROWS = Template(Path(__file__).with_name("intake_rows_template.html").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'


class Drawn:
    """Draws fields and formsets both ways, noting the states it met."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def field(self, bound: forms.BoundField) -> None:
        assert intake_fields.field(bound) == FIELD.render(Context({"field": bound})), bound.html_name
        widget = bound.field.widget
        self.seen |= {"field errors"} if bound.errors else set()
        self.seen |= {"field help"} if bound.help_text else set()
        self.seen |= {"radio"} if getattr(widget, "input_type", None) == "radio" else set()
        self.seen |= {"checkbox"} if getattr(widget, "input_type", None) == "checkbox" else set()
        self.seen |= {"multiple"} if getattr(widget, "allow_multiple_selected", False) else set()

    def form(self, form: forms.BaseForm) -> None:
        for bound in form:
            self.field(bound)

    def rows(self, formset, heading: str = "Rows") -> None:
        """Twice: an unbound list's second drawing comes from the parts kept from its first (formrender.drawn_once)."""
        by_template = ROWS.render(Context({"formset": formset, "heading": heading}))
        assert intake_fields.rows(formset, heading) == by_template, formset.prefix
        assert intake_fields.rows(formset, heading) == by_template, formset.prefix
        self.seen |= {"row errors"} if any(form.non_field_errors() for form in formset) else set()
        self.seen |= {"row field errors"} if any(form.errors for form in formset) else set()
        self.seen |= {"list errors"} if formset.non_form_errors() else set()
        self.seen |= {"broken list"} if formset.management_form.errors else set()
        self.seen |= {"empty list"} if not formset.forms else set()
        self.seen |= {"column help"} if any(field.help_text for field in formset.empty_form) else set()
        self.seen |= {"long list"} if len(formset.forms) >= 60 else set()

    def editor(self, editor: IntakeEditor) -> None:
        self.form(editor.main)
        for _, heading, formset in editor.lists():
            self.rows(formset, heading)


def _filled_intake() -> dict:
    """An intake with every list filled, awkward text in every text part."""
    data = intake(indications=["depression", "ptsd"], medications=[{"name": AWKWARD, "dose_mg_per_day": 12.5}])
    data["psychiatric"]["substance_use_disorders"] = [
        {"substance": AWKWARD, "last_use": "2020-01-02", "involves_dissociatives": True}
    ]
    data["medical"]["mi_or_unstable_angina_date"] = "2019-03-04"
    data["prior_treatments"] = {
        "antidepressant_trials": [
            {"drug": AWKWARD, "dose_mg_per_day": 100, "weeks": 8, "adequate_dose": True, "response": "remission"},
        ],
        "augmentations": [{"drug": "lithium", "dose_mg_per_day": 900, "weeks": 12}],
        "psychotherapy": [{"modality": AWKWARD, "evidence_based": True, "sessions": 12, "improvement_percent": -5}],
        "ect": [{"sessions": 6, "year": 2015, "response": "partial_response"}],
        "esketamine": [{}],
    }
    return data


def _post(**fields) -> dict:
    """A staff intake post: every list's management form and the given fields."""
    data = {f"{prefix}-{key}": "0" for prefix, *_ in LISTS for key in ("TOTAL_FORMS", "INITIAL_FORMS")}
    data.update(fields)
    return data


def _answered() -> dict:
    """The main form's required answers."""
    return {
        "assessment_date": "2026-11-02",
        "indications": ["depression"],
        **{f"psychiatric__{name}": "no" for name in PSYCHIATRIC_QUESTIONS},
        **{f"medical__{name}": "no" for name in MEDICAL_QUESTIONS},
    }


def test_the_empty_and_the_filled_staff_intake_come_out_as_the_templates_drew_them(cast):
    drawn = Drawn()
    drawn.editor(IntakeEditor(patient=cast.alice, initial={}))
    drawn.editor(IntakeEditor(patient=cast.alice, initial=_filled_intake()))
    long_list = intake(medications=[{"name": f"{AWKWARD} {number}"} for number in range(60)])
    drawn.editor(IntakeEditor(patient=cast.alice, initial=long_list))
    assert {"radio", "checkbox", "multiple", "column help", "long list"} <= drawn.seen


def test_a_staff_intake_posted_with_errors_on_fields_and_rows_comes_out_as_the_templates_drew_it(cast):
    posted = _post(
        assessment_date=AWKWARD,
        indications=["depression", AWKWARD],
        vitals__systolic="9999",
        psychiatric__current_psychosis="yes",
        **{
            "medications-TOTAL_FORMS": "3",
            "medications-0-name": AWKWARD,
            "medications-1-dose_mg_per_day": AWKWARD,
            "medications-2-dose_mg_per_day": "20",
            "trials-TOTAL_FORMS": "1",
            "trials-0-weeks": "-3",
            "trials-0-response": AWKWARD,
            "other-TOTAL_FORMS": "1",
            "other-0-kind": "ect",
        },
    )
    editor = IntakeEditor(patient=cast.alice, initial={}, data=posted)
    assert not editor.is_valid()
    drawn = Drawn()
    drawn.editor(editor)
    assert {"field errors", "row field errors"} <= drawn.seen


def test_the_validators_messages_placed_back_come_out_as_the_templates_drew_them(cast):
    posted = _post(
        **_answered(),
        **{
            "medications-TOTAL_FORMS": "2",
            "medications-0-name": "sertraline",
            "medications-1-name": AWKWARD,
            "trials-TOTAL_FORMS": "1",
            "trials-0-drug": "sertraline",
            "trials-0-weeks": "8",
        },
    )
    editor = IntakeEditor(patient=cast.alice, initial={}, data=posted)
    assert editor.is_valid()
    editor.build()
    editor.show_errors(
        [
            f"medications[1].dose_mg_per_day {AWKWARD}",
            f"medications[0] {AWKWARD}",
            f"prior_treatments.antidepressant_trials[0] needs improvement_percent or response {AWKWARD}",
            f"vitals.systolic {AWKWARD}",
            f"somewhere else {AWKWARD}",
        ]
    )
    drawn = Drawn()
    drawn.editor(editor)
    assert {"field errors", "row errors", "row field errors"} <= drawn.seen
    assert editor.problems == [f"somewhere else {AWKWARD}"]


def test_a_broken_or_overfull_list_comes_out_as_the_templates_drew_it(cast):
    overfull = {"medications-TOTAL_FORMS": "61", **{f"medications-{index}-name": "x" for index in range(61)}}
    posted = _post(**_answered(), **overfull)
    del posted["trials-TOTAL_FORMS"]
    editor = IntakeEditor(patient=cast.alice, initial={}, data=posted)
    assert not editor.is_valid()
    drawn = Drawn()
    drawn.editor(editor)
    assert {"list errors", "broken list", "empty list", "long list"} <= drawn.seen


def test_the_portal_pre_intake_comes_out_as_the_templates_drew_it():
    drawn = Drawn()
    for data in (None, {"medications": AWKWARD * 200, "psychiatric__current_psychosis": AWKWARD}):
        drawn.form(PreIntakeForm(data))
        medicines = PriorMedicineFormSet(data, prefix="medicines")
        therapies = PriorTherapyFormSet(data, prefix="therapies")
        for formset in (medicines, therapies):
            for form in formset:
                drawn.form(form)
    assert {"radio", "multiple", "field help", "field errors"} <= drawn.seen


class Awkward(forms.Form):
    """Labels and help texts a form might give, with the characters that must be escaped."""

    text = forms.CharField(label=AWKWARD, help_text=AWKWARD, initial=AWKWARD)
    unlabelled_text = forms.CharField(required=False)
    agree = forms.BooleanField(label=AWKWARD, help_text=AWKWARD)
    yes_no = forms.ChoiceField(choices=[("a&b", AWKWARD)], widget=forms.RadioSelect, help_text=AWKWARD)
    many = forms.MultipleChoiceField(choices=[("x", AWKWARD)], required=False)
    notes = forms.CharField(widget=forms.Textarea, required=False, help_text=AWKWARD)


def test_awkward_labels_help_texts_and_headings_come_out_as_the_templates_drew_them():
    drawn = Drawn()
    for data in (None, {"text": "", "yes_no": AWKWARD}, {"text": "x", "yes_no": "a&b", "agree": "on"}):
        form = Awkward(data)
        form.is_valid()
        drawn.form(form)
        formset = forms.formset_factory(Awkward, extra=2)(data and {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0"})
        if formset.is_bound:
            formset.is_valid()
            formset.forms[0].add_error(None, AWKWARD)
            formset.forms[0].add_error("notes", AWKWARD)
        drawn.rows(formset, AWKWARD)
        drawn.form(Awkward(data, auto_id=False))
    assert {"radio", "checkbox", "multiple", "field help", "column help", "field errors", "row errors"} <= drawn.seen
