"""The form renderer draws the common widgets in Python (kapstone/formrender.py): each must come out exactly as
Django's own templates draw it, for every form Kapstone's busiest pages show and for awkward values."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from kapstone.dosing.forms import LEDGER_FORMS, ROOM_FORMS, LedgerFilterForm
from kapstone.formrender import STAMP_PREFIX, FormRenderer, form_fields, stamped
from kapstone.screening.forms import IntakeEditor
from tests.dosing.helpers import receive_stock

TEMPLATES, PYTHON = DjangoTemplates(), FormRenderer()


class Awkward(forms.Form):
    name = forms.CharField(initial='O\'Brien & "Sons" <b>', max_length=20, help_text="Help")
    safe = forms.CharField(initial=mark_safe("<i>kept</i>"), required=False)
    amount = forms.DecimalField(initial=Decimal("1234.50"), min_value=Decimal("0.01"), decimal_places=2)
    count = forms.IntegerField(initial=0, widget=forms.NumberInput(attrs={"min": 1, "data-x": True, "off": False}))
    day = forms.DateField(initial=datetime.date(2026, 3, 4), widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(required=False)
    email = forms.EmailField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial="h&h")
    agree = forms.BooleanField(required=False, initial=True)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), initial="line 1\n<line 2>", required=False)
    empty_notes = forms.CharField(widget=forms.Textarea, required=False)
    choice = forms.ChoiceField(
        choices=[
            ("", "—"),
            ("a&b", 'A & "B"'),
            ("Group <1>", [("1", gettext_lazy("One")), ("2", 2)]),
            (3, mark_safe("<em>three</em>")),
        ],
        initial="2",
    )
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], initial=["x", "y"], required=False)
    radio = forms.ChoiceField(choices=[("r", "R")], widget=forms.RadioSelect, required=False)
    boxes = forms.MultipleChoiceField(choices=[("c", "C")], widget=forms.CheckboxSelectMultiple, required=False)


def _same(form: forms.BaseForm) -> None:
    """Each field of the form drawn by both renderers, the form's own attributes (ids, errors) included."""
    for field in form:
        form.renderer = TEMPLATES
        by_templates = str(field)
        form.renderer = PYTHON
        assert str(field) == by_templates, field.html_name


def test_awkward_values_come_out_as_the_templates_draw_them():
    _same(Awkward(prefix="p1"))


def test_a_bound_form_with_errors_comes_out_as_the_templates_draw_it():
    form = Awkward({"name": "x" * 30, "amount": "abc", "choice": "nope", "many": ["x"], "notes": "<&>"})
    assert not form.is_valid()
    _same(form)


@pytest.mark.django_db
def test_every_dosing_room_and_ledger_form_comes_out_as_the_templates_draw_it(cast):
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number='L-"1" & <2>',
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )
    for action, form_class in {**ROOM_FORMS, **LEDGER_FORMS}.items():
        _same(form_class(prefix=f"p{cast.alice.pk}-{action}"))
    _same(LedgerFilterForm({"since": "2026-01-01"}))


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["p12-", 'odd "prefix" <&>'])
def test_a_form_drawn_once_and_stamped_with_a_prefix_comes_out_as_the_form_made_with_that_prefix(cast, prefix):
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number='L-"1" & <2>',
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )
    for action, form_class in {**ROOM_FORMS, "awkward": Awkward}.items():
        once = form_fields(form_class(prefix=STAMP_PREFIX))
        assert stamped(once, prefix + action) == form_fields(form_class(prefix=prefix + action)), action


@pytest.mark.django_db
def test_the_intake_form_comes_out_as_the_templates_draw_it(cast):
    editor = IntakeEditor(patient=cast.alice, initial={"medications": [{"name": "sertraline", "dose_mg_per_day": 50}]})
    _same(editor.main)
    for formset in editor.formsets.values():
        for form in formset.forms:
            _same(form)


def test_a_widget_it_does_not_draw_goes_to_the_templates(monkeypatch):
    drawn_by_templates = []
    original = DjangoTemplates.render

    def watched(self, template_name, context, request=None):
        drawn_by_templates.append(template_name)
        return original(self, template_name, context, request)

    monkeypatch.setattr(DjangoTemplates, "render", watched)
    form = Awkward(renderer=PYTHON)
    str(form["radio"]), str(form["name"])
    assert "django/forms/widgets/radio.html" in drawn_by_templates
    assert "django/forms/widgets/text.html" not in drawn_by_templates
