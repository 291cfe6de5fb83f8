"""Assessment plans: which questionnaires fall due when in a course, read from `plans/*.yaml`.

A plan is data, so a practice can choose another file or keep a whole plan of its own in the practice
setting `measures.plan`. Turning a plan and a course's session dates into due dates is a pure function
here; the service in services.py stores the result.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kapstone.measures.scoring import ScoringError, get_instrument

PLANS_DIR = Path(__file__).parent / "plans"
ANCHORS = {"course_start", "each_dosing", "course_end"}
PLAN_SETTING = "measures.plan"
DEFAULT_PLAN = "default"


class PlanError(ValueError):
    """A plan that cannot be used: the message names what to fix."""


@dataclass(frozen=True)
class Occasion:
    id: str
    label: str
    anchor: str
    offset_days: int
    window_days: int
    instruments: tuple[str, ...]
    # each_dosing only: given after every nth dosing session (n from the practice setting named, else its default).
    every_nth: tuple[str, int] | None = None


@dataclass(frozen=True)
class IndicationRule:
    icd10_prefix: str
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    id: str
    version: int
    name: str
    occasions: tuple[Occasion, ...]
    indication_occasions: frozenset[str]
    indication_rules: tuple[IndicationRule, ...]


@dataclass(frozen=True)
class DueItem:
    """One questionnaire the plan puts due for one patient."""

    occasion: str
    occasion_label: str
    instrument_id: str
    due_at: datetime.datetime
    expires_at: datetime.datetime


def _instrument_ids(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"{where}: list the instruments, e.g. [phq9, gad7].")
    for instrument_id in raw:
        try:
            get_instrument(str(instrument_id))
        except ScoringError as error:
            raise PlanError(f"{where}: {error}") from None
    return tuple(str(i) for i in raw)


def parse_plan(raw: Mapping[str, Any]) -> Plan:
    if not isinstance(raw, Mapping):
        raise PlanError("A plan is a mapping with id, version, name and occasions.")
    for key in ("id", "version", "name", "occasions"):
        if key not in raw:
            raise PlanError(f"The plan is missing {key!r}.")
    occasions, seen = [], set()
    for spec in raw["occasions"]:
        occasion_id = str(spec.get("id", ""))
        if not occasion_id or occasion_id in seen:
            raise PlanError(f"Occasion ids must be present and distinct (problem at {occasion_id!r}).")
        seen.add(occasion_id)
        if spec.get("anchor") not in ANCHORS:
            raise PlanError(f"Occasion {occasion_id}: anchor must be one of {sorted(ANCHORS)}.")
        window = int(spec.get("window_days", 0))
        if window < 1:
            raise PlanError(f"Occasion {occasion_id}: window_days must be at least 1.")
        every = spec.get("every_nth_dosing")
        if every is not None and (
            spec["anchor"] != "each_dosing"
            or not isinstance(every, Mapping)
            or not every.get("setting")
            or not isinstance(every.get("default"), int)
            or every["default"] < 1
        ):
            raise PlanError(
                f"Occasion {occasion_id}: every_nth_dosing goes with anchor each_dosing and names a setting and a "
                "default of at least 1."
            )
        occasions.append(
            Occasion(
                id=occasion_id,
                label=str(spec.get("label") or occasion_id),
                anchor=spec["anchor"],
                offset_days=int(spec.get("offset_days", 0)),
                window_days=window,
                instruments=_instrument_ids(spec.get("instruments"), f"occasion {occasion_id}"),
                every_nth=None if every is None else (str(every["setting"]), int(every["default"])),
            )
        )
    by_indication = raw.get("by_indication") or {}
    indication_occasions = frozenset(by_indication.get("occasions") or [])
    if not indication_occasions <= seen:
        raise PlanError(f"by_indication names unknown occasions {sorted(indication_occasions - seen)}.")
    rules = tuple(
        IndicationRule(str(rule["icd10_prefix"]), _instrument_ids(rule.get("instruments"), "by_indication"))
        for rule in by_indication.get("rules") or []
    )
    return Plan(str(raw["id"]), int(raw["version"]), str(raw["name"]), tuple(occasions), indication_occasions, rules)


def _plan_file(choice: str) -> dict:
    path = PLANS_DIR / f"{choice}.yaml"
    if not str(choice).replace("-", "").replace("_", "").isalnum() or not path.exists():
        raise PlanError(f"There is no assessment plan {choice!r}.")
    return yaml.safe_load(path.read_text())


def _extended(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """A plan that `extends` another file: the base's occasions, with `add` putting instruments into named
    occasions, so a practice's study plan (plans/dore-2019.yaml) follows its base when the base changes."""
    if "extends" not in raw:
        return raw
    base = _plan_file(str(raw["extends"]))
    if "extends" in base:
        raise PlanError("A plan may extend a plan that extends nothing.")
    occasions = [dict(occasion) for occasion in base["occasions"]]
    by_id = {occasion["id"]: occasion for occasion in occasions}
    for occasion_id, instruments in (raw.get("add") or {}).items():
        if occasion_id not in by_id:
            raise PlanError(f"`add` names occasion {occasion_id!r}, which {raw['extends']!r} does not have.")
        by_id[occasion_id]["instruments"] = list(by_id[occasion_id]["instruments"]) + [
            instrument for instrument in instruments if instrument not in by_id[occasion_id]["instruments"]
        ]
    merged = {key: value for key, value in raw.items() if key not in ("extends", "add")}
    return {"by_indication": base.get("by_indication"), **merged, "occasions": occasions}


