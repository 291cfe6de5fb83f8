from django import template

from kapstone.screening.forms import MEDICAL_QUESTIONS, PSYCHIATRIC_QUESTIONS

register = template.Library()

QUESTION_LABELS = {"psychiatric": PSYCHIATRIC_QUESTIONS, "medical": MEDICAL_QUESTIONS}


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
