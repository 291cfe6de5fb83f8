"""The dosing room's practice settings: every `settings` entry of data/safety.yaml, read by
safety.thresholds(practice_overrides("dosing")).

Vital-sign thresholds are bounded by what the room can record (VitalsForm): a threshold outside that range
could never fire, or would fire on every reading, so it is a typing error. Dose ceilings are bounded by the
largest dose an order may carry (DoseOrderForm).
"""

from collections.abc import Callable
from decimal import Decimal

from django import forms

from kapstone import bibliography
from kapstone.dosing import readiness, safety
from kapstone.dosing.forms import DoseOrderForm, VitalsForm
from kapstone.practice.registry import Boolean, Kind, Number, OrderedPair, specs_from_data_file

AREA = "Dosing room"
PREFIX = "dosing"
MINUTES_IN_A_DAY = 24 * 60  # an input limit: a dosing-room stay ends the same day


def _bound(value: Decimal | float | Callable[[], int] | None) -> Decimal | float | None:
    """A form field's bound as the form checks it: Django calls a callable bound when it validates."""
    return value() if callable(value) else value


def _recordable(field_name: str) -> Number:
    field = VitalsForm.base_fields[field_name]
    assert isinstance(field, forms.IntegerField)  # every reading VitalsForm takes is a whole number
    return Number(minimum=_bound(field.min_value), maximum=_bound(field.max_value), whole=True)


_MINUTES = Number(minimum=0, maximum=MINUTES_IN_A_DAY, whole=True)
_CADSS = safety.safety_data()["scales"]["cadss_total"]
_CEILING_PER_KG = Number(above=0, nullable=True)


def _largest_dose_mg() -> Decimal | float | None:
    field = DoseOrderForm.base_fields["dose_mg"]
    assert isinstance(field, forms.DecimalField)  # as DoseOrderForm declares it
    return _bound(field.max_value)


_CEILING_MG = Number(above=0, maximum=_largest_dose_mg(), nullable=True)

# Name in safety.yaml -> (label, kind). A setting added to safety.yaml without an entry here fails at import,
# so the settings page can never offer a threshold it cannot check.
_DECLARED: dict[str, tuple[str, Kind]] = {
    "predose_systolic_review": ("Before dosing, review when systolic BP is above", _recordable("systolic")),
    "predose_diastolic_review": ("Before dosing, review when diastolic BP is above", _recordable("diastolic")),
    "review_systolic": ("After the dose, review when systolic BP is at or above", _recordable("systolic")),
    "review_diastolic": ("After the dose, review when diastolic BP is at or above", _recordable("diastolic")),
    "stop_systolic": ("Stop when systolic BP is at or above", _recordable("systolic")),
    "stop_diastolic": ("Stop when diastolic BP is at or above", _recordable("diastolic")),
    "review_heart_rate": ("Review when heart rate is above", _recordable("heart_rate")),
    "stop_heart_rate": ("Stop when heart rate is above", _recordable("heart_rate")),
    "low_heart_rate_review": ("Review when heart rate is below", _recordable("heart_rate")),
    "low_systolic_review": ("Review when systolic BP is below", _recordable("systolic")),
    "review_spo2": ("Review when SpO₂ is below", _recordable("spo2")),
    "low_spo2": ("Stop when SpO₂ is below", _recordable("spo2")),
    "low_respiratory_rate_review": ("Review when the respiratory rate is below", _recordable("respiratory_rate")),
    "high_respiratory_rate_review": ("Review when the respiratory rate is above", _recordable("respiratory_rate")),
    "stop_respiratory_rate": ("Stop when the respiratory rate is below", _recordable("respiratory_rate")),
    "min_observation_minutes": ("Observe after dosing for at least", _MINUTES),
    "vitals_check_minutes_after_dose": ("Check vitals again after the dose at", _MINUTES),
    "max_doses_per_7_days": ("Doses for one patient in any 7 days, at most", Number(minimum=1, whole=True)),
    "ceiling_iv_mg_per_kg": ("IV dose ceiling", _CEILING_PER_KG),
    "ceiling_sublingual_mg": ("Sublingual dose ceiling", _CEILING_MG),
    "ceiling_im_mg_per_kg": ("IM dose ceiling", _CEILING_PER_KG),
    "ceiling_intranasal_mg": ("Intranasal dose ceiling", _CEILING_MG),
    "room_suicide_screen": ("A same-day suicide screen (C-SSRS since last visit) is part of the checklist", Boolean()),
    "pregnancy_test_valid_days": ("A negative pregnancy test counts for", Number(minimum=0, maximum=366, whole=True)),
    "discharge_cadss_max": (
        "Discharge when the CADSS total is at most",
        Number(minimum=_CADSS["min"], maximum=_CADSS["max"], whole=True),
    ),
}


