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
