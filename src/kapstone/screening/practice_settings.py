"""The screening rule set's practice settings: every `settings` entry of rules/kap_screening.yaml, read by
the engine as effective_settings(rule_set, practice_overrides(SETTINGS_PREFIX)).

The kinds follow the engine's own check of an override (engine._override_problem): a listed choice, a list of
listed choices (one a line), yes or no, or a number of 0 or more. Blood-pressure thresholds are further bounded
by what an intake may record (intake_schema), and percentages by 100.
"""

from kapstone.practice.registry import Boolean, Choice, Lines, Number, OrderedPair, SettingSpec, hard_bounds_fields
from kapstone.screening.engine import Setting, load_rule_set
from kapstone.screening.intake_schema import INTAKE_SCHEMA
from kapstone.screening.services import SETTINGS_PREFIX

AREA = "Screening"
# Setting names end with their unit (bp_exclude_systolic_mmhg).
UNIT_SUFFIXES = {
    "_mmhg": "mmHg",
    "_mg": "mg",
    "_months": "months",
    "_days": "days",
    "_weeks": "weeks",
    "_years": "years",
    "_percent": "%",
}
PERCENT_MAXIMUM = 100

# Name in kap_screening.yaml -> label. A setting added to the rule set without a label here fails at import.
LABELS = {
    "min_age_years": "Minimum age",
    "screening_valid_days": "A screening stays current for",
    "consult_clinician_kinds": "Outside clinicians whose advice the enrolment gate waits for (by kind)",
    "primary_psychotic_disorder_outcome": "Outcome for a primary psychotic disorder",
    "interaction_outcome_maoi": "Outcome when taking an MAO inhibitor",
    "interaction_outcome_benzodiazepine_load": "Outcome when the benzodiazepine load is above the threshold",
    "interaction_outcome_cns_depressant": "Outcome when taking an opioid or another CNS depressant",
    "interaction_outcome_unrecognised_medication": "Outcome when a medication is not in Kapstone's drug list",
    "bp_exclude_systolic_mmhg": "Exclusion threshold: systolic BP",
    "bp_exclude_diastolic_mmhg": "Exclusion threshold: diastolic BP",
    "bp_review_systolic_mmhg": "Prescriber review threshold: systolic BP",
    "bp_review_diastolic_mmhg": "Prescriber review threshold: diastolic BP",
    "benzo_dze_threshold_mg": "Benzodiazepine threshold (diazepam equivalent per day)",
    "sud_remission_months": "A substance use disorder is in remission after",
    "depression_min_failed_trials": "Failed antidepressant trials that make depression treatment-resistant",
    "adequate_trial_weeks": "An adequate antidepressant trial lasts at least",
    "non_response_threshold_percent": "Non-response: symptom reduction less than",
    "other_indication_min_failed_treatments": "Failed treatments that make other indications treatment-resistant",
    "not_treatment_resistant_outcome": "Outcome when a patient is not treatment-resistant",
    "older_adult_age_years": "Older adult from age",
    "recent_cardiac_event_months": "A heart attack or unstable angina is recent within",
    "psychosis_review_includes_first_degree_relative": "Review a first-degree relative's psychosis too",
}


def _unit(name: str) -> str:
    return next((unit for suffix, unit in UNIT_SUFFIXES.items() if name.endswith(suffix)), "")


def _recordable_bp(name: str) -> Number:
    measure = "systolic" if "systolic" in name else "diastolic"
    limits = INTAKE_SCHEMA["properties"]["vitals"]["properties"][measure]
    return Number(minimum=limits["minimum"], maximum=limits["maximum"], whole=True)


def _kind(setting: Setting, unit: str):
    if isinstance(setting.value, list):
        return Lines(item=Choice(tuple(setting.allowed)))
    if setting.allowed:
        return Choice(tuple(setting.allowed))
    if isinstance(setting.value, bool):
        return Boolean()
    if unit == "mmHg":
        return _recordable_bp(setting.name)
    # Counts of months, trials and years are whole; a benzodiazepine dose may be a fraction of a milligram.
    whole = isinstance(setting.value, int) and unit != "mg"
    # A screening current for 0 days would expire as it is saved: an input limit, not a clinical one.
    minimum = 1 if unit == "days" else 0
    return Number(minimum=minimum, maximum=PERCENT_MAXIMUM if unit == "%" else None, whole=whole)


def _spec(setting: Setting) -> SettingSpec:
    unit = _unit(setting.name)
    return SettingSpec(
        key=f"{SETTINGS_PREFIX}.{setting.name}",
        label=LABELS[setting.name],
        default=setting.value,
        source=setting.source,
        kind=_kind(setting, unit),
        unit=unit,
        note=setting.note,
        verified=setting.verified,
        **hard_bounds_fields(f"{SETTINGS_PREFIX}.{setting.name}", setting.hard_bounds),
    )


SETTINGS = [_spec(setting) for setting in load_rule_set().settings.values()]

# A BP above the exclusion threshold excludes (rule uncontrolled_hypertension), so a review threshold at or above
# it could never ask the prescriber to review (rule elevated_pre_dose_blood_pressure).
_NEVER_REVIEWS = "a review threshold at or above the exclusion threshold would never ask the prescriber to review"
ORDERED_PAIRS = [
    OrderedPair(
        lower=f"{SETTINGS_PREFIX}.bp_review_{measure}_mmhg",
        upper=f"{SETTINGS_PREFIX}.bp_exclude_{measure}_mmhg",
        why=_NEVER_REVIEWS,
    )
    for measure in ("systolic", "diastolic")
]
