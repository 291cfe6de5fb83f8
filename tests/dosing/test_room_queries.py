"""The dosing room reads everything it shows for all the session's patients at once: its queries do not grow with
the patients in the session nor with the practice around it (other patients, their doses and sessions)."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.dosing import selectors, services
from kapstone.dosing.models import DoseRecord
from kapstone.program.models import Enrolment
from tests.conftest import make_patient, make_user
from tests.dosing.helpers import checked_in_with_vitals, signed
from tests.screening.helpers import ready_for_enrolment


def _queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_room_uses_the_same_number_of_queries_as_patients_join_the_session_and_the_practice_grows(
    cast, session, ready_record, earlier_dose, client_for
):
    url = reverse("dosing:room", args=[session.pk])
    client = client_for(cast.bob)
    before = _queries(client, url)
    for number in range(3):
        login = make_user(f"joined{number}", Role.PATIENT)
        patient = make_patient(f"Joined{number}", "Room", user=login, team=[cast.bob, cast.nurse])
        ready_for_enrolment(cast, patient)
        Enrolment.objects.create(group=session.group, patient=patient, status=Enrolment.Status.ENROLLED)
        checked_in_with_vitals(cast, session, patient, systolic=150, diastolic=95)
        earlier_dose(patient, timezone.now() - datetime.timedelta(days=3 + number))
    for number in range(3):
        outside = make_patient(f"Outside{number}", "Practice", team=[cast.bob])
        earlier_dose(outside, timezone.now() - datetime.timedelta(days=2, hours=number))
    page = client.get(url).content.decode()
    assert "Joined2" in page
    assert _queries(client, url) == before


def test_the_room_reads_its_staff_once_for_the_witnesses_and_the_records(
    cast, session, ready_record, stock, client_for
):
    """Who ordered, gave, witnessed and discharged a dose are read with the witnesses the form offers (issue 19):
    besides the signed-in user, one read of the staff."""
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    url = reverse("dosing:room", args=[session.pk])
    for user in (cast.bob, cast.nurse):
        client = client_for(user)
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url).content.decode()
        staff_reads = [query["sql"] for query in captured if 'FROM "accounts_user"' in query["sql"].split(" WHERE ")[0]]
        assert len(staff_reads) == 2, staff_reads
        assert "Given</strong>" in page and f"witness {cast.bob.last_name}" in page


def test_the_room_reads_the_doses_given_to_its_patients_once(cast, session, ready_record, earlier_dose, client_for):
    """Besides the session's own records, one read of the doses given to its patients serves both the week's count
    and the last dose the suicide-risk alerts are weighed against (issue 19)."""
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=3))
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=30))
    client = client_for(cast.bob)
    url = reverse("dosing:room", args=[session.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    dose_reads = [query["sql"] for query in captured if 'FROM "dosing_doserecord"' in query["sql"].split(" WHERE ")[0]]
    assert len(dose_reads) == 2, dose_reads


def test_the_rooms_records_come_with_their_vitals_adverse_events_and_risk_assessments(cast, session, ready_record):
    """The records' vitals, adverse events and risk assessments are read by compiled reads (issue 19) and answer as a
    prefetch of them would, without a query of their own."""
    services.vitals_record(
        actor=cast.nurse, record=ready_record, phase="pre", systolic=124, diastolic=80, heart_rate=72, spo2=97
    )
    services.adverse_event_record(
        actor=cast.nurse, record=ready_record, kind="nausea", severity="mild", description="", action_taken=""
    )
    _, room = selectors.session_room(user=cast.bob, session_id=session.pk)
    (entry,) = [entry for entry in room if entry.record is not None]
    expected = DoseRecord.objects.prefetch_related("vitals", "adverse_events", "risk_assessments").get(
        pk=ready_record.pk
    )
    with CaptureQueriesContext(connection) as captured:
        assert list(entry.record.vitals.all()) == list(expected.vitals.all())
        assert list(entry.record.adverse_events.all()) == list(expected.adverse_events.all())
        assert list(entry.record.risk_assessments.all()) == list(expected.risk_assessments.all())
        assert entry.record.risk_assessments.all()[0].recorded_by == cast.nurse
        assert entry.record.vitals.all()[0].record is entry.record
    assert len(captured) == 0
    assert [reading.systolic for reading in entry.vitals] == [122, 124]
    assert [event.kind for event in entry.record.adverse_events.all()] == ["nausea"]
