from kapstone.alerts import demo, selectors
from kapstone.alerts.models import OnCallSlot, SafetyPlan
from kapstone.home.demo import DemoPractice


def test_the_demo_seeds_a_rota_without_gaps_on_weekdays_and_a_safety_plan(cast):
    practice = DemoPractice(staff={"dr.okafor": cast.bob, "dr.baptiste": cast.charlie}, patients=[cast.alice])
    demo.seed(practice=practice, rng=None, progress=lambda message: None)
    assert OnCallSlot.objects.count() == 10
    assert selectors.default_on_call() == cast.charlie and selectors.medical_directors() == [cast.bob]
    assert SafetyPlan.objects.get(patient=cast.alice).written_by == cast.bob
