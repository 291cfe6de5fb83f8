"""KAP eligibility and safety screening: a small interpreter for the declarative rule set in rules/.

Pure Python (no Django) so services, the CLI and tests all call the same functions:

    rule_set = load_rule_set()
    result = screen(intake_dict, settings_overrides={"bp_exclude_systolic_mmhg": 170})
    result.decision            # "eligible" | "needs_review" | "not_eligible"
    result.to_dict()           # JSON-ready, every reason with its rule id, outcome, message and source

Conditions are data ({all: [...]}, {field: "medical.pregnant", equals: true}, ...) read by
`evaluate_condition`; nothing in the rule files is ever executed as code. The rule set is checked
when it is loaded, so a typo in a rule fails at start-up rather than silently never firing.
"""

import calendar
import datetime as dt
import functools
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kapstone.patients.ages import completed_years
from kapstone.screening.intake_schema import IntakeValidationError, schema_field_paths, validate_intake

# Any: rule files and intakes are parsed YAML and JSON; the loader and validate_intake check their shape.
Data = dict[str, Any]

__all__ = [
    "ConditionContext",
    "IntakeValidationError",
    "Reason",
    "RecordDiagnosis",
    "RuleSet",
    "RuleSetError",
    "ScreeningResult",
    "SettingsOverrideError",
    "declared_substances",
    "evaluate_condition",
    "load_rule_set",
    "screen",
    "validate_intake",
    "weighed_in_remission",
]

RULES_DIR = Path(__file__).parent / "rules"
MAIN_RULES_FILE = "kap_screening.yaml"
DATA_FILES = frozenset({"medications.yaml", "maudsley.yaml", "record_diagnoses.yaml"})
# An ICD-10-CM code's leading part as record_diagnoses.yaml lists it: a letter and a digit (O2), a category (I71, Z3A)
# or a subcategory (Q28.2), in the shape patients.models.validate_icd10cm accepts.
ICD10CM_PREFIX = re.compile(r"^[A-TV-Z][0-9]([0-9A-Z](\.[0-9A-Z]{1,4})?)?$")

OUTCOMES = ("exclude", "needs_review", "caution")
DECISION_FOR_OUTCOME = {"exclude": "not_eligible", "needs_review": "needs_review"}

SUBJECTS = ("field", "computed", "setting")
OPERATORS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "in", "contains", "present")
COMBINATORS = ("all", "any", "not")

# Values the engine derives from an intake; rules may read them as {computed: name}.
COMPUTED_NAMES = frozenset(
    {
        "age_years",
        "medication_names",
        "medication_classes",
        "unrecognised_medications",
        "benzodiazepine_diazepam_equivalent_mg",
        "benzodiazepines_not_converted",
        "benzodiazepine_names",
        "maoi_names",
        "psychostimulant_names",
        "cns_depressant_names",
        "methylxanthine_names",
        "thyroid_hormone_names",
        "nmda_antagonist_names",
        "months_since_mi_or_unstable_angina",
        "mi_or_unstable_angina_is_recent",
        "active_dissociative_sud",
        "active_dissociative_sud_substances",
        "active_other_sud",
        "active_other_sud_substances",
        "sud_in_remission",
        "sud_in_remission_substances",
        "failed_antidepressant_trials",
        "failed_evidence_based_treatments",
        "treatment_resistant",
        "treatment_resistance_summary",
        "treatment_resistance_rests_on_other_drugs",
        "augmentation_used",
        "ect_used",
        "maudsley_score",
    }
)

# Intake fields a rule may read: every schema path outside lists (rules read lists through computed values).
INTAKE_FIELDS = frozenset(path for path in schema_field_paths() if "[]" not in path)

# Categorical responses that count as an inadequate response, with the improvement each stands below: "no response"
# below any threshold, "partial response" below a response's 50% ([conway-2021]; the form's "Partial response (<50%)").
# A practice counting stricter (non_response_threshold_percent under 50, EU-PEARL's 25%) cannot tell from
# "partial response" alone that the improvement was under its threshold, so such a trial counts only with its
# improvement given as a number.
INADEQUATE_RESPONSES = {"no_response": 0.0, "partial_response": 50.0}

_PLACEHOLDER = re.compile(r"\{(field|computed|setting):([A-Za-z0-9_.]+)\}")


class RuleSetError(ValueError):
    """A rule file is malformed; the message names the file and the place."""


class SettingsOverrideError(ValueError):
    """A practice setting override names an unknown setting or has the wrong kind of value."""


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    source: str
    note: str = ""
    verified: bool = True
    allowed: tuple[Any, ...] = ()  # Any: whatever values the setting's YAML lists
    # {"min", "max", "source", "why"}: a value no override may cross, whatever the practice wants.
    hard_bounds: Data | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    outcome: Any  # one of OUTCOMES, or {"setting": name} naming a setting that holds one
    condition: Data
    message: str
    source: str


