from collections.abc import Iterable
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from kapstone.practice.templatetags.kapstone_tags import day_in_words, link_around_id

register = template.Library()

NONE_RECORDED = '<span class="muted">none recorded</span>'


@register.simple_tag
def patient_list_rows(patients: Iterable[Any]) -> SafeString:
    """The patient list's rows, as the template's loop wrote them (tests/foundation/patient_list_row_template.html,
    compared in test_patient_list_rows): the loop's lookups were half of the page's time (issue 19). Each value is
    escaped as Django's `escape` does (`html.escape` of its text); what is not escaped is this function's markup and
    numbers. `patients` carry `primary_diagnoses` and `team` (patients.selectors.patient_list)."""
    before, after = link_around_id("patients:detail")
    rows = []
    for patient in patients:
        pronouns = f' <span class="muted">({escape(patient.pronouns)})</span>' if patient.pronouns else ""
        # "12 Mar 1984", as the record, the intake and every staff message say a day (day_in_words).
        born = escape(day_in_words(patient.date_of_birth))
        diagnoses = "".join(
            f"{escape(diagnosis.icd10_code)} {escape(diagnosis.description)}" for diagnosis in patient.primary_diagnoses
        )
        team = ", ".join(escape(membership.staff.last_name) for membership in patient.team)
        rows.append(
            "    <tr>\n"
            f'      <td><a href="{before}{int(patient.pk)}{after}">{escape(patient.family_name)}, '
            f"{escape(patient.given_name)}</a>{pronouns}</td>\n"
            f'      <td class="nowrap">{escape(patient.record_number)}</td>\n'
            f'      <td class="nowrap">{born}</td>\n'
            f'      <td class="hide-narrow">{diagnoses or NONE_RECORDED}</td>\n'
            f'      <td class="hide-narrow">{team}</td>\n'
            "    </tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value escaped above
