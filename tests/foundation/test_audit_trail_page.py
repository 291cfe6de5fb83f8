import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent
from kapstone.patients.selectors import AUDIT_EVENTS_PER_PAGE


def audit_page(client, patient, **query):
    response = client.get(reverse("patients:audit", args=[patient.pk]), query)
    assert response.status_code == 200
    return response


def listed_rows(response) -> list[int]:
    return [event.pk for event in response.context["page"]]


def write_reads_of(patient, n):
    for i in range(n):
        audit.record(action=audit.Action.READ, patient=patient, object_type="patient", object_id=patient.pk)
        audit.record(action=audit.Action.READ, object_type="alert_list", detail={"patient_ids": [patient.pk], "n": i})


def test_a_list_read_shows_on_the_trail_of_each_patient_it_listed_and_no_other(cast, client_for):
    client_for(cast.bob).get(reverse("patients:list"))
    list_read = AuditEvent.objects.get(object_type="patient_list")
    admin = client_for(cast.admin)
    assert list_read.pk in listed_rows(audit_page(admin, cast.alice))
    assert "patient_list" in audit_page(admin, cast.alice).content.decode()
    assert list_read.pk not in listed_rows(audit_page(admin, cast.dana))


def test_the_trail_pages_newest_first_a_hundred_entries_a_page(cast, client_for):
    write_reads_of(cast.alice, 80)
    admin = client_for(cast.admin)

    def alices_trail_newest_first():
        about_alice = Q(patient_id=cast.alice.pk) | Q(object_type="alert_list")
        return list(AuditEvent.objects.filter(about_alice).order_by("-id").values_list("pk", flat=True))

    # Each opening of the page is itself a read of alice's record, written as the page is sent: the page shows the
    # trail as it stood before, and the next opening shows this one at the top.
    first = audit_page(admin, cast.alice)
    opened_first = alices_trail_newest_first()[0]
    assert listed_rows(first) == alices_trail_newest_first()[1 : 1 + AUDIT_EVENTS_PER_PAGE]
    assert "Page 1 of 2" in first.content.decode() and "?page=2" in first.content.decode()
    second = audit_page(admin, cast.alice, page=2)
    assert listed_rows(second) == alices_trail_newest_first()[1 + AUDIT_EVENTS_PER_PAGE :]
    assert len(listed_rows(second)) == 161 - AUDIT_EVENTS_PER_PAGE
    assert listed_rows(audit_page(admin, cast.alice))[:2] == [alices_trail_newest_first()[1], opened_first]


@pytest.mark.parametrize("page", ["two", "-1", "999"])
def test_a_bad_page_number_shows_a_page_rather_than_an_error(cast, client_for, page):
    write_reads_of(cast.alice, 60)
    assert listed_rows(audit_page(client_for(cast.admin), cast.alice, page=page))


def test_the_trail_page_uses_the_same_number_of_queries_however_long_the_trail(cast, client_for):
    admin = client_for(cast.admin)
    write_reads_of(cast.alice, 2)
    audit_page(admin, cast.alice)
    with CaptureQueriesContext(connection) as short_trail:
        audit_page(admin, cast.alice)
    write_reads_of(cast.alice, 120)
    with CaptureQueriesContext(connection) as long_trail:
        audit_page(admin, cast.alice)
    assert len(long_trail) == len(short_trail)