@dataclass(frozen=True)
class Medications:
    version: str
    drug_classes: dict[str, str]  # generic name -> class
    aliases: dict[str, str]  # brand or other name -> generic name
    diazepam_mg_per_mg: dict[str, float]  # generic benzodiazepine name -> mg diazepam per mg of it
    cns_depressant_classes: tuple[str, ...] = ()
    dissociative_names: tuple[str, ...] = ()  # lower-case substance names that are dissociatives
    line_separators: tuple[str, ...] = ()  # what separates several medicines written on one line
    dose_words: frozenset[str] = frozenset()  # words of a dose or a frequency, never a medicine's name
    antidepressant_trial_drugs: frozenset[str] = frozenset()  # generics a trial of which is an antidepressant trial
    mg_per_unit: dict[str, float] = field(default_factory=dict)  # a dose unit written in a name -> mg per unit
    doses_a_day: dict[str, int] = field(default_factory=dict)  # a frequency written in a name -> doses a day
    # Words of a frequency that is not a number of doses a day ("as needed", "weekly"): a dose stated with one of them
    # and no doses_a_day phrase cannot be read as a daily amount.
    uncounted_frequency_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecordDiagnosis:
    """Diagnoses coded on the patient record (by ICD-10-CM prefix) that the screening reviews, and where a screening
    shows it did: an intake field answered (true, a date, a non-empty list), a rule among the result's reasons, or a
    substance use disorder the intake lists whose substance names one of `substances` (whole words, ignoring case)."""

    label: str
    codes: tuple[str, ...]  # as the file writes them (F32.3), for people
    fields: tuple[str, ...]
    rules: tuple[str, ...]
    source: str
    # Lower-case names of the substance class (alcohol, heroin): a use disorder of another class the intake lists
    # does not show that the screening weighed this one.
    substances: tuple[str, ...] = ()
    # The codes as a record's code is compared with them, undotted once: undotting every entry's codes again for each
    # code looked up cost 85 µs a diagnosis on the dosing room's and the screening page's gate (issue 19).
    prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixes", tuple(_undotted(prefix) for prefix in self.codes))

    def disorders_of_class(self, intake: Data) -> list[Data]:
        """The substance use disorders the intake lists that stand for this entry's class: those naming one of its
        substances, or every one for an entry reviewed by any listed disorder (F19); none for an entry that is not a
        use disorder."""
        disorders = _lookup(intake, "psychiatric.substance_use_disorders")
        if not isinstance(disorders, list):
            return []
        listed = [disorder for disorder in disorders if isinstance(disorder, dict)]
        if self.substances:
            return [
                disorder for disorder in listed if _names_any(str(disorder.get("substance") or ""), self.substances)
            ]
        return listed if "psychiatric.substance_use_disorders" in self.fields else []

    def reviewed_in(self, intake: Data, fired_rules: set[str]) -> bool:
        return (
            any(_answered(_lookup(intake, name)) for name in self.fields)
            or bool(fired_rules & set(self.rules))
            or any(_names_any(substance, self.substances) for substance in declared_substances(intake))
        )


@dataclass(frozen=True)
class RuleSet:
    version: str
    title: str
    settings: dict[str, Setting]
    rules: tuple[Rule, ...]
    medications: Medications
    maudsley: Data
    record_diagnoses: tuple[RecordDiagnosis, ...]
    # Why a diagnosis the record notes after the screening's assessment holds the patient though its condition was
    # reviewed (record_diagnoses.yaml noted_after_screening).
    noted_after_screening_source: str = ""
    # The undotted fourth and fifth characters of an ICD-10-CM use disorder code in remission (record_diagnoses.yaml
    # use_disorder_in_remission).
    remission_endings: tuple[str, ...] = ()

    def codes_in_remission(self, code: str) -> bool:
        """Whether an ICD-10-CM use disorder code (F10.21) is one of a disorder in remission."""
        undotted = _undotted(code)
        return len(undotted) == 5 and undotted[3:] in self.remission_endings

    def record_diagnosis(self, code: str) -> RecordDiagnosis | None:
        """The entry of record_diagnoses.yaml that `code` matches, if any (the loader allows at most one)."""
        undotted = _undotted(code)
        return next((entry for entry in self.record_diagnoses if undotted.startswith(entry.prefixes)), None)

    def setting_values(self) -> Data:
        return {name: setting.value for name, setting in self.settings.items()}


@dataclass(frozen=True)
class Reason:
    rule: str
    outcome: str
    message: str
    source: str


@dataclass
class ScreeningResult:
    decision: str
    reasons: list[Reason]
    treatment_resistant: bool
    treatment_resistance_summary: str
    maudsley_score: int | None
    maudsley_band: str | None
    maudsley_note: str | None
    benzodiazepine_diazepam_equivalent_mg: float
    unrecognised_medications: list[str]
    assessment_date: str
    rule_set_version: str
    settings: Data = field(default_factory=dict)

    def to_dict(self) -> Data:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------
# Loading and checking the rule set


def load_rule_set(directory: Path | str | None = None) -> RuleSet:
    """The rule set in `directory` (default: the one shipped in rules/), checked and cached."""
    return _load_rule_set(Path(directory) if directory is not None else RULES_DIR)


@functools.lru_cache(maxsize=8)
def _load_rule_set(directory: Path) -> RuleSet:
    main = _read_yaml(directory / MAIN_RULES_FILE)
    for key in ("version", "title", "data_files", "settings", "rules"):
        if key not in main:
            raise RuleSetError(f"{MAIN_RULES_FILE}: missing {key!r}")
    if set(main["data_files"]) != DATA_FILES:
        raise RuleSetError(f"{MAIN_RULES_FILE}: data_files must pin {', '.join(sorted(DATA_FILES))}")
    data = {}
    for filename, pinned in main["data_files"].items():
        data[filename] = _read_yaml(directory / filename)
        if str(data[filename].get("version")) != str(pinned):
            raise RuleSetError(
                f"{filename} is version {data[filename].get('version')!r} but {MAIN_RULES_FILE} pins {pinned!r}"
            )
    settings = _parse_settings(main["settings"])
    rules = tuple(_parse_rule(raw, index, settings) for index, raw in enumerate(main["rules"]))
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise RuleSetError(f"{MAIN_RULES_FILE}: rule ids must be unique")
    maudsley = data["maudsley.yaml"]
    _check_maudsley(maudsley)
    return RuleSet(
        version=str(main["version"]),
        title=main["title"],
        settings=settings,
        rules=rules,
        medications=_parse_medications(data["medications.yaml"]),
        maudsley=maudsley,
        record_diagnoses=_parse_record_diagnoses(data["record_diagnoses.yaml"], set(ids)),
        noted_after_screening_source=_noted_after_screening_source(data["record_diagnoses.yaml"]),
        remission_endings=_remission_endings(data["record_diagnoses.yaml"]),
    )


def maudsley_bands() -> list[Data]:
    """The Maudsley Staging Method's bands (label, min, max) from the shipped rule set, for reports that group
    patients by stage."""
    bands: list[Data] = load_rule_set().maudsley["bands"]
    return bands


