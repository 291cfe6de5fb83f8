"""The form renderer draws the common widgets in Python (kapstone/formrender.py): each must come out exactly as
Django's own templates draw it, for every form Kapstone's busiest pages show and for awkward values."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django import forms
from django.forms.boundfield import BoundWidget
from django.forms.renderers import DjangoTemplates
from django.template import Context, Template
from django.utils import translation
from django.utils.formats import get_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from kapstone import formrender
from kapstone.accounts.roles import Role
from kapstone.dosing.forms import (
    LEDGER_FORMS,
    ROOM_FORMS,
    LedgerFilterForm,
    RegistrationForm,
    RiskAssessmentForm,
)
from kapstone.dosing.selectors import ledger_balances
from kapstone.formrender import (
    STAMP_PREFIX,
    FormRenderer,
    empty_form_fields,
    form_fields,
    read_choices_once,
    shown,
    stamped,
)
from kapstone.measures.forms import AmendTotalForm, QuestionnaireForm, UrineToxicologyForm
from kapstone.measures.scoring import list_instruments
from kapstone.messaging.forms import ChangeRequestForm
from kapstone.patients.forms import CareTeamForm
from kapstone.program.forms import SessionMoveForm
from kapstone.screening.forms import IntakeEditor, PreIntakeForm
from tests.conftest import make_user
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
    spaced = forms.CharField(label="  Spaced & <label>  ", required=False)
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
    yes_no = forms.ChoiceField(
        choices=[("yes", "Yes"), ("a&b", 'A & "B" <i>'), (3, mark_safe("<em>three</em>"))],
        widget=forms.RadioSelect(attrs={"class": 'yes-no "x" <&>'}),
        initial="a&b",
    )
    grouped = forms.MultipleChoiceField(
        choices=[("c", "C"), ("Group <1>", [("1", gettext_lazy("One")), (2, 2)]), ("d", "D")],
        widget=forms.CheckboxSelectMultiple(attrs={"data-x": True}),
        initial=["1", "d"],
        required=False,
    )


def _labels(field: forms.BoundField) -> list[str]:
    """The field's label as a page draws it: label_tag and legend_tag, plain, with attributes (a class, a boolean
    one, one left out) and with contents and a suffix of the page's own."""
    attrs = {"class": 'x "y" <&>', "data-on": True, "data-off": False}
    return [
        field.label_tag(),
        field.legend_tag(),
        field.label_tag(attrs=attrs),
        field.legend_tag(attrs=attrs),
        field.label_tag(contents="A & <b>", label_suffix=" :"),
        field.label_tag(contents=mark_safe("<i>kept</i>"), label_suffix=""),
        field.label_tag(tag="span"),
    ]


def _same(form: forms.BaseForm) -> None:
    """Each field of the form drawn by both renderers, the form's own attributes (ids, errors) included, its
    labels (_labels), and each of its choices drawn on its own, in its label or not (`{{ radio.tag }}`, as the
    portal's questionnaires draw them)."""
    for field in form:
        form.renderer = TEMPLATES
        by_templates = str(field)
        labels_by_templates = _labels(field)
        form.renderer = PYTHON
        assert str(field) == by_templates, field.html_name
        assert _labels(field) == labels_by_templates, field.html_name
        for option in field.subwidgets:
            for wrap_label in (False, True):
                by_templates = BoundWidget(option.parent_widget, option.data, TEMPLATES).tag(wrap_label)
                by_python = BoundWidget(option.parent_widget, option.data, PYTHON).tag(wrap_label)
                assert by_python == by_templates, (field.html_name, option.data["value"], wrap_label)


def test_awkward_values_come_out_as_the_templates_draw_them():
    _same(Awkward(prefix="p1"))


def test_a_bound_form_with_errors_comes_out_as_the_templates_draw_it():
    form = Awkward(
        {"name": "x" * 30, "amount": "abc", "choice": "nope", "many": ["x"], "notes": "<&>", "grouped": ["2"]}
    )
    assert not form.is_valid()
    _same(form)


def test_a_form_without_ids_comes_out_as_the_templates_draw_it():
    _same(Awkward(auto_id=False))


class Unwrapped(forms.RadioSelect):
    """Options whose input is not wrapped in their label, as a widget may make them."""

    def create_option(self, *args, **kwargs):
        return {**super().create_option(*args, **kwargs), "wrap_label": False}


def test_options_not_wrapped_in_their_labels_come_out_as_the_templates_draw_them():
    class WithUnwrapped(forms.Form):
        choice = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=Unwrapped, initial="b")

    _same(WithUnwrapped())


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
    _same(LedgerFilterForm({"since": "2026-01-01"}, balances=ledger_balances()))


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


class OwnOptions(forms.RadioSelect):
    """Radio buttons whose options use a template of their own."""

    option_template_name = "django/forms/widgets/input_option.html"


