"""The staff home reads a fixed number of queries however many patients, alerts, due questionnaires, sessions
and count discrepancies the practice holds, and still records each read of patient data."""

import datetime
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.dosing import services as dosing
from tests.conftest import make_patient
from tests.dosing.helpers import receive_stock, signed
from tests.measures.factories import due_assessment, open_alert


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home:home")).status_code == 200
    return len(queries)


def _discrepancy(cast, lot_number: str) -> None:
    balance = receive_stock(
        actor=cast.nurse,
        witness=cast.bob,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=lot_number,
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("500"),
    ).lot.balances.get()
    dosing.ledger_post(
        actor=cast.nurse,
        lot=balance.lot,
        location=balance.location,
        kind="count",
        change_mg=Decimal("0"),
        counted_mg=Decimal("400"),
        witness=signed(cast.bob),
    )


def test_the_staff_home_uses_the_same_number_of_queries_however_full_the_practice(cast, client_for):
    client = client_for(cast.bob)
    open_alert(cast.alice)
    due_assessment(cast.alice, "gad7", due_in_days=-1)
    _discrepancy(cast, "L-1")
    _queries(client)
    before = _queries(client)
    cast.dosing_session()
    for index in range(6):
        patient = make_patient(f"Extra{index}", "Many", team=[cast.bob])
        open_alert(patient)
        due_assessment(patient, "gad7", due_in_days=-1)
        _discrepancy(cast, f"L-{index + 2}")
    last_read = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    assert _queries(client) == before
    page = client.get(reverse("home:home")).content.decode()
    assert page.count("is off by -100 mg") == 7
    # The alerts and due questionnaires shown are still recorded as read.
    recorded = set(AuditEvent.objects.filter(pk__gt=last_read).values_list("object_type", flat=True))
    assert {"critical_alert_list", "due_assessment_list", "patient_list"} <= recorded
    # The patients the "My patients" card names are the ones its read records, each linked to the read.
    listed = AuditEvent.objects.filter(pk__gt=last_read, object_type="patient_list").latest("pk")
    assert listed.listed_patient_ids == set(listed.listed_patients.values_list("patient_id", flat=True))
    assert listed.listed_patient_ids and all(
        reverse("patients:detail", args=[pk]) in page for pk in listed.listed_patient_ids
    )


def test_the_staff_home_writes_each_rows_names_times_and_room_from_the_columns_it_reads(cast, client_for):
    client = client_for(cast.bob)
    alert = open_alert(cast.alice)
    due = due_assessment(cast.alice, "gad7", due_in_days=-1)
    session = cast.dosing_session()
    _queries(client)
    page = client.get(reverse("home:home")).content.decode()
    assert f"{cast.alice.full_name}</a>: {alert.reason}" in page
    assert f"{alert.get_priority_display()}</span>" in page
    assert f"{cast.alice.full_name}</a>: GAD-7 {due.occasion_display} due" in page
    assert f"{session.group.name}: Dosing 1</a> · Willow room" in page


def test_the_staff_home_makes_one_read_for_each_card(cast, client_for):
    client = client_for(cast.bob)
    open_alert(cast.alice)
    due_assessment(cast.alice, "gad7", due_in_days=-1)
    cast.dosing_session()
    _queries(client)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home:home")).status_code == 200
    reads = [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith("SELECT")
        and "django_session" not in query["sql"]
        and "audit_" not in query["sql"]
    ]
    # The signed-in user and their second factor; my patients and their bounded count; today's sessions; open
    # alerts; ledger discrepancies; expiring registrations; inventories to take; due questionnaires; the rota, then
    # (no slot covering now) the default on-call prescriber and the medical directors.
    assert len(reads) == 13, reads


def test_the_admin_is_offered_all_patients_and_a_clinician_their_own(cast, client_for):
    """The practice admin is on no care team: "All my patients" under a card titled "Patients" offered them a list of
    their own they do not have."""
    link = reverse("patients:list")
    assert f'<a href="{link}">All patients →</a>' in client_for(cast.admin).get(reverse("home:home")).content.decode()
    assert f'<a href="{link}">All my patients →</a>' in client_for(cast.bob).get(reverse("home:home")).content.decode()
