"""A minimal intake that screens as eligible with no reasons at all, for tests to change one thing in."""

import copy

import pytest

NO_MEDICAL_HISTORY = {
    "hypertension": False,
    "cardiovascular_disease": False,
    "heart_failure": False,
    "significant_arrhythmia": False,
    "aneurysmal_vascular_disease_or_avm": False,
    "intracerebral_haemorrhage": False,
    "raised_intracranial_pressure": False,
    "raised_intraocular_pressure": False,
    "untreated_hyperthyroidism": False,
    "significant_liver_disease": False,
    "pregnant": False,
    "breastfeeding": False,
    "ketamine_hypersensitivity": False,
}

NO_PSYCHIATRIC_HISTORY = {
    "current_psychosis": False,
    "current_mania": False,
    "history_of_psychosis": False,
    "first_degree_relative_psychosis": False,
    "bipolar_disorder": False,
    "substance_use_disorders": [],
}


def failed_trial(drug: str = "sertraline", weeks: float = 8, improvement: float = 10, **extra) -> dict:
    return {"drug": drug, "weeks": weeks, "adequate_dose": True, "improvement_percent": improvement, **extra}


MINIMAL_INTAKE = {
    "assessment_date": "2026-11-02",
    "age": 40,
    "indications": ["depression"],
    "current_episode": {"duration_months": 18, "severity": "moderate"},
    "psychiatric": NO_PSYCHIATRIC_HISTORY,
    "medical": NO_MEDICAL_HISTORY,
    "medications": [],
    "prior_treatments": {
        "antidepressant_trials": [failed_trial("sertraline"), failed_trial("venlafaxine")],
        "psychotherapy": [],
    },
    "vitals": {"systolic": 120, "diastolic": 75},
}


@pytest.fixture
def intake() -> dict:
    """A fresh deep copy of MINIMAL_INTAKE for each test to change."""
    return copy.deepcopy(MINIMAL_INTAKE)


@pytest.fixture
def trial():
    """Builds a failed antidepressant trial: trial("sertraline", weeks=3, improvement=60)."""
    return failed_trial
