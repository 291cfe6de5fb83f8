from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from kapstone.formrender import shown
from kapstone.practice.templatetags.kapstone_tags import link_around_id, local_calendar_dates
from kapstone.program.models import GroupSession

register = template.Library()


@register.simple_tag
def visit_links(visits: Iterable[GroupSession], url_name: str, *leading: object, suffix: str = "") -> SafeString:
    """A list item linking each visit to `url_name` (its arguments: `leading`, then the session), as the account
    pages' loop wrote them (tests/billing/visit_link_template.html, compared in test_visit_links): the loop's
    lookups and a reverse for each visit were a third of the staff account page's drawing (issue 19). Each value is
    escaped as Django's `escape` does; `suffix` (" (PDF)") is escaped too."""
    before, after = link_around_id(url_name, *leading)
    day = local_calendar_dates("D j M Y")
    return mark_safe(  # noqa: S308 - every value escaped above
        "".join(
            f'<li><a href="{before}{int(session.pk)}{after}">{escape(str(session.get_kind_display()))} session '
            f"{shown(session.number)}, {escape(day(session.starts_at))}"
            f"{escape(suffix)}</a></li>"
            for session in visits
        )
    )
