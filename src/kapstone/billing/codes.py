"""Interprets the billing data files: the code set (data/codes.yaml), the practice's billing settings
(data/settings.yaml) and the Good Faith Estimate's content (data/good_faith_estimate.yaml).

Every entry cites an id of the project bibliography (kapstone/sources.yaml); a file that cites none, or an
unknown one, fails at load, so no code or disclaimer reaches a superbill without its source.
"""

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kapstone import bibliography

DATA_DIR = Path(__file__).parent / "data"
# A CPT code is five digits (or four digits and a letter for category II/III); HCPCS level II is a letter and
# four digits. Only the shape is checked here: the code must also be in codes.yaml.
CODE_PATTERN = re.compile(r"^(\d{4}[0-9FTU]|[A-Z]\d{4})$")
MODIFIER_PATTERN = re.compile(r"^[0-9A-Z]{2}$")


class BillingDataError(ValueError):
    """A billing data file that cannot be used as it stands."""


@dataclass(frozen=True)
class ServiceCode:
    code: str
    system: str  # CPT or HCPCS
    kind: str
    label: str
    source: str


@dataclass(frozen=True)
class PlaceOfService:
    code: str
    label: str
    remote: bool


def _load(name: str) -> dict:
    data = yaml.safe_load((DATA_DIR / name).read_text())
    known = bibliography.sources()
    for where, entry in _entries_with_sources(data):
        ids = bibliography.cited_ids(entry["source"])
        if not ids or any(source_id not in known for source_id in ids):
            raise BillingDataError(f"{name}: {where} cites {entry['source']!r}, not an id of sources.yaml")
    return data


def _entries_with_sources(data: dict):
    for section, value in data.items():
        if isinstance(value, dict) and "source" in value:
            yield section, value
        elif isinstance(value, dict):
            for key, entry in value.items():
                if isinstance(entry, dict) and "source" in entry:
                    yield f"{section}.{key}", entry
        elif isinstance(value, list):
            for index, entry in enumerate(value, start=1):
                if isinstance(entry, dict) and "source" in entry:
                    yield f"{section}[{index}]", entry


@functools.cache
def code_data() -> dict:
    data = _load("codes.yaml")
    for code in data["codes"]:
        if not CODE_PATTERN.match(code):
            raise BillingDataError(f"codes.yaml: {code!r} is not a CPT or HCPCS code")
    for modifier in data["modifiers"]:
        if not MODIFIER_PATTERN.match(modifier):
            raise BillingDataError(f"codes.yaml: {modifier!r} is not a two-character modifier")
    return data


@functools.cache
def settings_data() -> dict:
    data = _load("settings.yaml")
    known = service_codes()
    for kind, codes in data["settings"]["visit_services"]["value"].items():
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise BillingDataError(f"settings.yaml: visit_services.{kind} names codes not in codes.yaml: {unknown}")
    return data


@functools.cache
def estimate_data() -> dict:
    return _load("good_faith_estimate.yaml")


def service_codes() -> dict[str, ServiceCode]:
    return {
        code: ServiceCode(code, entry["system"], entry["kind"], entry["label"], entry["source"])
        for code, entry in code_data()["codes"].items()
    }


def modifiers() -> dict[str, str]:
    return {modifier: entry["label"] for modifier, entry in code_data()["modifiers"].items()}


def places_of_service() -> dict[str, PlaceOfService]:
    return {
        code: PlaceOfService(code, entry["label"], entry["remote"])
        for code, entry in code_data()["places_of_service"].items()
    }


def claim_limit(name: str) -> int:
    return code_data()["claim_limits"][name]["value"]


def office_place(*, remote: bool) -> str:
    """The place of service for a visit: the first listed for its kind (office; telehealth at home)."""
    return next(code for code, place in places_of_service().items() if place.remote == remote)


def parse_modifiers(text: str) -> tuple[str, ...]:
    """ "95, 25" -> ("95", "25"); ValueError naming what is wrong."""
    found = tuple(part.strip().upper() for part in re.split(r"[\s,]+", text or "") if part.strip())
    known = modifiers()
    unknown = [modifier for modifier in found if modifier not in known]
    if unknown:
        raise ValueError(f"Unknown modifier {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    if len(set(found)) != len(found):
        raise ValueError("A modifier is listed twice.")
    limit = claim_limit("modifiers_per_line")
    if len(found) > limit:
        raise ValueError(f"A service line carries at most {limit} modifiers.")
    return found


def estimate_disclaimers() -> list[str]:
    data = estimate_data()
    threshold = data["dispute_threshold_dollars"]["value"]
    return [" ".join(entry["text"].split()).replace("{threshold}", str(threshold)) for entry in data["disclaimers"]]
