"""The crisis screen of what a patient writes to the care team (a secure message or a session request's note, a journal
entry they share, a questionnaire's written answer): data/crisis_keywords.yaml, matched as whole words. It lives here,
below every app that takes such writing, so each screens with the same list."""

import functools
import re
from pathlib import Path

import yaml
from django.db import transaction

from kapstone import bibliography
from kapstone.practice.signals import safety_event

KEYWORDS_FILE = Path(__file__).parent / "data" / "crisis_keywords.yaml"


@functools.cache
def keyword_data() -> dict:
    data = yaml.safe_load(KEYWORDS_FILE.read_text(encoding="utf-8"))
    ids = bibliography.cited_ids(data["source"])
    if not ids or any(source_id not in bibliography.sources() for source_id in ids):
        raise ValueError(f"{KEYWORDS_FILE.name}: source must cite ids of sources.yaml, not {data['source']!r}")
    return data


def _normalised(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())


@functools.cache
def _pattern() -> re.Pattern:
    phrases = sorted((_normalised(p) for p in keyword_data()["phrases"]), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])")


def crisis_phrases_in(text: str) -> list[str]:
    """The listed phrases the text contains (lower case), in order of appearance."""
    return list(dict.fromkeys(match.group(1) for match in _pattern().finditer(_normalised(text))))


def crisis_announce_on_commit(
    *, sender: type, kind: str, patient_id: int, summary: str, object_type: str, object_id: int
) -> None:
    """Writing the screen flagged goes on the alert queue for review once committed; open, the alert holds a dose, a
    course and discharge (dosing/data/safety.yaml review_before_dosing, discharge_waits_for)."""
    transaction.on_commit(
        lambda: safety_event.send(
            sender=sender,
            kind=kind,
            level="review",
            patient_id=patient_id,
            summary=summary,
            object_type=object_type,
            object_id=object_id,
        )
    )
