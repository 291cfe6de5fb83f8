"""Every page and download × every role the permission matrix lets through: a patient whose identifying data the
response shows is linked to an audit event the request wrote (the event's patient, or one of the patients a list
read names), and a patient's own portal page is recorded as read by them.

Built on the matrix (tests/<app>/routes.py), so a new page is checked as soon as it is declared there. Identifying
data is the cast's full names (either order), family names, record numbers, email addresses and dates of birth as
the pages print them; each patient is given a date of birth of their own first, so a printed date names one patient.
"""

import datetime
import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from kapstone.audit.models import AuditEvent, AuditEventPatient
from kapstone.patients.models import Patient
from tests.conftest import signed_in_client
from tests.matrix import PATIENTS
from tests.test_permission_matrix import ROUTES

_TODAY = datetime.date.today()
# A period the billing documents accept (at most 400 days) around today, where the cast's charges fall.
PERIOD = f"?start={_TODAY - datetime.timedelta(days=200)}&end={_TODAY + datetime.timedelta(days=199)}"

# Downloads chosen by the URL or its query, and pages that show nothing of a record without a query.
VARIANTS: dict[str, list[tuple[dict, str]]] = {
    "dosing:ledger_export": [({"fmt": "csv"}, ""), ({"fmt": "pdf"}, "")],
    "integration:journal_export": [({}, ""), ({}, "?format=json")],
    "program:my_calendar": [({}, ""), ({}, "?download=1")],
    "billing:export": [({}, PERIOD)],
    "billing:period_superbill_pdf": [({}, PERIOD)],
    "billing:my_period_superbill_pdf": [({}, PERIOD)],
}

# Portal pages that show nothing of the patient's record, so record no read: a blank form, the calendar links,
# the password form, how the patient chose to be contacted; the safety plan page records its read when a plan
# exists (the cast has none).
PORTAL_PAGES_READING_NO_RECORD = {
    "accounts:password_change",
    "alerts:my_safety_plan",
    "integration:journal_new",
    "integration:preferences",
    "program:calendar",
    "screening:portal_pre_intake",
}

CASES = [
    (name, role, variant)
    for name, route in sorted(ROUTES.items())
    if route.method == "get" and (not route.public or name == "program:feed")
    for role in (sorted(route.allow) if not route.public else ["anonymous"])
    for variant in range(len(VARIANTS.get(name, [({}, "")])))
]


class HTMLKeptAsPDF:
    """Stands in for WeasyPrint: the 'PDF' is the HTML it was given, so the test reads what the document shows."""

    def __init__(self, string: str = "", **kwargs):
        self.string = string

    def write_pdf(self, *args, **kwargs) -> bytes:
        return self.string.encode()


# The group members the cast adds are named "Member0 Group" and so on: "Group" alone is the pages' own word.
FAMILY_NAMES_THAT_ARE_PAGE_WORDS = {"Group"}


def identifying_text(patient: Patient) -> list[str]:
    born = patient.date_of_birth
    family_alone = "" if patient.family_name in FAMILY_NAMES_THAT_ARE_PAGE_WORDS else patient.family_name
    return [
        patient.full_name,
        f"{patient.family_name}, {patient.given_name}",
        family_alone,
        patient.record_number,
        patient.email,
        f"{born:%Y-%m-%d}",
        f"{born:%m/%d/%Y}",
        f"{born:%B} {born.day}, {born.year}",
        f"{born.day} {born:%b} {born.year}",  # as staff pages say it
    ]


def shown_text(body: bytes) -> str:
    """The response as a reader sees it, less what names no patient's record: a search box's example record
    number, and the header's name of whoever is signed in (their account, not a record read)."""
    text = body.decode("utf-8", "replace")
    text = re.sub(r'placeholder="[^"]*"', "", text)
    text = re.sub(r'<span class="who">[^<]*</span>', "", text)
    return html.unescape(text)


@pytest.mark.parametrize(("name", "role", "variant"), CASES)
def test_each_patient_a_response_shows_is_linked_to_its_audit_events(name, role, variant, cast, monkeypatch):
    import weasyprint

    monkeypatch.setattr(weasyprint, "HTML", HTMLKeptAsPDF)
    route = ROUTES[name]
    extra_kwargs, query = VARIANTS.get(name, [({}, "")])[variant]
    url = reverse(name, kwargs={**route.kwargs(cast), **extra_kwargs}) + query
    for patient in Patient.objects.all():
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=397 * patient.pk)
        Patient.objects.filter(pk=patient.pk).update(date_of_birth=born)
    patients = list(Patient.objects.all())
    last_before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    client = Client() if role == "anonymous" else signed_in_client(cast.user(role))
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content

    events = list(AuditEvent.objects.filter(pk__gt=last_before))
    linked = {event.patient_id for event in events} | set(
        AuditEventPatient.objects.filter(event__in=events).values_list("patient_id", flat=True)
    )
    text = shown_text(body)
    shown = {patient.pk for patient in patients if any(part in text for part in identifying_text(patient) if part)}
    unaudited = sorted(str(patient) for patient in patients if patient.pk in shown - linked)
    assert not unaudited, f"{role} on {url} is shown {unaudited} without an audit event naming them"

    if role in PATIENTS and response.status_code == 200 and name not in PORTAL_PAGES_READING_NO_RECORD:
        own = cast.user(role).patient
        assert own.pk in linked, f"{role}'s own page {url} records no read of their record"