@pytest.mark.django_db
def test_every_form_with_radio_buttons_or_checkboxes_comes_out_as_the_templates_draw_it(cast):
    staff = cast.bob.pk
    for instrument in list_instruments():
        _same(QuestionnaireForm(instrument=instrument, initial_answers={1: 1}))
        _same(QuestionnaireForm({"item_1": "99"}, instrument=instrument))
    for form in (
        CareTeamForm(initial={"staff": [staff]}),
        CareTeamForm({"staff": [staff, "nope"]}),
        AmendTotalForm(assessment=SimpleNamespace(total_display=12, completed_at=None), initial={"action": "void"}),
        UrineToxicologyForm(initial={"substances_found": []}),
        ChangeRequestForm(),
        RegistrationForm(),
        RegistrationForm({"schedules": ["II", "<&>"]}),
        SessionMoveForm(initial={"facilitators": [staff]}),
        PreIntakeForm({"indications": ["depression"], "psychiatric__current_psychosis": "unsure"}),
    ):
        if form.is_bound:
            form.is_valid()
        _same(form)


def test_a_widget_it_does_not_draw_goes_to_the_templates(monkeypatch):
    drawn_by_templates = []
    original = DjangoTemplates.render

    def watched(self, template_name, context, request=None):
        drawn_by_templates.append(template_name)
        return original(self, template_name, context, request)

    class WithOwnOptions(forms.Form):
        name = forms.CharField()
        radio = forms.ChoiceField(choices=[("r", "R")], widget=OwnOptions)
        upload = forms.FileField()

    monkeypatch.setattr(DjangoTemplates, "render", watched)
    form = WithOwnOptions(renderer=PYTHON)
    by_python = [str(form[name]) for name in form.fields]
    assert drawn_by_templates == [
        "django/forms/widgets/radio.html",
        "django/forms/widgets/clearable_file_input.html",
    ]
    form.renderer = TEMPLATES
    assert [str(form[name]) for name in form.fields] == by_python


def _stock(cast, lot_number: str):
    return receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=lot_number,
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("2000"),
    )


def _page_forms(prefix: str) -> list[forms.BaseForm]:
    """Every form the dosing room and the ledger show empty, as their pages make them."""
    read_once: dict = {}
    made = [form_class(prefix=prefix) for form_class in ROOM_FORMS.values()]
    made += [form_class(prefix=prefix, read_once=read_once) for form_class in LEDGER_FORMS.values()]
    made.append(LedgerFilterForm(balances=ledger_balances()))
    read_choices_once(made)
    return made


@pytest.mark.django_db
def test_an_empty_form_drawn_once_comes_out_as_drawn_afresh_and_anew_when_what_it_offers_changes(cast, monkeypatch):
    monkeypatch.setattr(formrender, "_DRAWN_EMPTY", {})
    _stock(cast, 'L-"1" & <2>')
    for _ in range(2):  # the second time, from the drawings kept
        for form in _page_forms("p1"):
            assert empty_form_fields(form) == form_fields(form), type(form).__name__
    # A lot received, a new witness, a renamed one and a changed question each change what the forms offer.
    _stock(cast, "L-new")
    witness = make_user("newwitness", Role.NURSE)
    witness.first_name, witness.last_name = "Nell", "New"
    witness.save(update_fields=["first_name", "last_name"])
    cast.nurse.last_name = "Renamed"
    cast.nurse.save(update_fields=["last_name"])
    monkeypatch.setattr(RiskAssessmentForm, "base_fields", {**RiskAssessmentForm.base_fields})
    RiskAssessmentForm.base_fields["note"] = forms.CharField(label="Changed wording", required=False)
    changed = _page_forms("p1")
    for form in changed:
        assert empty_form_fields(form) == form_fields(form), type(form).__name__
    drawn = "".join(empty_form_fields(form) for form in changed)
    assert "L-new" in drawn and "Nell New" in drawn and "Renamed" in drawn and "Changed wording" in drawn


def test_a_form_with_an_initial_value_of_the_day_is_drawn_anew_when_the_day_changes(monkeypatch):
    monkeypatch.setattr(formrender, "_DRAWN_EMPTY", {})
    today = [datetime.date(2026, 3, 4)]

    class Dated(forms.Form):
        day = forms.DateField(initial=lambda: today[0])

    first = empty_form_fields(Dated())
    today[0] = datetime.date(2026, 3, 5)
    second = empty_form_fields(Dated())
    assert 'value="2026-03-04"' in first and 'value="2026-03-05"' in second


def test_a_bound_form_is_never_drawn_from_another_request():
    with pytest.raises(ValueError, match="unbound"):
        empty_form_fields(Awkward({"name": "x"}))


def test_the_drawings_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(formrender, "_DRAWN_EMPTY", {})
    for number in range(formrender.DRAWN_EMPTY_LIMIT + 5):
        empty_form_fields(Awkward(prefix=f"p{number}"))
    assert len(formrender._DRAWN_EMPTY) <= formrender.DRAWN_EMPTY_LIMIT


DECIMALS = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.00"),
    Decimal("-12.50"),
    Decimal("1234567.891"),
    Decimal("1E+5"),
    Decimal("1E-7"),
    Decimal("9" * 150 + ".5"),
    Decimal("1E+250"),
    Decimal("-1E-300"),
]


@pytest.mark.parametrize("language", ["en-us", "de", "fr"])
def test_a_decimal_comes_out_as_the_template_shows_it(language):
    template = Template("{{ value }}")
    with translation.override(language):
        separator = get_format("DECIMAL_SEPARATOR")
        for value in DECIMALS:
            by_template = template.render(Context({"value": value}))
            assert shown(value) == by_template, value
            assert shown(value, separator) == by_template, value