def _read_yaml(path: Path) -> Data:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RuleSetError(f"cannot read {path.name}: {error}") from error
    if not isinstance(content, dict):
        raise RuleSetError(f"{path.name} must hold a mapping")
    return content


def _parse_settings(raw: Data) -> dict[str, Setting]:
    settings = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or "value" not in spec or not spec.get("source"):
            raise RuleSetError(f"setting {name}: needs a value and a source")
        allowed = tuple(spec.get("allowed", ()))
        # A list setting (consult_clinician_kinds) lists some of its allowed values; any other, one of them.
        chosen = spec["value"] if isinstance(spec["value"], list) else [spec["value"]]
        if allowed and any(value not in allowed for value in chosen):
            raise RuleSetError(f"setting {name}: {spec['value']!r} is not one of {allowed}")
        setting = Setting(
            name=name,
            value=spec["value"],
            source=" ".join(str(spec["source"]).split()),
            note=" ".join(str(spec.get("note", "")).split()),
            verified=bool(spec.get("verified", True)),
            allowed=allowed,
            hard_bounds=_parse_hard_bounds(name, spec.get("hard_bounds")),
        )
        problem = _past_hard_bound(setting, setting.value)
        if problem:
            raise RuleSetError(f"setting {name}: the default {setting.value} {problem}")
        settings[name] = setting
    return settings


def _parse_hard_bounds(name: str, raw: Any) -> Data | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or not set(raw) <= {"min", "max", "source", "why"}
        or not ({"min", "max"} & set(raw))
        or not all(_is_number(raw[key]) for key in ("min", "max") if key in raw)
        or not str(raw.get("source", "")).strip()
        or not str(raw.get("why", "")).strip()
    ):
        raise RuleSetError(f"setting {name}: hard_bounds needs a number min and/or max, a source and a why")
    return {**raw, "source": " ".join(str(raw["source"]).split()), "why": " ".join(str(raw["why"]).split())}


def _past_hard_bound(setting: Setting, value: Any) -> str:
    """How `value` crosses the setting's hard bound, with why and the source; "" when it crosses none."""
    bounds = setting.hard_bounds
    if not bounds or not _is_number(value):
        return ""
    if "max" in bounds and value > bounds["max"]:
        return f"cannot exceed {bounds['max']}: {bounds['why']} ({bounds['source']})"
    if "min" in bounds and value < bounds["min"]:
        return f"cannot be below {bounds['min']}: {bounds['why']} ({bounds['source']})"
    return ""


def _parse_rule(raw: Any, index: int, settings: dict[str, Setting]) -> Rule:
    where = f"rule {index}"
    if not isinstance(raw, dict):
        raise RuleSetError(f"{where}: must be a mapping")
    missing = [key for key in ("id", "outcome", "condition", "message", "source") if not raw.get(key)]
    if missing:
        raise RuleSetError(f"{where} ({raw.get('id', '?')}): missing {', '.join(missing)}")
    where = f"rule {raw['id']}"
    unknown = set(raw) - {"id", "outcome", "condition", "message", "source"}
    if unknown:
        raise RuleSetError(f"{where}: unknown keys {sorted(unknown)}")
    outcome = raw["outcome"]
    if isinstance(outcome, dict):
        name = outcome.get("setting")
        if set(outcome) != {"setting"} or name not in settings or not settings[name].allowed:
            raise RuleSetError(f"{where}: outcome must name a setting that has allowed values")
        if not set(settings[name].allowed) <= set(OUTCOMES):
            raise RuleSetError(f"{where}: setting {name} allows values that are not outcomes")
    elif outcome not in OUTCOMES:
        raise RuleSetError(f"{where}: outcome must be one of {OUTCOMES}")
    _check_condition(raw["condition"], where, settings)
    message = " ".join(str(raw["message"]).split())
    known = {"setting": settings, "computed": COMPUTED_NAMES, "field": INTAKE_FIELDS}
    for kind, name in _PLACEHOLDER.findall(message):
        if name not in known[kind]:
            raise RuleSetError(f"{where}: message quotes unknown {kind} {name!r}")
    return Rule(
        id=raw["id"],
        outcome=outcome,
        condition=raw["condition"],
        message=message,
        source=" ".join(str(raw["source"]).split()),
    )


def _check_condition(condition: Any, where: str, settings: dict[str, Setting]) -> None:
    if not isinstance(condition, dict) or not condition:
        raise RuleSetError(f"{where}: a condition must be a non-empty mapping")
    combinators = [key for key in condition if key in COMBINATORS]
    if combinators:
        if len(condition) != 1:
            raise RuleSetError(f"{where}: {combinators[0]} must stand alone in its mapping")
        key = combinators[0]
        if key == "not":
            _check_condition(condition["not"], where, settings)
            return
        if not isinstance(condition[key], list) or not condition[key]:
            raise RuleSetError(f"{where}: {key} needs a non-empty list")
        for part in condition[key]:
            _check_condition(part, where, settings)
        return
    subjects = [key for key in condition if key in SUBJECTS]
    operators = [key for key in condition if key in OPERATORS]
    if len(subjects) != 1 or len(operators) != 1 or len(condition) != 2:
        raise RuleSetError(f"{where}: a leaf needs exactly one of {SUBJECTS} and one of {OPERATORS}: {condition}")
    subject, name = subjects[0], condition[subjects[0]]
    if subject == "field" and name not in INTAKE_FIELDS:
        raise RuleSetError(f"{where}: unknown intake field {name!r}")
    if subject == "computed" and name not in COMPUTED_NAMES:
        raise RuleSetError(f"{where}: unknown computed value {name!r}")
    if subject == "setting" and name not in settings:
        raise RuleSetError(f"{where}: unknown setting {name!r}")
    operand = condition[operators[0]]
    if isinstance(operand, dict) and (set(operand) != {"setting"} or operand["setting"] not in settings):
        raise RuleSetError(f"{where}: an operand mapping must be {{setting: <known setting>}}")
    if operators[0] == "present" and not isinstance(operand, bool):
        raise RuleSetError(f"{where}: present takes true or false")


