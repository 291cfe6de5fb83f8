"""The rota page's weekly slots, each a table row with its remove button, written out in Python.

Drawn by the page's template, each row's lookups, time filters, reversed address and form token were most of the
page's drawing (issue 19). The markup is exactly what the template drew: tests/alerts/test_rota_rows.py draws rows
of every kind both ways against the template this replaces (rota_rows_template.html beside it).
"""

from collections.abc import Iterable

from django.utils.safestring import SafeString, mark_safe

from kapstone.alerts.models import OnCallSlot
from kapstone.formrender import shown
from kapstone.practice.templatetags.kapstone_tags import link_around_id


def slot_rows(slots: Iterable[OnCallSlot], *, can_edit: bool, csrf_token: str) -> SafeString:
    """The table body's rows as the template's `{% for slot in slots %}` loop drew them; each row has its remove
    button, with the page's form token, when `can_edit`."""
    before, after = link_around_id("alerts:rota_remove")
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{shown(csrf_token)}">'
    rows = []
    for slot in slots:
        # `{{ time|time:"H:i" }}` of a time of day: its hour and minute, each of two digits.
        starts, ends = (
            f"{slot.starts.hour:02d}:{slot.starts.minute:02d}",
            f"{slot.ends.hour:02d}:{slot.ends.minute:02d}",
        )
        next_day = ' <span class="muted">(next day)</span>' if slot.overnight else ""
        remove = (
            f'<td><form method="post" action="{before}{slot.pk}{after}" class="inline-form">{token}'
            '<button type="submit" class="button-link">Remove</button></form></td>'
            if can_edit
            else ""
        )
        rows.append(
            f'<tr id="slot-{slot.pk}"><td>{shown(slot.get_weekday_display())}</td><td>{starts}</td>'
            f"<td>{ends}{next_day}</td><td>{shown(str(slot.prescriber))}</td>\n      {remove}</tr>"
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value is escaped above (shown), as the template's autoescaping did
