"""The intake examples in docs/examples screen to the decisions docs/intake-schema.md promises."""

import json
from pathlib import Path

import pytest

from kapstone.screening.engine import screen

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

# example file -> (decision, the rules that must fire, in order)
EXPECTED = {
    "intake-depression-eligible.json": ("eligible", []),
    "intake-bipolar-needs-review.json": ("needs_review", ["bipolar_disorder", "lamotrigine"]),
    "intake-pregnancy-excluded.json": ("not_eligible", ["pregnancy"]),
    "intake-ptsd-psychotherapy-eligible.json": ("eligible", []),
    "intake-benzodiazepine-maoi-interactions.json": (
        "needs_review",
        ["benzodiazepine_load", "maoi", "psychostimulant"],
    ),
    "intake-maoi-benzodiazepine-opioid-stimulant-needs-review.json": (
        "needs_review",
        ["benzodiazepine_load", "maoi", "cns_depressant", "psychostimulant"],
    ),
    "intake-not-treatment-resistant-excluded.json": ("not_eligible", ["not_treatment_resistant"]),
    "intake-older-adult-blood-pressure-needs-review.json": (
        "needs_review",
        ["older_adult", "elevated_pre_dose_blood_pressure", "hypertension_history"],
    ),
    "intake-dissociative-substance-use-excluded.json": (
        "not_eligible",
        ["active_dissociative_substance_use_disorder", "substance_use_disorder_in_remission"],
    ),
    "intake-ect-tms-esketamine-recent-mi-needs-review.json": (
        "needs_review",
        ["recent_mi_or_unstable_angina", "cardiovascular_disease"],
    ),
    "intake-past-psychosis-needs-review.json": ("needs_review", ["history_of_psychosis"]),
}


def test_every_example_file_has_an_expected_decision():
    assert sorted(path.name for path in EXAMPLES.glob("intake-*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_screens_to_its_documented_decision(name):
    decision, rules = EXPECTED[name]
    result = screen(json.loads((EXAMPLES / name).read_text()))
    assert result.decision == decision
    assert [reason.rule for reason in result.reasons] == rules


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_schema_document_states_each_examples_decision(name):
    documented = (EXAMPLES.parent / "intake-schema.md").read_text()
    decision, _ = EXPECTED[name]
    assert f"[{name}](examples/{name}) | `{decision}`" in documented


def test_the_interactions_example_reports_its_benzodiazepine_load_and_the_ptsd_example_has_no_stage():
    interactions = screen(json.loads((EXAMPLES / "intake-benzodiazepine-maoi-interactions.json").read_text()))
    assert interactions.benzodiazepine_diazepam_equivalent_mg == 20
    ptsd = screen(json.loads((EXAMPLES / "intake-ptsd-psychotherapy-eligible.json").read_text()))
    assert ptsd.maudsley_score is None
    assert ptsd.treatment_resistant is True


def test_the_interactions_example_needs_review_for_each_interaction_and_says_why():
    result = screen(
        json.loads((EXAMPLES / "intake-maoi-benzodiazepine-opioid-stimulant-needs-review.json").read_text())
    )
    assert result.benzodiazepine_diazepam_equivalent_mg == 60
    messages = {reason.rule: reason.message for reason in result.reasons}
    assert "60 mg/day diazepam-equivalent" in messages["benzodiazepine_load"]
    assert "phenelzine" in messages["maoi"]
    assert "oxycodone" in messages["cns_depressant"]
    assert "amphetamine" in messages["psychostimulant"]
