"""Treatment resistance: what counts as an adequate trial and an inadequate response, per indication."""

import pytest

from kapstone.screening.engine import screen


def depression_with_trials(intake, *trials):
    intake["prior_treatments"]["antidepressant_trials"] = list(trials)
    return screen(intake)


def test_two_adequate_trials_with_little_improvement_make_depression_treatment_resistant(intake, trial):
    result = depression_with_trials(intake, trial("sertraline"), trial("venlafaxine"))
    assert result.treatment_resistant is True
    assert "not_treatment_resistant" not in {r.rule for r in result.reasons}


def test_a_trial_of_three_weeks_does_not_count(intake, trial):
    result = depression_with_trials(intake, trial("sertraline"), trial("venlafaxine", weeks=3))
    assert result.treatment_resistant is False
    assert result.decision == "not_eligible"
    assert "1 adequate antidepressant trial with inadequate response; the policy needs 2" in (
        result.treatment_resistance_summary
    )


def test_a_trial_of_exactly_four_weeks_counts(intake, trial):
    assert depression_with_trials(intake, trial("sertraline"), trial("venlafaxine", weeks=4)).treatment_resistant


def test_fifty_percent_improvement_is_a_response_and_does_not_count(intake, trial):
    result = depression_with_trials(intake, trial("sertraline"), trial("venlafaxine", improvement=50))
    assert result.treatment_resistant is False


def test_just_under_fifty_percent_improvement_is_a_non_response(intake, trial):
    assert depression_with_trials(
        intake, trial("sertraline"), trial("venlafaxine", improvement=49.9)
    ).treatment_resistant


def test_a_trial_at_an_inadequate_dose_does_not_count(intake, trial):
    result = depression_with_trials(intake, trial("sertraline"), trial("venlafaxine", adequate_dose=False))
    assert result.treatment_resistant is False


@pytest.mark.parametrize(
    ("category", "counts"),
    [("no_response", True), ("partial_response", True), ("response", False), ("remission", False)],
)
def test_a_response_category_counts_as_failure_only_when_inadequate(intake, trial, category, counts):
    categorical = {"drug": "venlafaxine", "weeks": 8, "adequate_dose": True, "response": category}
    assert depression_with_trials(intake, trial("sertraline"), categorical).treatment_resistant is counts


@pytest.mark.parametrize(
    ("threshold", "category", "counts"),
    [(50, "partial_response", True), (25, "partial_response", False), (25, "no_response", True)],
)
def test_a_stricter_threshold_counts_a_partial_response_only_with_its_improvement_given(
    intake, trial, threshold, category, counts
):
    """ "Partial response" is under 50%: a practice counting under 25% as inadequate cannot tell from it alone that a
    trial failed, and says so."""
    intake["prior_treatments"]["antidepressant_trials"] = [
        trial("sertraline", improvement=10),
        {"drug": "venlafaxine", "weeks": 8, "adequate_dose": True, "response": category},
    ]
    result = screen(intake, {"non_response_threshold_percent": threshold})
    assert result.treatment_resistant is counts
    said = "1 treatment said to be a partial response (under 50%) not counted: the practice counts under 25%"
    assert (said in result.treatment_resistance_summary) is (threshold == 25 and category == "partial_response")
    del intake["prior_treatments"]["antidepressant_trials"][1]["response"]
    intake["prior_treatments"]["antidepressant_trials"][1]["improvement_percent"] = 20
    assert screen(intake, {"non_response_threshold_percent": threshold}).treatment_resistant is True


def test_psychotherapy_does_not_count_towards_resistant_depression(intake, trial):
    intake["prior_treatments"]["psychotherapy"] = [
        {"modality": "CBT", "evidence_based": True, "response": "no_response"},
    ]
    assert depression_with_trials(intake, trial("sertraline")).treatment_resistant is False


def ptsd_intake(intake, psychotherapy, trials=()):
    intake["indications"] = ["ptsd"]
    intake["prior_treatments"] = {"antidepressant_trials": list(trials), "psychotherapy": psychotherapy}
    return intake


def course(modality, evidence_based=True, **response):
    return {"modality": modality, "evidence_based": evidence_based, **(response or {"response": "no_response"})}


def test_two_failed_evidence_based_psychotherapies_make_ptsd_treatment_resistant(intake):
    result = screen(ptsd_intake(intake, [course("prolonged exposure"), course("CPT", improvement_percent=20)]))
    assert result.treatment_resistant is True
    assert result.decision == "eligible"
    assert result.maudsley_score is None


def test_a_medication_trial_and_a_psychotherapy_together_meet_the_other_indication_policy(intake, trial):
    assert screen(ptsd_intake(intake, [course("EMDR")], [trial("sertraline")])).treatment_resistant


def test_a_psychotherapy_that_is_not_evidence_based_does_not_count(intake):
    result = screen(ptsd_intake(intake, [course("EMDR"), course("counselling", evidence_based=False)]))
    assert result.treatment_resistant is False
    assert result.decision == "not_eligible"


def test_a_psychotherapy_that_worked_does_not_count(intake):
    result = screen(ptsd_intake(intake, [course("EMDR"), course("CPT", response="response")]))
    assert result.treatment_resistant is False


def test_resistance_for_any_listed_indication_is_enough(intake, trial):
    ptsd_intake(intake, [course("EMDR"), course("CPT")], [trial("sertraline")])
    intake["indications"] = ["depression", "ptsd"]
    result = screen(intake)
    assert result.treatment_resistant is True
    assert result.treatment_resistance_summary.startswith("depression: 1 adequate antidepressant trial")
