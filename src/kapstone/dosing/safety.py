"""Interprets dosing/data/safety.yaml: vital-sign alerts, dose-ceiling checks, discharge ratings and the suicide-risk
alerts the pre-dose gate reads, with practice overrides."""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

from kapstone import bibliography
from kapstone.practice.authority import setting_named_for_staff

SAFETY_FILE = Path(__file__).parent / "data" / "safety.yaml"
# Routes whose ceiling is per kg of today's weight; every other route's ceiling is a flat dose in mg.
PER_KG_ROUTES = frozenset({"iv", "im"})
# Routes after which a respiratory rate must be recorded on every reading ([sanacora-2017]: the injected routes).
RESPIRATORY_RATE_ROUTES = frozenset({"iv", "im"})

# Weights taken in pounds are stored in kilograms: a pound is 0.45359237 kg exactly ([nist-sp-811]).
KG_PER_LB = Decimal("0.45359237")
# A weight that differs from the patient's last one by about the pound-kilogram factor (1 / KG_PER_LB, 2.2046) was
# almost surely read off the wrong scale, and a per-kg ceiling would then allow over twice the dose. The band
# leaves room for the weight a patient really gains or loses between visits either way. Arithmetic on units, not a
# clinical threshold.
POUNDS_MIX_UP = (Decimal("1.9"), Decimal("2.5"))


def pounds_from_kg(weight_kg: Decimal) -> Decimal:
    return (weight_kg / KG_PER_LB).quantize(Decimal("0.1"))


def kg_from_pounds(weight_lb: Decimal) -> Decimal:
    return (weight_lb * KG_PER_LB).quantize(Decimal("0.1"))


def looks_like_a_pounds_mix_up(weight_kg: Decimal, last_kg: Decimal) -> bool:
    """Whether one of the two weights, both stored as kg, reads like the other one in pounds."""
    low, high = POUNDS_MIX_UP
    ratio = max(weight_kg, last_kg) / min(weight_kg, last_kg)
    return low <= ratio <= high


@cache
def safety_data() -> dict:
    return yaml.safe_load(SAFETY_FILE.read_text(encoding="utf-8"))


def thresholds(overrides: dict | None = None) -> dict:
    """Setting name -> value: the cited default unless the practice set its own."""
    values = {name: spec["value"] for name, spec in safety_data()["settings"].items()}
    values.update({k: v for k, v in (overrides or {}).items() if k in values})
    return values


def source_of(setting: str) -> str:
    """The setting's source with each bibliography id written out."""
    return bibliography.describe(safety_data()["settings"][setting]["source"])


def ceiling_key(route: str) -> str:
    return f"ceiling_{route}_mg_per_kg" if route in PER_KG_ROUTES else f"ceiling_{route}_mg"


@dataclass(frozen=True)
class VitalsAssessment:
    level: str  # "", "review" or "stop"
    messages: list[str]


def assess_vitals(
    *,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    pre_dose: bool,
    respiratory_rate: int | None = None,
    overrides: dict | None = None,
    limits: dict | None = None,
) -> VitalsAssessment:
    """`limits` (the room's, selectors.room_thresholds) wins over `overrides`. Before the dose, high BP reviews above
    the Spravato REMS level; after it, at or above the post-dose review level (BP peaks about 40 minutes after)."""
    limits = limits or thresholds(overrides)
    stop, review = [], []
    if systolic >= limits["stop_systolic"] or diastolic >= limits["stop_diastolic"]:
        stop.append(
            f"BP {systolic}/{diastolic} at or above the stop threshold "
            f"{limits['stop_systolic']}/{limits['stop_diastolic']}"
        )
    elif pre_dose and (systolic > limits["predose_systolic_review"] or diastolic > limits["predose_diastolic_review"]):
        review.append(
            f"Pre-dose BP {systolic}/{diastolic} above {limits['predose_systolic_review']}/"
            f"{limits['predose_diastolic_review']}: consider delaying the dose"
        )
    elif not pre_dose and (systolic >= limits["review_systolic"] or diastolic >= limits["review_diastolic"]):
        review.append(
            f"BP {systolic}/{diastolic} at or above the review level {limits['review_systolic']}/"
            f"{limits['review_diastolic']}: re-check and tell the prescriber"
        )
    if systolic < limits["low_systolic_review"]:
        review.append(f"Low BP: systolic {systolic} below {limits['low_systolic_review']}")
    if heart_rate > limits["stop_heart_rate"]:
        stop.append(f"Heart rate {heart_rate} above {limits['stop_heart_rate']}")
    elif heart_rate > limits["review_heart_rate"]:
        review.append(f"Heart rate {heart_rate} above {limits['review_heart_rate']}")
    elif heart_rate < limits["low_heart_rate_review"]:
        review.append(f"Slow heart rate: {heart_rate} below {limits['low_heart_rate_review']}")
    if spo2 < limits["low_spo2"]:
        stop.append(f"SpO2 {spo2}% below {limits['low_spo2']}%")
    elif spo2 < limits["review_spo2"]:
        review.append(f"SpO2 {spo2}% below {limits['review_spo2']}%")
    if respiratory_rate is not None:
        if respiratory_rate < limits["stop_respiratory_rate"]:
            stop.append(f"Respiratory rate {respiratory_rate}/min below {limits['stop_respiratory_rate']}/min")
        elif respiratory_rate < limits["low_respiratory_rate_review"]:
            review.append(f"Respiratory rate {respiratory_rate}/min below {limits['low_respiratory_rate_review']}/min")
        elif respiratory_rate > limits["high_respiratory_rate_review"]:
            review.append(f"Respiratory rate {respiratory_rate}/min above {limits['high_respiratory_rate_review']}/min")
    if stop:
        return VitalsAssessment("stop", stop + review)
    return VitalsAssessment("review" if review else "", review)


