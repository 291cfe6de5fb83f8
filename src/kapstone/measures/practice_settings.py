"""The questionnaires' practice settings: the portal's (data/portal.yaml, read through
portal_settings.portal_setting), the assessment plan (assessment_plans.PLAN_SETTING, read by the scheduler
through load_plan) and each instrument's own (instruments/<id>.yaml `settings`, stored under
`measures.<instrument id>.<name>` and checked by Instrument.resolve_settings)."""

from typing import Any

import yaml

from kapstone import bibliography
from kapstone.measures import assessment_plans
from kapstone.measures.portal_settings import DEFAULTS_FILE, PREFIX
from kapstone.measures.scoring import Instrument, list_instruments
from kapstone.practice.registry import Json, Kind, LabelAndContact, Lines, Number, SettingSpec

AREA = "Questionnaires"
# portal.yaml marks its operational numbers by `kind: operational` instead of citing a source.
OPERATIONAL_SOURCE = "Operational default of the practice (measures/data/portal.yaml), not a clinical number."
PLAN_SOURCE = (
    "measures/plans/default.yaml: the default plan for a group KAP course; each occasion there cites its own "
    "source. A practice may name another plan file or store a whole plan of its own."
)

# An input limit, not a clinical number: a questionnaire link or reminder interval a year long is a typing slip.
DAYS_IN_A_YEAR = 365

# A promise to a patient in crisis must not be longer than they will read; the limit is an input limit.
PROMISE_MAX_CHARACTERS = 600


def _check_promise(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("write what the practice does with the answers")
    if len(value) > PROMISE_MAX_CHARACTERS:
        raise ValueError(f"keep it under {PROMISE_MAX_CHARACTERS} characters")


# The admin changes (practice.authority) what portal.yaml marks operational and the crisis lines' wording and
# numbers; every other questionnaire setting is clinical, changed by a prescriber.
ADMIN_CHANGES = {"crisis_resources"}

# Name in portal.yaml -> (label, unit, kind). The services read the numbers with int() or float(), so whole
# counts stay whole; a practice needs at least one crisis line. A new portal.yaml setting fails here at import.
_DECLARED: dict[str, tuple[str, str, Kind]] = {
    "invitation_expiry_days": (
        "An invitation link works for",
        "days",
        Number(minimum=1, whole=True, maximum=DAYS_IN_A_YEAR),
    ),
    "reminder_every_days": (
        "Remind about an unfinished questionnaire every",
        "days",
        Number(above=0, maximum=DAYS_IN_A_YEAR),
    ),
    "max_reminders": ("Invitations for one questionnaire, at most", "", Number(minimum=1, whole=True)),
    "crisis_resources": ("Crisis lines shown to patients", "", Lines(item=LabelAndContact(), min_items=1)),
    "crisis_page_promise": (
        "What the crisis page tells the patient happens next",
        "",
        Json(validator=_check_promise, description="a sentence or two of plain text", plain_text=True),
    ),
}


# Instrument setting name -> label; instruments share names, and a name not listed here reads as itself.
INSTRUMENT_SETTING_LABELS = {
    "rci_minimum_baseline_n": "Baselines needed before reliable change uses the practice's own sample",
    "provisional_ptsd_cutoff": "Provisional PTSD cut-point",
    "reliable_change_points": "Reliable change, in points",
}


def _check_plan(value: Any) -> None:
    # parse_plan expects mappings inside the plan; a list or number where one belongs raises a TypeError or
    # AttributeError, which is still the admin's plan to fix rather than a fault in Kapstone.
    try:
        assessment_plans.load_plan(value)
    except (TypeError, AttributeError, KeyError) as error:
        raise ValueError(f"the plan's shape is wrong ({error})") from None


def _portal_spec(name: str, entry: dict) -> SettingSpec:
    label, unit, kind = _DECLARED[name]
    return SettingSpec(
        key=f"{PREFIX}.{name}",
        label=label,
        default=entry["default"],
        source=bibliography.describe(str(entry.get("source", OPERATIONAL_SOURCE))),
        kind=kind,
        unit=unit,
        note=entry.get("note", ""),
        clinical=entry.get("kind") != "operational" and name not in ADMIN_CHANGES,
    )


def _instrument_spec(instrument: Instrument, name: str) -> SettingSpec:
    setting = instrument.settings[name]
    label = INSTRUMENT_SETTING_LABELS.get(name, name.replace("_", " ").capitalize())
    return SettingSpec(
        key=f"{PREFIX}.{instrument.id}.{name}",
        label=f"{instrument.short_name}: {label}",
        default=setting.default,
        source=bibliography.describe(str(instrument.definition["settings"][name]["source"])),
        kind=Number(minimum=setting.minimum, maximum=setting.maximum, whole=isinstance(setting.default, int)),
    )


def _long_term_safety_spec() -> SettingSpec:
    """How often the long-term safety follow-up falls due between doses: the default plan's every_nth_dosing."""
    key, default = next(
        o.every_nth for o in assessment_plans.load_plan(assessment_plans.DEFAULT_PLAN).occasions if o.every_nth
    )
    return SettingSpec(
        key=key,
        # A title of its own: "… after every", followed by the value on the next line, read as cut off.
        label="Dosing sessions between long-term safety follow-ups (KSET-style)",
        default=default,
        unit="dosing sessions",
        source=(
            "Short 2020 (KSET) follows side effects up over repeated treatment; no source sets the interval, so this "
            "is an operational default (plans/default.yaml). The form is also due at every follow-up."
        ),
        # An input limit, not a clinical number: no course has a hundred dosing sessions.
        kind=Number(minimum=1, maximum=100, whole=True),
    )


SETTINGS = [
    _long_term_safety_spec(),
    SettingSpec(
        key=assessment_plans.PLAN_SETTING,
        label="Assessment plan",
        default=assessment_plans.DEFAULT_PLAN,
        source=PLAN_SOURCE,
        kind=Json(
            validator=_check_plan,
            description="the id of a plan file in measures/plans (e.g. default), or a whole plan as JSON",
            plain_text=True,
        ),
    ),
    *(_portal_spec(name, entry) for name, entry in yaml.safe_load(DEFAULTS_FILE.read_text())["settings"].items()),
    *(_instrument_spec(instrument, name) for instrument in list_instruments() for name in instrument.settings),
]
