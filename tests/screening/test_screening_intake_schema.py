"""The intake validator: strict, and every message names the field at fault."""

import re
from pathlib import Path

import pytest

from kapstone.screening.intake_schema import IntakeValidationError, schema_field_paths, validate_intake

DOCS = Path(__file__).resolve().parents[2] / "docs" / "intake-schema.md"


def problems(data) -> list[str]:
    with pytest.raises(IntakeValidationError) as caught:
        validate_intake(data)
    return caught.value.messages


def test_a_valid_intake_comes_back_as_an_equal_copy(intake):
    checked = validate_intake(intake)
    assert checked == intake
    assert checked is not intake


@pytest.mark.parametrize("data", [None, [], "intake", 3, True])
def test_anything_but_an_object_is_refused(data):
    assert problems(data) == ["the intake must be a JSON object"]


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "true"])
def test_a_yes_no_answer_must_be_true_or_false(intake, value):
    intake["medical"]["pregnant"] = value
    expected = "medical.pregnant is required" if value is None else "medical.pregnant must be true or false"
    assert problems(intake) == [expected]


def test_a_missing_safety_answer_is_an_error_never_a_silent_no(intake):
    del intake["medical"]["ketamine_hypersensitivity"]
    assert problems(intake) == ["medical.ketamine_hypersensitivity is required"]


def test_an_unknown_field_is_an_error_with_a_suggestion(intake):
    intake["medical"]["pregnent"] = True
    assert problems(intake) == ["medical.pregnent is not a known field (did you mean medical.pregnant?)"]


def test_an_unknown_top_level_field_is_an_error(intake):
    intake["notes"] = "free text"
    assert problems(intake) == ["notes is not a known field"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(120, True), (40, True), (300, True), (39, False), (301, False), ("120", False), (True, False), (120.5, True)],
)
def test_numbers_must_be_numbers_within_plausible_limits(intake, value, ok):
    intake["vitals"]["systolic"] = value
    if ok:
        validate_intake(intake)
    else:
        assert problems(intake) == ["vitals.systolic must be a number from 40 to 300"]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(intake, value):
    intake["vitals"]["diastolic"] = value
    assert problems(intake) == ["vitals.diastolic must be a number from 20 to 200"]


def test_whole_numbers_refuse_fractions(intake):
    intake["age"] = 40.5
    assert problems(intake) == ["age must be a whole number from 0 to 120"]


@pytest.mark.parametrize("value", ["2026-13-01", "01/02/2026", "2026-W01-1", "20260101", 20260101, "２０２６-01-01"])
def test_dates_must_be_written_year_month_day(intake, value):
    intake["assessment_date"] = value
    assert problems(intake) == ["assessment_date must be a date written YYYY-MM-DD"]


def test_list_items_are_named_by_position(intake):
    intake["medications"] = [{"name": "sertraline"}, {"dose_mg_per_day": 5}]
    intake["prior_treatments"]["antidepressant_trials"][1]["weeks"] = "eight"
    assert problems(intake) == [
        "medications[1].name is required",
        "prior_treatments.antidepressant_trials[1].weeks must be a number from 0 to 1000",
    ]


def test_indications_must_be_known_and_not_repeated(intake):
    intake["indications"] = ["depression", "depression"]
    assert problems(intake) == ["indications lists the same value twice"]
    intake["indications"] = ["insomnia"]
    assert problems(intake) == [
        "indications[0] must be one of: depression, anxiety, ptsd, ocd, eating_disorder, compulsive_behaviours"
    ]
    intake["indications"] = []
    assert problems(intake) == ["indications must have at least 1 entry"]


def test_every_problem_is_reported_at_once(intake):
    intake["medical"]["pregnant"] = "no"
    intake["vitals"]["systolic"] = 900
    del intake["psychiatric"]["bipolar_disorder"]
    assert len(problems(intake)) == 3


def test_date_of_birth_or_age_is_needed_but_not_both(intake):
    intake["date_of_birth"] = "1986-01-01"
    assert problems(intake) == ["give date_of_birth or age (exactly one of them)"]
    del intake["date_of_birth"], intake["age"]
    assert problems(intake) == ["give date_of_birth or age (exactly one of them)"]


def test_a_trial_needs_one_kind_of_response(intake):
    trials = intake["prior_treatments"]["antidepressant_trials"]
    trials[0]["response"] = "no_response"
    del trials[1]["improvement_percent"]
    assert problems(intake) == [
        "prior_treatments.antidepressant_trials[0] gives both improvement_percent and response: give one",
        "prior_treatments.antidepressant_trials[1] needs improvement_percent or response",
    ]


def test_events_cannot_be_after_the_assessment(intake):
    intake["psychiatric"]["substance_use_disorders"] = [
        {"substance": "alcohol", "last_use": "2026-12-01", "involves_dissociatives": False}
    ]
    assert problems(intake) == [
        "psychiatric.substance_use_disorders[0].last_use (2026-12-01) is after the assessment date (2026-11-02)"
    ]


def test_a_null_optional_field_counts_as_not_given(intake):
    intake["medical"]["mi_or_unstable_angina_date"] = None
    intake["current_episode"] = None
    validate_intake(intake)


def test_text_must_not_be_blank(intake):
    intake["medications"] = [{"name": "  "}]
    assert problems(intake) == ["medications[0].name must not be empty"]


def test_the_schema_document_describes_every_field():
    documented = DOCS.read_text()
    missing = [path for path in schema_field_paths() if f"`{path}`" not in documented]
    assert missing == []


def test_the_schema_document_describes_no_field_that_does_not_exist():
    fields_section = DOCS.read_text().split("## Fields", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.\[\]]+)`", fields_section, flags=re.MULTILINE))
    assert documented - set(schema_field_paths()) == set()
