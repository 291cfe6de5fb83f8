"""A clinical-case audit of the screening rule set at its boundaries (clinical reference: "Safety: who should not be
dosed", "Treatment resistance", "Interactions", "Age and same-day safety"). Each case is one change to an intake
that screens eligible with no reasons at all."""

import datetime

import pytest

from kapstone.screening.engine import IntakeValidationError, SettingsOverrideError, load_rule_set, screen

# The loosest value of every setting that chooses an outcome: an absolute contraindication excludes whatever they say.
LOOSEST_OUTCOMES = {
    name: "needs_review" if "needs_review" in setting.allowed else setting.allowed[-1]
    for name, setting in load_rule_set().settings.items()
    if setting.allowed and not isinstance(setting.value, list)
}


def fired(intake, overrides=None) -> dict[str, str]:
    return {reason.rule: reason.outcome for reason in screen(intake, overrides).reasons}


def months_before(day: str, months: int) -> str:
    assessed = datetime.date.fromisoformat(day)
    year, month = divmod(assessed.year * 12 + assessed.month - 1 - months, 12)
    return datetime.date(year, month + 1, assessed.day).isoformat()


def with_medications(intake, *entries):
    intake["medications"] = [dict(entry) for entry in entries]
    return intake


# ---- Absolute contraindications: not eligible, whatever the practice settings -------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "value", "rule"),
    [
        ("medical", "aneurysmal_vascular_disease_or_avm", True, "aneurysmal_vascular_disease_or_avm"),
        ("medical", "intracerebral_haemorrhage", True, "intracerebral_haemorrhage"),
        ("medical", "ketamine_hypersensitivity", True, "ketamine_hypersensitivity"),
        ("medical", "pregnant", True, "pregnancy"),
        ("psychiatric", "current_psychosis", True, "current_psychosis"),
        ("psychiatric", "current_mania", True, "current_mania"),
        ("current_episode", "severity", "severe_with_psychosis", "current_psychosis"),
        ("vitals", "systolic", 181, "uncontrolled_hypertension"),
        ("vitals", "diastolic", 101, "uncontrolled_hypertension"),
    ],
)
def test_each_absolute_contraindication_is_not_eligible_whatever_the_practice_chose(intake, group, name, value, rule):
    intake[group][name] = value
    for overrides in ({}, LOOSEST_OUTCOMES):
        result = screen(intake, overrides)
        assert result.decision == "not_eligible", overrides
        assert fired(intake, overrides)[rule] == "exclude"


def test_a_current_depressive_episode_with_psychotic_features_is_current_psychosis_though_the_box_says_no(intake):
    intake["current_episode"]["severity"] = "severe_with_psychosis"
    assert intake["psychiatric"]["current_psychosis"] is False
    result = screen(intake)
    assert result.decision == "not_eligible"
    assert "psychotic features" in next(r.message for r in result.reasons if r.rule == "current_psychosis")


@pytest.mark.parametrize(("systolic", "diastolic", "decision"), [(180, 100, "needs_review"), (181, 99, "not_eligible")])
def test_uncontrolled_hypertension_is_a_pressure_above_180_over_100(intake, systolic, diastolic, decision):
    intake["vitals"] = {"systolic": systolic, "diastolic": diastolic}
    assert screen(intake).decision == decision


@pytest.mark.parametrize(
    ("substance", "dissociative_box", "months_ago", "decision", "rule"),
    [
        ("ketamine", True, 11, "not_eligible", "active_dissociative_substance_use_disorder"),
        ("Special K", False, 1, "not_eligible", "active_dissociative_substance_use_disorder"),
        ("DXM cough syrup", False, 3, "not_eligible", "active_dissociative_substance_use_disorder"),
        ("ketamine", True, 12, "needs_review", "substance_use_disorder_in_remission"),
        ("alcohol", False, 11, "needs_review", "active_substance_use_disorder"),
        ("alcohol", False, 12, "needs_review", "substance_use_disorder_in_remission"),
    ],
)
def test_a_dissociative_use_disorder_excludes_until_12_months_without_use_then_needs_review(
    intake, substance, dissociative_box, months_ago, decision, rule
):
    last_use = months_before(intake["assessment_date"], months_ago)
    intake["psychiatric"]["substance_use_disorders"] = [
        {"substance": substance, "last_use": last_use, "involves_dissociatives": dissociative_box}
    ]
    assert screen(intake, LOOSEST_OUTCOMES).decision == decision
    assert rule in fired(intake)