def _parse_medications(raw: Data) -> Medications:
    classes = raw.get("classes", {})
    drugs = raw.get("drugs", {})
    for drug, drug_class in drugs.items():
        if drug_class not in classes:
            raise RuleSetError(f"medications.yaml: {drug} has unknown class {drug_class!r}")
    aliases = {str(alias).lower(): generic for alias, generic in raw.get("aliases", {}).items()}
    for alias, generic in aliases.items():
        if generic not in drugs:
            raise RuleSetError(f"medications.yaml: alias {alias} names unknown drug {generic!r}")
    depressants = raw.get("cns_depressant_classes", {})
    for drug_class in depressants.get("classes", []):
        if drug_class not in classes:
            raise RuleSetError(f"medications.yaml: cns_depressant_classes names unknown class {drug_class!r}")
    dissociatives = raw.get("dissociative_substances", {})
    if (depressants and not depressants.get("source")) or (dissociatives and not dissociatives.get("source")):
        raise RuleSetError("medications.yaml: cns_depressant_classes and dissociative_substances need a source")
    trial_drugs = raw.get("antidepressant_trial_drugs", {})
    if trial_drugs and not trial_drugs.get("source"):
        raise RuleSetError("medications.yaml: antidepressant_trial_drugs needs a source")
    for drug in trial_drugs.get("drugs", []):
        if drug not in drugs:
            raise RuleSetError(f"medications.yaml: antidepressant_trial_drugs names unknown drug {drug!r}")
    lines = raw.get("medication_lines", {})
    if lines and (not lines.get("source") or not lines.get("separators")):
        raise RuleSetError("medications.yaml: medication_lines needs separators and a source")
    table = raw["benzodiazepine_equivalents"]
    reference = float(table["reference_diazepam_mg"])
    per_mg = {}
    for drug, entry in table["drugs"].items():
        if drugs.get(drug) != "benzodiazepine":
            raise RuleSetError(f"medications.yaml: {drug} has an equivalence but is not a benzodiazepine")
        if "equivalent_mg_range" in entry:
            low, high = entry["equivalent_mg_range"]
            equivalent = (float(low) + float(high)) / 2
        else:
            equivalent = float(entry["equivalent_mg"])
        if equivalent <= 0:
            raise RuleSetError(f"medications.yaml: {drug} equivalence must be positive")
        per_mg[drug] = reference / equivalent
    return Medications(
        version=str(raw["version"]),
        drug_classes=dict(drugs),
        aliases=aliases,
        diazepam_mg_per_mg=per_mg,
        cns_depressant_classes=tuple(depressants.get("classes", ())),
        dissociative_names=tuple(" ".join(str(name).lower().split()) for name in dissociatives.get("names", ())),
        line_separators=tuple(str(separator).lower() for separator in lines.get("separators", ())),
        dose_words=frozenset(str(word).lower() for word in lines.get("dose_words", ())),
        antidepressant_trial_drugs=frozenset(
            [drug for drug, drug_class in drugs.items() if drug_class in trial_drugs.get("classes", [])]
            + list(trial_drugs.get("drugs", []))
        ),
        mg_per_unit={str(unit).lower(): float(mg) for unit, mg in lines.get("mg_per_unit", {}).items()},
        doses_a_day={" ".join(str(words).lower().split()): int(n) for words, n in lines.get("doses_a_day", {}).items()},
        uncounted_frequency_words=frozenset(str(word).lower() for word in lines.get("uncounted_frequency_words", ())),
    )


def _answered(value: Any) -> bool:
    """An intake answer that records the condition: yes, a date, or a non-empty list (a "no" records nothing)."""
    return value is True or (isinstance(value, str | list) and len(value) > 0)


def declared_substances(intake: Data) -> list[str]:
    """The substances of the use disorders an intake lists (psychiatric.substance_use_disorders), as written."""
    disorders = _lookup(intake, "psychiatric.substance_use_disorders")
    if not isinstance(disorders, list):
        return []
    return [str(disorder.get("substance") or "") for disorder in disorders if isinstance(disorder, dict)]


def _undotted(code: str) -> str:
    return code.strip().upper().replace(".", "")


def _parse_record_diagnoses(raw: Data, rule_ids: set[str]) -> tuple[RecordDiagnosis, ...]:
    """record_diagnoses.yaml's entries, each naming only intake fields and rules that exist, its prefixes in the
    ICD-10-CM shape, and no prefix overlapping another (a code matches at most one entry)."""
    entries = raw.get("entries")
    if not isinstance(entries, list) or not entries:
        raise RuleSetError("record_diagnoses.yaml: needs a non-empty list of entries")
    parsed = []
    for index, entry in enumerate(entries):
        where = f"record_diagnoses.yaml: entry {index}"
        if not isinstance(entry, dict) or set(entry) != {"label", "codes", "reviewed_by", "source"}:
            raise RuleSetError(f"{where}: needs exactly a label, codes, reviewed_by and a source")
        codes, reviewed_by = entry["codes"], entry["reviewed_by"]
        if not str(entry["label"]).strip() or not str(entry["source"]).strip():
            raise RuleSetError(f"{where}: needs a label and a source")
        if not isinstance(codes, list) or not codes or not all(ICD10CM_PREFIX.match(str(code)) for code in codes):
            raise RuleSetError(f"{where}: codes must be a list of ICD-10-CM prefixes (such as F31, Q28.2), not {codes}")
        if not isinstance(reviewed_by, list) or not reviewed_by:
            raise RuleSetError(f"{where}: reviewed_by needs a non-empty list")
        fields, rules, substances = [], [], []
        for place in reviewed_by:
            kind, name = next(iter(place.items())) if isinstance(place, dict) and len(place) == 1 else (None, None)
            if kind == "field" and name in INTAKE_FIELDS:
                fields.append(name)
            elif kind == "rule" and name in rule_ids:
                rules.append(name)
            elif kind == "substances":
                if not isinstance(name, list) or not name or not all(isinstance(n, str) and n.strip() for n in name):
                    raise RuleSetError(f"{where}: reviewed_by substances needs a non-empty list of names")
                substances += [" ".join(n.lower().split()) for n in name]
            else:
                raise RuleSetError(f"{where}: reviewed_by {place} names no intake field or rule of {MAIN_RULES_FILE}")
        parsed.append(
            RecordDiagnosis(
                label=" ".join(str(entry["label"]).split()),
                codes=tuple(str(code) for code in codes),
                fields=tuple(fields),
                rules=tuple(rules),
                source=" ".join(str(entry["source"]).split()),
                substances=tuple(substances),
            )
        )
    prefixes = sorted(_undotted(code) for entry in parsed for code in entry.codes)
    for shorter, longer in zip(prefixes, prefixes[1:], strict=False):
        if longer.startswith(shorter):
            raise RuleSetError(f"record_diagnoses.yaml: prefixes {shorter} and {longer} overlap")
    return tuple(parsed)


