"""Reliable change from the practice's own baseline sample (Jacobson & Truax 1991), and the practice's
instrument settings used wherever stored results are scored or compared."""

import datetime
import math

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import selectors, services
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import InvalidSetting, get_instrument
from kapstone.practice.settings_store import practice_value_set
from tests.conftest import make_patient
from tests.measures.factories import due_assessment

PHQ9 = get_instrument("phq9")
PHQ9_ALPHA = 0.89  # Kroenke 2001, as phq9.yaml records it


def phq9_total(total: int) -> dict[int, int]:
    """PHQ-9 answers adding up to `total` (at most 24) with item 9 unendorsed, so no alert fires."""
    answers = {n: 0 for n in range(1, 10)}
    for number in range(1, 9):
        answers[number] = min(3, total)
        total -= answers[number]
    return answers


def completed(patient, instrument_id, answers, *, days_ago: int) -> Assessment:
    assessment = due_assessment(patient, instrument_id)
    services.assessment_save_answers(actor=None, assessment=assessment, answers=answers, submit=True)
    when = timezone.now() - datetime.timedelta(days=days_ago)
    Assessment.objects.filter(pk=assessment.pk).update(completed_at=when)
    assessment.refresh_from_db()
    return assessment


def set_setting(cast, key, value):
    practice_value_set(actor=cast.admin, key=key, value=value, reason="synthetic test practice")


@pytest.fixture
def four_baselines(cast):
    """Baselines 16 (Alice), 10, 12 and 14; Alice then scores 11, a 5-point fall."""
    completed(cast.alice, "phq9", phq9_total(16), days_ago=60)
    completed(cast.alice, "phq9", phq9_total(11), days_ago=1)
    for index, total in enumerate([10, 12, 14]):
        other = make_patient(f"Base{index}", "Line", team=[cast.bob])
        completed(other, "phq9", phq9_total(total), days_ago=50)
        completed(other, "phq9", phq9_total(2), days_ago=5)  # a later total is not a baseline
    return cast


def test_the_baseline_sample_is_each_patients_first_total(four_baselines):
    sample = selectors.practice_baseline_sample(PHQ9, {"rci_minimum_baseline_n": 30})
    # Baselines 10, 12, 14, 16: mean 13, squared deviations 9 + 1 + 1 + 9 = 20, SD = sqrt(20 / 3) = 2.58199.
    assert sample.n == 4 and sample.sd == pytest.approx(math.sqrt(20 / 3))
    assert sample.minimum_n == 30 and not sample.usable


