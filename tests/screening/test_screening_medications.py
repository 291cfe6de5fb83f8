"""Benzodiazepine diazepam-equivalent conversion (Ashton Manual) and drug-name recognition."""

import datetime
from pathlib import Path

import pytest
import yaml

from kapstone.screening.engine import RULES_DIR, derive_values, load_rule_set, screen, validate_intake


def load(intake, *medications):
    intake["medications"] = list(medications)
    return screen(intake)


@pytest.mark.parametrize(
    ("name", "dose", "diazepam_mg"),
    [
        ("diazepam", 10, 10),
        ("lorazepam", 1, 10),
        ("lorazepam", 3, 30),
        ("clonazepam", 0.5, 10),
        ("alprazolam", 2, 40),
        ("chlordiazepoxide", 25, 10),
        ("oxazepam", 30, 15),
        ("temazepam", 20, 10),
        ("triazolam", 0.25, 5),
        ("estazolam", 1.5, 10),  # Ashton gives 1-2 mg; the midpoint is used
        ("Xanax", 1, 20),
        ("LORAZEPAM", 1, 10),
        ("lorazepam tablets", 1, 10),
    ],
)
def test_each_benzodiazepine_converts_to_its_diazepam_equivalent(intake, name, dose, diazepam_mg):
    result = load(intake, {"name": name, "dose_mg_per_day": dose})
    assert result.benzodiazepine_diazepam_equivalent_mg == pytest.approx(diazepam_mg)


def test_several_benzodiazepines_add_up(intake):
    result = load(
        intake,
        {"name": "clonazepam", "dose_mg_per_day": 0.25},
        {"name": "temazepam", "dose_mg_per_day": 10},
        {"name": "sertraline", "dose_mg_per_day": 100},
    )
    assert result.benzodiazepine_diazepam_equivalent_mg == pytest.approx(10)


def test_exactly_eight_mg_diazepam_equivalent_is_not_above_the_threshold(intake):
    result = load(intake, {"name": "diazepam", "dose_mg_per_day": 8})
    assert "benzodiazepine_load" not in {r.rule for r in result.reasons}


def test_a_benzodiazepine_without_a_dose_or_an_equivalence_is_named_for_a_manual_check(intake):
    result = load(intake, {"name": "midazolam", "dose_mg_per_day": 7.5}, {"name": "alprazolam"})
    assert result.benzodiazepine_diazepam_equivalent_mg == 0
    message = next(r.message for r in result.reasons if r.rule == "benzodiazepine_dose_not_converted")
    assert "midazolam, alprazolam" in message


def test_unknown_medication_names_are_reported_not_ignored_and_need_review(intake):
    result = load(intake, {"name": "kratom"}, {"name": "lorazapam", "dose_mg_per_day": 2})
    assert result.unrecognised_medications == ["kratom", "lorazapam"]
    assert result.decision == "needs_review"
    assert any(r.rule == "unrecognised_medications" and "lorazapam" in r.message for r in result.reasons)


@pytest.mark.parametrize(
    ("name", "drug_class"),
    [
        ("OxyContin", "opioid"),
        ("tramadol", "opioid"),
        ("Suboxone", "opioid"),
        ("gabapentin", "gabapentinoid"),
        ("Lunesta", "z_drug_hypnotic"),
        ("linezolid", "maoi"),
        ("Zyvox", "maoi"),
        ("methylene blue", "maoi"),
        ("theophylline", "methylxanthine"),
        ("aminophylline", "methylxanthine"),
        ("levothyroxine", "thyroid_hormone"),
        ("Cytomel", "thyroid_hormone"),
        ("memantine", "nmda_antagonist"),
        ("dextromethorphan", "nmda_antagonist"),
    ],
)
def test_the_drug_list_knows_the_interaction_classes_to_review(intake, name, drug_class):
    intake["medications"] = [{"name": name}]
    rule_set = load_rule_set()
    values = derive_values(validate_intake(intake), rule_set.setting_values(), rule_set, datetime.date(2026, 11, 2))
    assert values["unrecognised_medications"] == []
    assert values["medication_classes"] == [drug_class]


def test_linezolid_and_methylene_blue_count_as_mao_inhibitors(intake):
    result = load(intake, {"name": "linezolid", "dose_mg_per_day": 1200}, {"name": "methylene blue"})
    message = next(r.message for r in result.reasons if r.rule == "maoi")
    assert "linezolid, methylene blue" in message
    assert result.decision == "needs_review"


def test_opioids_gabapentinoids_and_z_drugs_are_named_as_cns_depressants(intake):
    result = load(intake, {"name": "oxycodone"}, {"name": "pregabalin"}, {"name": "zolpidem"})
    message = next(r.message for r in result.reasons if r.rule == "cns_depressant")
    assert "oxycodone, pregabalin, zolpidem" in message


def test_the_interaction_messages_name_the_drugs_as_entered(intake):
    result = load(intake, {"name": "Nardil", "dose_mg_per_day": 45}, {"name": "Vyvanse", "dose_mg_per_day": 30})
    messages = {r.rule: r.message for r in result.reasons}
    assert "Nardil" in messages["maoi"]
    assert "Vyvanse" in messages["psychostimulant"]


def test_every_benzodiazepine_equivalence_says_whether_it_was_verified_and_unverified_ones_say_why():
    table = yaml.safe_load(Path(RULES_DIR, "medications.yaml").read_text())["benzodiazepine_equivalents"]
    assert "Ashton" in table["source"]
    for drug, entry in table["drugs"].items():
        assert isinstance(entry["verified"], bool), drug
        if not entry["verified"]:
            assert entry.get("note"), drug


def test_the_verified_anchor_equivalences_match_the_ashton_manual():
    per_mg = load_rule_set().medications.diazepam_mg_per_mg
    # Ashton: diazepam 10 mg ~ lorazepam 1 mg ~ clonazepam 0.5 mg ~ alprazolam 0.5 mg.
    assert per_mg["lorazepam"] == 10
    assert per_mg["clonazepam"] == 20
    assert per_mg["alprazolam"] == 20
    assert per_mg["diazepam"] == 1


def test_every_benzodiazepine_in_the_drug_list_converts_except_those_the_table_leaves_out():
    medications = load_rule_set().medications
    benzodiazepines = {drug for drug, cls in medications.drug_classes.items() if cls == "benzodiazepine"}
    assert benzodiazepines - set(medications.diazepam_mg_per_mg) == {"midazolam"}
