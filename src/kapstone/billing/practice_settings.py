"""Billing's practice settings: every `settings` entry of data/settings.yaml, read through
selectors.billing_setting(). All are operational: an admin changes them without a prescriber.

The practice's identity on its paperwork (name, address, NPI, tax ID) is blank until the practice enters it; a
superbill or estimate printed before then says what is missing.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kapstone import bibliography
from kapstone.billing import codes
from kapstone.billing.models import npi_is_valid
from kapstone.practice.registry import Json, Kind, SettingRefused, specs_from_data_file
from kapstone.program.models import GroupSession

AREA = "Billing"
PREFIX = "billing"
TAX_ID_PATTERN = re.compile(r"^\d{2}-?\d{7}$")
VISIT_KINDS = ("preparation", "dosing", "integration", "follow_up")


@dataclass(frozen=True)
class Text:
    """One line of text, or blank for "not entered yet"; `valid` judges a non-blank value."""

    valid: Callable[[str], object]  # truthy for a valid value (a predicate, or a pattern's match)
    description: str
    max_length: int = 300
    widget = "text"

    def describe(self) -> str:
        return f"{self.description}, or blank when not entered yet"

    def parse(self, text: str) -> str:
        value = " ".join(text.split())
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if not isinstance(value, str) or len(value) > self.max_length or (value and not self.valid(value)):
            raise SettingRefused(f"must be {self.describe()}, not {value!r}")

    def to_text(self, value: str) -> str:
        return value


def _visit_services(value):
    if not isinstance(value, dict) or set(value) - set(VISIT_KINDS):
        raise ValueError(f"an object whose keys are among {', '.join(VISIT_KINDS)}")
    known = codes.service_codes()
    for kind, listed in value.items():
        if not isinstance(listed, list) or not all(isinstance(code, str) and code in known for code in listed):
            raise ValueError(f"{kind}: a list of codes from the code set ({', '.join(known)})")


_DECLARED: dict[str, tuple[str, Kind]] = {
    "practice_name": ("Practice name on superbills", Text(bool, "the practice's name", max_length=120)),
    "billing_address": ("Practice address on superbills", Text(bool, "the practice's address on one line")),
    "practice_npi": ("Practice NPI", Text(npi_is_valid, "a 10-digit NPI ending in its check digit", max_length=10)),
    "tax_id": ("Practice tax ID (EIN)", Text(TAX_ID_PATTERN.match, "a 9-digit EIN such as 12-3456789", max_length=10)),
    "visit_services": (
        "Services billed for each kind of visit",
        Json(
            _visit_services,
            'JSON such as {"dosing": ["99213", "90833"]}',
            key_labels=tuple(GroupSession.Kind.choices),
        ),
    ),
}

SETTINGS = specs_from_data_file(
    prefix=PREFIX,
    entries=codes.settings_data()["settings"],
    declared=_DECLARED,
    source_of=lambda name, entry: bibliography.describe(entry["source"]),
    operational=_DECLARED.keys(),
)
