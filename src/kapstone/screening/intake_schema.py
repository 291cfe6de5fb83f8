"""The intake record that screening reads, as a schema dict, and a strict validator driven by it.

The validator reports every problem at once, each message naming the field by its dotted path
("medical.pregnant must be true or false"). Unknown fields are errors: a misspelt safety question
must never be read as "not answered". Every yes/no safety question is required for the same reason.

Schema nodes are plain dicts:
  {"type": "object", "properties": {...}, "required": [...]}
  {"type": "array", "items": node, "min_items": n, "unique": bool}
  {"type": "boolean"} | {"type": "string", "enum": [...]} | {"type": "date"}
  {"type": "number" | "integer", "minimum": a, "maximum": b}
Numeric limits on vitals and doses are plausibility limits that catch typing errors; they are not
clinical thresholds (those live in rules/kap_screening.yaml with their sources).
"""

import datetime as dt
import difflib
import math
import re
from copy import deepcopy
from typing import Any

from kapstone.untrusted import storable_text

INDICATIONS = ["depression", "anxiety", "ptsd", "ocd", "eating_disorder", "compulsive_behaviours"]
EPISODE_SEVERITIES = ["subsyndromal", "mild", "moderate", "severe_without_psychosis", "severe_with_psychosis"]
RESPONSE_CATEGORIES = ["no_response", "partial_response", "response", "remission"]

_YES_NO = {"type": "boolean"}
_NAME = {"type": "string", "max_length": 200}
_DOSE_MG_PER_DAY = {"type": "number", "minimum": 0, "maximum": 100_000}
_IMPROVEMENT_PERCENT = {"type": "number", "minimum": -100, "maximum": 100}
_RESPONSE = {"type": "string", "enum": RESPONSE_CATEGORIES}


def _yes_no_questions(*names: str) -> dict[str, dict]:
    return {name: _YES_NO for name in names}


_OTHER_TREATMENT_COURSE = {
    "type": "object",
    "properties": {
        "sessions": {"type": "integer", "minimum": 0, "maximum": 1000},
        "year": {"type": "integer", "minimum": 1900, "maximum": 2200},
        "improvement_percent": _IMPROVEMENT_PERCENT,
        "response": _RESPONSE,
    },
    "required": [],
}

INTAKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["indications", "psychiatric", "medical", "medications", "prior_treatments"],
    "properties": {
        "assessment_date": {"type": "date"},
        "date_of_birth": {"type": "date"},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "indications": {
            "type": "array",
            "items": {"type": "string", "enum": INDICATIONS},
            "min_items": 1,
            "unique": True,
        },
        "current_episode": {
            "type": "object",
            "required": ["duration_months", "severity"],
            "properties": {
                "duration_months": {"type": "number", "minimum": 0, "maximum": 1200},
                "severity": {"type": "string", "enum": EPISODE_SEVERITIES},
            },
        },
        "psychiatric": {
            "type": "object",
            "required": [
                "current_psychosis",
                "current_mania",
                "history_of_psychosis",
                "first_degree_relative_psychosis",
                "bipolar_disorder",
                "substance_use_disorders",
            ],
            "properties": {
                **_yes_no_questions(
                    "current_psychosis",
                    "current_mania",
                    "history_of_psychosis",
                    "first_degree_relative_psychosis",
                    "bipolar_disorder",
                ),
                # Optional so intakes saved before it was asked still validate; the staff form always asks it.
                "primary_psychotic_disorder": _YES_NO,
                "substance_use_disorders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["substance", "last_use", "involves_dissociatives"],
                        "properties": {
                            "substance": _NAME,
                            "last_use": {"type": "date"},
                            "involves_dissociatives": _YES_NO,
                        },
                    },
                },
            },
        },
        "medical": {
            "type": "object",
            "required": [
                "hypertension",
                "cardiovascular_disease",
                "heart_failure",
                "significant_arrhythmia",
                "aneurysmal_vascular_disease_or_avm",
                "intracerebral_haemorrhage",
                "raised_intracranial_pressure",
                "raised_intraocular_pressure",
                "untreated_hyperthyroidism",
                "significant_liver_disease",
                "pregnant",
                "breastfeeding",
                "ketamine_hypersensitivity",
            ],
            "properties": {
                **_yes_no_questions(
                    "hypertension",
                    "cardiovascular_disease",
                    "heart_failure",
                    "significant_arrhythmia",
                    "aneurysmal_vascular_disease_or_avm",
                    "intracerebral_haemorrhage",
                    "raised_intracranial_pressure",
                    "raised_intraocular_pressure",
                    "untreated_hyperthyroidism",
                    "significant_liver_disease",
                    "pregnant",
                    "breastfeeding",
                    "ketamine_hypersensitivity",
                ),
                "mi_or_unstable_angina_date": {"type": "date"},
            },
        },
        "medications": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _NAME, "dose_mg_per_day": _DOSE_MG_PER_DAY},
            },
        },
        "prior_treatments": {
            "type": "object",
            "required": ["antidepressant_trials", "psychotherapy"],
            "properties": {
                "antidepressant_trials": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["drug", "weeks", "adequate_dose"],
                        "properties": {
                            "drug": _NAME,
                            "dose_mg_per_day": _DOSE_MG_PER_DAY,
                            "weeks": {"type": "number", "minimum": 0, "maximum": 1000},
                            "adequate_dose": _YES_NO,
                            "improvement_percent": _IMPROVEMENT_PERCENT,
                            "response": _RESPONSE,
                        },
                    },
                },
                "augmentations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["drug"],
                        "properties": {
                            "drug": _NAME,
                            "dose_mg_per_day": _DOSE_MG_PER_DAY,
                            "weeks": {"type": "number", "minimum": 0, "maximum": 1000},
                        },
                    },
                },
                "psychotherapy": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["modality", "evidence_based"],
                        "properties": {
                            "modality": _NAME,
                            "evidence_based": _YES_NO,
                            "sessions": {"type": "integer", "minimum": 0, "maximum": 1000},
                            "improvement_percent": _IMPROVEMENT_PERCENT,
                            "response": _RESPONSE,
                        },
                    },
                },
                "ect": {"type": "array", "items": _OTHER_TREATMENT_COURSE},
                "tms": {"type": "array", "items": _OTHER_TREATMENT_COURSE},
                "esketamine": {"type": "array", "items": _OTHER_TREATMENT_COURSE},
            },
        },
        "vitals": {
            "type": "object",
            "required": ["systolic", "diastolic"],
            "properties": {
                "systolic": {"type": "number", "minimum": 40, "maximum": 300},
                "diastolic": {"type": "number", "minimum": 20, "maximum": 200},
                "heart_rate": {"type": "number", "minimum": 20, "maximum": 250},
                "weight_kg": {"type": "number", "minimum": 2, "maximum": 400},
                "height_cm": {"type": "number", "minimum": 40, "maximum": 250},
            },
        },
    },
}