def _cited(name: str, entry: dict) -> str:
    # A hard bound's source is cited like the setting's own: bibliography ids in brackets, written out here.
    return bibliography.describe(entry["source"])


SETTINGS = specs_from_data_file(
    prefix=PREFIX, entries=safety.safety_data()["settings"], declared=_DECLARED, source_of=_cited
) + specs_from_data_file(
    prefix=PREFIX,
    entries=readiness.readiness_data()["settings"],
    declared={
        "readiness_digest_hour": (
            "The evening before a dosing session, send its facilitators the readiness digest at (hour, 0-23)",
            Number(minimum=0, maximum=23, whole=True),
        )
    },
    source_of=_cited,
    # When the digest goes out is the practice's routine, not a clinical number.
    operational=("readiness_digest_hour",),
)

# A reading at or above a stop threshold stops (safety.assess_vitals), so a review threshold at or above it could
# never ask for a review; the post-dose vitals check is part of the observation before discharge ([spravato-rems]: BP
# before dosing, after the dose and before discharge).
_NEVER_REVIEWS = "a review threshold at or above the stop threshold would never ask for a review"
_NEVER_REVIEWS_LOW = "a review threshold at or below the stop threshold would never ask for a review before it stops"
_SCREENING_FIRST = (
    "the room must stop at least where the screening excludes a patient for uncontrolled hypertension (the room "
    "stops at or above its level; the screening excludes above its threshold)"
)
ORDERED_PAIRS = [
    OrderedPair(lower=f"{PREFIX}.predose_systolic_review", upper=f"{PREFIX}.stop_systolic", why=_NEVER_REVIEWS),
    OrderedPair(lower=f"{PREFIX}.predose_diastolic_review", upper=f"{PREFIX}.stop_diastolic", why=_NEVER_REVIEWS),
    OrderedPair(lower=f"{PREFIX}.review_systolic", upper=f"{PREFIX}.stop_systolic", why=_NEVER_REVIEWS),
    OrderedPair(lower=f"{PREFIX}.review_diastolic", upper=f"{PREFIX}.stop_diastolic", why=_NEVER_REVIEWS),
    OrderedPair(lower=f"{PREFIX}.review_heart_rate", upper=f"{PREFIX}.stop_heart_rate", why=_NEVER_REVIEWS),
    OrderedPair(lower=f"{PREFIX}.low_spo2", upper=f"{PREFIX}.review_spo2", why=_NEVER_REVIEWS_LOW),
    OrderedPair(
        lower=f"{PREFIX}.stop_respiratory_rate", upper=f"{PREFIX}.low_respiratory_rate_review", why=_NEVER_REVIEWS_LOW
    ),
    OrderedPair(
        lower=f"{PREFIX}.low_respiratory_rate_review",
        upper=f"{PREFIX}.high_respiratory_rate_review",
        why="a respiratory rate cannot be both below the low review level and above the high one",
    ),
    OrderedPair(
        lower=f"{PREFIX}.low_heart_rate_review",
        upper=f"{PREFIX}.review_heart_rate",
        why="a heart rate cannot be both below the slow review level and above the fast one",
    ),
    OrderedPair(
        lower=f"{PREFIX}.vitals_check_minutes_after_dose",
        upper=f"{PREFIX}.min_observation_minutes",
        why="the post-dose vitals check is taken during the observation, before the patient may leave",
        or_equal=True,
    ),
    # Across apps: the room's stop level is never looser than the screening's exclusion threshold (the room also
    # holds it there at assessment time: selectors.room_thresholds).
    OrderedPair(
        lower=f"{PREFIX}.stop_systolic", upper="screening.bp_exclude_systolic_mmhg", why=_SCREENING_FIRST, or_equal=True
    ),
    OrderedPair(
        lower=f"{PREFIX}.stop_diastolic",
        upper="screening.bp_exclude_diastolic_mmhg",
        why=_SCREENING_FIRST,
        or_equal=True,
    ),
]
