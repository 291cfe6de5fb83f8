"""The portal's practice settings: the defaults in data/portal.yaml unless the practice has its own value."""

import functools
from pathlib import Path
from typing import Any

import yaml

from kapstone.practice.settings_store import practice_value

DEFAULTS_FILE = Path(__file__).parent / "data" / "portal.yaml"
PREFIX = "measures"


@functools.cache
def _defaults() -> dict[str, Any]:
    return {name: spec["default"] for name, spec in yaml.safe_load(DEFAULTS_FILE.read_text())["settings"].items()}


def portal_setting(name: str) -> Any:
    """`name` is a key of data/portal.yaml; the practice's override lives under `measures.<name>`."""
    return practice_value(f"{PREFIX}.{name}", _defaults()[name])