# Treatment lists whose entries give a response as a percentage or a category, never both; the
# treatment-resistance count needs one for each medication trial and psychotherapy course.
_RESPONSE_LISTS = ["antidepressant_trials", "psychotherapy", "ect", "tms", "esketamine"]
_REQUIRES_A_RESPONSE = {"antidepressant_trials", "psychotherapy"}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OLDEST_AGE_YEARS = 120


class IntakeValidationError(ValueError):
    """The intake breaks the schema; `messages` lists every problem, each naming its field."""

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


def validate_intake(data: Any) -> dict:
    """Return a checked copy of `data`, or raise IntakeValidationError listing every problem."""
    errors: list[str] = []
    if not isinstance(data, dict):
        raise IntakeValidationError(["the intake must be a JSON object"])
    _check(data, INTAKE_SCHEMA, "", errors)
    if not errors:
        _check_across_fields(data, errors)
    if errors:
        raise IntakeValidationError(errors)
    return deepcopy(data)


def schema_field_paths(node: dict = INTAKE_SCHEMA, prefix: str = "") -> list[str]:
    """Every field path the schema defines (list items as `name[]`), for documentation and tests."""
    paths = []
    if node["type"] == "object":
        for name, child in node["properties"].items():
            path = f"{prefix}.{name}" if prefix else name
            paths.append(path)
            paths.extend(schema_field_paths(child, path))
    elif node["type"] == "array":
        paths.extend(schema_field_paths(node["items"], f"{prefix}[]"))
    return paths


UNSTORABLE = "holds a \\u0000 or an unpaired \\ud800-\\udfff escape, which is not text a record can keep"


def _where(path: str) -> str:
    return path or "the intake"