def load_plan(choice: str | Mapping[str, Any] = DEFAULT_PLAN) -> Plan:
    """A plan by file id (plans/<id>.yaml) or given whole (a practice's own plan)."""
    if isinstance(choice, Mapping):
        return parse_plan(_extended(choice))
    return parse_plan(_extended(_plan_file(choice)))


def due_items(
    plan: Plan,
    *,
    session_starts: Sequence[datetime.datetime],
    dosing_starts: Sequence[datetime.datetime],
    course_end: datetime.datetime,
    primary_icd10_codes: Sequence[str] = (),
    setting: Callable[[str, int], Any] = lambda key, default: default,
    time_zone: datetime.tzinfo | None = None,
) -> list[DueItem]:
    """The questionnaires one patient owes over a course, given its session dates. `setting(key, default)` reads a
    practice setting an occasion names (every_nth_dosing).

    Days are counted on the wall clock of `time_zone` (the practice's; None keeps each date's own zone): a
    questionnaire due a week after a 10:00 session is due at 10:00 a week later, even across a daylight-saving
    change, where counting in UTC would make it 9:00 or 11:00, and a session late in the evening a day off."""
    if not session_starts:
        return []
    extra = tuple(
        instrument_id
        for rule in plan.indication_rules
        if any(code.startswith(rule.icd10_prefix) for code in primary_icd10_codes)
        for instrument_id in rule.instruments
    )
    items: list[DueItem] = []
    for occasion in plan.occasions:
        if occasion.anchor == "each_dosing":
            every = int(setting(*occasion.every_nth)) if occasion.every_nth else 1
            anchors = [
                (f"{occasion.id}_{n}", occasion.label.format(n=n), at)
                for n, at in enumerate(dosing_starts, 1)
                if n % every == 0
            ]
        else:
            at = min(session_starts) if occasion.anchor == "course_start" else course_end
            anchors = [(occasion.id, occasion.label, at)]
        instruments = occasion.instruments
        if occasion.id in plan.indication_occasions:
            instruments += tuple(i for i in extra if i not in instruments)
        for occasion_key, label, at in anchors:
            due_at = at.astimezone(time_zone or at.tzinfo) + datetime.timedelta(days=occasion.offset_days)
            expires_at = due_at + datetime.timedelta(days=occasion.window_days)
            items += [DueItem(occasion_key, label, instrument_id, due_at, expires_at) for instrument_id in instruments]
    return items
