"""Practice settings: overrides change outcomes, and bad overrides are refused with a clear message."""

import shutil

import pytest

from kapstone.screening.engine import RULES_DIR, RuleSetError, SettingsOverrideError, load_rule_set, screen


def rules_fired(intake, overrides=None) -> set[str]:
    return {reason.rule for reason in screen(intake, overrides).reasons}


def test_every_setting_has_a_value_and_a_source_and_the_result_reports_the_values_used(intake):
    rule_set = load_rule_set()
    assert all(setting.source for setting in rule_set.settings.values())
    assert screen(intake, {"benzo_dze_threshold_mg": 5}).settings["benzo_dze_threshold_mg"] == 5


def test_unverified_settings_explain_themselves_in_a_note():
    unverified = [s for s in load_rule_set().settings.values() if not s.verified]
    assert unverified, "the BP exclusion thresholds are a clinic convention and marked unverified"
    assert all(setting.note for setting in unverified)


def test_a_lower_exclusion_threshold_excludes_a_blood_pressure_the_default_only_reviews(intake):
    intake["vitals"] = {"systolic": 172, "diastolic": 85}
    assert screen(intake).decision == "needs_review"
    assert screen(intake, {"bp_exclude_systolic_mmhg": 170}).decision == "not_eligible"


def test_a_lower_benzodiazepine_threshold_asks_for_review_of_a_smaller_load(intake):
    intake["medications"] = [{"name": "diazepam", "dose_mg_per_day": 6}]
    assert "benzodiazepine_load" not in rules_fired(intake)
    assert "benzodiazepine_load" in rules_fired(intake, {"benzo_dze_threshold_mg": 5})


def test_a_longer_remission_period_keeps_a_substance_use_disorder_active(intake):
    intake["psychiatric"]["substance_use_disorders"] = [
        {"substance": "cannabis", "last_use": "2025-05-01", "involves_dissociatives": False}
    ]
    assert "substance_use_disorder_in_remission" in rules_fired(intake)
    assert "active_substance_use_disorder" in rules_fired(intake, {"sud_remission_months": 24})


def test_the_practice_can_review_rather_than_exclude_someone_not_treatment_resistant(intake):
    intake["prior_treatments"]["antidepressant_trials"] = []
    assert screen(intake).decision == "not_eligible"
    result = screen(intake, {"not_treatment_resistant_outcome": "needs_review"})
    assert result.decision == "needs_review"
    assert [(r.rule, r.outcome) for r in result.reasons] == [("not_treatment_resistant", "needs_review")]


def test_a_stricter_non_response_threshold_stops_a_partial_improvement_counting(intake, trial):
    intake["prior_treatments"]["antidepressant_trials"] = [trial("sertraline"), trial("venlafaxine", improvement=30)]
    assert screen(intake).treatment_resistant is True
    assert screen(intake, {"non_response_threshold_percent": 25}).treatment_resistant is False


def test_longer_adequate_trial_weeks_and_more_required_trials_change_resistance(intake, trial):
    intake["prior_treatments"]["antidepressant_trials"] = [trial("sertraline", weeks=5), trial("venlafaxine")]
    assert screen(intake).treatment_resistant is True
    assert screen(intake, {"adequate_trial_weeks": 6}).treatment_resistant is False
    assert screen(intake, {"depression_min_failed_trials": 3}).treatment_resistant is False


def test_the_older_adult_age_is_a_setting(intake):
    intake["age"] = 62
    assert "older_adult" in rules_fired(intake, {"older_adult_age_years": 60})


def test_the_practice_can_also_review_psychosis_in_a_first_degree_relative(intake):
    intake["psychiatric"]["first_degree_relative_psychosis"] = True
    result = screen(intake, {"psychosis_review_includes_first_degree_relative": True})
    assert result.decision == "needs_review"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bp_systolic": 170}, "unknown setting 'bp_systolic'"),
        ({"bp_exclude_systolic_mmhg": "170"}, "must be a number of 0 or more"),
        ({"bp_exclude_systolic_mmhg": True}, "must be a number of 0 or more"),
        ({"benzo_dze_threshold_mg": -1}, "must be a number of 0 or more"),
        ({"benzo_dze_threshold_mg": float("nan")}, "must be a number of 0 or more"),
        ({"psychosis_review_includes_first_degree_relative": 1}, "must be true or false"),
        ({"not_treatment_resistant_outcome": "caution"}, "must be one of: exclude, needs_review"),
    ],
)
def test_a_bad_override_is_refused_naming_the_setting(intake, overrides, message):
    with pytest.raises(SettingsOverrideError, match=message):
        screen(intake, overrides)


def test_overrides_do_not_change_the_rule_set_defaults(intake):
    screen(intake, {"bp_exclude_systolic_mmhg": 150})
    assert load_rule_set().settings["bp_exclude_systolic_mmhg"].value == 180


@pytest.mark.parametrize(
    ("name", "value", "bound"),
    [
        ("min_age_years", 16, "cannot be below 18"),
        ("bp_exclude_systolic_mmhg", 190, "cannot exceed 180"),
        ("bp_exclude_diastolic_mmhg", 110, "cannot exceed 100"),
        ("bp_review_systolic_mmhg", 175, "cannot exceed 140"),
        ("bp_review_diastolic_mmhg", 99, "cannot exceed 90"),
        ("older_adult_age_years", 90, "cannot exceed 65"),
    ],
)
def test_an_override_past_a_hard_bound_is_refused_with_the_bound_and_its_source(intake, name, value, bound):
    with pytest.raises(SettingsOverrideError) as refused:
        screen(intake, {name: value})
    assert bound in str(refused.value)
    assert load_rule_set().settings[name].hard_bounds["source"] in str(refused.value)


def test_an_override_inside_a_hard_bound_is_used(intake):
    intake["age"] = 20
    assert "under_minimum_age" in rules_fired(intake, {"min_age_years": 21})
    assert "under_minimum_age" not in rules_fired(intake)


def test_a_rule_file_whose_default_breaks_its_own_hard_bound_does_not_load(tmp_path):
    for path in RULES_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    main = tmp_path / "kap_screening.yaml"
    main.write_text(main.read_text().replace("  min_age_years:\n    value: 18", "  min_age_years:\n    value: 16"))
    with pytest.raises(RuleSetError, match="min_age_years"):
        load_rule_set(tmp_path)