# ---- Relative contraindications: needs review ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "value", "rule"),
    [
        ("psychiatric", "history_of_psychosis", True, "history_of_psychosis"),
        ("psychiatric", "bipolar_disorder", True, "bipolar_disorder"),
        ("medical", "heart_failure", True, "heart_failure"),
        ("medical", "significant_arrhythmia", True, "significant_arrhythmia"),
        ("medical", "cardiovascular_disease", True, "cardiovascular_disease"),
        ("medical", "raised_intracranial_pressure", True, "raised_intracranial_pressure"),
        ("medical", "raised_intraocular_pressure", True, "raised_intraocular_pressure"),
        ("medical", "untreated_hyperthyroidism", True, "untreated_hyperthyroidism"),
        ("medical", "significant_liver_disease", True, "significant_liver_disease"),
        ("medical", "breastfeeding", True, "breastfeeding"),
        ("vitals", "systolic", 141, "elevated_pre_dose_blood_pressure"),
        ("vitals", "diastolic", 91, "elevated_pre_dose_blood_pressure"),
    ],
)
def test_each_relative_contraindication_needs_review(intake, group, name, value, rule):
    intake[group][name] = value
    assert screen(intake).decision == "needs_review"
    assert fired(intake) == {rule: "needs_review"}


def test_a_blood_pressure_of_exactly_140_over_90_is_not_above_it(intake):
    intake["vitals"] = {"systolic": 140, "diastolic": 90}
    assert screen(intake).decision == "eligible"


def test_psychosis_in_a_first_degree_relative_needs_review_when_the_practice_reviews_family_history(intake):
    intake["psychiatric"]["first_degree_relative_psychosis"] = True
    assert screen(intake).decision == "eligible"
    assert screen(intake, {"psychosis_review_includes_first_degree_relative": True}).decision == "needs_review"


@pytest.mark.parametrize(("months_ago", "reviewed"), [(5, True), (6, True), (7, False)])
def test_a_heart_attack_in_the_last_6_months_including_exactly_6_months_ago_needs_review(intake, months_ago, reviewed):
    intake["medical"]["mi_or_unstable_angina_date"] = months_before(intake["assessment_date"], months_ago)
    assert ("recent_mi_or_unstable_angina" in fired(intake)) is reviewed


def test_the_day_before_exactly_6_months_ago_is_no_longer_recent(intake):
    intake["medical"]["mi_or_unstable_angina_date"] = "2026-05-01"  # assessed 2026-11-02
    assert "recent_mi_or_unstable_angina" not in fired(intake)


def test_recent_at_a_month_end_counts_back_to_the_shorter_months_last_day(intake):
    intake["assessment_date"] = "2026-08-31"
    intake["medical"]["mi_or_unstable_angina_date"] = "2026-02-28"
    assert "recent_mi_or_unstable_angina" in fired(intake)
    intake["medical"]["mi_or_unstable_angina_date"] = "2026-02-27"
    assert "recent_mi_or_unstable_angina" not in fired(intake)


@pytest.mark.parametrize(
    ("age", "decision"), [(17, "not_eligible"), (18, "eligible"), (64, "eligible"), (65, "needs_review")]
)
def test_age_boundaries(intake, age, decision):
    intake["age"] = age
    assert screen(intake, LOOSEST_OUTCOMES if decision == "not_eligible" else None).decision == decision


@pytest.mark.parametrize(("born", "decision"), [("2008-11-02", "eligible"), ("2008-11-03", "not_eligible")])
def test_age_from_a_date_of_birth_turns_18_on_the_birthday_itself(intake, born, decision):
    del intake["age"]
    intake["date_of_birth"] = born  # assessed 2026-11-02
    assert screen(intake).decision == decision


