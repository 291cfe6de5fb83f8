"""Interprets dosing/data/readiness.yaml: the hour of the evening readiness digest and the items the room checks
only on the day of the dose."""

from functools import cache
from pathlib import Path

import yaml

from kapstone.practice.settings_store import practice_overrides

READINESS_FILE = Path(__file__).parent / "data" / "readiness.yaml"
PREFIX = "dosing"


@cache
def readiness_data() -> dict:
    return yaml.safe_load(READINESS_FILE.read_text(encoding="utf-8"))


def readiness_settings() -> dict:
    """Setting name -> value: the default unless the practice set its own (practice setting `dosing.<name>`)."""
    values = {name: spec["value"] for name, spec in readiness_data()["settings"].items()}
    overrides = practice_overrides(PREFIX)
    values.update({name: overrides[name] for name in values if name in overrides})
    return values


def checked_on_the_day() -> list[str]:
    return [entry["item"] for entry in readiness_data()["checked_on_the_day"]]
