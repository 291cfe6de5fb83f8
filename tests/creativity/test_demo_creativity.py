import random

from kapstone.creativity import demo
from kapstone.creativity.models import CreativityAdministration
from kapstone.practice.demo import DemoPractice
from tests.conftest import make_patient


def test_the_demo_gives_everyone_scored_baseline_and_end_of_course_tasks_and_the_portal_some_waiting(db):
    patients = [make_patient(f"Demo{i}", "Patient") for i in range(6)]
    demo.seed(practice=DemoPractice(patients=patients), rng=random.Random(1), progress=lambda message: None)
    done = CreativityAdministration.objects.filter(status="completed")
    for patient in patients:
        rows = set(done.filter(patient=patient).values_list("occasion", "task"))
        assert rows == {(o, t) for o in ("baseline", "end_of_course") for t in ("aut", "dat")}
    real = done.filter(patient__in=patients[: demo.REAL_SCORED], task="aut")
    assert all(a.responses.exists() and a.originality_top2 is not None for a in real)
    assert CreativityAdministration.objects.filter(status="due").count() == 2 * demo.REAL_SCORED
    forms = done.filter(patient=patients[5], task="aut").values_list("form_id", flat=True)
    assert len(set(forms)) == 2
