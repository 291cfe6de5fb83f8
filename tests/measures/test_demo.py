import random

from kapstone.measures import demo
from kapstone.measures.models import Assessment, CriticalAlert
from kapstone.practice.demo import DemoPractice
from tests.conftest import make_patient


def test_the_demo_gives_everyone_a_baseline_and_end_of_course_and_raises_one_alert(db):
    patients = [make_patient(f"Demo{i}", "Patient") for i in range(6)]
    demo.seed(practice=DemoPractice(patients=patients), rng=random.Random(1), progress=lambda message: None)
    for patient in patients:
        for instrument_id in ("phq9", "gad7"):
            occasions = set(
                Assessment.objects.filter(patient=patient, instrument_id=instrument_id, status="completed").values_list(
                    "occasion", flat=True
                )
            )
            assert {"baseline", "end_of_course"} <= occasions
    assert CriticalAlert.objects.filter(acknowledged_at__isnull=True).count() == 1
    assert Assessment.objects.filter(status="due").count() == 2 * demo.PORTAL_PATIENTS
    stored = Assessment.objects.filter(status="completed").exclude(total=None)
    assert all(a.total == sum(a.answers.values()) for a in stored)
