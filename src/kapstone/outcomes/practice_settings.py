"""The outcomes report's practice settings: every `settings` entry of data/privacy.yaml."""

from functools import cache
from pathlib import Path

import yaml

from kapstone import bibliography
from kapstone.practice.registry import Number, specs_from_data_file

AREA = "Outcomes and research"
PREFIX = "outcomes"
PRIVACY_FILE = Path(__file__).parent / "data" / "privacy.yaml"
MINIMUM_CELL_SIZE = f"{PREFIX}.minimum_cell_size"


@cache
def privacy_data() -> dict:
    return yaml.safe_load(PRIVACY_FILE.read_text())


# An input limit, not a privacy number: a minimum cell above a million patients would hide every report.
_DECLARED = {
    "minimum_cell_size": ("Smallest group a researcher may see", Number(minimum=1, maximum=1_000_000, whole=True)),
}

SETTINGS = specs_from_data_file(
    prefix=PREFIX,
    entries=privacy_data()["settings"],
    declared=_DECLARED,
    source_of=lambda name, entry: bibliography.describe(entry["source"]),
    # A privacy policy the practice's administrator answers for, not a clinical threshold.
    operational=("minimum_cell_size",),
)