def _noted_after_screening_source(raw: Data) -> str:
    """The source of record_diagnoses.yaml's rule that a diagnosis noted after the screening holds the patient."""
    rule = raw.get("noted_after_screening")
    source = " ".join(str(rule.get("source") or "").split()) if isinstance(rule, dict) else ""
    if not source:
        raise RuleSetError("record_diagnoses.yaml: noted_after_screening needs a source")
    return source


def _remission_endings(raw: Data) -> tuple[str, ...]:
    """record_diagnoses.yaml's use_disorder_in_remission endings: two digits each, with a source."""
    rule = raw.get("use_disorder_in_remission")
    rule = rule if isinstance(rule, dict) else {}
    endings = rule.get("endings")
    if (
        not isinstance(endings, list)
        or not endings
        or not all(isinstance(ending, str) and re.fullmatch(r"[0-9]{2}", ending) for ending in endings)
        or not str(rule.get("source") or "").strip()
    ):
        raise RuleSetError(
            "record_diagnoses.yaml: use_disorder_in_remission needs endings (two digits each) and a source"
        )
    return tuple(endings)


def weighed_in_remission(disorders: list[Data], *, assessed: dt.date, remission_months: int) -> dt.date | None:
    """The latest last use of `disorders` (an intake's listed use disorders) when a screening assessed on `assessed`
    weighed every one of them as in remission (last use at least `remission_months` before); None when it weighed one
    as active, or there are none."""
    last_uses = []
    for disorder in disorders:
        try:
            last_use = dt.date.fromisoformat(str(disorder.get("last_use")))
        except ValueError:
            return None
        if _completed_months(last_use, assessed) < remission_months:
            return None
        last_uses.append(last_use)
    return max(last_uses, default=None)


def _check_maudsley(spec: Data) -> None:
    for key in ("applies_to_indication", "source", "components", "bands"):
        if key not in spec:
            raise RuleSetError(f"maudsley.yaml: missing {key!r}")
    for component in spec["components"]:
        source = component.get("input", {})
        kind = next((key for key in ("field", "computed") if key in source), None)
        known = {"field": INTAKE_FIELDS, "computed": COMPUTED_NAMES}
        if kind is None or source[kind] not in known[kind]:
            raise RuleSetError(f"maudsley.yaml: component {component.get('id')} needs a known input")
        if ("bands" in component) == ("points_by_value" in component):
            raise RuleSetError(f"maudsley.yaml: component {component['id']} needs bands or points_by_value")
        bands = component.get("bands")
        if bands and ("max" in bands[-1] or any("min" in band for band in bands[1:])):
            raise RuleSetError(
                f"maudsley.yaml: component {component['id']}: only the first band may have a min, "
                "and the last band must be open-ended"
            )


# ---------------------------------------------------------------------------------------------------
# Settings


def effective_settings(rule_set: RuleSet, overrides: Data | None) -> Data:
    """The rule set's defaults with a practice's overrides applied, each override checked."""
    values = rule_set.setting_values()
    for name, value in (overrides or {}).items():
        if name not in rule_set.settings:
            raise SettingsOverrideError(f"unknown setting {name!r}; known: {', '.join(sorted(values))}")
        problem = _override_problem(rule_set.settings[name], value)
        if problem:
            raise SettingsOverrideError(f"setting {name} must be {problem}")
        past = _past_hard_bound(rule_set.settings[name], value)
        if past:
            raise SettingsOverrideError(f"setting {name} {past}")
        values[name] = value
    return values


