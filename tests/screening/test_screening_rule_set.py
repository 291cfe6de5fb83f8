"""The rule set loads, cites a source for everything, and a malformed rule file fails loudly at load."""

import shutil

import pytest
import yaml

from kapstone.screening.engine import (
    RULES_DIR,
    ConditionContext,
    RuleSetError,
    evaluate_condition,
    load_rule_set,
    screen,
)


def test_the_shipped_rule_set_loads_with_a_version_and_a_source_for_every_rule():
    rule_set = load_rule_set()
    assert rule_set.version == "1.5.0"
    assert all(rule.source and rule.message for rule in rule_set.rules)
    assert {rule.outcome for rule in rule_set.rules if isinstance(rule.outcome, str)} == {
        "exclude",
        "needs_review",
        "caution",
    }


def test_the_maudsley_table_cites_fekadu_2009():
    assert "Fekadu" in load_rule_set().maudsley["source"]


@pytest.fixture
def rules_copy(tmp_path):
    """A writable copy of the shipped rules, and a function that edits its main file."""
    directory = tmp_path / "rules"
    shutil.copytree(RULES_DIR, directory)
    main = directory / "kap_screening.yaml"

    def edit(change):
        content = yaml.safe_load(main.read_text())
        change(content)
        main.write_text(yaml.safe_dump(content, sort_keys=False))
        return directory

    return edit


def first_rule(content):
    return content["rules"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: first_rule(c).update(condition={"field": "medical.pregnant", "matches": True}), "a leaf needs"),
        (lambda c: first_rule(c).update(condition="__import__('os').system('true')"), "non-empty mapping"),
        (lambda c: first_rule(c).update(condition={"computed": "mood", "equals": 1}), "unknown computed"),
        (
            lambda c: first_rule(c).update(condition={"field": "medical.pregant", "equals": True}),
            "unknown intake field",
        ),
        (lambda c: first_rule(c).update(condition={"field": "age", "gt": {"setting": "x"}}), "operand mapping"),
        (lambda c: first_rule(c).update(outcome="warn"), "outcome must be one of"),
        (lambda c: first_rule(c).pop("source"), "missing source"),
        (lambda c: first_rule(c).update(message="Age {setting:nope}"), "unknown setting 'nope'"),
        (lambda c: c["rules"].append(dict(c["rules"][0])), "rule ids must be unique"),
        (lambda c: c["settings"]["benzo_dze_threshold_mg"].pop("source"), "needs a value and a source"),
        (lambda c: c["data_files"].update({"maudsley.yaml": "9.9.9"}), "pins '9.9.9'"),
        (lambda c: first_rule(c).update(condition={"any": []}), "any needs a non-empty list"),
    ],
)
def test_a_malformed_rule_file_is_refused_at_load(rules_copy, change, message):
    with pytest.raises(RuleSetError, match=message):
        load_rule_set(rules_copy(change))


def test_a_practice_rule_set_from_another_directory_is_used_by_screen(rules_copy, intake):
    def tighten(content):
        content["version"] = "1.0.0-practice"
        content["settings"]["older_adult_age_years"]["value"] = 40

    rule_set = load_rule_set(rules_copy(tighten))
    result = screen(intake, rule_set=rule_set)
    assert result.rule_set_version == "1.0.0-practice"
    assert result.decision == "needs_review"


def test_conditions_combine_with_all_any_and_not():
    context = ConditionContext(intake={"a": 1, "b": True, "tags": ["x"]}, computed={}, settings={"limit": 2})
    assert evaluate_condition(
        {"all": [{"field": "a", "lt": {"setting": "limit"}}, {"field": "b", "equals": True}]}, context
    )
    assert evaluate_condition({"any": [{"field": "a", "gt": 5}, {"field": "tags", "contains": "x"}]}, context)
    assert evaluate_condition({"not": {"field": "missing", "present": True}}, context)
    assert evaluate_condition({"field": "a", "in": [1, 2]}, context)
    assert not evaluate_condition({"field": "b", "equals": 1}, context), "a yes/no answer is not a number"
    assert not evaluate_condition({"field": "missing", "gt": 0}, context), "a missing value compares false"
