from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from kapstone.integration.selectors import WindowSettings, WindowStatus
from kapstone.integration.window import Adherence
from kapstone.practice.templatetags.kapstone_tags import day_label, link_around_id

register = template.Library()


@register.simple_tag
def adherence_rows(rows: list[WindowStatus], window: WindowSettings) -> SafeString:
    """The adherence table's rows, as the template's loop wrote them (tests/integration_app/adherence_row_template.html,
    compared in test_adherence_rows): fifty rows of a dozen lookups each were most of the page's time (issue 19).

    Each value is escaped as Django's `escape` does (it is `html.escape` of the text), called directly: Django's
    wrapper, which looks for lazy text in every argument, cost as much as the escaping. What is not escaped is this
    module's own markup, numbers and the weekday wording of Django's date format."""
    before, after = link_around_id("integration:timeline")
    language = get_language()
    late_booking = f' <span class="badge warn">after {escape(str(window["outer_hours"]))} h</span>'

    def when(value) -> str:
        # The template's filter had the value in local time first (expects_localtime), as day_and_time words it.
        local = timezone.localtime(value)
        return escape(f"{day_label(local.date(), 'D j M', language)}, {local.hour:02d}:{local.minute:02d}")

    def row(status: WindowStatus) -> str:
        patient = status.window.patient
        if status.booked_at:
            booked = when(status.booked_at) + ("" if status.booking_in_window else late_booking)
        else:
            booked = '<span class="badge warn">not booked</span>'
        done = when(status.done_at) if status.done_at else "—"
        undelivered = ' <span class="badge danger">a prompt could not be delivered</span>' if status.undelivered else ""
        return (
            "      <tr>\n"
            f'        <td><a href="{before}{int(patient.pk)}{after}">{escape(patient.full_name)}</a></td>\n'
            f"        <td>{when(status.window.dosed_at)}</td>\n"
            f"        <td>{booked}</td>\n"
            f"        <td>{done}{undelivered}</td>\n"
            f'        <td><span class="badge adherence-{escape(status.adherence)}">'
            f"{escape(Adherence.LABELS[status.adherence])}</span></td>\n"
            "      </tr>"
        )

    return mark_safe("\n".join(row(status) for status in rows))  # noqa: S308 - every value escaped above
