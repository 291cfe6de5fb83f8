"""Whatever JSON arrives, screening either returns a result or raises IntakeValidationError."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapstone.screening.engine import ScreeningResult, screen
from kapstone.screening.intake_schema import IntakeValidationError, schema_field_paths

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def screen_or_refuse(data) -> None:
    try:
        assert isinstance(screen(data), ScreeningResult)
    except IntakeValidationError as error:
        assert error.messages and all(isinstance(message, str) for message in error.messages)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises_anything_but_a_validation_error(data):
    screen_or_refuse(data)


# Paths into the minimal intake that exist there, for replacing one value with arbitrary JSON.
FIELD_PATHS = [path for path in schema_field_paths() if "[]" not in path]


def replace_at(data: dict, dotted: str, value) -> None:
    """Set data[a][b][c] = value for "a.b.c", replacing anything in the way that is not an object."""
    *parents, last = dotted.split(".")
    for part in parents:
        if not isinstance(data.get(part), dict):
            data[part] = {}
        data = data[part]
    data[last] = value


# The `intake` fixture is only read, and copied for each example, so sharing it across examples is safe.
SHARED_FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=400, deadline=None, suppress_health_check=SHARED_FIXTURE)
@given(st.lists(st.tuples(st.sampled_from(FIELD_PATHS), json_values), min_size=1, max_size=4))
def test_an_intake_with_some_values_replaced_by_arbitrary_json_never_crashes(intake, replacements):
    data = copy.deepcopy(intake)
    for path, value in replacements:
        replace_at(data, path, value)
    screen_or_refuse(data)


plausible_trial = st.fixed_dictionaries(
    {
        "drug": st.sampled_from(["sertraline", "venlafaxine", "bupropion"]),
        "weeks": st.floats(0, 1000),
        "adequate_dose": st.booleans(),
        "improvement_percent": st.floats(-100, 100),
    }
)
plausible_medication = st.fixed_dictionaries(
    {"name": st.sampled_from(["lorazepam", "Xanax", "midazolam", "phenelzine", "aspirin", "ritalin"])},
    optional={"dose_mg_per_day": st.floats(0, 100_000)},
)


@settings(max_examples=300, deadline=None, suppress_health_check=SHARED_FIXTURE)
@given(
    trials=st.lists(plausible_trial, max_size=12),
    medications=st.lists(plausible_medication, max_size=5),
    age=st.integers(0, 120),
    systolic=st.floats(40, 300),
    diastolic=st.floats(20, 200),
)
def test_every_valid_intake_gets_a_decision_and_a_stage_inside_the_method_range(
    intake, trials, medications, age, systolic, diastolic
):
    data = copy.deepcopy(intake)
    data.update(age=age, medications=medications, vitals={"systolic": systolic, "diastolic": diastolic})
    data["prior_treatments"]["antidepressant_trials"] = trials
    result = screen(data)
    assert result.decision in {"eligible", "needs_review", "not_eligible"}
    assert result.maudsley_score is None or 3 <= result.maudsley_score <= 15
    assert result.benzodiazepine_diazepam_equivalent_mg >= 0