def _override_problem(setting: Setting, value: Any) -> str | None:
    """What an override for `setting` must be, if `value` is not that; the default's kind decides."""
    if isinstance(setting.value, list):
        listed = isinstance(value, list) and all(item in setting.allowed for item in value)
        return None if listed else f"a list of any of: {', '.join(setting.allowed)}"
    if setting.allowed:
        return None if value in setting.allowed else f"one of: {', '.join(setting.allowed)}"
    if isinstance(setting.value, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(setting.value, int | float):
        return None if _is_number(value) and value >= 0 else "a number of 0 or more"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------------------------
# Conditions


@dataclass(frozen=True)
class ConditionContext:
    """What a condition can read: the checked intake, the derived values and the settings in force."""

    intake: Data
    computed: Data
    settings: Data

    def value_of(self, subject: str, name: str) -> Any:
        if subject == "field":
            return _lookup(self.intake, name)
        if subject == "computed":
            return self.computed.get(name)
        return self.settings.get(name)

    def operand(self, raw: Any) -> Any:
        return self.settings.get(raw["setting"]) if isinstance(raw, dict) else raw


def _lookup(data: Data, dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _present(value: Any) -> bool:
    if isinstance(value, list | tuple | set | frozenset | dict | str):
        return len(value) > 0
    return value is not None


def evaluate_condition(condition: Data, context: ConditionContext) -> bool:
    """True when `condition` holds. A comparison with a missing value is false."""
    if "all" in condition:
        return all(evaluate_condition(part, context) for part in condition["all"])
    if "any" in condition:
        return any(evaluate_condition(part, context) for part in condition["any"])
    if "not" in condition:
        return not evaluate_condition(condition["not"], context)
    subject = next(key for key in SUBJECTS if key in condition)
    operator = next(key for key in OPERATORS if key in condition)
    value = context.value_of(subject, condition[subject])
    operand = context.operand(condition[operator])
    if operator == "present":
        return _present(value) is operand
    if value is None:
        return False
    if operator in ("equals", "not_equals"):
        # Python counts True == 1; a yes/no answer must never equal a number.
        same = isinstance(value, bool) == isinstance(operand, bool) and value == operand
        return same if operator == "equals" else not same
    if operator in ("gt", "gte", "lt", "lte"):
        if not (_is_number(value) and _is_number(operand)):
            return False
        compared: bool = {
            "gt": value > operand,
            "gte": value >= operand,
            "lt": value < operand,
            "lte": value <= operand,
        }[operator]
        return compared
    if operator == "in":
        return isinstance(operand, list | tuple) and value in operand
    return isinstance(value, list | tuple | set | frozenset) and operand in value  # contains


# ---------------------------------------------------------------------------------------------------
# Derived values


def _completed_months(earlier: dt.date, later: dt.date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - 1 if later.day < earlier.day else months


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier, or that month's last day when it is shorter (31 Aug -> 28 Feb);
    the earliest date there is when a practice looks back further than the calendar goes."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    if year < dt.MINYEAR:
        return dt.date.min
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _drug_at(words: list[str], start: int, medications: Medications) -> tuple[str | None, int]:
    """The generic named by the longest run of words from `start`, and how many words it took ((None, 0): none)."""
    for length in range(len(words) - start, 0, -1):
        candidate = " ".join(words[start : start + length])
        generic = medications.aliases.get(candidate, candidate)
        if generic in medications.drug_classes:
            return generic, length
    return None, 0


def drugs_named(text: str, medications: Medications) -> tuple[list[str], bool]:
    """Every generic the words of one medicine's text name, in order, each once, and whether its leading words name
    one (when they do not, the text is reported as unrecognised even if a later word names a drug: "Tab. lorazepam",
    "Tylenol 3 codeine"). A drug named after the first ("Zoloft Nardil") is never hidden behind it."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    found: list[str] = []
    leading = False
    index = 0
    while index < len(words):
        generic, length = _drug_at(words, index, medications)
        if generic is None:
            index += 1
            continue
        leading = leading or index == 0
        if generic not in found:
            found.append(generic)
        index += length
    return found, leading


@functools.lru_cache(maxsize=8)
def _line_separators(separators: tuple[str, ...]) -> re.Pattern[str] | None:
    """What splits a medication line (medications.yaml's separators), built once for each list of them: the dosing
    room splits every patient's lines on each load (issue 19). None when there are none."""
    words = [re.escape(separator) for separator in separators if separator.isalpha()]
    symbols = [re.escape(separator) for separator in separators if not separator.isalpha()]
    alternatives = ([f"[{''.join(symbols)}]"] if symbols else []) + ([rf"\b(?:{'|'.join(words)})\b"] if words else [])
    return re.compile("|".join(alternatives), flags=re.IGNORECASE) if alternatives else None


def medicine_parts(name: str, medications: Medications) -> list[str]:
    """The medicines one medication line names, as written: the line split at medications.yaml's separators ("sertraline,
    phenelzine", "Zoloft + Nardil", "Tylenol with codeine"), leaving out parts made only of dose and frequency words
    ("sertraline 50 mg/day, once daily" is one medicine). A line with one medicine gives itself back whole."""
    separators = _line_separators(medications.line_separators)
    if separators is None:
        return [name]
    parts = [part.strip() for part in separators.split(name)]
    medicines = [part for part in parts if part and not _only_dose_words(part, medications)]
    return [name] if len(medicines) <= 1 else medicines


def stated_daily_mg(text: str, medications: Medications) -> float | None:
    """The daily dose in mg a medicine's text states ("lorazepam 0.5 mg three times daily" is 1.5; "diazepam 5mg" is
    5), NaN when it states one that cannot be read as a single daily amount (two amounts, two frequencies, or an
    amount with a frequency Kapstone does not know), None when it states no amount."""
    units = "|".join(sorted(map(re.escape, medications.mg_per_unit), key=len, reverse=True))
    if not units:
        return None
    amounts = re.findall(rf"([0-9]+(?:\.[0-9]+)?)\s*({units})\b", text.lower())
    if not amounts:
        return None
    words = " ".join(re.findall(r"[a-z]+", text.lower()))
    frequencies = {n for phrase, n in medications.doses_a_day.items() if re.search(rf"\b{re.escape(phrase)}\b", words)}
    unread = medications.uncounted_frequency_words & set(words.split())
    if len(amounts) > 1 or len(frequencies) > 1 or (unread and not frequencies):
        return math.nan
    amount, unit = amounts[0]
    return float(amount) * medications.mg_per_unit[unit] * (frequencies.pop() if frequencies else 1)


def _only_dose_words(text: str, medications: Medications) -> bool:
    """Whether `text` says only a dose or a frequency ("50 mg", "day", "once daily", "2 tabs")."""
    tokens = re.findall(r"[a-z]+|[0-9]+(?:\.[0-9]+)?", text.lower())
    return all(token[0].isdigit() or token in medications.dose_words for token in tokens)


def _inadequate_response(entry: Data, threshold_percent: float) -> bool:
    if entry.get("improvement_percent") is not None:
        improvement: float = entry["improvement_percent"]
        return improvement < threshold_percent
    below = INADEQUATE_RESPONSES.get(entry.get("response") or "")
    return below is not None and below <= threshold_percent


def _unweighable_partial_responses(entries: list[Data], threshold_percent: float) -> int:
    """Entries said to be a partial response, with no improvement given, that a threshold under 50% cannot count."""
    return sum(
        1
        for entry in entries
        if entry.get("improvement_percent") is None
        and entry.get("response") == "partial_response"
        and not _inadequate_response(entry, threshold_percent)
    )


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def derive_values(intake: Data, settings: Data, rule_set: RuleSet, today: dt.date) -> Data:
    """Every COMPUTED_NAMES value for a validated intake."""
    values: dict[str, Any] = {}
    if intake.get("age") is not None:
        values["age_years"] = intake["age"]
    else:
        values["age_years"] = completed_years(dt.date.fromisoformat(intake["date_of_birth"]), today)

    values.update(_medication_values(intake["medications"], rule_set.medications))

    event = intake["medical"].get("mi_or_unstable_angina_date")
    event_date = dt.date.fromisoformat(event) if event else None
    values["months_since_mi_or_unstable_angina"] = _completed_months(event_date, today) if event_date else None
    # "In the last N months" includes the day exactly N months ago: a prescriber reviews the boundary case.
    values["mi_or_unstable_angina_is_recent"] = (
        event_date >= _months_before(today, math.ceil(settings["recent_cardiac_event_months"])) if event_date else None
    )

    values.update(
        _substance_use_values(
            intake["psychiatric"]["substance_use_disorders"], settings, today, rule_set.medications.dissociative_names
        )
    )
    values.update(_treatment_resistance_values(intake, settings, rule_set.medications))
    values["augmentation_used"] = bool(intake["prior_treatments"].get("augmentations"))
    values["ect_used"] = bool(intake["prior_treatments"].get("ect"))
    return values


def _medication_values(medication_list: list[Data], medications: Medications) -> Data:
    names, classes, unrecognised, not_converted = [], set(), [], []
    by_class: dict[str, list[str]] = {}
    diazepam_equivalent = 0.0
    for entry in medication_list:
        parts = medicine_parts(entry["name"], medications)
        # A line naming several medicines gives one dose for all of them: no part's dose can be counted.
        dose = entry.get("dose_mg_per_day") if len(parts) == 1 else None
        for part in parts:
            generics, leading = drugs_named(part, medications)
            if not leading:
                unrecognised.append(part)
            # The dose is the part's own only when its leading words name its one drug, and when the text states a
            # dose too, only when the two agree ("lorazepam 0.5 mg three times daily" is not 0.5 mg a day).
            part_dose = dose if leading and len(generics) == 1 else None
            stated = stated_daily_mg(part, medications) if part_dose is not None else None
            if stated is not None and not math.isclose(stated, part_dose or 0.0, rel_tol=1e-9, abs_tol=1e-9):
                part_dose = None
            for generic in generics:
                drug_class = medications.drug_classes[generic]
                names.append(generic)
                classes.add(drug_class)
                by_class.setdefault(drug_class, []).append(part)
                if drug_class == "benzodiazepine":
                    factor = medications.diazepam_mg_per_mg.get(generic)
                    if factor is None or part_dose is None:
                        not_converted.append(part)
                    else:
                        diazepam_equivalent += part_dose * factor
    return {
        "medication_names": names,
        "medication_classes": sorted(classes),
        "unrecognised_medications": unrecognised,
        "benzodiazepine_diazepam_equivalent_mg": round(diazepam_equivalent, 2),
        "benzodiazepines_not_converted": not_converted,
        "benzodiazepine_names": by_class.get("benzodiazepine", []),
        "maoi_names": by_class.get("maoi", []),
        "psychostimulant_names": by_class.get("psychostimulant", []),
        "cns_depressant_names": [
            name for drug_class in medications.cns_depressant_classes for name in by_class.get(drug_class, [])
        ],
        "methylxanthine_names": by_class.get("methylxanthine", []),
        "thyroid_hormone_names": by_class.get("thyroid_hormone", []),
        "nmda_antagonist_names": by_class.get("nmda_antagonist", []),
    }


def benzodiazepine_load(medication_list: list[Data], medications: Medications) -> float:
    """The diazepam-equivalent mg a day of the benzodiazepines in a list of intake medication entries, counted as the
    screening counts them (entries whose daily dose cannot be counted add nothing)."""
    return float(_medication_values(medication_list, medications)["benzodiazepine_diazepam_equivalent_mg"])


def _names_any(substance: str, names: tuple[str, ...]) -> bool:
    """Whether the substance text names one of `names` as a whole word, ignoring case ("DXM cough syrup" names dxm,
    "Alcohol (in remission)" names alcohol)."""
    words = " ".join(re.sub(r"[^a-z0-9]+", " ", substance.lower()).split())
    return any(re.search(rf"\b{re.escape(name)}\b", words) for name in names)


def _substance_use_values(
    disorders: list[Data], settings: Data, today: dt.date, dissociative_names: tuple[str, ...] = ()
) -> Data:
    active_dissociative, active_other, in_remission = [], [], []
    for disorder in disorders:
        months = _completed_months(dt.date.fromisoformat(disorder["last_use"]), today)
        if months >= settings["sud_remission_months"]:
            in_remission.append(disorder["substance"])
        # A substance named as a dissociative counts as one even when the box was left unticked.
        elif disorder["involves_dissociatives"] or _names_any(disorder["substance"], dissociative_names):
            active_dissociative.append(disorder["substance"])
        else:
            active_other.append(disorder["substance"])
    return {
        "active_dissociative_sud": bool(active_dissociative),
        "active_dissociative_sud_substances": active_dissociative,
        "active_other_sud": bool(active_other),
        "active_other_sud_substances": active_other,
        "sud_in_remission": bool(in_remission),
        "sud_in_remission_substances": in_remission,
    }


def _treatment_resistance_values(intake: Data, settings: Data, medications: Medications) -> Data:
    """Depression: adequate antidepressant trials with inadequate response (Conway 2021). Other
    indications: the practice's policy, counting those trials plus evidence-based psychotherapy
    courses with inadequate response. Resistant for any listed indication is resistant. When it is resistant only by
    counting trials of drugs that are not antidepressants (or that the drug list does not know), those drugs are named
    (treatment_resistance_rests_on_other_drugs) for the prescriber to confirm."""
    threshold = settings["non_response_threshold_percent"]
    prior = intake["prior_treatments"]
    adequate_trials = [
        trial
        for trial in prior["antidepressant_trials"]
        if trial["adequate_dose"] and trial["weeks"] >= settings["adequate_trial_weeks"]
    ]
    evidence_based = [course for course in prior["psychotherapy"] if course["evidence_based"]]
    failed = [trial for trial in adequate_trials if _inadequate_response(trial, threshold)]
    failed_trials = len(failed)
    other_drugs = [
        trial["drug"]
        for trial in failed
        if not set(drugs_named(trial["drug"], medications)[0]) & medications.antidepressant_trial_drugs
    ]
    failed_psychotherapy = sum(1 for course in evidence_based if _inadequate_response(course, threshold))
    failed_any = failed_trials + failed_psychotherapy
    resistant, resistant_on_antidepressants, summary = False, False, []
    for indication in intake["indications"]:
        if indication == "depression":
            needed, have = settings["depression_min_failed_trials"], failed_trials
            counted = _plural(have, "adequate antidepressant trial", "adequate antidepressant trials")
            on_antidepressants = have - len(other_drugs) >= needed
        else:
            # The practice's policy for other indications counts a medication of any kind.
            needed, have = settings["other_indication_min_failed_treatments"], failed_any
            counted = _plural(have, "evidence-based treatment", "evidence-based treatments")
            on_antidepressants = have >= needed
        resistant = resistant or have >= needed
        resistant_on_antidepressants = resistant_on_antidepressants or on_antidepressants
        summary.append(f"{indication}: {counted} with inadequate response; the policy needs {needed}")
    unweighed = _unweighable_partial_responses([*adequate_trials, *evidence_based], threshold)
    if unweighed:
        summary.append(
            f"{_plural(unweighed, 'treatment', 'treatments')} said to be a partial response (under 50%) not counted: "
            f"the practice counts under {threshold:g}% improvement as inadequate, so give the improvement %"
        )
    return {
        "failed_antidepressant_trials": failed_trials,
        "failed_evidence_based_treatments": failed_any,
        "treatment_resistant": resistant,
        "treatment_resistance_summary": "; ".join(summary),
        "treatment_resistance_rests_on_other_drugs": (
            other_drugs if resistant and not resistant_on_antidepressants else []
        ),
    }


# ---------------------------------------------------------------------------------------------------
# Maudsley Staging Method


def maudsley_stage(spec: Data, intake: Data, values: Data) -> tuple[int | None, str | None, str | None]:
    """(score, band, note). Score and band are None when the method does not apply or cannot be
    scored; the note then says why (None when the indication is not depression)."""
    if spec["applies_to_indication"] not in intake["indications"]:
        return None, None, None
    total = 0
    for component in spec["components"]:
        source = component["input"]
        name = source.get("field") or source.get("computed")
        value = _lookup(intake, name) if "field" in source else values.get(name)
        if value is None:
            return None, None, f"not scored: {name} is not recorded"
        points = _component_points(component, value)
        if points is None:
            return None, None, f"not scored: {name} is {_display(value)}, outside the method's table"
        total += points
    band = next((b["label"] for b in spec["bands"] if b["min"] <= total <= b["max"]), None)
    return total, band, None


def _component_points(component: Data, value: Any) -> int | None:
    points: int | None
    if "points_by_value" in component:
        points = component["points_by_value"].get(value)
        return points
    bands = component["bands"]
    if not _is_number(value) or value < bands[0].get("min", -math.inf):
        return None
    points = next(band["points"] for band in bands if "max" not in band or value <= band["max"])
    return points


# ---------------------------------------------------------------------------------------------------
# Screening


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(_display(item) for item in value) or "none"
    if value is None:
        return "not recorded"
    return str(value)


def _render(message: str, context: ConditionContext) -> str:
    return _PLACEHOLDER.sub(lambda match: _display(context.value_of(match[1], match[2])), message)


def screen(
    intake: Any,
    settings_overrides: Data | None = None,
    *,
    rule_set: RuleSet | None = None,
) -> ScreeningResult:
    """Screen one intake. Raises IntakeValidationError for a bad intake and SettingsOverrideError for a
    bad override; otherwise always returns a result."""
    rule_set = rule_set or load_rule_set()
    settings = effective_settings(rule_set, settings_overrides)
    checked = validate_intake(intake)
    today = dt.date.fromisoformat(checked["assessment_date"]) if checked.get("assessment_date") else dt.date.today()
    values = derive_values(checked, settings, rule_set, today)
    score, band, note = maudsley_stage(rule_set.maudsley, checked, values)
    values["maudsley_score"] = score
    context = ConditionContext(intake=checked, computed=values, settings=settings)

    fired = []
    for rule in rule_set.rules:
        if evaluate_condition(rule.condition, context):
            outcome = settings[rule.outcome["setting"]] if isinstance(rule.outcome, dict) else rule.outcome
            fired.append(Reason(rule.id, outcome, _render(rule.message, context), rule.source))
    fired.sort(key=lambda reason: OUTCOMES.index(reason.outcome))
    outcomes = {reason.outcome for reason in fired}
    decision = next((DECISION_FOR_OUTCOME[o] for o in ("exclude", "needs_review") if o in outcomes), "eligible")

    return ScreeningResult(
        decision=decision,
        reasons=fired,
        treatment_resistant=values["treatment_resistant"],
        treatment_resistance_summary=values["treatment_resistance_summary"],
        maudsley_score=score,
        maudsley_band=band,
        maudsley_note=note,
        benzodiazepine_diazepam_equivalent_mg=values["benzodiazepine_diazepam_equivalent_mg"],
        unrecognised_medications=values["unrecognised_medications"],
        assessment_date=today.isoformat(),
        rule_set_version=rule_set.version,
        settings=settings,
    )