# ---- Interactions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("medications", "load", "reviewed"),
    [
        ([{"name": "diazepam", "dose_mg_per_day": 8}], 8, False),
        ([{"name": "Diazepam", "dose_mg_per_day": 8.5}], 8.5, True),
        ([{"name": "lorazepam", "dose_mg_per_day": 0.5}, {"name": "Xanax XR", "dose_mg_per_day": 0.25}], 10, True),
        (
            [{"name": "clonazepam (Klonopin)", "dose_mg_per_day": 0.25}, {"name": "ATIVAN", "dose_mg_per_day": 0.25}],
            7.5,
            False,
        ),
        ([{"name": "temazepam", "dose_mg_per_day": 10}, {"name": "temazepam prn", "dose_mg_per_day": 10}], 10, True),
        ([{"name": "Valium®", "dose_mg_per_day": 9}], 9, True),
    ],
)
def test_the_benzodiazepine_load_sums_every_entry_in_diazepam_equivalents_above_8_mg(
    intake, medications, load, reviewed
):
    with_medications(intake, *medications)
    result = screen(intake)
    assert result.benzodiazepine_diazepam_equivalent_mg == load
    assert ("benzodiazepine_load" in fired(intake)) is reviewed
    assert result.unrecognised_medications == []


@pytest.mark.parametrize("entry", [{"name": "clonazepam"}, {"name": "Versed", "dose_mg_per_day": 5}])
def test_a_benzodiazepine_whose_load_cannot_be_counted_needs_review_as_a_high_load_would(intake, entry):
    with_medications(intake, entry)
    assert fired(intake) == {"benzodiazepine_dose_not_converted": "needs_review"}
    caution = {"interaction_outcome_benzodiazepine_load": "caution"}
    assert fired(intake, caution) == {"benzodiazepine_dose_not_converted": "caution"}


@pytest.mark.parametrize(
    "name",
    ["phenelzine", "Nardil", "tranylcypromine", "isocarboxazid", "selegiline", "Emsam", "Zelapar", "moclobemide",
     "rasagiline", "safinamide", "linezolid", "Zyvox", "methylene blue", "methylene blue injection", "Methylene-Blue",
     "methylthioninium chloride", "ProvayBlue"],
)  # fmt: skip
def test_every_mao_inhibitor_including_linezolid_and_methylene_blue_needs_review(intake, name):
    with_medications(intake, {"name": name})
    assert fired(intake) == {"maoi": "needs_review"}


@pytest.mark.parametrize(
    "name",
    ["Adderall XR", "mixed amphetamine salts XR", "dexamfetamine", "dexamphetamine", "Vyvanse", "Elvanse",
     "lisdexamphetamine", "Ritalin LA", "Concerta", "modafinil", "armodafinil", "Desoxyn"],
)  # fmt: skip
def test_psychostimulants_are_recognised_and_listed(intake, name):
    with_medications(intake, {"name": name})
    assert fired(intake) == {"psychostimulant": "caution"}


@pytest.mark.parametrize(
    "name", ["oxycodone", "Suboxone", "tramadol", "gabapentin", "Lyrica", "zolpidem", "Sonata", "Imovane"]
)
def test_cns_depressants_need_review(intake, name):
    with_medications(intake, {"name": name})
    assert fired(intake) == {"cns_depressant": "needs_review"}


@pytest.mark.parametrize("name", ["lamotrigine", "Lamictal XR", "lamotrigine 200mg"])
def test_lamotrigine_is_listed(intake, name):
    with_medications(intake, {"name": name})
    assert fired(intake) == {"lamotrigine": "caution"}


@pytest.mark.parametrize("name", ["kratom", "phentermine", "ketamine troches", "St John's wort", "Tab. alprazolam"])
def test_a_medicine_kapstone_cannot_classify_is_flagged_for_review_never_passed(intake, name):
    with_medications(intake, {"name": name})
    result = screen(intake)
    assert result.decision == "needs_review"
    assert result.unrecognised_medications == [name]


