"""Medicines new since screening that the screening rules would review, read with the screening app's own
medication list (kapstone/screening/rules/medications.yaml) so the room and the screening never disagree on what a
name is."""

from dataclasses import dataclass

from kapstone.dosing import safety
from kapstone.screening import engine


@dataclass(frozen=True)
class NewMedicine:
    name: str
    drug_class: str | None  # None: a name the screening does not recognise

    @property
    def described(self) -> str:
        kind = self.drug_class.replace("_", " ") if self.drug_class else "a name the screening does not recognise"
        return f"{self.name} ({kind})"


def _key(name: str, medications: engine.Medications) -> str:
    """A medicine's identity: its generic name where the screening knows it ("Nardil" is phenelzine), else its
    words."""
    # engine._canonical_drug is the screening's one reading of a name; importing it keeps the two apps in step.
    return engine._canonical_drug(name, medications) or " ".join(name.casefold().split())


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
    known = {_key(part, medications) for name in screened for part in engine.medicine_parts(name, medications)}
    review_classes = safety.medication_review_classes()
    found, seen = [], set()
    for name in (part for line in current for part in engine.medicine_parts(line, medications)):
        key = _key(name, medications)
        if key in known or key in seen:
            continue
        seen.add(key)
        drug_class = medications.drug_classes.get(key)
        if drug_class is None or drug_class in review_classes:
            found.append(NewMedicine(name, drug_class))
    return found
