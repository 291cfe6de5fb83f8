"""A required field left empty names itself and says what to do (kapstone/baseforms.py), on every Kapstone form."""

import importlib
import pkgutil

from django import forms

import kapstone
from kapstone.baseforms import Form, NamedRequiredMixin


class Example(Form):
    reason = forms.CharField(label="Reason")
    route = forms.ChoiceField(choices=[("", "Choose the route"), ("oral", "Oral")])
    days = forms.MultipleChoiceField(choices=[("mon", "Monday")], widget=forms.CheckboxSelectMultiple, label="Days")
    agreed = forms.BooleanField(label="I have read the consent")
    photo = forms.FileField(label="Photo")
    lot = forms.IntegerField(label="Entry corrected (its number):")
    psychosis = forms.ChoiceField(
        choices=[("yes", "Yes"), ("no", "No")], widget=forms.RadioSelect, label="Had psychosis?"
    )
    helped = forms.MultipleChoiceField(choices=[("sleep", "Sleep")], label="What would help?")
    plans = forms.CharField(label="What are your plans?")
    witness = forms.CharField(label="Witness", error_messages={"required": "Choose the witness."})
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["weight_kg"] = forms.DecimalField()


def test_each_empty_required_field_is_named_with_what_to_do():
    form = Example(data={})
    assert not form.is_valid()
    assert form.errors["reason"] == ["“Reason” is required: fill it in."]
    assert form.errors["route"] == ["“Route” is required: choose one."]
    assert form.errors["days"] == ["“Days” is required: choose at least one."]
    assert form.errors["agreed"] == ["Tick “I have read the consent” to go on."]
    assert form.errors["photo"] == ["“Photo” is required: choose a file."]
    # A label's closing colon is not quoted; a field added as the form is made is named by its name.
    assert form.errors["lot"] == ["“Entry corrected (its number)” is required: fill it in."]
    assert form.errors["weight_kg"] == ["“Weight kg” is required: fill it in."]
    # A question is asked to be answered.
    assert form.errors["psychosis"] == ["Choose an answer to “Had psychosis?”"]
    assert form.errors["helped"] == ["Choose at least one answer to “What would help?”"]
    assert form.errors["plans"] == ["Answer “What are your plans?”"]


def test_a_forms_own_message_and_a_hidden_fields_are_kept():
    form = Example(data={})
    form.is_valid()
    assert form.errors["witness"] == ["Choose the witness."]
    assert form.errors["token"] == ["This field is required."]
    # The class's fields keep Django's wording: each form names its own copy.
    assert str(Example.base_fields["reason"].error_messages["required"]) == "This field is required."


def test_every_kapstone_form_names_its_empty_required_fields():
    for module in pkgutil.walk_packages(kapstone.__path__, "kapstone."):
        if module.name.rsplit(".", 1)[-1] in ("forms", "staff_forms"):
            importlib.import_module(module.name)
    unnamed, stack = [], list(forms.BaseForm.__subclasses__())
    while stack:
        form = stack.pop()
        stack.extend(form.__subclasses__())
        if form.__module__.startswith("kapstone.") and not issubclass(form, NamedRequiredMixin):
            unnamed.append(f"{form.__module__}.{form.__qualname__}")
    assert unnamed == [], "derive these from kapstone.baseforms.Form or ModelForm"


def test_a_required_choice_of_a_record_starts_at_choose_and_an_optional_one_as_before(django_user_model):
    class Pick(Form):
        who = forms.ModelChoiceField(queryset=django_user_model.objects.none())
        anyone = forms.ModelChoiceField(queryset=django_user_model.objects.none(), required=False)

    assert Pick.base_fields["who"].empty_label == "Choose…"  # the class's own, which pages read choices from
    drawn = str(Pick()["who"])
    assert '<option value="" selected>Choose…</option>' in drawn and "-----" not in drawn
    assert Pick.base_fields["anyone"].empty_label == "---------"


def test_a_required_choice_a_model_form_gives_a_blank_starts_at_choose_too():
    from kapstone.dosing.forms import AdverseEventForm

    drawn = str(AdverseEventForm()["severity"])
    assert '<option value="" selected>Choose…</option>' in drawn and "-----" not in drawn