@pytest.mark.parametrize(
    "entry",
    [{"name": "lorazepam", "dose_mg_per_day": -1}, {"name": "   "}, {"name": "x" * 201}, {"dose_mg_per_day": 2}],
)
def test_a_bad_medication_entry_is_refused_naming_it(intake, entry):
    with_medications(intake, entry)
    with pytest.raises(IntakeValidationError, match=r"medications\[0\]"):
        screen(intake)


# ---- Treatment resistance -----------------------------------------------------------------------------------------


def trials(*entries):
    return [{"drug": f"drug {index}", "adequate_dose": True, **entry} for index, entry in enumerate(entries)]


@pytest.mark.parametrize(
    ("entries", "resistant"),
    [
        (trials({"weeks": 4, "improvement_percent": 49}, {"weeks": 6, "response": "partial_response"}), True),
        (trials({"weeks": 3.9, "improvement_percent": 0}, {"weeks": 8, "improvement_percent": 0}), False),
        (trials({"weeks": 8, "improvement_percent": 50}, {"weeks": 8, "improvement_percent": 0}), False),
        (trials({"weeks": 8, "response": "response"}, {"weeks": 8, "response": "no_response"}), False),
        (trials({"weeks": 8, "improvement_percent": 0}), False),
        (
            [{"drug": "sertraline", "weeks": 8, "adequate_dose": False, "improvement_percent": 0}]
            + trials({"weeks": 8, "improvement_percent": 0}),
            False,
        ),
    ],
)
def test_depression_needs_2_adequate_trials_of_4_weeks_or_more_with_under_50_percent_improvement(
    intake, entries, resistant
):
    intake["prior_treatments"]["antidepressant_trials"] = entries
    result = screen(intake)
    assert result.treatment_resistant is resistant
    assert (result.decision == "not_eligible") is not resistant


def test_bipolar_depression_always_needs_a_prescribers_review_even_when_resistant(intake):
    intake["psychiatric"]["bipolar_disorder"] = True
    result = screen(intake)
    assert result.treatment_resistant and result.decision == "needs_review"


@pytest.mark.parametrize(("evidence_based", "resistant"), [(True, True), (False, False)])
def test_other_indications_count_evidence_based_treatments_of_any_kind(intake, evidence_based, resistant):
    intake["indications"] = ["ptsd"]
    intake["prior_treatments"]["antidepressant_trials"] = trials({"weeks": 8, "response": "no_response"})
    intake["prior_treatments"]["psychotherapy"] = [
        {"modality": "prolonged exposure", "evidence_based": evidence_based, "response": "partial_response"}
    ]
    assert screen(intake).treatment_resistant is resistant
    assert screen(intake, {"other_indication_min_failed_treatments": 1}).treatment_resistant is True


@pytest.mark.parametrize(
    ("months", "failed", "augmentation", "ect", "score", "band"),
    [
        (12, 2, False, False, 5, "mild"),  # 1 + 3 (moderate) + 1
        (13, 2, False, False, 6, "mild"),
        (24, 3, False, False, 7, "moderate"),
        (25, 4, False, False, 8, "moderate"),
        (25, 5, False, False, 9, "moderate"),
        (25, 6, True, False, 10, "moderate"),
        (25, 7, True, False, 11, "severe"),
        (25, 10, False, True, 11, "severe"),
        (25, 11, True, True, 13, "severe"),
    ],
)
def test_maudsley_stage_at_each_boundary(intake, months, failed, augmentation, ect, score, band):
    intake["current_episode"]["duration_months"] = months
    intake["prior_treatments"]["antidepressant_trials"] = trials(*[{"weeks": 8, "improvement_percent": 0}] * failed)
    if augmentation:
        intake["prior_treatments"]["augmentations"] = [{"drug": "aripiprazole"}]
    if ect:
        intake["prior_treatments"]["ect"] = [{"sessions": 12}]
    result = screen(intake)
    assert (result.maudsley_score, result.maudsley_band) == (score, band)


