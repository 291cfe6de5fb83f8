"""The portal home's practice setting: what to do before each kind of session (data/preparation.yaml)."""

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kapstone import bibliography
from kapstone.integration.practice_settings import PREFIX as INTEGRATION_PREFIX
from kapstone.measures.portal_settings import PREFIX as MEASURES_PREFIX
from kapstone.practice.registry import Json, specs_from_data_file
from kapstone.practice.settings_store import practice_overrides_of
from kapstone.program.models import GroupSession

AREA = "Patient portal"
PREFIX = "portal"
DATA_FILE = Path(__file__).parent / "data" / "preparation.yaml"
KINDS = ("preparation", "dosing", "integration", "follow_up", "video")


@functools.cache
def preparation_data() -> dict:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def _check(value: Any) -> None:
    if not isinstance(value, dict) or set(value) - set(KINDS):
        raise ValueError(f"an object whose keys are among {', '.join(KINDS)}")
    for kind, lines in value.items():
        if not isinstance(lines, list) or not all(isinstance(line, str) and line.strip() for line in lines):
            raise ValueError(f"{kind}: a list of instructions, each a line of text")


SETTINGS = specs_from_data_file(
    prefix=PREFIX,
    entries=preparation_data()["settings"],
    declared={
        "preparation_instructions": (
            "What to do before each kind of session",
            Json(
                _check,
                'JSON such as {"dosing": ["Arrange a ride home."]}',
                # The session kinds as the schedule names them; "video" is what is added for any session by video.
                key_labels=(*GroupSession.Kind.choices, ("video", "Any session by video (added)")),
            ),
        )
    },
    source_of=lambda name, entry: bibliography.describe(entry["source"]),
    operational=("preparation_instructions",),
)


def home_settings() -> dict[str, dict]:
    """The practice's own values of the settings the portal home shows, keyed by prefix: its crisis lines
    (measures.), what to do before a session (portal.) and the integration window (integration.). One read for
    all three instead of one each (issue 19)."""
    return practice_overrides_of(MEASURES_PREFIX, PREFIX, INTEGRATION_PREFIX)


def preparation_instructions(kind: str, *, remote: bool, overrides: Mapping[str, Any]) -> list[str]:
    """`overrides`: the practice's own `portal.` values (home_settings()[PREFIX])."""
    name = "preparation_instructions"
    chosen = overrides.get(name, preparation_data()["settings"][name]["value"])
    return list(chosen.get(kind, [])) + (list(chosen.get("video", [])) if remote else [])
