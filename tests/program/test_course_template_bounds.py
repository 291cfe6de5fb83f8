"""Every course template keeps the hard bounds of rules/course_bounds.yaml, each refusal naming the file, the
field and the cited reason."""

import copy

import pytest
import yaml

from kapstone.program.course_templates import TemplateError, hard_bounds, load_templates, parse_bounds, parse_template

from .conftest import template_data


def refusals(data, origin="practice.yaml") -> list[str]:
    with pytest.raises(TemplateError) as error:
        parse_template(data, origin=origin)
    return list(error.value.problems)


def test_more_than_two_dosing_sessions_a_week_is_refused_with_its_source():
    data = template_data(dosing={"max_per_week": 7})
    assert refusals(data) == [
        "practice.yaml: dosing.max_per_week: is 7, but must be at most 2: never more than two dosing sessions a "
        "week (course_bounds.yaml, source journey-clinical)"
    ]


def test_three_dosing_sessions_a_week_is_already_too_many():
    (problem,) = refusals(template_data(dosing={"max_per_week": 3}))
    assert problem.startswith("practice.yaml: dosing.max_per_week: is 3, but must be at most 2")


def test_two_dosing_sessions_on_one_day_are_refused():
    (problem,) = refusals(template_data(dosing={"min_days_between": 0}))
    assert problem.startswith("practice.yaml: dosing.min_days_between: is 0, but must be at least 1: dosing sessions")


@pytest.mark.parametrize(
    ("sizes", "fields"),
    [
        ({"min_size": 1, "max_size": 12}, ["group.min_size", "group.max_size"]),
        ({"min_size": 2, "max_size": 4}, ["group.min_size"]),
        ({"min_size": 3, "max_size": 5}, ["group.max_size"]),
    ],
)
def test_groups_outside_three_to_four_patients_are_refused(sizes, fields):
    problems = refusals(template_data(group=sizes))
    assert [p.split(": ")[1] for p in problems] == fields
    assert all("must be between 3 and 4: groups of 3 to 4 patients" in p for p in problems)
    assert all("source seed-practice" in p for p in problems)


def test_a_dosing_session_with_one_facilitator_and_no_prescriber_is_refused():
    problems = refusals(template_data(dosing={"facilitators": 1, "min_prescribers": 0}))
    assert [p.split(": ")[1] for p in problems] == ["dosing.facilitators", "dosing.min_prescribers"]
    assert "is 1, but must be exactly 2: each dosing session has exactly two facilitators" in problems[0]
    assert "is 0, but must be at least 1: one of the two facilitators" in problems[1]


def test_a_dosing_session_with_three_facilitators_is_refused():
    (problem,) = refusals(template_data(dosing={"facilitators": 3}))
    assert problem.startswith("practice.yaml: dosing.facilitators: is 3, but must be exactly 2")


def test_an_integration_window_beyond_72_hours_is_refused():
    data = template_data(integration={"preferred_window_hours": [24, 96], "outer_bound_hours": 120})
    (problem,) = refusals(data)
    assert problem == (
        "practice.yaml: integration.outer_bound_hours: is 120, but must be at most 72: integration is planned "
        "within 72 h of dosing, the outer bound (course_bounds.yaml, source integration-timing-convention)"
    )


def test_a_field_already_refused_for_its_own_rules_is_reported_once():
    (problem,) = refusals(template_data(dosing={"min_days_between": -1, "max_days_between": 28}))
    assert problem == "practice.yaml: dosing.min_days_between: must be at least 0, got -1"


def test_a_template_file_breaking_a_bound_is_refused_by_name(tmp_path):
    (tmp_path / "big_groups.yaml").write_text(yaml.safe_dump(template_data(group={"max_size": 12})))
    with pytest.raises(TemplateError, match=r"^big_groups.yaml: group.max_size: is 12, but must be between 3 and 4"):
        load_templates(tmp_path)


def test_the_shipped_templates_keep_every_bound():
    templates = load_templates()
    assert len(templates) == 3
    for template in templates.values():
        assert template.dosing.max_per_week <= 2 and template.dosing.min_days_between >= 1
        assert (template.dosing.staffing.facilitators, template.dosing.staffing.min_prescribers >= 1) == (2, True)
        assert 3 <= template.group.min_size <= template.group.max_size <= 4
        assert template.integration.outer_bound_hours <= 72


def test_every_bound_is_cited():
    bounds = {bound.field: bound for bound in hard_bounds()}
    assert set(bounds) == {
        "dosing.max_per_week",
        "dosing.min_days_between",
        "dosing.facilitators",
        "dosing.min_prescribers",
        "group.min_size",
        "group.max_size",
        "integration.outer_bound_hours",
    }
    assert all(bound.source and bound.reason for bound in bounds.values())


BOUNDS = {"bounds": {"dosing.max_per_week": {"max": 2, "source": "seed-practice", "reason": "a reason"}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dosing.max_per_wek": {"max": 2, "source": "seed-practice", "reason": "r"}}, "is not a template field"),
        ({"dosing.max_per_week": {"source": "seed-practice", "reason": "r"}}, "needs a min, a max or both"),
        (
            {"dosing.max_per_week": {"min": 3, "max": 2, "source": "seed-practice", "reason": "r"}},
            r"min \(3\) is more than",
        ),
        ({"dosing.max_per_week": {"max": "two", "source": "seed-practice", "reason": "r"}}, "must be a whole number"),
        ({"dosing.max_per_week": {"max": 2, "source": "nowhere", "reason": "r"}}, "names unknown source 'nowhere'"),
        ({"dosing.max_per_week": {"max": 2, "source": "seed-practice", "reason": " "}}, "must say, in words"),
    ],
)
def test_a_malformed_bounds_file_is_refused_with_the_entry(change, message):
    data = copy.deepcopy(BOUNDS)
    data["bounds"] = change
    with pytest.raises(TemplateError, match=message) as error:
        parse_bounds(data)
    assert str(error.value).startswith("course_bounds.yaml: bounds.dosing.max_per_w")
