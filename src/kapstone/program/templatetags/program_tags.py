from collections.abc import Iterable
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from kapstone.formrender import shown
from kapstone.practice.templatetags.kapstone_tags import day_label, link_around_id
from kapstone.program.selectors import GroupListRow

register = template.Library()


@register.simple_tag
def group_list_rows(rows: Iterable[GroupListRow]) -> SafeString:
    """The group list's rows, as the template's loop wrote them (tests/program/group_list_row_template.html, compared
    in test_group_list_rows): the loop's lookups were half of the page's time (issue 19). Each value is escaped as
    Django's `escape` does (`html.escape` of its text); what is not escaped is this function's markup and numbers.
    The groups carry group_list's enrolled, waitlist and completed counts."""
    before, after = link_around_id("program:group")
    language = get_language()
    drawn = []
    for row in rows:
        group: Any = row.group  # with group_list's annotations (enrolled_count, waitlist_count, completed_count)
        starts = day_label(group.start_date, "j M Y", language) if group.start_date else ""
        if group.completed_count:
            taken = group.enrolled_count + group.completed_count
            seats = f"{shown(taken)} of {shown(group.max_size)} ({shown(group.completed_count)} completed)"
        else:
            seats = f"{shown(group.enrolled_count)} of {shown(group.max_size)}"
        drawn.append(
            f'<tr><td><a href="{before}{int(group.pk)}{after}">{escape(group.name)}</a></td>\n'
            f"<td>{escape(starts)}</td><td>{escape(str(group.get_status_display()))}</td>\n"
            f"<td>{seats}</td><td>{shown(group.waitlist_count)}</td>\n"
            f"<td>{escape(', '.join(row.facilitators))}</td></tr>"
        )
    return mark_safe("\n".join(drawn))  # noqa: S308 - every value escaped above
