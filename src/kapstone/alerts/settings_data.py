"""The escalation settings: data/escalation.yaml's cited defaults, overridden by the practice's own values."""

import functools
from pathlib import Path

import yaml

from kapstone.practice.settings_store import practice_overrides

ESCALATION_FILE = Path(__file__).parent / "data" / "escalation.yaml"
PREFIX = "alerts"


@functools.cache
def escalation_data() -> dict:
    return yaml.safe_load(ESCALATION_FILE.read_text())


def escalation_settings() -> dict:
    """Setting name -> value in force."""
    values = {name: entry["value"] for name, entry in escalation_data()["settings"].items()}
    values.update({key: value for key, value in practice_overrides(PREFIX).items() if key in values})
    return values
