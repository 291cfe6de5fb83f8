"""The staff home's lists drawn in Python, as the template's loops drew them (tests/foundation/home_rows_template.html,
compared in test_home_rows): the loops' lookups and a reversed address per row were most of the page's drawing
(issue 19). Each value is escaped as the template escapes it (conditional_escape); dates are written as the `date`
filter wrote them in the practice's time zone (every stored time is aware), each day worded once (worded_day_and_time, local_calendar_dates) rather
than by Django's date format for each row, a third of the due questionnaires' drawing."""

from collections.abc import Iterable

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import get_language

from kapstone.measures.models import Assessment, CriticalAlert
from kapstone.patients.models import Patient
from kapstone.practice.templatetags.kapstone_tags import (
    link_around_id,
    link_around_two_ids,
    local_calendar_dates,
    worded_day_and_time,
)

register = template.Library()


@register.simple_tag
def open_alert_items(alerts: Iterable[CriticalAlert]) -> SafeString:
    """The open alerts' list items; an alert with no patient is about the practice."""
    before, after = link_around_id("alerts:detail")
    language = get_language()
    items = []
    for alert in alerts:
        badge = "danger" if alert.pages else "warn"
        about = conditional_escape(alert.patient.full_name) if alert.patient else "The practice"
        raised = localtime(alert.raised_at)
        items.append(
            f'<li><span class="badge {badge}">{conditional_escape(alert.get_priority_display())}</span> '
            f'<a href="{before}{int(alert.pk)}{after}">{about}</a>: {conditional_escape(alert.reason)} '
            f'<span class="muted">{conditional_escape(alert.kind_label)} · '
            f"{conditional_escape(worded_day_and_time(raised, 'j M', language, between=' '))}</span></li>"
        )
    return mark_safe("".join(items))  # noqa: S308 - every value escaped above


@register.simple_tag
def due_questionnaire_items(assessments: Iterable[Assessment], *, fill_in: bool) -> SafeString:
    """The questionnaires due; one the patient cannot answer in the portal is the care team's to complete, with a
    link to fill it in when `fill_in` (the user is a clinician)."""
    before, after = link_around_id("measures:patient")
    record_before, record_between, record_after = link_around_two_ids("measures:record")
    due_day = local_calendar_dates("j M")
    items = []
    for assessment in assessments:
        patient_id = int(assessment.patient_id)
        with_patient = ""
        if not assessment.patient_can_answer:
            with_patient = " · to complete with the patient"
            if fill_in:
                address = f"{record_before}{patient_id}{record_between}{int(assessment.pk)}{record_after}"
                with_patient += f': <a href="{address}">fill in</a>'
        items.append(
            f'<li><a href="{before}{patient_id}{after}">'
            f"{conditional_escape(assessment.patient.full_name)}</a>: "
            f"{conditional_escape(assessment.instrument_name)} {conditional_escape(assessment.occasion_display)} "
            f"due {conditional_escape(due_day(assessment.due_at))}{with_patient}</li>"
        )
    return mark_safe("".join(items))  # noqa: S308 - every value escaped above


@register.simple_tag
def my_patient_items(patients: Iterable[Patient]) -> SafeString:
    """The patients of the "My patients" card, each linked to their record, with their record number."""
    before, after = link_around_id("patients:detail")
    return mark_safe(  # noqa: S308 - every value escaped
        "".join(
            f'<li><a href="{before}{int(patient.pk)}{after}">{conditional_escape(patient.full_name)}</a> '
            f'<span class="muted">{conditional_escape(patient.record_number)}</span></li>'
            for patient in patients
        )
    )