# ---- Settings: no practice value crosses a cited bound -----------------------------------------------------------

NUMERIC_SETTINGS = sorted(
    name
    for name, setting in load_rule_set().settings.items()
    if not setting.allowed and not isinstance(setting.value, bool)
)


@pytest.mark.parametrize("name", NUMERIC_SETTINGS)
def test_every_numeric_setting_has_a_cited_hard_bound_that_no_override_crosses(intake, name):
    setting = load_rule_set().settings[name]
    assert setting.hard_bounds, f"{name} has no hard bound"
    assert "[" in setting.hard_bounds["source"]
    past = setting.hard_bounds["max"] + 1 if "max" in setting.hard_bounds else setting.hard_bounds["min"] - 1
    with pytest.raises(SettingsOverrideError, match=name):
        screen(intake, {name: past})
    screen(intake, {name: setting.hard_bounds.get("max", setting.hard_bounds.get("min"))})


@pytest.mark.parametrize(
    ("overrides", "intake_change", "rule"),
    [
        ({"sud_remission_months": 0}, "ketamine last month", "active_dissociative_substance_use_disorder"),
        ({"benzo_dze_threshold_mg": 1000}, "diazepam 20 mg", "benzodiazepine_load"),
        ({"recent_cardiac_event_months": 1}, "MI 3 months ago", "recent_mi_or_unstable_angina"),
        ({"adequate_trial_weeks": 1}, "2 trials of 2 weeks", "not_treatment_resistant"),
        ({"depression_min_failed_trials": 0}, "no trials", "not_treatment_resistant"),
        ({"non_response_threshold_percent": 90}, "2 trials with 80% improvement", "not_treatment_resistant"),
    ],
)
def test_a_practice_cannot_loosen_a_setting_to_screen_a_contraindication_in(intake, overrides, intake_change, rule):
    changes = {
        "ketamine last month": lambda: intake["psychiatric"].update(
            substance_use_disorders=[
                {"substance": "ketamine", "last_use": "2026-10-01", "involves_dissociatives": True}
            ]
        ),
        "diazepam 20 mg": lambda: with_medications(intake, {"name": "diazepam", "dose_mg_per_day": 20}),
        "MI 3 months ago": lambda: intake["medical"].update(mi_or_unstable_angina_date="2026-08-02"),
        "2 trials of 2 weeks": lambda: intake["prior_treatments"].update(
            antidepressant_trials=trials(*[{"weeks": 2, "improvement_percent": 0}] * 2)
        ),
        "no trials": lambda: intake["prior_treatments"].update(antidepressant_trials=[]),
        "2 trials with 80% improvement": lambda: intake["prior_treatments"].update(
            antidepressant_trials=trials(*[{"weeks": 8, "improvement_percent": 80}] * 2)
        ),
    }
    changes[intake_change]()
    assert rule in fired(intake)
    with pytest.raises(SettingsOverrideError):
        screen(intake, overrides)


# ---- Dates --------------------------------------------------------------------------------------------------------


def test_an_assessment_dated_in_the_future_is_refused(intake):
    intake["assessment_date"] = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    with pytest.raises(IntakeValidationError, match="assessment_date .* is after today"):
        screen(intake)
    intake["assessment_date"] = datetime.date.today().isoformat()
    assert screen(intake).decision == "eligible"


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "02/11/2026", "", "yesterday"])
def test_an_impossible_date_is_refused_naming_the_field(intake, date):
    intake["medical"]["mi_or_unstable_angina_date"] = date
    with pytest.raises(IntakeValidationError, match="medical.mi_or_unstable_angina_date must be a date"):
        screen(intake)


def test_a_practice_looking_back_further_than_the_calendar_reviews_every_heart_attack(intake):
    intake["medical"]["mi_or_unstable_angina_date"] = "1950-01-01"
    assert "recent_mi_or_unstable_angina" in fired(intake, {"recent_cardiac_event_months": 10**7})
