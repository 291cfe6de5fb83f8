from collections.abc import Iterable
from html import escape
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from kapstone.practice.templatetags.kapstone_tags import day_label, link_around_id
from kapstone.screening.templatetags.screening_tags import decision_badge

register = template.Library()

# Said beside "needs review" once a prescriber has overridden it, as the patient's screening page says it.
OVERRIDDEN = ' <span class="badge ok">overridden</span>'
RECORD_CHANGED = (
    ' <span class="badge warn" title="The record\'s medications or date of birth differ from the screened intake">'
    "record changed since screening</span>"
)


@register.simple_tag
def screening_list_rows(patients: Iterable[Any]) -> SafeString:
    """The screening list's rows, as the template's loop wrote them (tests/screening/screening_list_row_template.html,
    compared in test_screening_list_rows): an include a row and the loop's lookups were most of the page's time
    (issue 19). Each value is escaped as Django's `escape` does (`html.escape` of its text); what is not escaped is
    this function's markup and numbers. `patients` carry screening.selectors.screening_list's annotations."""
    before, after = link_around_id("screening:patient")
    # The practice's time zone once for the page's rows: looked up for each row, it cost more than the conversion.
    language, zone = get_language(), timezone.get_current_timezone()
    rows = []
    for patient in patients:
        if patient.screened_at:
            # `date:"D j M Y"` ("Tue 3 Mar 2026"): it takes a time in the practice's time zone first
            # (expects_localtime); the day worded once per day (day_label).
            screened = escape(day_label(timezone.localtime(patient.screened_at, zone).date(), "D j M Y", language))
        else:
            screened = "—"
        rows.append(
            "    <tr>\n"
            f'      <td><a href="{before}{int(patient.pk)}{after}">{escape(patient.family_name)}, '
            f"{escape(patient.given_name)}</a></td>\n"
            f"      <td>{escape(patient.record_number)}</td>\n"
            f"      <td>{decision_badge(patient.screening_decision)}"
            f"{OVERRIDDEN if patient.screening_overridden else ''}"
            f"{RECORD_CHANGED if patient.record_changed else ''}</td>\n"
            f"      <td>{screened}</td>\n"
            "    </tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value escaped above
