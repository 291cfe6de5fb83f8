"""Interprets dosing/data/safety.yaml: vital-sign alerts and dose-ceiling checks, with practice overrides."""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

SAFETY_FILE = Path(__file__).parent / "data" / "safety.yaml"


@cache
def safety_data() -> dict:
    return yaml.safe_load(SAFETY_FILE.read_text())


def thresholds(overrides: dict | None = None) -> dict:
    """Setting name -> value: the cited default unless the practice set its own."""
    values = {name: spec["value"] for name, spec in safety_data()["settings"].items()}
    values.update({k: v for k, v in (overrides or {}).items() if k in values})
    return values


def source_of(setting: str) -> str:
    spec = safety_data()["settings"][setting]
    return safety_data()["sources"][spec["source"]]


@dataclass(frozen=True)
class VitalsAssessment:
    level: str  # "", "review" or "stop"
    messages: list[str]


def assess_vitals(
    *, systolic: int, diastolic: int, heart_rate: int, spo2: int, pre_dose: bool, overrides: dict | None = None
) -> VitalsAssessment:
    limits = thresholds(overrides)
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
    if heart_rate > limits["stop_heart_rate"]:
        stop.append(f"Heart rate {heart_rate} above {limits['stop_heart_rate']}")
    if spo2 < limits["low_spo2"]:
        stop.append(f"SpO2 {spo2}% below {limits['low_spo2']}%")
    if stop:
        return VitalsAssessment("stop", stop + review)
    return VitalsAssessment("review" if review else "", review)


@dataclass(frozen=True)
class CeilingCheck:
    within: bool | None  # None: the practice has no ceiling for this route
    message: str


def check_ceiling(
    *, route: str, dose_mg: Decimal, weight_kg: Decimal | None, overrides: dict | None = None
) -> CeilingCheck:
    limits = thresholds(overrides)
    per_kg_key, flat_key = f"ceiling_{route}_mg_per_kg", f"ceiling_{route}_mg"
    if per_kg_key in limits:
        ceiling = limits[per_kg_key]
        if ceiling is None:
            return CeilingCheck(None, f"No {route.upper()} ceiling is configured for this practice.")
        if not weight_kg:
            return CeilingCheck(False, "Record today's weight: the ceiling for this route is in mg/kg.")
        per_kg = dose_mg / weight_kg
        if per_kg > Decimal(str(ceiling)):
            return CeilingCheck(False, f"{per_kg:.2f} mg/kg is above the practice ceiling of {ceiling} mg/kg.")
        return CeilingCheck(True, f"{per_kg:.2f} mg/kg, within the ceiling of {ceiling} mg/kg.")
    ceiling = limits.get(flat_key)
    if ceiling is None:
        return CeilingCheck(None, f"No {route} ceiling is configured for this practice.")
    if dose_mg > Decimal(str(ceiling)):
        return CeilingCheck(False, f"{dose_mg} mg is above the practice ceiling of {ceiling} mg.")
    return CeilingCheck(True, f"{dose_mg} mg, within the ceiling of {ceiling} mg.")
