"""Medicines new since screening that the screening rules would review, read with the screening app's own
medication list (kapstone/screening/rules/medications.yaml) so the room and the screening never disagree on what a
name is."""

import math
from dataclasses import dataclass

from kapstone.dosing import safety
from kapstone.screening import engine
from kapstone.screening.changes import record_medication_entry


@dataclass(frozen=True)
class NewMedicine:
    name: str
    drug_class: str | None  # None: a name the screening does not recognise
    # Why a medicine the screening listed is to review again (its dose has risen); "" for a medicine new since it.
    why: str = ""

    @property
    def described(self) -> str:
        kind = self.drug_class.replace("_", " ") if self.drug_class else "a name the screening does not recognise"
        return f"{self.name} ({self.why or kind})"


def _keys(name: str, medications: engine.Medications) -> list[str]:
    """A medicine's identities: each generic its words name ("Nardil" is phenelzine; "Zoloft Nardil" is sertraline and
    phenelzine), read as the screening reads them (engine.drugs_named), and its words themselves when its leading
    words name no drug, as the screening then reports it unrecognised."""
    generics, leading = engine.drugs_named(name, medications)
    return generics if leading else [" ".join(name.casefold().split()), *generics]


def declared_names(text: str) -> list[str]:
    """The medicines written at check-in, one a line."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def new_to_review(*, screened: list[str], current: list[str]) -> list[NewMedicine]:
    """The `current` names (the record's medications and those declared at check-in) that are not among the
    `screened` intake's and that the screening rules review: a class of safety.medication_review_classes() or an
    unrecognised name. A line naming several medicines is read as each of them. In the order given, each medicine
    once."""
    medications = engine.load_rule_set().medications
    # Each medicine a line names ("sertraline, phenelzine"), as the screening reads it (engine.medicine_parts).
    known = {
        key
        for name in screened
        for part in engine.medicine_parts(name, medications)
        for key in _keys(part, medications)
    }
    review_classes = safety.medication_review_classes()
    found, seen = [], set()
    for name in (part for line in current for part in engine.medicine_parts(line, medications)):
        keys = _keys(name, medications)
        new = [key for key in keys if key not in known and key not in seen]
        seen.update(new)
        classes = [medications.drug_classes.get(key) for key in new]
        reviewed = [drug_class for drug_class in classes if drug_class is not None and drug_class in review_classes]
        # Named once for each class to review; by its words alone when it names none ("Tab. lorazepam" is a
        # benzodiazepine, "Contrave" a name the screening does not recognise).
        found += [NewMedicine(name, drug_class) for drug_class in reviewed]
        if not reviewed and None in classes:
            found.append(NewMedicine(name, None))
    return found


def record_entries(medications: list) -> list[engine.Data]:
    """The record's medications (patients.Medication, read for name, dose and frequency) as intake entries, with a
    daily dose where the record fixes one (screening.changes.record_medication_entry)."""
    return [record_medication_entry(medication) for medication in medications]


def reported_entries(entries: list) -> list[engine.Data]:
    """The patient's own medicine entries from the portal as intake entries: a name, and a daily dose only when it is a
    number (their answers are kept as sent, never validated as an intake is)."""
    found: list[engine.Data] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            continue
        dose = entry.get("dose_mg_per_day")
        counted = isinstance(dose, int | float) and not isinstance(dose, bool) and math.isfinite(dose) and dose >= 0
        found.append({"name": entry["name"], **({"dose_mg_per_day": dose} if counted else {})})
    return found


def declared_entries(text: str) -> list[engine.Data]:
    """The medicines written at check-in, one a line, with the daily dose a line states ("lorazepam 2 mg three times
    daily" is 6 mg), as the screening reads a stated dose (engine.stated_daily_mg)."""
    medications = engine.load_rule_set().medications
    found: list[engine.Data] = []
    for name in declared_names(text):
        stated = engine.stated_daily_mg(name, medications)
        counted = stated is not None and math.isfinite(stated)
        found.append({"name": name, **({"dose_mg_per_day": stated} if counted else {})})
    return found


def benzodiazepine_load_raised(
    *, screened: list[engine.Data], current: list[list[engine.Data]], threshold_mg: float
) -> list[NewMedicine]:
    """The benzodiazepine load to review again (safety.yaml benzodiazepine_load_raised): each `current` list (the
    record's, the patient's own, those declared at check-in) counted on its own as the screening counts one, and the
    highest of them when it is above the screening's threshold and above the load of the `screened` intake. Named by
    its load, so a load that rises again after a review is reviewed again."""
    medications = engine.load_rule_set().medications
    before = engine.benzodiazepine_load(screened, medications)
    now = max((engine.benzodiazepine_load(entries, medications) for entries in current), default=0.0)
    if now <= threshold_mg or now <= before:
        return []
    return [
        NewMedicine(
            f"benzodiazepines at about {now:g} mg/day diazepam-equivalent",
            "benzodiazepine",
            why=(
                f"the dose has risen since screening, which counted {before:g} mg/day; above the screening's "
                f"{threshold_mg:g} mg/day ({safety.benzodiazepine_load_raised_source()})"
            ),
        )
    ]
