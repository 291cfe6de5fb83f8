"""The measures page and the alert queue read only the columns they write (issue 19): what they show is what they
showed reading every column, and the number of reads does not grow with alerts of every state, screens or who
acknowledged and entered them."""

import datetime
import re

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import selectors, services
from tests.conftest import make_patient, make_user
from tests.measures.factories import PHQ9_MILD, due_assessment, open_alert


def _page(client, url) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    # Each response has its own CSRF token; nothing else may differ.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode()), len(queries)


def _screen(actor, patient, *, found: list[str], days_ago: int) -> None:
    services.urine_toxicology_record(
        actor=actor,
        patient=patient,
        collected_on=timezone.localdate() - datetime.timedelta(days=days_ago),
        result="positive" if found else "negative",
        substances_found=found,
        prescribed_found=[],
    )


def _every_kind_of_alert(cast) -> None:
    """Open and acknowledged alerts, on a questionnaire, on a urine screen and on the practice itself (no patient),
    acknowledged by staff with and without credentials."""
    nurse = make_user("nell", "nurse", last_name="Okoro", credentials="RN")
    for index in range(3):
        extra = make_patient(f"Extra{index}", "Many", team=[cast.bob, nurse])
        services.alert_acknowledge(
            actor=nurse if index % 2 else cast.bob, alert=open_alert(extra), note=f"Seen {index}"
        )
        open_alert(extra)
    _screen(cast.nurse, cast.alice, found=["amphetamines"], days_ago=3)
    services.alert_raise_for_event(
        kind="ledger_discrepancy",
        level="urgent",
        patient_id=None,
        summary="The count is two vials short.",
        object_type="ledger_count",
        object_id=7,
    )


def test_the_alert_queue_reads_the_same_however_many_alerts_of_every_state(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("measures:alerts") + "?show=all"
    open_alert(cast.alice)
    _page(client, url)
    _, before = _page(client, url)
    _every_kind_of_alert(cast)
    page, after = _page(client, url)
    assert after == before
    assert "Nell Okoro, RN" in page and "Seen 1" in page
    assert "(total 10)" in page and "The practice" in page and "Extra2 Many" in page


def test_the_alert_queue_reads_the_same_however_long_between_its_requests(cast, client_for, monkeypatch):
    """A minute passing between two requests (on a loaded machine, more than the session's 10-second expiry slack
    passed) leaves the number of reads as it was: tests/conftest.py holds the session's idle push."""
    client = client_for(cast.bob)
    url = reverse("measures:alerts") + "?show=all"
    open_alert(cast.alice)
    _page(client, url)
    _, before = _page(client, url)
    later = timezone.now() + datetime.timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    _, after = _page(client, url)
    assert after == before


def test_the_measures_page_reads_the_same_however_many_alerts_and_screens(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("measures:patient", args=[cast.alice.pk])
    for _ in range(2):
        services.assessment_save_answers(
            actor=None, assessment=due_assessment(cast.alice), answers=PHQ9_MILD, submit=True
        )
    _screen(cast.bob, cast.alice, found=[], days_ago=30)
    _page(client, url)
    _, before = _page(client, url)
    services.alert_acknowledge(actor=cast.therapist, alert=open_alert(cast.alice), note="Called her back.")
    open_alert(cast.alice)
    _screen(cast.nurse, cast.alice, found=["amphetamines", "ketamine"], days_ago=2)
    _screen(cast.therapist, cast.alice, found=[], days_ago=10)
    page, after = _page(client, url)
    assert after == before
    assert f"{cast.therapist}: Called her back." in page
    assert '<span class="badge warn">amphetamines</span>' in page and str(cast.nurse) in page


@pytest.mark.parametrize("show", ["", "?show=all"])
def test_the_queue_and_the_measures_page_show_what_they_showed_reading_every_column(
    cast, client_for, monkeypatch, show
):
    _every_kind_of_alert(cast)
    services.alert_acknowledge(actor=cast.nurse, alert=open_alert(cast.alice), note="Spoke with her.")
    _screen(cast.bob, cast.alice, found=[], days_ago=20)
    client = client_for(cast.bob)
    urls = [reverse("measures:alerts") + show, reverse("measures:patient", args=[cast.alice.pk])]
    now = [_page(client, url)[0] for url in urls]
    # Every column of every row, and the queue's query built afresh, as before issue 19.
    monkeypatch.setattr(QuerySet, "only", lambda queryset, *fields: queryset._chain())
    monkeypatch.setattr(selectors, "_queue_alerts_visible_to", selectors._visible_alerts)
    for read in ("_measures_page_assessments", "_measures_page_alerts", "_urine_screens"):
        build = getattr(selectors, read).build
        monkeypatch.setattr(selectors, read, lambda *, patient_id, build=build: list(build(patient_id=patient_id)))
    assert [_page(client, url)[0] for url in urls] == now


def test_the_measures_page_compiled_once_reads_the_patients_own_rows_afresh(cast, client_for):
    """The page's reads are compiled once a process (kapstone.compiled_once); each page reads its patient's rows."""
    client = client_for(cast.bob)
    url = reverse("measures:patient", args=[cast.alice.pk])
    assert "Nothing due." in client.get(url).text
    due_assessment(make_patient("Otto", "Other", team=[cast.bob]))
    assert "Nothing due." in client.get(url).text
    due_assessment(cast.alice)
    assert "Nothing due." not in client.get(url).text
    _screen(cast.nurse, cast.alice, found=["ketamine"], days_ago=2)
    open_alert(cast.alice)
    page = client.get(url).text
    assert '<span class="badge warn">ketamine</span>' in page and "Critical-item alerts" in page