def _check(value: Any, node: dict, path: str, errors: list[str]) -> None:
    kind = node["type"]
    if kind == "object":
        _check_object(value, node, path, errors)
    elif kind == "array":
        _check_array(value, node, path, errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{_where(path)} must be true or false")
    elif kind == "string":
        _check_string(value, node, path, errors)
    elif kind == "date":
        if _parse_date(value) is None:
            errors.append(f"{_where(path)} must be a date written YYYY-MM-DD")
    elif kind in ("number", "integer"):
        _check_number(value, node, path, errors)
    else:  # pragma: no cover - a schema bug, not bad input
        raise AssertionError(f"unknown schema type {kind!r} at {path}")


def _check_object(value: Any, node: dict, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{_where(path)} must be an object")
        return
    properties = node["properties"]
    for key in value:
        if not storable_text(str(key)):
            errors.append(f"a field name in {_where(path)} {UNSTORABLE}")
        elif key not in properties:
            child = f"{path}.{key}" if path else str(key)
            hint = difflib.get_close_matches(str(key), list(properties), n=1)
            suggestion = f" (did you mean {path + '.' if path else ''}{hint[0]}?)" if hint else ""
            errors.append(f"{child} is not a known field{suggestion}")
    for name in node.get("required", []):
        if value.get(name) is None:
            errors.append(f"{path + '.' if path else ''}{name} is required")
    for name, child_node in properties.items():
        # An explicit null on an optional field means "not given", as forms often send it.
        if value.get(name) is not None:
            _check(value[name], child_node, f"{path}.{name}" if path else name, errors)


def _check_array(value: Any, node: dict, path: str, errors: list[str]) -> None:
    if not isinstance(value, list):
        errors.append(f"{_where(path)} must be a list")
        return
    if len(value) < node.get("min_items", 0):
        errors.append(f"{_where(path)} must have at least {node['min_items']} entry")
    for index, item in enumerate(value):
        _check(item, node["items"], f"{path}[{index}]", errors)
    if node.get("unique") and all(isinstance(item, str) for item in value) and len(set(value)) != len(value):
        errors.append(f"{_where(path)} lists the same value twice")


def _check_string(value: Any, node: dict, path: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{_where(path)} must be text")
    elif "enum" in node and value not in node["enum"]:
        errors.append(f"{_where(path)} must be one of: {', '.join(node['enum'])}")
    elif not storable_text(value):
        errors.append(f"{_where(path)} {UNSTORABLE}")
    elif not value.strip():
        errors.append(f"{_where(path)} must not be empty")
    elif len(value) > node.get("max_length", 10_000):
        errors.append(f"{_where(path)} must be at most {node['max_length']} characters")


def _check_number(value: Any, node: dict, path: str, errors: list[str]) -> None:
    low, high = node.get("minimum"), node.get("maximum")
    whole = node["type"] == "integer"
    noun = "a whole number" if whole else "a number"
    # bool is a subclass of int in Python; JSON true is not a number.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and isinstance(value, float) and not math.isfinite(value):
        is_number = False
    if is_number and whole and isinstance(value, float) and not value.is_integer():
        is_number = False
    if not is_number or (low is not None and value < low) or (high is not None and value > high):
        errors.append(f"{_where(path)} must be {noun} from {low:g} to {high:g}")


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _check_across_fields(data: dict, errors: list[str]) -> None:
    """Rules a per-field schema cannot say: one of two fields, and dates in a sensible order."""
    has_dob, has_age = data.get("date_of_birth") is not None, data.get("age") is not None
    if has_dob == has_age:
        errors.append("give date_of_birth or age (exactly one of them)")

    treatments = data["prior_treatments"]
    for list_name in _RESPONSE_LISTS:
        for index, entry in enumerate(treatments.get(list_name) or []):
            where = f"prior_treatments.{list_name}[{index}]"
            given = [key for key in ("improvement_percent", "response") if entry.get(key) is not None]
            if len(given) == 2:
                errors.append(f"{where} gives both improvement_percent and response: give one")
            elif not given and list_name in _REQUIRES_A_RESPONSE:
                errors.append(f"{where} needs improvement_percent or response")

    today = dt.date.today()
    assessed = _parse_date(data.get("assessment_date")) or today
    # A screening stays current for a set number of days from its assessment date: a future date would keep it
    # current (and its blood pressure and medicines valid) long after they were taken.
    if assessed > today:
        errors.append(f"assessment_date ({data['assessment_date']}) is after today ({today.isoformat()})")
    dated = [("date_of_birth", data.get("date_of_birth")), *_event_dates(data)]
    for path, raw in dated:
        when = _parse_date(raw)
        if when is not None and when > assessed:
            errors.append(f"{path} ({raw}) is after the assessment date ({assessed.isoformat()})")
    born = _parse_date(data.get("date_of_birth"))
    if born is not None and assessed.year - born.year > _OLDEST_AGE_YEARS:
        errors.append(f"date_of_birth ({data['date_of_birth']}) is more than {_OLDEST_AGE_YEARS} years ago")


def _event_dates(data: dict) -> list[tuple[str, Any]]:
    dates = [("medical.mi_or_unstable_angina_date", data["medical"].get("mi_or_unstable_angina_date"))]
    for index, use in enumerate(data["psychiatric"]["substance_use_disorders"]):
        dates.append((f"psychiatric.substance_use_disorders[{index}].last_use", use["last_use"]))
    return dates
