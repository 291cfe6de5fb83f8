"""Classifies the change between a baseline and a follow-up total: response, remission, reliable change.

The thresholds are data in each instrument's `change` block (with their sources); this module only applies
them. Reliable change uses the Jacobson & Truax (1991) index when an SD and a reliability are known, and
otherwise the instrument's fixed threshold (e.g. the IAPT points for PHQ-9 and GAD-7). Jacobson & Truax allow
the SD of the pre-treatment sample; an instrument whose `sd` block has `practice_baseline_sample` takes the SD
of the practice's own baselines (selectors.practice_baseline_sample) once there are at least `minimum_n` of
them. Change is judged on totals, never as movement between severity bands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kapstone.measures.scoring import (
    COMPARATORS,
    Instrument,
    InvalidAnswers,
    ScoringError,
    get_instrument,
)

# Jacobson & Truax 1991: |RCI| above 1.96 is a change that measurement error alone would produce less than 5%
# of the time (two-tailed).
RCI_CRITICAL_VALUE = 1.96


def standard_error_of_difference(sd: float, reliability: float) -> float:
    """S_diff = sqrt(2) x SD x sqrt(1 - r) (Jacobson & Truax 1991)."""
    if sd <= 0:
        raise ScoringError(f"The SD must be positive; got {sd}.")
    if not 0 <= reliability < 1:
        raise ScoringError(f"The reliability must be at least 0 and below 1; got {reliability}.")
    return math.sqrt(2) * sd * math.sqrt(1 - reliability)


def reliable_change_index(baseline: float, follow_up: float, *, sd: float, reliability: float) -> float:
    """RCI = (x2 - x1) / S_diff. Negative means the score fell."""
    return (follow_up - baseline) / standard_error_of_difference(sd, reliability)


def _checked_total(instrument: Instrument, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidAnswers(f"The {name} {instrument.short_name} total must be a number, not {value!r}.")
    low, high = instrument.total_range or (-math.inf, math.inf)
    if not low <= value <= high:
        raise InvalidAnswers(f"The {name} {instrument.short_name} total must be between {low} and {high}; got {value}.")
    return value


def _meets(rule: Mapping[str, Any] | None, total: float) -> bool | None:
    if rule is None:
        return None
    ((name, threshold),) = rule["when"].items()
    return COMPARATORS[name](total, threshold)


def _number(spec: Mapping[str, Any] | None, settings: Mapping[str, int | float]) -> float | None:
    """A number from a YAML block: its value, or the practice setting it names; None when not recorded."""
    if spec is None:
        return None
    value = spec.get("value")
    if isinstance(value, Mapping):
        return settings[value["setting"]]
    return value


def _baseline_sample_rule(instrument: Instrument) -> Mapping[str, Any] | None:
    reliable = (instrument.definition.get("change") or {}).get("reliable_change") or {}
    return (reliable.get("sd") or {}).get("practice_baseline_sample")


def takes_practice_baseline_sample(instrument: Instrument) -> bool:
    """Whether the instrument's reliable change takes the SD of the practice's own baselines."""
    return _baseline_sample_rule(instrument) is not None


def baseline_sample_minimum(instrument: Instrument, settings: Mapping[str, Any] | None = None) -> int | None:
    """How many baselines the practice needs before their SD is used for the index; None when the instrument
    takes no SD from the practice's baselines (no reliability recorded, or no `practice_baseline_sample`)."""
    rule = _baseline_sample_rule(instrument)
    if rule is None:
        return None
    minimum = _number({"value": rule["minimum_n"]}, instrument.resolve_settings(settings))
    return None if minimum is None else math.ceil(minimum)


def classify_change(
    instrument_id: str,
    baseline: float,
    follow_up: float,
    *,
    sd: float | None = None,
    reliability: float | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Response, remission, reliable improvement/deterioration and the RCI for one pair of totals.

    `sd` and `reliability` override the instrument's recorded values (for example the SD of the practice's
    own baseline sample). A value the instrument does not define (no remission rule, no caseness) is None.
    """
    instrument = get_instrument(instrument_id)
    rules = instrument.definition.get("change")
    if not rules:
        raise ScoringError(f"{instrument.short_name} is not a symptom measure; change is not classified for it.")
    resolved = instrument.resolve_settings(settings)
    baseline = _checked_total(instrument, "baseline", baseline)
    follow_up = _checked_total(instrument, "follow-up", follow_up)
    # Every instrument with change rules is scored so that lower is better.
    improvement = baseline - follow_up

    response_rule = rules.get("response")
    response = None
    if response_rule is not None:
        response = baseline > 0 and improvement / baseline >= response_rule["min_reduction"]

    reliable = rules.get("reliable_change") or {}
    sd = sd if sd is not None else _number(reliable.get("sd"), resolved)
    reliability = reliability if reliability is not None else _number(reliable.get("reliability"), resolved)
    fixed_threshold = _number(reliable.get("fixed_threshold"), resolved)
    rci = None
    reliable_improvement: bool | None
    reliable_deterioration: bool | None
    if sd is not None and reliability is not None:
        rci = reliable_change_index(baseline, follow_up, sd=sd, reliability=reliability)
        method = "jacobson_truax"
        reliable_improvement = rci < -RCI_CRITICAL_VALUE
        reliable_deterioration = rci > RCI_CRITICAL_VALUE
    elif fixed_threshold is not None:
        method = "fixed_threshold"
        reliable_improvement = improvement >= fixed_threshold
        reliable_deterioration = -improvement >= fixed_threshold
    else:
        method = None
        reliable_improvement = reliable_deterioration = None

    return {
        "instrument": instrument.id,
        "baseline": baseline,
        "follow_up": follow_up,
        "change": follow_up - baseline,
        "percent_change": None if baseline == 0 else round(100 * (follow_up - baseline) / baseline, 1),
        "response": response,
        "remission": _meets(rules.get("remission"), follow_up),
        "reliable_improvement": reliable_improvement,
        "reliable_deterioration": reliable_deterioration,
        "rci": None if rci is None else round(rci, 3),
        "reliable_change_method": method,
        "reliable_change_threshold": fixed_threshold if method == "fixed_threshold" else None,
        "sd": sd if method == "jacobson_truax" else None,
        "reliability": reliability if method == "jacobson_truax" else None,
        "baseline_caseness": _meets(rules.get("caseness"), baseline),
        "follow_up_caseness": _meets(rules.get("caseness"), follow_up),
    }
