"""The base of every Kapstone form: a required field left empty says which field it is and what to do, and a
required choice (a lot, a witness, a location, a model's choices) starts at "Choose…" rather than Django's
"---------".

Django's own refusal, "This field is required.", names nothing: read out by a screen reader among a form's errors, or
seen in a long form (the intake, a questionnaire, the dosing room's check-in), it left the reader to find the field.
A field whose form gives its own message for a missing value keeps it; a hidden field, which no one fills in, keeps
Django's.
"""

from collections.abc import Iterable
from typing import cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db.models.fields import BLANK_CHOICE_DASH
from django.forms.forms import DeclarativeFieldsMetaclass
from django.forms.models import ModelFormMetaclass
from django.forms.utils import pretty_name
from django.forms.widgets import ChoiceWidget
from django.utils.choices import CallableChoiceIterator

# Django's own message, as every field's error messages hold it unless its form gave another.
DJANGO_REQUIRED = forms.Field.default_error_messages["required"]


def required_message(field: forms.Field, label: str) -> str:
    """What a required `field` labelled `label` says when it is left empty: its name, and what to do, as its widget
    asks it (a lot typed in by its number is filled in, not chosen). A question is asked to be answered: "“Have you
    ever had psychosis?” is required" read as a form's words, not a person's."""
    label = label.strip().rstrip(":").strip()
    name = f"“{label}”"
    widget = field.widget
    question = label.endswith("?")
    if isinstance(widget, forms.CheckboxInput):
        return f"Tick {name} to go on."
    if isinstance(widget, ChoiceWidget):
        several = widget.allow_multiple_selected
        if question:
            return f"Choose {'at least one answer' if several else 'an answer'} to {name}"
        return f"{name} is required: choose {'at least one' if several else 'one'}."
    if isinstance(widget, forms.FileInput):
        return f"{name} is required: choose a file."
    return f"Answer {name}" if question else f"{name} is required: fill it in."


class NamedRequiredMixin(forms.BaseForm):
    """Gives each required field still worded as Django words it (DJANGO_REQUIRED) a message naming it
    (required_message). Done when the form is cleaned, so fields a form adds as it is made (a questionnaire's
    questions, a count's lots) are named too, and a form only drawn pays nothing."""

    def full_clean(self) -> None:
        for name, field in self.fields.items():
            if field.widget.is_hidden or field.error_messages.get("required") is not DJANGO_REQUIRED:
                continue
            # A field's error messages are its own copy in each form (Field.__deepcopy__): the class keeps Django's.
            field.error_messages["required"] = required_message(field, str(field.label or pretty_name(name)))
        super().full_clean()


# What a required choice of a record shows before one is chosen: a row of dashes read as a broken or empty list.
EMPTY_CHOICE = "Choose…"
# Django's empty choice, a model choice's default empty_label and the blank a model form puts before a model's choices.
DJANGO_EMPTY_LABEL = BLANK_CHOICE_DASH[0][1]


def _worded_empty_choices(base_fields: dict[str, forms.Field]) -> None:
    """Words the empty choice of a form class's required choices (EMPTY_CHOICE), once for the class: the forms made
    from it, and the pages that work out a form's choices from the class's fields (the dosing room), read it."""
    for field in base_fields.values():
        if not field.required:
            continue
        if isinstance(field, forms.ModelChoiceField):
            if field.empty_label == DJANGO_EMPTY_LABEL:
                field.empty_label = EMPTY_CHOICE
        elif isinstance(field, forms.ChoiceField) and not isinstance(field.choices, CallableChoiceIterator):
            # A model field's choices, given a blank first by a ModelForm (an adverse event's severity). Choices a
            # function gives are left to it: they are worked out when a form is made, and reading them here, as the
            # class is made, would read their data (the instruments and the practice's wording) at import, where a
            # broken wording file raised instead of being reported by the check that names it.
            choices = list(cast(Iterable, field.choices))  # a list (or an iterator) once the field has made it
            if choices and tuple(choices[0]) == ("", DJANGO_EMPTY_LABEL):
                field.choices = [("", EMPTY_CHOICE), *choices[1:]]


class _WordedChoices(DeclarativeFieldsMetaclass):
    def __new__(mcs, name, bases, attrs):
        form_class = super().__new__(mcs, name, bases, attrs)
        _worded_empty_choices(form_class.base_fields)
        return form_class


class _WordedModelChoices(ModelFormMetaclass):
    def __new__(mcs, name, bases, attrs):
        form_class = super().__new__(mcs, name, bases, attrs)
        _worded_empty_choices(form_class.base_fields)
        return form_class


class Form(NamedRequiredMixin, forms.Form, metaclass=_WordedChoices):
    """forms.Form whose empty required fields are named (NamedRequiredMixin) and whose required record choices
    start at EMPTY_CHOICE."""


class ModelForm(NamedRequiredMixin, forms.ModelForm, metaclass=_WordedModelChoices):
    """forms.ModelForm whose empty required fields are named (NamedRequiredMixin) and whose required record choices
    start at EMPTY_CHOICE."""


class SignInForm(NamedRequiredMixin, AuthenticationForm):
    """django.contrib.auth's sign-in form whose empty required fields are named (NamedRequiredMixin)."""
