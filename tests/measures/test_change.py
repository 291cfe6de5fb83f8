"""Response, remission and reliable change between a baseline and a follow-up total."""

import math

import pytest

from kapstone.measures.change import (
    classify_change,
    reliable_change_index,
    standard_error_of_difference,
)
from kapstone.measures.scoring import InvalidAnswers, InvalidSetting, ScoringError


def test_the_rci_matches_a_hand_computation():
    # S_diff = sqrt(2) x 5 x sqrt(1 - 0.89) = 7.0711 x 0.33166 = 2.34521; RCI = (12 - 20) / 2.34521 = -3.4112
    assert standard_error_of_difference(5, 0.89) == pytest.approx(2.34521, abs=1e-5)
    assert reliable_change_index(20, 12, sd=5, reliability=0.89) == pytest.approx(-3.4112, abs=1e-4)


@pytest.mark.parametrize(("follow_up", "rci", "improved"), [(12, -1.875, False), (11, -2.5, True)])
def test_reliable_improvement_needs_an_rci_beyond_1_96(follow_up, rci, improved):
    # GAD-7 alpha 0.92 with an SD of 4: S_diff = sqrt(2) x 4 x sqrt(0.08) = 4 x sqrt(0.16) = 1.6 exactly.
    result = classify_change("gad7", 15, follow_up, sd=4)
    assert result["reliable_change_method"] == "jacobson_truax"
    assert result["rci"] == pytest.approx(rci)
    assert result["reliable_improvement"] is improved
    assert result["reliable_deterioration"] is False


def test_a_reliable_rise_is_reliable_deterioration():
    result = classify_change("gad7", 5, 9, sd=4)
    assert result["rci"] == 2.5
    assert (result["reliable_improvement"], result["reliable_deterioration"]) == (False, True)


@pytest.mark.parametrize(
    ("baseline", "follow_up", "improved", "deteriorated"),
    [(20, 14, True, False), (20, 15, False, False), (10, 16, False, True), (10, 15, False, False)],
)
def test_phq9_uses_the_iapt_six_point_threshold_without_a_confirmed_sd(baseline, follow_up, improved, deteriorated):
    result = classify_change("phq9", baseline, follow_up)
    assert result["reliable_change_method"] == "fixed_threshold"
    assert result["reliable_change_threshold"] == 6
    assert result["rci"] is None
    assert (result["reliable_improvement"], result["reliable_deterioration"]) == (improved, deteriorated)


@pytest.mark.parametrize(("follow_up", "improved"), [(11, True), (12, False)])
def test_gad7_uses_the_iapt_four_point_threshold_without_a_confirmed_sd(follow_up, improved):
    assert classify_change("gad7", 15, follow_up)["reliable_improvement"] is improved


def test_phq9_uses_its_recorded_alpha_when_the_practice_supplies_an_sd():
    result = classify_change("phq9", 20, 12, sd=5)
    assert result["reliable_change_method"] == "jacobson_truax"
    assert result["rci"] == round((12 - 20) / (math.sqrt(2) * 5 * math.sqrt(1 - 0.89)), 3)


@pytest.mark.parametrize(("follow_up", "response"), [(10, True), (11, False), (0, True)])
def test_response_is_a_reduction_of_at_least_half(follow_up, response):
    assert classify_change("phq9", 20, follow_up)["response"] is response


def test_there_is_no_response_from_a_baseline_of_zero():
    result = classify_change("phq9", 0, 0)
    assert (result["response"], result["percent_change"]) == (False, None)


@pytest.mark.parametrize(("instrument_id", "follow_up", "remission"), [
    ("phq9", 4, True), ("phq9", 5, False), ("qids-sr16", 5, True), ("qids-sr16", 6, False),
])  # fmt: skip
def test_remission_follows_clinical_md(instrument_id, follow_up, remission):
    assert classify_change(instrument_id, 20, follow_up)["remission"] is remission


def test_an_instrument_without_a_remission_rule_reports_none():
    assert classify_change("gad7", 15, 3)["remission"] is None


@pytest.mark.parametrize(("instrument_id", "case", "not_case"), [("phq9", 10, 9), ("gad7", 8, 7)])
def test_caseness_uses_the_iapt_thresholds(instrument_id, case, not_case):
    result = classify_change(instrument_id, case, not_case)
    assert (result["baseline_caseness"], result["follow_up_caseness"]) == (True, False)


def test_qids_has_no_reliable_change_rule_until_an_sd_and_reliability_are_given():
    assert classify_change("qids-sr16", 20, 10)["reliable_improvement"] is None
    assert classify_change("qids-sr16", 20, 10, sd=4, reliability=0.86)["reliable_improvement"] is True


def test_pcl5_reliable_change_points_are_a_practice_setting():
    assert classify_change("pcl5", 40, 35)["reliable_improvement"] is False
    assert classify_change("pcl5", 40, 35, settings={"reliable_change_points": 5})["reliable_improvement"] is True
    with pytest.raises(InvalidSetting):
        classify_change("pcl5", 40, 35, settings={"reliable_change_points": 4})


def test_change_is_classified_for_staff_entered_totals_too():
    result = classify_change("bdi-ii", 30, 14)
    assert (result["change"], result["percent_change"], result["response"]) == (-16, -53.3, True)


@pytest.mark.parametrize(("baseline", "follow_up"), [(28, 10), (10, -1), ("10", 5), (True, 5), (float("nan"), 5)])
def test_it_rejects_totals_outside_the_instrument_range_or_not_numbers(baseline, follow_up):
    with pytest.raises(InvalidAnswers):
        classify_change("phq9", baseline, follow_up)


def test_it_refuses_to_classify_change_on_a_measure_that_is_not_of_symptoms():
    with pytest.raises(ScoringError, match="not a symptom measure"):
        classify_change("meq30", 40, 80)


@pytest.mark.parametrize(("sd", "reliability"), [(0, 0.9), (5, 1.0), (5, -0.1)])
def test_it_refuses_an_sd_or_reliability_that_gives_no_standard_error(sd, reliability):
    with pytest.raises(ScoringError):
        classify_change("phq9", 20, 10, sd=sd, reliability=reliability)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_setting_that_is_not_a_finite_number_is_refused(value):
    with pytest.raises(InvalidSetting, match="finite number"):
        classify_change("pcl5", 40, 35, settings={"reliable_change_points": value})
