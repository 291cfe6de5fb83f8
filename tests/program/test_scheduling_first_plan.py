"""The planner's first plan: a greedy walk through the course, checked before it is offered, that the search starts
from and that stands as the answer when the search runs out of time on a busy machine."""

from dataclasses import replace
from datetime import date

import pytest

from kapstone.program import scheduling
from kapstone.program.course_templates import Finding, SessionKind, Severity
from kapstone.program.scheduling import (
    PlanCheck,
    SolverSettings,
    _build,
    _greedy,
    _hinted_plan,
    schedule_course,
    validate_plan,
)

from .conftest import PLANNED
from .test_scheduling import assert_every_hard_rule_holds, busy_clinic_request

# Enough deterministic work to check the greedy plan with every choice fixed, far too little to search: the search
# stops where a busy machine's would, with no plan of its own.
NO_TIME_TO_SEARCH = SolverSettings(num_workers=1, deterministic_time=0.01, max_time_in_seconds=600.0)


@pytest.mark.parametrize("template_id", ["group-kap-programme", "journey-clinical-style", "field-trip-style"])
def test_the_greedy_plan_keeps_every_hard_rule_of_a_busy_clinic(templates, template_id):
    request = busy_clinic_request(templates[template_id])
    plan = _hinted_plan(request, _build(request), PLANNED)
    assert plan is not None and not plan.optimal
    assert validate_plan(request, plan.sessions).ok
    assert_every_hard_rule_holds(request, plan)


def test_a_search_that_stops_without_a_plan_of_its_own_returns_the_greedy_plan(templates):
    request = busy_clinic_request(templates["group-kap-programme"])
    plan = schedule_course(request, NO_TIME_TO_SEARCH)
    assert not plan.optimal
    assert validate_plan(request, plan.sessions).ok
    assert_every_hard_rule_holds(request, plan)
    assert "the solver stopped at its time limit: this plan keeps every rule but may not be the best" in plan.warnings


def test_the_search_improves_on_the_greedy_plan(templates):
    request = busy_clinic_request(templates["group-kap-programme"])
    first = _hinted_plan(request, _build(request), PLANNED)
    assert schedule_course(request, PLANNED).objective <= first.objective


def test_a_greedy_plan_that_validate_plan_refuses_is_discarded_and_gives_no_hint(templates, monkeypatch):
    request = busy_clinic_request(templates["group-kap-programme"])
    refused = Finding(Severity.VIOLATION, "test", "refused for the test", ((SessionKind.DOSING, 1),))
    monkeypatch.setattr(scheduling, "validate_plan", lambda request, sessions: PlanCheck((refused,), ()))
    built = _build(request)
    assert _hinted_plan(request, built, PLANNED) is None
    assert not built.model.proto.solution_hint.vars


def test_the_walk_backs_up_when_an_integration_session_has_nowhere_to_go(templates):
    # A dosing session on Thursday 8 January leaves its integration session Friday (patient P-2 is away), or Monday,
    # past the 72 h outer bound: the walk must move the dosing session, not give up.
    request = busy_clinic_request(templates["journey-clinical-style"])
    placed = _greedy(request, _build(request))
    assert placed is not None
    dosing = next(p for p in placed if p.session.kind is SessionKind.DOSING)
    assert _build(request).infos[dosing.slot].local_start.date() != date(2026, 1, 8)


def test_a_walk_that_finds_nothing_in_its_steps_gives_no_plan_and_the_search_still_plans(templates, monkeypatch):
    request = busy_clinic_request(templates["group-kap-programme"])
    monkeypatch.setattr(scheduling, "GREEDY_STEPS", 3)
    built = _build(request)
    assert _greedy(request, built) is None
    assert _hinted_plan(request, built, PLANNED) is None
    assert validate_plan(request, schedule_course(request, PLANNED).sessions).ok


def test_a_greedy_plan_that_breaks_a_rule_of_the_model_is_discarded_and_gives_no_hint(templates, monkeypatch):
    # The first two sessions swapped break the course order; validate_plan is told to pass it, so only CP-SAT's check
    # with every choice fixed can refuse it.
    request = busy_clinic_request(templates["group-kap-programme"])
    built = _build(request)
    first, second, *rest = _greedy(request, built)
    swapped = [replace(first, slot=second.slot), replace(second, slot=first.slot), *rest]
    monkeypatch.setattr(scheduling, "_greedy", lambda request, built: swapped)
    monkeypatch.setattr(scheduling, "validate_plan", lambda request, sessions: PlanCheck((), ()))
    assert _hinted_plan(request, built, PLANNED) is None
    assert not built.model.proto.solution_hint.vars