@dataclass(frozen=True)
class CeilingCheck:
    within: bool | None  # None: the practice has no ceiling for this route, so no order is accepted on it
    message: str


def check_ceiling(
    *, route: str, dose_mg: Decimal, weight_kg: Decimal | None, overrides: dict | None = None
) -> CeilingCheck:
    limits = thresholds(overrides)
    key = ceiling_key(route)
    ceiling = limits.get(key)
    if ceiling is None:
        return CeilingCheck(
            None,
            f"No {route.upper() if route in PER_KG_ROUTES else route} dose ceiling is configured for this practice, "
            f"so no order is accepted on this route until it is set: {setting_named_for_staff(f'dosing.{key}')}.",
        )
    if route in PER_KG_ROUTES:
        if not weight_kg:
            return CeilingCheck(False, "Record today's weight: the ceiling for this route is in mg/kg.")
        per_kg = dose_mg / weight_kg
        if per_kg > Decimal(str(ceiling)):
            return CeilingCheck(False, f"{per_kg:.2f} mg/kg is above the practice ceiling of {ceiling} mg/kg.")
        # Said beside the order, which already gives the dose and its mg/kg: the note adds only the ceiling.
        return CeilingCheck(True, f"Within the ceiling of {ceiling} mg/kg.")
    # As typed, a dose may read "200.0"; written without trailing zeros, as the room shows the order ("200").
    dose = f"{dose_mg.normalize():f}"
    if dose_mg > Decimal(str(ceiling)):
        return CeilingCheck(False, f"{dose} mg is above the practice ceiling of {ceiling} mg.")
    return CeilingCheck(True, f"Within the ceiling of {ceiling} mg.")


def older_adult_starting_dose_refusal(*, route: str, dose_mg: Decimal, age_years: int, first_on_route: bool) -> str:
    """Why the dose is too high for an older adult's first dose on the route; "" when it is not. The label starts
    patients of 65 and over on a lower esketamine dose whatever the practice's ceiling (safety.yaml
    older_adult_starting_dose)."""
    rule = safety_data()["older_adult_starting_dose"]
    if route != rule["route"] or not first_on_route or age_years < rule["age_years"] or dose_mg <= rule["max_mg"]:
        return ""
    return (
        f"The patient is {age_years} and this is their first {route} dose: it starts at no more than {rule['max_mg']} "
        f"mg ({rule['source']})."
    )


def positive_pregnancy_test_diagnosis() -> dict[str, str]:
    """The code and description a positive pregnancy test at check-in is recorded under (safety.yaml
    positive_pregnancy_test)."""
    rule = safety_data()["positive_pregnancy_test"]
    return {"icd10_code": rule["icd10_code"], "description": rule["description"]}


def one_dose_a_day_source() -> str:
    """The source of the rule that a patient has at most one dose a day, in any group (safety.yaml one_dose_a_day)."""
    return safety_data()["one_dose_a_day"]["source"]


# --- suicide-risk alerts ---------------------------------------------------------------------------------------


def suicide_risk_level(*, instrument_id: str, rule: str, level: str) -> str | None:
    """The risk level a questionnaire alert counts as in the room, or None when it is not a suicide-risk alert."""
    for entry in safety_data()["suicide_risk_alerts"]["rules"]:
        if (entry["instrument"], entry["rule"]) == (instrument_id, rule):
            return entry.get("level") or level or None
    return None


def risk_rank(level: str | None) -> int:
    levels = safety_data()["suicide_risk_alerts"]["levels"]
    return levels.index(level) if level in levels else 0


def blocking_risk(level: str | None) -> bool:
    """At or above the level where an open alert blocks the order (moderate)."""
    return risk_rank(level) >= risk_rank(safety_data()["suicide_risk_alerts"]["blocking_level"])


def review_before_dosing_kinds() -> tuple[str, ...]:
    """The alert-queue kinds an open alert of holds the next dose and a new course (safety.yaml
    review_before_dosing): those raised on any day, then those raised on an earlier day than the dose's
    (review_before_dosing_earlier_day_kinds)."""
    rule = safety_data()["review_before_dosing"]
    return (*rule["kinds"], *rule["earlier_day_kinds"])


def review_before_dosing_earlier_day_kinds() -> frozenset[str]:
    """The kinds whose alert holds a dose only when raised on an earlier day: the dosing room's own events (a severe
    adverse event, stop-level vitals), which on the day are its pre-dose and discharge checks'."""
    return frozenset(safety_data()["review_before_dosing"]["earlier_day_kinds"])


def review_before_dosing_source() -> str:
    return safety_data()["review_before_dosing"]["source"]


def confirmed_hypersensitivity_source() -> str:
    return safety_data()["confirmed_hypersensitivity"]["source"]


def discharge_waits_for_kinds() -> tuple[str, ...]:
    """The alert-queue kinds an open alert of holds discharge, dosed or not (safety.yaml discharge_waits_for): a
    secure message the crisis screen flagged."""
    return tuple(safety_data()["discharge_waits_for"]["kinds"])


def discharge_waits_for_source() -> str:
    return safety_data()["discharge_waits_for"]["source"]


def medication_review_classes() -> frozenset[str]:
    return frozenset(safety_data()["medication_review"]["classes"])


def benzodiazepine_load_raised_source() -> str:
    return safety_data()["benzodiazepine_load_raised"]["source"]


def discharge_moaas_baseline() -> int:
    return safety_data()["discharge_moaas"]["baseline"]
