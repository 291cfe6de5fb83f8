"""Enrolment under concurrent writes: row locks on PostgreSQL (SELECT ... FOR UPDATE is a no-op on SQLite)."""

import datetime
import threading

import pytest
from django.db import connection, connections

from kapstone.program import services
from kapstone.program.models import Enrolment, Group
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def race_group(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT ... FOR UPDATE is a no-op on SQLite; this runs on PostgreSQL (CI runs the suite there)")
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])
    return Group.objects.create(
        name="Race group",
        template_id="group-kap-programme",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=datetime.date(2030, 1, 7),
    )


def at_once(calls: dict) -> dict[str, str]:
    """Runs each call in its own thread and connection, released together; name -> "done" or the refusal."""
    barrier = threading.Barrier(len(calls))
    outcomes = {}

    def run(name, call):
        try:
            barrier.wait()
            call()
            outcomes[name] = "done"
        except services.EnrolmentRefused as refusal:
            outcomes[name] = str(refusal)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_staff_adding_the_last_patient_at_once_seat_exactly_one(cast, race_group):
    for n in range(3):
        Enrolment.objects.create(
            group=race_group, patient=make_patient(f"Seated{n}", "Race"), status=Enrolment.Status.ENROLLED
        )
    fourth, fifth = make_patient("Fourth", "Race"), make_patient("Fifth", "Race")
    outcomes = at_once(
        {
            "fourth": lambda: services.enrol(actor=cast.bob, group=race_group, patient=fourth),
            "fifth": lambda: services.enrol(actor=cast.therapist, group=race_group, patient=fifth),
        }
    )
    assert len(outcomes) == 2 and list(outcomes.values()).count("done") == 1
    refused = next(outcome for outcome in outcomes.values() if outcome != "done")
    assert "is full (4 of 4)" in refused
    assert Enrolment.objects.filter(group=race_group, status=Enrolment.Status.ENROLLED).count() == 4


def test_a_waitlisting_at_the_same_moment_as_an_enrolment_never_takes_the_seat_away(cast, race_group):
    patient = make_patient("Both", "Race")
    outcomes = at_once(
        {
            "enrol": lambda: services.enrol(actor=cast.bob, group=race_group, patient=patient),
            "waitlist": lambda: services.waitlist(
                actor=cast.therapist, group=race_group, patient=patient, reason="next cohort"
            ),
        }
    )
    # Whichever runs first, the enrolment wins: a waitlisting after it is refused, one before it is promoted.
    assert outcomes["enrol"] == "done"
    assert Enrolment.objects.get(group=race_group, patient=patient).status == Enrolment.Status.ENROLLED


def test_one_patient_enrolled_in_two_overlapping_groups_at_once_joins_exactly_one(cast, race_group):
    other = Group.objects.create(
        name="Other race group",
        template_id="group-kap-programme",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=race_group.start_date + datetime.timedelta(days=7),
    )
    patient = make_patient("Twice", "Race")
    outcomes = at_once(
        {
            "first": lambda: services.enrol(actor=cast.bob, group=race_group, patient=patient),
            "second": lambda: services.enrol(actor=cast.therapist, group=other, patient=patient),
        }
    )
    assert list(outcomes.values()).count("done") == 1
    assert "which overlaps this course" in next(outcome for outcome in outcomes.values() if outcome != "done")
    assert Enrolment.objects.filter(patient=patient, status=Enrolment.Status.ENROLLED).count() == 1
