"""What changed between two intakes, why a screening decision moved, and how the patient record differs from an
intake: pure functions over plain dicts (and record medications, read for their name, dose and frequency)."""

import datetime
import re
from typing import Any

from kapstone.practice.templatetags.kapstone_tags import day_in_words


def _day(iso: str) -> str:
    """An intake's ISO date as staff read a day ("12 Mar 1984"); one that is not a date, as it was written."""
    try:
        return day_in_words(datetime.date.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {_describe(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(_describe(item) for item in value) if value else "none"
    return str(value)


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted paths; lists stay whole (an entry's position means nothing to a reader)."""
    flat = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def intake_changes(before: dict, after: dict) -> list[dict]:
    """Each field whose value differs, as {"field", "before", "after"} in readable words, in path order."""
    old, new = _flatten(before), _flatten(after)
    changed = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) != new.get(path):
            changed.append({"field": path, "before": _describe(old.get(path)), "after": _describe(new.get(path))})
    return changed


def reason_changes(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict]]:
    """(reasons that fired now but not before, reasons that fired before but not now), matched by rule id; a
    rule that fired both times with a different message (a changed value) counts as removed and added."""
    old = {(reason["rule"], reason["message"]): reason for reason in before}
    new = {(reason["rule"], reason["message"]): reason for reason in after}
    added = [reason for key, reason in new.items() if key not in old]
    removed = [reason for key, reason in old.items() if key not in new]
    return added, removed


def merge_draft(base: dict, draft: dict) -> dict:
    """`base` with what a draft gave laid over it: dicts merge key by key, and a draft's non-empty list or
    non-null value replaces the base's (a patient's pre-intake says nothing about what it leaves out)."""
    merged = dict(base)
    for key, value in draft.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_draft(base[key], value)
        elif value is not None and value != []:
            merged[key] = value
    return merged


# Schedules that fix a daily dose. Any other (as needed, weekly, blank, free text) leaves the daily dose unknown,
# so a record medication on it is compared by name only.
DOSES_PER_DAY = {"once daily": 1, "daily": 1, "at night": 1, "twice daily": 2, "three times daily": 3}
_MG_DOSE = re.compile(r"^(\d+(?:\.\d+)?)\s*mg$", re.IGNORECASE)


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _mg(dose: float) -> str:
    dose = round(float(dose), 3)
    return str(int(dose)) if dose.is_integer() else str(dose)


def record_medication_entry(medication) -> dict:
    """A record medication (patients.Medication) as an intake entry: its name, and "dose_mg_per_day" when the
    record gives the dose in mg on a schedule with a fixed number of doses a day."""
    entry: dict[str, str | int | float] = {"name": " ".join(medication.name.split())}
    match = _MG_DOSE.match(medication.dose.strip())
    per_day = DOSES_PER_DAY.get(_words(medication.frequency))
    if match and per_day is not None:
        dose = float(match[1]) * per_day
        entry["dose_mg_per_day"] = int(dose) if dose.is_integer() else round(dose, 3)
    return entry


def _described(entry: dict) -> str:
    dose = entry.get("dose_mg_per_day")
    return entry["name"] if dose is None else f"{entry['name']} {_mg(dose)} mg/day"


def _by_name(entries: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for entry in entries:
        grouped.setdefault(_words(entry["name"]), []).append(entry)
    return grouped


def _daily_doses(entries: list[dict]) -> str:
    """The entries' daily doses in words, in a fixed order, so two lists of the same doses read the same."""
    doses = [entry.get("dose_mg_per_day") for entry in entries]
    known = sorted(round(dose, 3) for dose in doses if dose is not None)
    return " + ".join([*(f"{_mg(dose)} mg/day" for dose in known), *["no dose"] * doses.count(None)])


def _record_entry_shown(medication) -> dict:
    # Without a daily dose, the record's own words ("lorazepam 1 mg as needed") say more than the name alone.
    entry = record_medication_entry(medication)
    return {**entry, "shown": _described(entry) if "dose_mg_per_day" in entry else str(medication)}


def record_differences(*, medications: list, date_of_birth: datetime.date, intake: dict) -> list[str]:
    """How the patient record (its medications and date of birth) differs from an intake, one sentence per kind
    of difference; empty when they agree. Medications match by name; daily doses are compared only where the
    record fixes one (see record_medication_entry)."""
    record = _by_name([_record_entry_shown(medication) for medication in medications])
    taken = _by_name(intake.get("medications") or [])
    only_record: list[str] = []
    only_intake: list[str] = []
    dose_differs: list[str] = []
    for name in sorted(record.keys() | taken.keys()):
        on_record, in_intake = record.get(name), taken.get(name)
        if in_intake is None:
            only_record.extend(entry["shown"] for entry in record[name])  # the name is on the record
        elif on_record is None:
            only_intake.extend(_described(entry) for entry in in_intake)
        elif all("dose_mg_per_day" in entry for entry in on_record) and (
            _daily_doses(on_record) != _daily_doses(in_intake)
        ):
            dose_differs.append(
                f"{on_record[0]['name']} {_daily_doses(on_record)} on the record, "
                f"{_daily_doses(in_intake)} in the intake"
            )
    differences = []
    if only_record:
        differences.append(f"On the record but not in the intake: {', '.join(only_record)}.")
    if only_intake:
        differences.append(f"In the intake but not on the record: {', '.join(only_intake)}.")
    if dose_differs:
        differences.append(f"Dose differs: {'; '.join(dose_differs)}.")
    born = intake.get("date_of_birth")
    if born is not None and born != date_of_birth.isoformat():
        differences.append(
            f"Date of birth differs: {day_in_words(date_of_birth)} on the record, {_day(born)} in the intake."
        )
    return differences


def with_record_medications(intake: dict, medications: list) -> dict:
    """The intake with its medication list replaced by the record's. Where the record leaves the daily dose
    unknown, the intake's entry for the same medicine is kept, so a dose a clinician worked out is not lost."""
    taken = _by_name(intake.get("medications") or [])
    entries = []
    for medication in medications:
        entry = record_medication_entry(medication)
        earlier = taken.get(_words(entry["name"]))
        if "dose_mg_per_day" not in entry and earlier:
            entry = earlier.pop(0)
        entries.append(entry)
    return {**intake, "medications": entries}
