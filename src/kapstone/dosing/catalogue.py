"""Interprets dosing/data/controlled_drugs.yaml: the controlled drugs the log accepts, their forms and the routes
each form fits."""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml

CATALOGUE_FILE = Path(__file__).parent / "data" / "controlled_drugs.yaml"


@dataclass(frozen=True)
class Form:
    id: str
    label: str
    strength_unit: str
    routes: tuple[str, ...]
    # What one unit of stock is (a vial, a lozenge, a spray device): the log counts these as well as mg.
    unit: str
    # A unit that is given whole (a spray device): a dose from it is a whole number of units.
    whole_units: bool = False


@dataclass(frozen=True)
class Drug:
    id: str
    label: str
    dea_schedule: str
    forms: tuple[str, ...]


@cache
def _load() -> tuple[dict[str, Form], dict[str, Drug]]:
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    forms = {
        form_id: Form(
            form_id,
            entry["label"],
            entry["strength_unit"],
            tuple(entry["routes"]),
            entry["unit"],
            bool(entry.get("whole_units", False)),
        )
        for form_id, entry in data["forms"].items()
    }
    drugs = {}
    for drug_id, entry in data["drugs"].items():
        unknown = set(entry["forms"]) - forms.keys()
        if unknown:
            raise ValueError(f"controlled_drugs.yaml: {drug_id} names unknown forms {sorted(unknown)}")
        drugs[drug_id] = Drug(drug_id, entry["label"], str(entry["dea_schedule"]), tuple(entry["forms"]))
    return forms, drugs


def forms() -> dict[str, Form]:
    return _load()[0]


def drugs() -> dict[str, Drug]:
    return _load()[1]


def drug_choices() -> list[tuple[str, str]]:
    return [(drug.id, f"{drug.label} (Schedule {drug.dea_schedule})") for drug in drugs().values()]


def form_choices() -> list[tuple[str, str]]:
    return [(form.id, form.label) for form in forms().values()]


def product_refusal(*, drug: str, form: str) -> str:
    """Why the log cannot accept this product; "" when the catalogue lists it."""
    if drug not in drugs():
        names = ", ".join(d.label for d in drugs().values())
        return f"{drug!r} is not in the practice's catalogue of controlled drugs ({names})."
    if form not in drugs()[drug].forms:
        offered = ", ".join(forms()[f].label for f in drugs()[drug].forms)
        return f"{drugs()[drug].label} comes as {offered} in the catalogue, not {form!r}."
    return ""


def forms_fitting(route: str) -> frozenset[str]:
    """The forms whose lots may be given by `route`: the rule route_refusal refuses by, and the room offers by."""
    return frozenset(form.id for form in forms().values() if route in form.routes)


def _a(words: str) -> str:
    """ "a lozenge", "an injection"."""
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


def _an_order(route_label: str) -> str:
    """ "a sublingual lozenge order", "an intramuscular order"."""
    return _a(f"{route_label.lower()} order")


def route_refusal(*, form: str, route: str, route_label: str) -> str:
    """Why a lot of this form cannot be given by this route; "" when it fits."""
    if form not in forms():
        return "The lot's form is not recorded, so the room cannot tell which routes it fits; use another lot."
    if form not in forms_fitting(route):
        lot = _a(f"{forms()[form].label} lot")
        return f"{lot[0].upper()}{lot[1:]} does not fit {_an_order(route_label)}; choose a lot that fits the order's route."
    return ""


def no_lot_fits(*, route_label: str) -> str:
    """What the room offers instead of a lot when no lot in stock fits the order's route (forms_fitting)."""
    return f"No lot in stock fits {_an_order(route_label)}"


def whole_units_refusal(*, form: str, unit_mg: Decimal | None, dose_mg: Decimal) -> str:
    """Why a dose cannot be given from a lot of this form whose unit holds `unit_mg`; "" when it can: a form given in
    whole units (a spray device) gives a whole number of them."""
    shown = forms().get(form)
    if shown is None or not shown.whole_units or not unit_mg or dose_mg % unit_mg == 0:
        return ""
    unit = f"{unit_mg.normalize():f} mg"
    return (
        f"A {shown.label} {shown.unit} holds {unit} and is given whole, so a dose from it is a whole number of "
        f"{shown.unit}s ({unit} each); {dose_mg.normalize():f} mg is not. Ask for a new order."
    )


def describe(*, drug: str, form: str, strength: Decimal | None) -> str:
    """ "ketamine 50 mg/mL injection", as the log and the room show a lot."""
    drug_label = drugs()[drug].label if drug in drugs() else drug
    if form not in forms():
        return drug_label
    shown = forms()[form]
    amount = f"{strength.normalize():f} {shown.strength_unit} " if strength is not None else ""
    return f"{drug_label} {amount}{shown.label}"
