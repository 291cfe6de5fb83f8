import datetime
from collections.abc import Callable
from html import escape

from django import template
from django.template.defaultfilters import truncatewords
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import get_language

from kapstone.formrender import shown
from kapstone.integration.models import JournalEntry
from kapstone.integration.selectors import GroupAdherence, TimelineItem, WindowSettings, WindowStatus
from kapstone.integration.window import Adherence
from kapstone.practice.templatetags.kapstone_tags import link_around_id, worded_day_and_time

register = template.Library()


# Each adherence's badge, escaped once.
ADHERENCE_BADGES = {
    adherence: f'<span class="badge adherence-{escape(adherence)}">{escape(label)}</span>'
    for adherence, label in Adherence.LABELS.items()
}


def adherence_row_writer(window: WindowSettings) -> Callable[[WindowStatus], str]:
    """What writes one row of the adherence table, as the template's loop wrote it
    (tests/integration_app/adherence_row_template.html, compared in test_adherence_rows): fifty rows of a dozen
    lookups each were most of the page's time (issue 19). The link, language and time zone are looked up once for
    all the page's rows: the link's reverse() was a twentieth of the page, once for each group.

    Each value is escaped as Django's `escape` does (it is `html.escape` of the text), called directly: Django's
    wrapper, which looks for lazy text in every argument, cost as much as the escaping. What is not escaped is this
    module's own markup and numbers."""
    before, after = link_around_id("integration:timeline")
    language = get_language()
    zone = timezone.get_current_timezone()
    late_booking = f' <span class="badge warn">after {escape(str(window["outer_hours"]))} h</span>'

    def when(value) -> str:
        # What the template's day_and_time filter writes ("Tue 3 Mar 2026, 09:05").
        return escape(_day_and_time(value, "D j M Y", language, zone))

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
            f"        <td>{ADHERENCE_BADGES[status.adherence]}</td>\n"
            "      </tr>"
        )

    return row


@register.simple_tag
def adherence_groups(groups: list[GroupAdherence], window: WindowSettings) -> SafeString:
    """Each group's section of the adherence page, its rows by adherence_row_writer, as the template's loop wrote
    them (tests/integration_app/adherence_group_template.html, compared in test_adherence_rows): a page of ten or so
    groups spent as long on the template's lookups of each heading and count as on the rows. Values escaped and
    numbers localized as `{{ }}` does (formrender.shown)."""
    row = adherence_row_writer(window)
    preferred_hours, outer_hours = shown(window["preferred_hours"]), shown(window["outer_hours"])
    sections = []
    for group in groups:
        counts = group.counts
        key = shown(group.group_id)
        rows = "\n".join(row(status) for status in group.rows)
        sections.append(
            f'\n<section class="card" aria-labelledby="group-{key}">\n'
            f'  <h2 id="group-{key}">{shown(group.name)}</h2>\n'
            f'  \n  <p><span class="badge ok">within {preferred_hours} h: {shown(counts[Adherence.WITHIN_48H])}</span> '
            f'<span class="badge warn">within {outer_hours} h: {shown(counts[Adherence.WITHIN_72H])}</span>\n'
            f'     <span class="badge danger">late: {shown(counts[Adherence.LATE])}</span> '
            f'<span class="badge">open: {shown(counts[Adherence.OPEN])}</span></p>\n'
            "  \n"
            '  <div class="table-scroll"><table>\n'
            "    <thead><tr><th>Patient</th><th>Dosed</th><th>Integration session</th><th>Work done</th>"
            "<th>Adherence</th></tr></thead>\n"
            "    <tbody>\n"
            f"{rows}\n"
            "    </tbody>\n"
            "  </table></div>\n"
            "</section>\n"
        )
    return mark_safe("".join(sections))  # noqa: S308 - every value escaped above


def _day_and_time(at: datetime.datetime, day_format: str, language: str | None, zone: datetime.tzinfo) -> str:
    """`at|date:"<day_format>, H:i"`, unescaped: `date` takes a time in the practice's time zone (`zone`, looked up
    once for all the times a caller writes) first (expects_localtime)."""
    return worded_day_and_time(timezone.localtime(at, zone), day_format, language)


@register.simple_tag
def timeline_items(items: list[TimelineItem], own: bool) -> SafeString:
    """The timeline's items, as the template's loop wrote them (tests/integration_app/timeline_item_template.html,
    compared in test_timeline_items): a patient's whole history, each item's time worded by Django's date format
    and a dozen lookups, was most of the page's time (issue 19). Escaped as in adherence_row_writer; a journal entry's
    text as `linebreaksbr` writes it (escaped, each line break a <br>)."""
    image_before, image_after = link_around_id("integration:journal_image")
    language = get_language()
    zone = timezone.get_current_timezone()
    drawn = []
    for item in items:
        when = _day_and_time(item.at, "D j M Y", language, zone)
        detail = f' <span class="muted">{escape(item.detail)}</span>' if item.detail else ""
        entry_lines = ""
        entry = item.entry
        if entry is not None:
            parts = []
            if entry.text:
                text = escape(normalize_newlines(entry.text)).replace("\n", "<br>")
                parts.append(f'<p class="journal-text">{text}</p>')
            if entry.mood is not None:
                whose = "my" if own else "the patient's"
                parts.append(f'<p class="muted">Mood, {whose} own rating: {shown(entry.mood)}/10</p>')
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
    lookups each were most of the page's drawing (issue 19). Escaped as in adherence_row_writer."""
    entry_before, entry_after = link_around_id("integration:journal_entry")
    language = get_language()
    zone = timezone.get_current_timezone()
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
        created = _day_and_time(entry.created_at, "D j M Y", language, zone)
        drawn.append(
            '\n  <li class="card journal-card">\n'
            '    <p class="journal-meta">\n'
            f'      <a href="{entry_before}{int(entry.pk)}{entry_after}">{escape(created)}</a>\n'
            f"      · {escape(str(entry.get_prompt_display()))}\n"
            f"      {badge}\n"
            "    </p>\n"
            f"    {text}\n"
            f"    {mood}\n"
            f"    {activity}\n"
            "  </li>\n"
        )
    return mark_safe("".join(drawn))  # noqa: S308 - every value escaped above