def test_with_enough_baselines_the_jacobson_truax_index_uses_the_practices_sd(four_baselines, client_for):
    cast = four_baselines
    set_setting(cast, "measures.phq9.rci_minimum_baseline_n", 4)
    (trajectory,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    change = trajectory.latest_change
    # S_diff = sqrt(2) x 2.58199 x sqrt(1 - 0.89) = 1.21106; RCI = (11 - 16) / 1.21106 = -4.129. The IAPT
    # threshold (6 points) would call this 5-point fall no reliable change; the index calls it reliable.
    assert change["reliable_change_method"] == "jacobson_truax"
    assert change["rci"] == pytest.approx(-4.129, abs=1e-3)
    assert change["sd"] == pytest.approx(2.58199, abs=1e-5) and change["reliability"] == PHQ9_ALPHA
    assert change["reliable_improvement"] is True
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "RCI -4.129" in page
    assert (
        "SD 2.58 from the practice&#x27;s baseline sample (N = 4 patients" in page
        and "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9" in page
    )


def test_below_the_minimum_n_the_fixed_threshold_is_used_and_the_page_says_why(four_baselines, client_for):
    cast = four_baselines
    (trajectory,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    change = trajectory.latest_change
    assert change["reliable_change_method"] == "fixed_threshold" and change["rci"] is None
    assert change["reliable_improvement"] is False  # 5 points, under the IAPT 6
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "Fixed threshold: a change of at least 6 points" in page
    assert "once the practice&#x27;s baseline sample reaches N = 30 with some spread; it has N = 4." in page


def test_baselines_without_spread_fall_back_to_the_fixed_threshold(cast):
    set_setting(cast, "measures.phq9.rci_minimum_baseline_n", 2)
    completed(cast.alice, "phq9", phq9_total(12), days_ago=30)
    completed(cast.alice, "phq9", phq9_total(5), days_ago=1)
    completed(cast.dana, "phq9", phq9_total(12), days_ago=30)
    (trajectory,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    assert trajectory.baseline_sample.sd == 0 and not trajectory.baseline_sample.usable
    assert trajectory.latest_change["reliable_change_method"] == "fixed_threshold"
    assert "it has all the same total" in trajectory.reliable_change_note


def test_an_instrument_without_a_reliability_takes_no_baseline_sample(cast):
    completed(cast.alice, "pcl5", {n: 2 for n in range(1, 21)}, days_ago=30)
    completed(cast.alice, "pcl5", {n: 1 for n in range(1, 21)}, days_ago=1)
    (trajectory,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    assert trajectory.baseline_sample is None
    assert trajectory.latest_change["reliable_change_method"] == "fixed_threshold"


# --- the practice's instrument settings ---------------------------------------------------------------------

PCL5_TOTAL_32 = {n: 2 for n in range(1, 17)} | {17: 0, 18: 0, 19: 0, 20: 0}


def test_a_stored_result_is_scored_with_the_practices_cutoff(cast):
    default = completed(cast.alice, "pcl5", PCL5_TOTAL_32, days_ago=2)
    assert default.total == 32 and "provisional_ptsd" not in default.result["flags"]  # default cut-point 33
    set_setting(cast, "measures.pcl5.provisional_ptsd_cutoff", 31)
    practice = completed(cast.alice, "pcl5", PCL5_TOTAL_32, days_ago=1)
    assert "provisional_ptsd" in practice.result["flags"]
    assert practice.result["settings"]["provisional_ptsd_cutoff"] == 31


def test_the_clinician_view_judges_change_with_the_practices_reliable_change_points(cast):
    completed(cast.alice, "pcl5", {n: 2 for n in range(1, 21)}, days_ago=30)  # 40
    completed(cast.alice, "pcl5", {n: 2 for n in range(1, 16)} | {n: 1 for n in range(16, 21)}, days_ago=1)  # 35
    (before,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    assert before.latest_change["reliable_improvement"] is False  # default 10 points
    set_setting(cast, "measures.pcl5.reliable_change_points", 5)
    (after,) = selectors.trajectories(selectors.completed_assessments(cast.alice))
    assert after.latest_change["reliable_improvement"] is True


def test_a_practice_setting_the_scorer_refuses_saves_nothing_and_says_why(cast, client_for):
    set_setting(cast, "measures.pcl5.provisional_ptsd_cutoff", 40)
    assessment = due_assessment(cast.alice, "pcl5")
    with pytest.raises(InvalidSetting, match="between 31 and 33"):
        services.assessment_save_answers(actor=None, assessment=assessment, answers=PCL5_TOTAL_32, submit=True)
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.DUE and assessment.answers == {}
    response = client_for(cast.alice_user).post(
        reverse("portal:questionnaire", args=[assessment.pk]),
        {f"item_{n}": str(v) for n, v in PCL5_TOTAL_32.items()} | {"action": "submit"},
    )
    assert response.status_code == 400 and "between 31 and 33" in response.content.decode()


def test_the_clinician_view_names_a_practice_setting_that_stops_change_being_classified(cast, client_for):
    completed(cast.alice, "pcl5", {n: 2 for n in range(1, 21)}, days_ago=30)
    completed(cast.alice, "pcl5", {n: 1 for n in range(1, 21)}, days_ago=1)
    set_setting(cast, "measures.pcl5.reliable_change_points", 4)
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk]))
    assert page.status_code == 200
    assert "Change is not classified until the practice setting is fixed" in page.content.decode()


def test_the_clinician_view_charts_an_instrument_without_severity_bands(cast, client_for):
    completed(cast.alice, "pcl5", {n: 2 for n in range(1, 21)}, days_ago=30)
    completed(cast.alice, "pcl5", {n: 1 for n in range(1, 21)}, days_ago=1)
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk]))
    assert page.status_code == 200 and '<title id="chart-pcl5-title">PCL-5 over time</title>' in page.content.decode()


def test_the_change_rules_read_together_are_each_instruments_own_change_rule(four_baselines):
    cast = four_baselines
    set_setting(cast, "measures.phq9.rci_minimum_baseline_n", 4)
    set_setting(cast, "measures.pcl5.reliable_change_points", 4)  # refused: the page names it instead
    instruments = [get_instrument(i) for i in ("phq9", "gad7", "pcl5")]
    rules = selectors.change_rules(instruments)
    for instrument in instruments[:2]:
        alone = selectors.change_rule(instrument)
        assert rules[instrument.id] == alone
        assert rules[instrument.id].classify(16, 11) == alone.classify(16, 11)
    with pytest.raises(InvalidSetting) as refused:
        selectors.change_rule(instruments[2])
    assert isinstance(rules["pcl5"], InvalidSetting) and str(rules["pcl5"]) == str(refused.value)
    assert selectors.change_rules([]) == {}
