"""Builders for scheduling tests: a small synthetic clinic in New York time (clocks change in March and
November, which the DST tests rely on)."""

import re
from dataclasses import replace
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings

from kapstone.program import scheduling
from kapstone.program.course_templates import load_templates, parse_template
from kapstone.program.scheduling import (
    CourseRequest,
    Facilitator,
    Patient,
    Role,
    Room,
    SolverSettings,
    slots_from_opening_hours,
)

NEW_YORK = ZoneInfo("America/New_York")
# Solver limits in deterministic time (work done), never wall-clock seconds, so a loaded machine cannot make a test
# give up: PLANNED as the app plans in tests (settings_test.PLANNER_SOLVER), QUICK for requests expected to fail fast,
# TO_OPTIMUM for tests that assert the optimal plan (the solver stops once optimality is proven).
PLANNED = SolverSettings(**django_settings.PLANNER_SOLVER)
QUICK = SolverSettings(num_workers=2, deterministic_time=5.0, max_time_in_seconds=600.0)
TO_OPTIMUM = SolverSettings(num_workers=2, deterministic_time=90.0, max_time_in_seconds=600.0)
WEEKDAY_HALF_DAYS = {weekday: [(time(9), 240), (time(14), 240)] for weekday in range(5)}


# Plans already solved in this test process, by their request with the patients renamed by position (a patient's
# key is their record number, from the database's ids, which differ from test to test on PostgreSQL).
_SOLVED: dict[str, tuple[scheduling.Plan, list[str]]] = {}


def _solved_once(solve):
    """schedule_course that solves each distinct request once per test process: many tests plan the same group, and
    a plan costs CP-SAT several seconds of work. The same request always gets the plan solved first, as the app
    would answer it; the patients' record numbers in its warnings are those of the request. A request that fails is
    not kept, so it is solved (and fails) again."""

    def schedule_course(request, settings=None):
        names = [patient.id for patient in request.patients]
        by_position = [replace(patient, id=f"patient-{n}") for n, patient in enumerate(request.patients)]
        key = repr((replace(request, patients=by_position), settings))
        if key not in _SOLVED:
            _SOLVED[key] = (solve(request, settings), names)
        plan, solved_for = _SOLVED[key]
        renamed = dict(zip(solved_for, names, strict=True))
        if not renamed:
            return plan
        old_name = re.compile("|".join(re.escape(name) for name in sorted(renamed, key=len, reverse=True)))
        warnings = tuple(old_name.sub(lambda found: renamed[found.group()], warning) for warning in plan.warnings)
        return replace(plan, warnings=warnings)

    return schedule_course


@pytest.fixture(scope="session", autouse=True)
def plans_solved_once():
    """Calls through the module (scheduling.schedule_course, as planning.plan_course makes them) reuse plans; the
    solver's own tests import schedule_course directly and always solve."""
    solve = scheduling.schedule_course
    scheduling.schedule_course = _solved_once(solve)
    yield
    scheduling.schedule_course = solve


@pytest.fixture(scope="session")
def templates():
    return load_templates()


def template_data(**changes):
    """A minimal valid template (one dosing and one integration session) as parsed YAML; keyword arguments
    change fields of a section, e.g. dosing={"count": 3}."""
    data = {
        "id": "test-course",
        "name": "Test course",
        "version": 1,
        "sources": {"src": {"citation": "Synthetic source for tests"}},
        "preparation": {"count": 0, "duration_minutes": 60, "facilitators": 1, "min_prescribers": 0},
        "dosing": {
            "count": 1,
            "duration_minutes": 210,
            "min_days_between": 1,
            "max_days_between": 28,
            "max_per_week": 2,
            "facilitators": 2,
            "min_prescribers": 1,
        },
        "integration": {
            "after_dosing": "each",
            "closing_count": 0,
            "duration_minutes": 60,
            "preferred_window_hours": [24, 48],
            "outer_bound_hours": 72,
            "facilitators": 1,
            "min_prescribers": 0,
        },
        "follow_ups": {
            "offsets_days": [],
            "window_days": 0,
            "duration_minutes": 60,
            "facilitators": 1,
            "min_prescribers": 0,
        },
        "group": {"min_size": 3, "max_size": 4},
    }
    for name in ("preparation", "dosing", "integration", "follow_ups", "group"):
        data[name].update(changes.get(name, {}))
        data[name]["source"] = {field: "src" for field in data[name]}
    return data


def make_template(**changes):
    return parse_template(template_data(**changes))


def team():
    return [
        Facilitator("PR-1", Role.PRESCRIBER),
        Facilitator("TH-1", Role.THERAPIST),
        Facilitator("TH-2", Role.THERAPIST),
    ]


def four_patients():
    return [Patient(f"P-{n}") for n in range(1, 5)]


def make_request(template, start, horizon_days, **overrides):
    request = CourseRequest(
        template=template,
        tz=NEW_YORK,
        start_date=start,
        horizon_days=horizon_days,
        slots=slots_from_opening_hours(start, start + timedelta(days=horizon_days - 1), NEW_YORK, WEEKDAY_HALF_DAYS),
        facilitators=team(),
        rooms=[Room("R-GROUP", 6)],
        patients=four_patients(),
    )
    return replace(request, **overrides)


def days(first: date, count: int) -> frozenset[date]:
    return frozenset(first + timedelta(days=n) for n in range(count))
