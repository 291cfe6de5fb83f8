from django import forms, template
from django.forms.formsets import BaseFormSet
from django.utils.safestring import SafeString, mark_safe

from kapstone.screening import intake_fields
from kapstone.screening.forms import MEDICAL_QUESTIONS, PSYCHIATRIC_QUESTIONS

register = template.Library()

QUESTION_LABELS = {"psychiatric": PSYCHIATRIC_QUESTIONS, "medical": MEDICAL_QUESTIONS}
# A screening decision's badge, by decision (screening.models.Decision); no decision is "Not screened".
DECISION_BADGES = {
    "eligible": '<span class="badge ok decision">Eligible</span>',
    "needs_review": '<span class="badge warn decision">Needs review</span>',
    "not_eligible": '<span class="badge danger decision">Not eligible</span>',
}
NOT_SCREENED = '<span class="badge decision">Not screened</span>'


@register.simple_tag
def decision_badge(decision: str | None) -> SafeString:
    """The badge of a screening decision, on the screening page, its history, the changes and the list alike."""
    return mark_safe(DECISION_BADGES.get(decision or "", NOT_SCREENED))  # noqa: S308 - constant markup


@register.filter
def words(value) -> str:
    """needs_review -> needs review"""
    return str(value or "").replace("_", " ")


@register.filter
def field_label(path) -> str:
    """An intake field's path as staff read it: the form's own label where it has one (psychiatric.bipolar_disorder
    -> Psychiatric: Bipolar disorder), else its parts in words (vitals.systolic -> Vitals: systolic)."""
    group, _, name = str(path).partition(".")
    label = QUESTION_LABELS.get(group, {}).get(name)
    if label is not None:
        return f"{words(group).capitalize()}: {label[0]}"
    return ": ".join(part.replace("_", " ") for part in str(path).split(".")).capitalize()


@register.simple_tag
def intake_field(field: forms.BoundField) -> SafeString:
    """A field with its label, help text and errors, as the intake forms show it (intake_fields.py)."""
    return intake_fields.field(field)


@register.simple_tag
def intake_rows(formset: BaseFormSet, heading: str) -> SafeString:
    """A list's formset as a table of rows, as the staff intake shows it (intake_fields.py)."""
    return intake_fields.rows(formset, heading)
