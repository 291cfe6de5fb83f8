"""Each rule fires on a minimal intake that has its condition, and not on a near miss; decisions follow."""

import pytest

from kapstone.screening.engine import load_rule_set, screen


def put(intake: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    target = intake
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return intake


def add_medications(*entries):
    return lambda intake: intake.update(medications=list(entries))


def substance_use(substance: str, last_use: str, dissociative: bool):
    entry = {"substance": substance, "last_use": last_use, "involves_dissociatives": dissociative}
    return lambda intake: put(intake, "psychiatric.substance_use_disorders", [entry])


def flag(dotted: str, value=True):
    return lambda intake: put(intake, dotted, value)


def vitals(systolic, diastolic):
    return lambda intake: put(intake, "vitals", {"systolic": systolic, "diastolic": diastolic})


# rule id -> (a change that makes it fire, a near miss that must not, settings overrides for both)
CASES = {
    "under_minimum_age": (flag("age", 17), flag("age", 18), {}),
    "primary_psychotic_disorder": (
        flag("psychiatric.primary_psychotic_disorder"),
        flag("psychiatric.primary_psychotic_disorder", False),
        {},
    ),
    "aneurysmal_vascular_disease_or_avm": (flag("medical.aneurysmal_vascular_disease_or_avm"), None, {}),
    "intracerebral_haemorrhage": (flag("medical.intracerebral_haemorrhage"), None, {}),
    "ketamine_hypersensitivity": (flag("medical.ketamine_hypersensitivity"), None, {}),
    "uncontrolled_hypertension": (vitals(181, 80), vitals(180, 100), {}),
    "pregnancy": (flag("medical.pregnant"), None, {}),
    "current_psychosis": (flag("psychiatric.current_psychosis"), None, {}),
    "current_mania": (flag("psychiatric.current_mania"), None, {}),
    "active_dissociative_substance_use_disorder": (
        substance_use("ketamine", "2026-06-01", True),
        substance_use("ketamine", "2025-11-02", True),
        {},
    ),
    "treatment_resistance_rests_on_other_drugs": (
        lambda intake: intake["prior_treatments"]["antidepressant_trials"][1].update(drug="lorazepam"),
        lambda intake: intake["prior_treatments"]["antidepressant_trials"][1].update(drug="Nardil"),
        {},
    ),
    "not_treatment_resistant": (
        lambda intake: put(
            intake, "prior_treatments.antidepressant_trials", intake["prior_treatments"]["antidepressant_trials"][:1]
        ),
        None,
        {},
    ),
    "history_of_psychosis": (flag("psychiatric.history_of_psychosis"), None, {}),
    "psychosis_in_first_degree_relative": (
        flag("psychiatric.first_degree_relative_psychosis"),
        None,
        {"psychosis_review_includes_first_degree_relative": True},
    ),
    "bipolar_disorder": (flag("psychiatric.bipolar_disorder"), None, {}),
    "active_substance_use_disorder": (
        substance_use("alcohol", "2026-10-01", False),
        substance_use("alcohol", "2025-11-02", False),
        {},
    ),
    "substance_use_disorder_in_remission": (
        substance_use("alcohol", "2025-11-02", False),
        substance_use("alcohol", "2025-11-03", False),
        {},
    ),
    "recent_mi_or_unstable_angina": (
        flag("medical.mi_or_unstable_angina_date", "2026-05-02"),
        flag("medical.mi_or_unstable_angina_date", "2026-05-01"),
        {},
    ),
    "heart_failure": (flag("medical.heart_failure"), None, {}),
    "significant_arrhythmia": (flag("medical.significant_arrhythmia"), None, {}),
    "cardiovascular_disease": (flag("medical.cardiovascular_disease"), None, {}),
    "raised_intracranial_pressure": (flag("medical.raised_intracranial_pressure"), None, {}),
    "raised_intraocular_pressure": (flag("medical.raised_intraocular_pressure"), None, {}),
    "untreated_hyperthyroidism": (flag("medical.untreated_hyperthyroidism"), None, {}),
    "significant_liver_disease": (flag("medical.significant_liver_disease"), None, {}),
    "breastfeeding": (flag("medical.breastfeeding"), None, {}),
    "older_adult": (flag("age", 65), flag("age", 64), {}),
    "elevated_pre_dose_blood_pressure": (vitals(120, 91), vitals(140, 90), {}),
    "baseline_vitals_not_recorded": (lambda intake: intake.pop("vitals"), None, {}),
    "benzodiazepine_load": (
        add_medications({"name": "lorazepam", "dose_mg_per_day": 1}),
        add_medications({"name": "lorazepam", "dose_mg_per_day": 0.8}),
        {},
    ),
    "benzodiazepine_dose_not_converted": (
        add_medications({"name": "lorazepam"}),
        add_medications({"name": "lorazepam", "dose_mg_per_day": 0.5}),
        {},
    ),
    # A load at the threshold is listed as a caution; over it, benzodiazepine_load asks for a review instead.
    "benzodiazepine_within_load": (
        add_medications({"name": "lorazepam", "dose_mg_per_day": 0.8}),
        add_medications({"name": "lorazepam", "dose_mg_per_day": 1}),
        {},
    ),
    "maoi": (
        add_medications({"name": "tranylcypromine", "dose_mg_per_day": 30}),
        add_medications({"name": "sertraline", "dose_mg_per_day": 100}),
        {},
    ),
    "psychostimulant": (
        add_medications({"name": "methylphenidate", "dose_mg_per_day": 36}),
        add_medications({"name": "bupropion", "dose_mg_per_day": 300}),
        {},
    ),
    "lamotrigine": (
        add_medications({"name": "Lamictal", "dose_mg_per_day": 200}),
        add_medications({"name": "lithium", "dose_mg_per_day": 800}),
        {},
    ),
    "hypertension_history": (flag("medical.hypertension"), None, {}),
    "unrecognised_medications": (
        add_medications({"name": "kratom tea"}),
        add_medications({"name": "zolpidem", "dose_mg_per_day": 10}),
        {},
    ),
    "cns_depressant": (
        add_medications({"name": "oxycodone", "dose_mg_per_day": 20}),
        add_medications({"name": "sertraline", "dose_mg_per_day": 100}),
        {},
    ),
    "methylxanthine": (
        add_medications({"name": "aminophylline"}),
        add_medications({"name": "sertraline"}),
        {},
    ),
    "thyroid_hormone": (
        add_medications({"name": "levothyroxine"}),
        add_medications({"name": "lisinopril"}),
        {},
    ),
    "other_nmda_antagonist": (
        add_medications({"name": "Namenda"}),
        add_medications({"name": "lamotrigine"}),
        {},
    ),
}


def fired(intake: dict, overrides: dict | None = None) -> dict[str, str]:
    return {reason.rule: reason.outcome for reason in screen(intake, overrides).reasons}


def test_the_minimal_intake_is_eligible_with_no_reasons(intake):
    result = screen(intake)
    assert result.decision == "eligible"
    assert result.reasons == []


def test_every_rule_in_the_rule_set_has_a_case_here():
    assert {rule.id for rule in load_rule_set().rules} == set(CASES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_each_rule_fires_when_its_condition_holds(intake, rule_id):
    make_it_fire, _, overrides = CASES[rule_id]
    make_it_fire(intake)
    assert rule_id in fired(intake, overrides)


@pytest.mark.parametrize("rule_id", sorted(rule for rule, case in CASES.items() if case[1]))
def test_each_rule_stays_quiet_on_a_near_miss(intake, rule_id):
    _, near_miss, overrides = CASES[rule_id]
    near_miss(intake)
    assert rule_id not in fired(intake, overrides)


def test_family_history_of_psychosis_is_not_reviewed_by_default(intake):
    put(intake, "psychiatric.first_degree_relative_psychosis", True)
    assert screen(intake).decision == "eligible"


@pytest.mark.parametrize(
    ("rule_id", "decision"),
    [
        ("pregnancy", "not_eligible"),
        ("bipolar_disorder", "needs_review"),
        ("maoi", "needs_review"),
        ("cns_depressant", "needs_review"),
        ("unrecognised_medications", "needs_review"),
        ("benzodiazepine_load", "needs_review"),
        ("under_minimum_age", "not_eligible"),
        ("primary_psychotic_disorder", "not_eligible"),
        ("thyroid_hormone", "eligible"),
        ("methylxanthine", "eligible"),
        ("other_nmda_antagonist", "eligible"),
        ("psychostimulant", "eligible"),
    ],
)
def test_the_outcome_of_a_single_rule_sets_the_decision(intake, rule_id, decision):
    CASES[rule_id][0](intake)
    assert screen(intake).decision == decision


def test_an_exclusion_outweighs_reviews_and_cautions_and_every_reason_is_listed(intake):
    put(intake, "medical.pregnant", True)
    put(intake, "psychiatric.bipolar_disorder", True)
    intake["medications"] = [{"name": "phenelzine", "dose_mg_per_day": 45}, {"name": "levothyroxine"}]
    result = screen(intake)
    assert result.decision == "not_eligible"
    assert [(r.rule, r.outcome) for r in result.reasons] == [
        ("pregnancy", "exclude"),
        ("bipolar_disorder", "needs_review"),
        ("maoi", "needs_review"),
        ("thyroid_hormone", "caution"),
    ]
    assert all(reason.source for reason in result.reasons)


def test_a_review_outweighs_cautions(intake):
    put(intake, "medical.breastfeeding", True)
    put(intake, "medical.hypertension", True)
    assert screen(intake).decision == "needs_review"


def test_messages_quote_the_values_that_made_a_rule_fire(intake):
    intake["vitals"] = {"systolic": 192, "diastolic": 104}
    message = next(r.message for r in screen(intake).reasons if r.rule == "uncontrolled_hypertension")
    assert "192/104 mmHg is above 180/100" in message


def test_a_result_turns_into_plain_json_data(intake):
    put(intake, "medical.pregnant", True)
    data = screen(intake).to_dict()
    assert data["decision"] == "not_eligible"
    assert data["reasons"][0] == {
        "rule": "pregnancy",
        "outcome": "exclude",
        "message": "Pregnant: embryo-fetal toxicity; the label advises against use in pregnancy.",
        "source": data["reasons"][0]["source"],
    }
    assert data["rule_set_version"] == load_rule_set().version
    assert {"treatment_resistant", "maudsley_score", "maudsley_band", "benzodiazepine_diazepam_equivalent_mg"} <= set(
        data
    )


INTERACTION_SETTINGS = {
    "maoi": "interaction_outcome_maoi",
    "benzodiazepine_load": "interaction_outcome_benzodiazepine_load",
    "cns_depressant": "interaction_outcome_cns_depressant",
    "unrecognised_medications": "interaction_outcome_unrecognised_medication",
}


@pytest.mark.parametrize("rule_id", sorted(INTERACTION_SETTINGS))
def test_a_practice_setting_returns_each_interaction_to_a_caution(intake, rule_id):
    CASES[rule_id][0](intake)
    result = screen(intake, {INTERACTION_SETTINGS[rule_id]: "caution"})
    assert result.decision == "eligible"
    assert fired(intake, {INTERACTION_SETTINGS[rule_id]: "caution"})[rule_id] == "caution"


def test_a_practice_setting_makes_a_primary_psychotic_disorder_a_review(intake):
    put(intake, "psychiatric.primary_psychotic_disorder", True)
    assert screen(intake, {"primary_psychotic_disorder_outcome": "needs_review"}).decision == "needs_review"


def test_an_intake_saved_before_the_psychotic_disorder_question_still_screens(intake):
    assert "primary_psychotic_disorder" not in intake["psychiatric"]
    assert "primary_psychotic_disorder" not in fired(intake)


def test_the_minimum_age_reads_the_date_of_birth_on_the_assessment_date(intake):
    del intake["age"]
    intake["date_of_birth"] = "2008-11-03"  # 18 the day after the assessment on 2026-11-02
    assert fired(intake)["under_minimum_age"] == "exclude"
    intake["date_of_birth"] = "2008-11-02"
    assert "under_minimum_age" not in fired(intake)


@pytest.mark.parametrize(
    "substance", ["Ketamine (recreational)", "PCP", "angel dust", "DXM cough syrup", "dextromethorphan", "Special K"]
)
def test_a_substance_named_as_a_dissociative_counts_as_one_whatever_the_checkbox_says(intake, substance):
    substance_use(substance, "2026-06-01", False)(intake)
    result = screen(intake)
    assert fired(intake)["active_dissociative_substance_use_disorder"] == "exclude"
    assert result.decision == "not_eligible"


@pytest.mark.parametrize("substance", ["alcohol", "cannabis", "speed", "pcpx-free tea"])
def test_other_substances_are_not_read_as_dissociatives(intake, substance):
    substance_use(substance, "2026-06-01", False)(intake)
    assert "active_dissociative_substance_use_disorder" not in fired(intake)
