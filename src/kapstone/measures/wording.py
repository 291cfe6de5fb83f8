"""A practice's own wording for questionnaires whose wording Kapstone does not ship.

Kapstone reproduces item text only where the instrument's licence allows it (`licence.text_reproduced` in its
file); elsewhere items carry a short neutral label, which means nothing to a patient, so such a questionnaire is
not sent to patients but completed with them by staff (Instrument.patient_can_answer). A practice that holds the right to use an instrument's wording
(a licence, or a form its publisher lets clinics use) puts that wording in one file per instrument under
KAPSTONE_INSTRUMENT_WORDING_DIR, named `<instrument id>.yaml`:

    instrument: qids-sr16
    instrument_version: 1          # the version of Kapstone's definition the wording was checked against
    licence: Paper form, free for clinical use (UT Southwestern); our copy received 2026-03-01.
    instructions: Please choose the one answer for each item that best describes you for the past seven days.
    items:
      1:
        text: Falling asleep
        answers: [..., ..., ..., ...]   # optional: one per answer value, lowest first

Only the words change: item numbers, answer values and scoring stay Kapstone's, so totals, bands and alerts are
the same with or without the practice's wording. The portal shows it; exports never carry it, because the FHIR
export writes item text only for instruments whose shipped file reproduces it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from django.conf import settings

if TYPE_CHECKING:
    from kapstone.measures.scoring import Instrument

TOP_LEVEL_KEYS = {"instrument", "instrument_version", "licence", "instructions", "items"}
ITEM_KEYS = {"text", "answers"}


class WordingError(ValueError):
    """A practice wording file that cannot be used; the message names the file and what to fix. A ValueError, as a
    broken data file is to the start-up checks that load the instruments (practice settings, the wording check)."""


def wording_dir() -> Path | None:
    folder = getattr(settings, "INSTRUMENT_WORDING_DIR", "") if settings.configured else ""
    return Path(folder) if folder else None


def wording_files() -> dict[str, Path]:
    folder = wording_dir()
    if folder is None:
        return {}
    if not folder.is_dir():
        raise WordingError(f"KAPSTONE_INSTRUMENT_WORDING_DIR={folder} is not a folder.")
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WordingError(f"{where} must be non-empty text.")
    return value.strip()


def with_practice_wording(instrument: Instrument, path: Path) -> Instrument:
    """The instrument with the practice's words in place of the neutral labels; refuses a file that does not fit."""
    where = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise WordingError(f"{where}: cannot be read as YAML ({error}).") from None
    if not isinstance(raw, dict):
        raise WordingError(f"{where}: expected a mapping with instrument, instrument_version, licence and items.")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise WordingError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}.")
    if raw.get("instrument") != instrument.id:
        raise WordingError(f"{where}: `instrument` must be {instrument.id!r}, the file's name.")
    if raw.get("instrument_version") != instrument.version:
        raise WordingError(
            f"{where}: written for version {raw.get('instrument_version')!r} of {instrument.short_name}, but Kapstone's "
            f"definition is version {instrument.version}; check the wording against it and update instrument_version."
        )
    _text(raw.get("licence"), f"{where}: `licence` (who allows the practice to use this wording)")
    items = raw.get("items")
    numbers = {item.number for item in instrument.items}
    if not isinstance(items, dict) or set(items) != numbers:
        raise WordingError(
            f"{where}: `items` must give every item of {instrument.short_name}, numbered 1-{len(numbers)}."
        )
    worded = []
    for item in instrument.items:
        spec = items[item.number]
        if not isinstance(spec, dict) or not set(spec) <= ITEM_KEYS or "text" not in spec:
            raise WordingError(f"{where}: item {item.number} needs `text` (and may have `answers`).")
        text = _text(spec["text"], f"{where}: item {item.number} text")
        responses = item.responses
        if "answers" in spec:
            answers = spec["answers"]
            if not responses.options:
                raise WordingError(f"{where}: item {item.number} is answered with a number, so it takes no `answers`.")
            if not isinstance(answers, list) or len(answers) != len(responses.options):
                raise WordingError(
                    f"{where}: item {item.number} needs {len(responses.options)} answers, one per value, lowest first."
                )
            labels = [_text(answer, f"{where}: item {item.number} answer {n}") for n, answer in enumerate(answers, 1)]
            options = tuple((value, label) for (value, _), label in zip(responses.options, labels, strict=True))
            responses = dataclasses.replace(responses, id=f"{responses.id}@item{item.number}", options=options)
        worded.append(dataclasses.replace(item, text=text, label=f"Item {item.number}: {text}", responses=responses))
    definition = dict(instrument.definition)
    if "instructions" in raw:
        definition["instructions"] = _text(raw["instructions"], f"{where}: `instructions`")
    definition["practice_wording"] = {"file": where, "licence": raw["licence"].strip()}
    return dataclasses.replace(instrument, items=tuple(worded), definition=definition)
