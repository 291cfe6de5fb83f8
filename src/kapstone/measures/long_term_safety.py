"""Long-term safety follow-up: the KSET-style form's review event and the staff-entered urine drug screens.

A "yes" on the follow-up form (instruments/kset-followup.yaml, whose `review_event` names the safety event) and a
substance found that the patient is not prescribed both put a review alert in the care team's queue through
kapstone.practice.signals.safety_event, sent on commit so a rolled-back save announces nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from django.db import transaction

from kapstone.measures.scoring import Instrument, ScoreResult
from kapstone.practice.signals import safety_event

TOXICOLOGY_FILE = Path(__file__).parent / "data" / "urine_toxicology.yaml"
REVIEW = "review"


@cache
def toxicology_data() -> dict:
    return yaml.safe_load(TOXICOLOGY_FILE.read_text(encoding="utf-8"))


def substance_labels() -> dict[str, str]:
    return {entry["code"]: entry["label"] for entry in toxicology_data()["substances"]}


def announce_on_commit(*, kind: str, patient_id: int, summary: str, object_type: str, object_id: int) -> None:
    transaction.on_commit(
        lambda: safety_event.send(
            sender=Instrument,
            kind=kind,
            level=REVIEW,
            patient_id=patient_id,
            summary=summary,
            object_type=object_type,
            object_id=object_id,
        )
    )


def review_answers(instrument: Instrument, result: ScoreResult, *, patient_id: int, assessment_id: int) -> bool:
    """Announces the review event an instrument declares (`review_event`) when any of its flags is raised on a
    completed form; returns whether it did."""
    kind = instrument.definition.get("review_event")
    if not kind or not result.complete or not result.flags:
        return False
    messages = [flag.message for flag in instrument.flags if flag.id in result.flags]
    announce_on_commit(
        kind=kind,
        patient_id=patient_id,
        summary=" ".join(messages)[:300],
        object_type="assessment",
        object_id=assessment_id,
    )
    return True
