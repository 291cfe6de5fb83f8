import datetime
from html import escape

from django import template
from django.template.defaultfilters import truncatewords
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import get_language

from kapstone.formrender import shown
from kapstone.integration.models import JournalEntry
from kapstone.integration.selectors import TimelineItem, WindowSettings, WindowStatus
from kapstone.integration.window import Adherence
from kapstone.practice.templatetags.kapstone_tags import day_label, link_around_id

register = template.Library()


@register.simple_tag
def adherence_rows(rows: list[WindowStatus], window: WindowSettings) -> SafeString:
    """The adherence table's rows, as the template's loop wrote them (tests/integration_app/adherence_row_template.html,
    compared in test_adherence_rows): fifty rows of a dozen lookups each were most of the page's time (issue 19).

    Each value is escaped as Django's `escape` does (it is `html.escape` of the text), called directly: Django's
    wrapper, which looks for lazy text in every argument, cost as much as the escaping. What is not escaped is this
    module's own markup and numbers."""
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


def _day_and_time(at: datetime.datetime, language: str | None) -> str:
    """`at|date:"D j M Y, H:i"`, unescaped: `date` takes a time in the practice's time zone first
    (expects_localtime)."""
    local = timezone.localtime(at)
    return f"{day_label(local.date(), 'D j M Y', language)}, {local.hour:02d}:{local.minute:02d}"


@register.simple_tag
def timeline_items(items: list[TimelineItem], own: bool) -> SafeString:
    """The timeline's items, as the template's loop wrote them (tests/integration_app/timeline_item_template.html,
    compared in test_timeline_items): a patient's whole history, each item's time worded by Django's date format
    and a dozen lookups, was most of the page's time (issue 19). Escaped as in adherence_rows; a journal entry's
    text as `linebreaksbr` writes it (escaped, each line break a <br>)."""
    image_before, image_after = link_around_id("integration:journal_image")
    language = get_language()
    drawn = []
    for item in items:
        when = _day_and_time(item.at, language)
        detail = f' <span class="muted">{escape(item.detail)}</span>' if item.detail else ""
        entry_lines = ""
        entry = item.entry
        if entry is not None:
            parts = []
            if entry.text:
                text = escape(normalize_newlines(entry.text)).replace("\n", "<br>")
                parts.append(f'<p class="journal-text">{text}</p>')
            if entry.mood is not None:
                parts.append(f'<p class="muted">Mood, the patient\'s own rating: {shown(entry.mood)}/10</p>')
            if entry.activity:
                parts.append(
                    f'<p class="muted">{escape(str(entry.get_activity_display()))}, '
                    f"{shown(entry.activity_minutes)} min</p>"
                )
            if entry.image:
                parts.append(
                    f'<img class="journal-image" src="{image_before}{int(entry.pk)}{image_after}" alt="Creative work">'
                )
            if own:
                shared = "Shared with my care team" if entry.shared_with_care_team else "Private"
                parts.append(f'<p class="muted">{shared}</p>')
            entry_lines = "".join(f"\n      {part}" for part in parts)
        drawn.append(
            f'  <li class="timeline-item timeline-{escape(item.kind)}">\n'
            f'    <p class="timeline-when">{escape(when)}</p>\n'
            f'    <p class="timeline-title">{escape(item.title)}{detail}</p>{entry_lines}\n'
            "  </li>"
        )
    return mark_safe("\n".join(drawn))  # noqa: S308 - every value escaped above


@register.simple_tag
def journal_cards(entries: list[JournalEntry]) -> SafeString:
    """The patient's journal cards, as journal.html's loop wrote them, each with the newlines around it
    (tests/integration_app/journal_card_template.html, compared in test_journal_cards): fifty entries of a dozen
    lookups each were most of the page's drawing (issue 19). Escaped as in adherence_rows."""
    entry_before, entry_after = link_around_id("integration:journal_entry")
    language = get_language()
    drawn = []
    for entry in entries:
        if entry.shared_with_care_team:
            badge = '<span class="badge ok">Shared with my care team</span>'
        else:
            badge = '<span class="badge">Private</span>'
        text = f'<p class="journal-text">{escape(truncatewords(entry.text, 40))}</p>' if entry.text else ""
        mood = f'<p class="muted">My mood: {shown(entry.mood)}/10</p>' if entry.mood is not None else ""
        activity = (
            f'<p class="muted">{escape(str(entry.get_activity_display()))}, {shown(entry.activity_minutes)} min</p>'
            if entry.activity
            else ""
        )
        drawn.append(
            '\n  <li class="card journal-card">\n'
            '    <p class="journal-meta">\n'
            f'      <a href="{entry_before}{int(entry.pk)}{entry_after}">{escape(_day_and_time(entry.created_at, language))}'
            "</a>\n"
            f"      · {escape(str(entry.get_prompt_display()))}\n"
            f"      {badge}\n"
            "    </p>\n"
            f"    {text}\n"
            f"    {mood}\n"
            f"    {activity}\n"
            "  </li>\n"
        )
    return mark_safe("".join(drawn))  # noqa: S308 - every value escaped above
