import datetime
import threading

import pytest
from django.db import connection

from kapstone.program import services
from kapstone.program.models import Enrolment, Group
from tests.conftest import make_patient


@pytest.mark.django_db(transaction=True)
def test_two_staff_adding_the_last_patient_at_once_seat_exactly_one(cast, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT ... FOR UPDATE is a no-op on SQLite; this runs on PostgreSQL (CI runs the suite there)")
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])
    group = Group.objects.create(
        name="Race group",
        template_id="group-kap-programme",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=datetime.date(2030, 1, 7),
    )
    for n in range(3):
        Enrolment.objects.create(
            group=group, patient=make_patient(f"Seated{n}", "Race"), status=Enrolment.Status.ENROLLED
        )
    fourth, fifth = make_patient("Fourth", "Race"), make_patient("Fifth", "Race")
    barrier = threading.Barrier(2)
    outcomes = []

    def add(patient, actor):
        from django.db import connections

        try:
            barrier.wait()
            services.enrol(actor=actor, group=group, patient=patient)
            outcomes.append("enrolled")
        except services.EnrolmentRefused as refusal:
            outcomes.append(str(refusal))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=args) for args in ((fourth, cast.bob), (fifth, cast.therapist))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 2 and outcomes.count("enrolled") == 1
    refused = next(outcome for outcome in outcomes if outcome != "enrolled")
    assert "is full (4 of 4)" in refused
    assert Enrolment.objects.filter(group=group, status=Enrolment.Status.ENROLLED).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_waitlisting_at_the_same_moment_as_an_enrolment_never_takes_the_seat_away(cast, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SELECT ... FOR UPDATE is a no-op on SQLite; this runs on PostgreSQL (CI runs the suite there)")
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])
    group = Group.objects.create(
        name="Race group",
        template_id="group-kap-programme",
        template_version=1,
        min_size=3,
        max_size=8,
        start_date=datetime.date(2030, 1, 7),
    )
    patient = make_patient("Both", "Race")
    barrier = threading.Barrier(2)
    outcomes = {}

    def act(name, call):
        from django.db import connections

        try:
            barrier.wait()
            call()
            outcomes[name] = "done"
        except services.EnrolmentRefused:
            outcomes[name] = "refused"
        finally:
            connections.close_all()

    calls = {
        "enrol": lambda: services.enrol(actor=cast.bob, group=group, patient=patient),
        "waitlist": lambda: services.waitlist(actor=cast.therapist, group=group, patient=patient, reason="next cohort"),
    }
    threads = [threading.Thread(target=act, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    status = Enrolment.objects.get(group=group, patient=patient).status
    # Whichever runs first, the enrolment wins: a waitlisting after it is refused, one before it is promoted.
    assert outcomes["enrol"] == "done"
    assert status == Enrolment.Status.ENROLLED
