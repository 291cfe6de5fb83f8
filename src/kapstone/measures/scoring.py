"""Scores questionnaires from their declarative definitions in `instruments/*.yaml`.

One interpreter serves every instrument: the YAML says how items are grouped, how the total is built
(sum, highest-of-group domains, means, percentage of maximum), where the severity bands lie, which answers
raise which flags, and how a triage risk level is read. Clinical numbers live only in those files, each with
its source; nothing here knows about a particular instrument.

Scores are computed as exact integers or fractions, so thresholds such as "at least 60% of maximum" are
compared exactly; fractional results are rounded (half up) only when reported.

A total counts only when every asked item is answered. A partial save still validates what was answered and
still raises item-level flags (an endorsed suicide item must never wait for the rest of the form), but it
has no total, severity or total-based flags, and `complete` is false.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from kapstone.measures import wording

INSTRUMENTS_DIR = Path(__file__).parent / "instruments"

Number = int | Fraction


class ScoringError(ValueError):
    """Input that cannot be scored: the message is written for the person who entered it."""


class UnknownInstrument(ScoringError):
    pass


class InvalidAnswers(ScoringError):
    pass


class InvalidSetting(ScoringError):
    pass


class InstrumentDefinitionError(Exception):
    """A definition file breaks the schema: a defect in Kapstone's data, not in anyone's answers."""


COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
}
_ITEM_METHODS = {"sum", "sum_of_domains", "mean", "mean_of_subscales", "percent_of_max", "none"}
_SUBSCALE_METHODS = {"sum", "mean", "percent_of_max"}
_INTEGER_TOTAL_METHODS = {"sum", "sum_of_domains", "entered_total"}
# When an instrument is given, for the scheduler: at any visit, the day after a dosing session (EBI), once a
# dosing session's acute effects have passed (MEQ30), or during/after dosing (CADSS).
ADMINISTRATION_TIMINGS = {"any", "day_after_dosing", "after_dosing_session", "during_or_after_dosing"}


# --- the parsed definition -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseSet:
    id: str
    options: tuple[tuple[int, str], ...]
    minimum: int | None
    maximum: int | None

    def allows(self, value: int) -> bool:
        if self.options:
            return any(value == option for option, _ in self.options)
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def describe(self) -> str:
        if self.options:
            return "one of " + ", ".join(str(value) for value, _ in self.options)
        if self.maximum is None:
            return f"a whole number of at least {self.minimum}"
        return f"a whole number from {self.minimum} to {self.maximum}"

    @property
    def lowest(self) -> int:
        return self.options[0][0] if self.options else (self.minimum or 0)

    @property
    def highest(self) -> int | None:
        return self.options[-1][0] if self.options else self.maximum


@dataclass(frozen=True)
class Item:
    number: int
    text: str | None
    label: str
    responses: ResponseSet
    ask_only_if: Mapping[str, Any] | None
    required: bool = False  # an item entered beside a total that the total cannot be recorded without


@dataclass(frozen=True)
class Band:
    name: str
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Subscale:
    id: str
    name: str
    items: tuple[int, ...]


@dataclass(frozen=True)
class Domain:
    id: str
    items: tuple[int, ...]  # one item, or the group whose highest answer is the domain's score


@dataclass(frozen=True)
class Flag:
    id: str
    when: Mapping[str, Any]
    critical: bool
    crisis_resources: bool
    message: str


@dataclass(frozen=True)
class Consistency:
    """Two answers the form's wording ties together: `item` counts a subset of what `at_most_item` counts (EDE-Q
    item 14 asks on how many of item 13's times control was lost), so it can never be larger."""

    item: int
    at_most_item: int
    message: str


@dataclass(frozen=True)
class Setting:
    name: str
    default: int | float
    minimum: int | float | None
    maximum: int | float | None


@dataclass(frozen=True)
class RiskRule:
    level: str
    when: Mapping[str, Any]


@dataclass(frozen=True)
class Risk:
    levels: tuple[str, ...]  # lowest first
    rules: tuple[RiskRule, ...]
    critical_levels: frozenset[str]

    def in_words(self, level: str) -> str:
        """A level as staff read it wherever it is shown (the scores page, the timeline, the alert it raises): the
        lowest, which no rule raised (every rule is a question answered yes), as "No risk flagged: no question
        answered yes"; any other as "Moderate risk"."""
        if level == self.levels[0]:
            return "No risk flagged: no question answered yes"
        return f"{level.capitalize()} risk"


@dataclass(frozen=True, eq=False)
class Instrument:
    id: str
    name: str
    short_name: str
    version: int
    entry: str  # "items" or "total_only"
    method: str
    total_range: tuple[int, int] | None
    decimals: int
    subscale_method: str | None
    items: tuple[Item, ...]
    domains: tuple[Domain, ...]
    subscales: tuple[Subscale, ...]
    bands: tuple[Band, ...]
    flags: tuple[Flag, ...]
    risk: Risk | None
    settings: Mapping[str, Setting]
    reports: Mapping[str, int]
    definition: Mapping[str, Any] = field(repr=False)  # the whole file, for licence, codes, timing, change
    # Items of a total_only instrument entered on their own beside the total (BDI-II item 9), so their flags fire.
    entered_items: tuple[Item, ...] = ()
    # Pairs of answers that contradict each other when the first is larger (validate_answers refuses them).
    consistency: tuple[Consistency, ...] = ()
    # Pairs of items the form asks the person to answer one of, not both (QIDS-SR16 "complete either 6 or 7"): the
    # one left blank is not asked, and a domain over both scores the one answered.
    answer_either: tuple[tuple[int, int], ...] = ()

    @property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(item.number for item in self.items)

    @property
    def patient_can_answer(self) -> bool:
        """Whether a patient can fill this in in the portal: it is answered item by item and its items carry
        words, Kapstone's (where the licence lets it reproduce them) or the practice's own (wording.py). Items
        with only neutral labels ("EBI item 1") mean nothing to a patient, so staff who hold the wording go
        through the form with the patient instead."""
        licence = self.definition.get("licence") or {}
        return self.entry == "items" and (bool(licence.get("text_reproduced")) or "practice_wording" in self.definition)

    def band_for(self, total: Number) -> Band | None:
        return next((band for band in self.bands if band.minimum <= total <= band.maximum), None)

    def resolve_settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, int | float]:
        """The practice's values for this instrument's settings, defaults filled in, each checked."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.settings))
        if unknown:
            known = ", ".join(sorted(self.settings)) or "none"
            raise InvalidSetting(f"{self.short_name} has no setting {unknown[0]!r} (its settings: {known}).")
        resolved: dict[str, int | float] = {}
        for name, setting in self.settings.items():
            value = overrides.get(name, setting.default)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidSetting(f"Setting {name!r} must be a finite number, not {value!r}.")
            if (setting.minimum is not None and value < setting.minimum) or (
                setting.maximum is not None and value > setting.maximum
            ):
                raise InvalidSetting(
                    f"Setting {name!r} must lie between {setting.minimum} and {setting.maximum}; got {value}."
                )
            resolved[name] = value
        return resolved


# --- loading ------------------------------------------------------------------------------------------------


def _fail(instrument_id: str, message: str) -> InstrumentDefinitionError:
    return InstrumentDefinitionError(f"instruments/{instrument_id}.yaml: {message}")


def _parse_response_set(instrument_id: str, set_id: str, raw: Mapping[str, Any]) -> ResponseSet:
    if "options" in raw:
        options = tuple((int(option["value"]), str(option["label"])) for option in raw["options"])
        values = [value for value, _ in options]
        if not values or values != sorted(set(values)):
            raise _fail(instrument_id, f"response set {set_id!r} needs distinct options in rising order")
        return ResponseSet(set_id, options, None, None)
    if "range" in raw:
        bounds = raw["range"]
        return ResponseSet(set_id, (), int(bounds["min"]), None if bounds.get("max") is None else int(bounds["max"]))
    raise _fail(instrument_id, f"response set {set_id!r} needs `options` or `range`")


def _check_condition(
    instrument_id: str,
    condition: Any,
    *,
    items: set[int],
    scores: set[str],
    subscales: set[str],
    settings: set[str],
) -> None:
    """Refuses a condition the interpreter would not understand, so a typo fails at load, not at a patient."""

    def check_value(value: Any) -> None:
        if isinstance(value, Mapping):
            if set(value) != {"setting"} or value["setting"] not in settings:
                raise _fail(instrument_id, f"unknown setting reference {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(instrument_id, f"threshold {value!r} is not a number")

    if not isinstance(condition, Mapping):
        raise _fail(instrument_id, f"condition {condition!r} is not a mapping")
    if set(condition) in ({"all"}, {"any"}):
        for part in next(iter(condition.values())):
            _check_condition(instrument_id, part, items=items, scores=scores, subscales=subscales, settings=settings)
        return
    if set(condition) == {"endorsed_by_subscale"}:
        rule = condition["endorsed_by_subscale"]
        check_value(rule["at_least"])
        if not set(rule["minimum"]) <= subscales:
            raise _fail(instrument_id, f"endorsed_by_subscale names unknown subscales {sorted(rule['minimum'])}")
        return
    comparators = set(condition) & set(COMPARATORS)
    subjects = set(condition) - comparators
    if len(comparators) != 1 or len(subjects) != 1:
        raise _fail(instrument_id, f"condition {dict(condition)} needs one subject and one comparison")
    check_value(condition[comparators.pop()])
    subject = subjects.pop()
    if subject == "item" and condition["item"] not in items:
        raise _fail(instrument_id, f"condition refers to unknown item {condition['item']}")
    elif subject == "any_item" and not set(condition["any_item"]) <= items:
        raise _fail(instrument_id, f"condition refers to unknown items {condition['any_item']}")
    elif subject == "score" and condition["score"] not in scores:
        raise _fail(instrument_id, f"condition refers to unknown score {condition['score']!r}")
    elif subject == "every_subscale" and not subscales:
        raise _fail(instrument_id, "every_subscale used on an instrument without subscales")
    elif subject not in {"item", "any_item", "score", "every_subscale"}:
        raise _fail(instrument_id, f"unknown condition subject {subject!r}")


def _check_bands(instrument_id: str, bands: tuple[Band, ...], total_range: tuple[int, int] | None) -> None:
    """Bands must tile the whole total range with no gap and no overlap, in order."""
    if not bands:
        return
    if total_range is None:
        raise _fail(instrument_id, "severity bands need an integer total_range")
    expected_start = total_range[0]
    for band in bands:
        if band.minimum != expected_start or band.maximum < band.minimum:
            raise _fail(instrument_id, f"band {band.name!r} does not start at {expected_start}")
        expected_start = band.maximum + 1
    if bands[-1].maximum != total_range[1]:
        raise _fail(instrument_id, f"the last band ends at {bands[-1].maximum}, not {total_range[1]}")


def _check_change(instrument_id: str, change: Mapping[str, Any], settings: set[str]) -> None:
    """The change block is read by kapstone.measures.change; its shape is checked here with the rest."""
    if change.get("direction") != "lower_is_better":
        raise _fail(instrument_id, "change.direction must be lower_is_better (the only direction supported)")
    response = change.get("response")
    if response is not None and not 0 < response.get("min_reduction", 0) <= 1:
        raise _fail(instrument_id, "change.response.min_reduction must be a fraction above 0 and at most 1")
    for key in ("remission", "caseness"):
        rule = change.get(key)
        if rule is not None and (len(rule.get("when", {})) != 1 or not set(rule["when"]) <= set(COMPARATORS)):
            raise _fail(instrument_id, f"change.{key}.when needs exactly one comparison")
    for key, spec in (change.get("reliable_change") or {}).items():
        if key == "note":
            continue
        value = spec.get("value") if isinstance(spec, Mapping) else None
        if isinstance(value, Mapping) and value.get("setting") not in settings:
            raise _fail(instrument_id, f"change.reliable_change.{key} names an unknown setting")
        sample = spec.get("practice_baseline_sample") if isinstance(spec, Mapping) else None
        if sample is not None:
            minimum = sample.get("minimum_n")
            if not (isinstance(minimum, Mapping) and minimum.get("setting") in settings) or not sample.get("source"):
                raise _fail(instrument_id, "practice_baseline_sample needs a source and a minimum_n practice setting")
        if value is not None and not isinstance(value, Mapping | int | float):
            raise _fail(instrument_id, f"change.reliable_change.{key}.value must be a number")


def parse_instrument(raw: Mapping[str, Any], file_stem: str) -> Instrument:
    """Builds an Instrument from a definition, refusing anything the interpreter would not understand."""
    instrument_id = raw.get("id")
    if instrument_id != file_stem:
        raise _fail(file_stem, f"id {instrument_id!r} must match the file name")
    for key in ("name", "short_name", "version", "entry", "scoring", "licence", "citation"):
        if key not in raw:
            raise _fail(instrument_id, f"missing {key!r}")
    timing = (raw.get("administration") or {}).get("timing")
    if timing not in ADMINISTRATION_TIMINGS:
        raise _fail(instrument_id, f"administration.timing must be one of {sorted(ADMINISTRATION_TIMINGS)}")
    entry = raw["entry"]
    scoring = raw["scoring"]
    method = scoring.get("method")
    if entry == "total_only":
        if method != "entered_total" or raw.get("items"):
            raise _fail(instrument_id, "a total_only instrument has method entered_total and no items")
        if raw.get("entered_items") and not raw.get("flags"):
            raise _fail(instrument_id, "entered_items are recorded for their flags; declare the flag they raise")
    elif entry == "items":
        if raw.get("entered_items"):
            raise _fail(instrument_id, "entered_items belong to a total_only instrument")
        if method not in _ITEM_METHODS:
            raise _fail(instrument_id, f"unknown scoring method {method!r}")
    else:
        raise _fail(instrument_id, f"entry must be `items` or `total_only`, not {entry!r}")

    response_sets = {
        set_id: _parse_response_set(instrument_id, set_id, spec)
        for set_id, spec in (raw.get("response_sets") or {}).items()
    }
    items = []
    for position, spec in enumerate(raw.get("items") or [], start=1):
        if spec["number"] != position:
            raise _fail(instrument_id, f"items must be numbered 1, 2, 3... (found {spec['number']} at {position})")
        if spec["responses"] not in response_sets:
            raise _fail(instrument_id, f"item {position} uses unknown response set {spec['responses']!r}")
        text = spec.get("text")
        items.append(
            Item(
                number=position,
                text=text,
                label=spec.get("label") or f"Item {position}: {text}",
                responses=response_sets[spec["responses"]],
                ask_only_if=spec.get("ask_only_if"),
            )
        )
    entered_items = []
    for spec in raw.get("entered_items") or []:
        if spec.get("responses") not in response_sets or not spec.get("label"):
            raise _fail(instrument_id, f"entered item {spec.get('number')} needs a label and a known response set")
        entered_items.append(
            Item(
                number=int(spec["number"]),
                text=None,
                label=str(spec["label"]),
                responses=response_sets[spec["responses"]],
                ask_only_if=None,
                required=bool(spec.get("required", False)),
            )
        )
    item_numbers = {item.number for item in items} | {item.number for item in entered_items}
    if method in {"mean", "percent_of_max"} and any(item.responses.highest is None for item in items):
        raise _fail(instrument_id, f"method {method} needs every item to have a maximum")

    domains = tuple(
        Domain(spec["id"], tuple(spec["max_of"]) if "max_of" in spec else (spec["item"],))
        for spec in scoring.get("domains") or []
    )
    if method == "sum_of_domains" and not domains:
        raise _fail(instrument_id, "sum_of_domains needs domains")
    subscales = tuple(Subscale(spec["id"], spec["name"], tuple(spec["items"])) for spec in raw.get("subscales") or [])
    subscale_method = scoring.get("subscale_method")
    if subscales and subscale_method not in _SUBSCALE_METHODS:
        raise _fail(instrument_id, f"subscales need a subscale_method among {sorted(_SUBSCALE_METHODS)}")
    if method == "mean_of_subscales" and not subscales:
        raise _fail(instrument_id, "mean_of_subscales needs subscales")
    groups: tuple[Domain | Subscale, ...] = (*domains, *subscales)
    for group in groups:
        if not group.items or not set(group.items) <= item_numbers:
            raise _fail(instrument_id, f"{group.id!r} refers to items that do not exist")
    score_names = ["total", *(d.id for d in domains), *(s.id for s in subscales)]
    if len(score_names) != len(set(score_names)):
        raise _fail(instrument_id, "domain and subscale ids must be unique and not 'total'")

    total_range = tuple(scoring["total_range"]) if "total_range" in scoring else None
    if method != "none" and total_range is None:
        raise _fail(instrument_id, "scoring needs total_range")
    severity = raw.get("severity") or {}
    bands = tuple(Band(str(b["name"]).lower(), int(b["min"]), int(b["max"])) for b in severity.get("bands") or [])
    if bands and method not in _INTEGER_TOTAL_METHODS:
        raise _fail(instrument_id, "severity bands are only defined for whole-number totals")
    _check_bands(instrument_id, bands, total_range)

    settings = {
        name: Setting(name, spec["default"], spec.get("min"), spec.get("max"))
        for name, spec in (raw.get("settings") or {}).items()
    }
    check_condition = functools.partial(
        _check_condition,
        items=item_numbers,
        scores=set(score_names),
        subscales={s.id for s in subscales},
        settings=set(settings),
    )
    flags = []
    for spec in raw.get("flags") or []:
        check_condition(instrument_id, spec["when"])
        flags.append(
            Flag(
                id=spec["id"],
                when=spec["when"],
                critical=bool(spec.get("critical", False)),
                crisis_resources=bool(spec.get("crisis_resources", False)),
                message=spec["message"],
            )
        )
    for item in items:
        if item.ask_only_if is not None:
            check_condition(instrument_id, item.ask_only_if)

    risk = None
    if raw.get("risk"):
        spec = raw["risk"]
        levels = tuple(spec["levels"])
        rules = tuple(RiskRule(rule["level"], rule["when"]) for rule in spec["rules"])
        for rule in rules:
            if rule.level not in levels:
                raise _fail(instrument_id, f"risk rule names unknown level {rule.level!r}")
            check_condition(instrument_id, rule.when)
        risk = Risk(levels, rules, frozenset(spec.get("critical_levels") or ()))

    if raw.get("change"):
        _check_change(instrument_id, raw["change"], set(settings))

    consistency = []
    for spec in raw.get("consistency") or []:
        pair = {spec.get("item"), spec.get("at_most_item")}
        if not pair <= {item.number for item in items} or len(pair) != 2 or not spec.get("source"):
            raise _fail(instrument_id, f"consistency rule {spec!r} needs two answered items and a source")
        consistency.append(Consistency(int(spec["item"]), int(spec["at_most_item"]), str(spec["message"])))

    either = raw.get("answer_either") or {}
    either_pairs = [list(pair) for pair in either.get("pairs") or []]
    in_pairs = [number for pair in either_pairs for number in pair]
    if either_pairs and (
        not either.get("source")
        or any(len(pair) != 2 for pair in either_pairs)
        or len(set(in_pairs)) != len(in_pairs)
        or not set(in_pairs) <= {item.number for item in items if item.ask_only_if is None}
    ):
        raise _fail(instrument_id, "answer_either needs a source and pairs of two distinct items with no skip logic")
    answer_either = tuple((int(first), int(second)) for first, second in either_pairs)

    reports = {spec["id"]: spec["item"] for spec in raw.get("reports") or []}
    if not set(reports.values()) <= item_numbers:
        raise _fail(instrument_id, "a report refers to an unknown item")

    return Instrument(
        id=instrument_id,
        name=raw["name"],
        short_name=raw["short_name"],
        version=int(raw["version"]),
        entry=entry,
        method=method,
        total_range=total_range,
        decimals=int(scoring.get("decimals", 2)),
        subscale_method=subscale_method,
        items=tuple(items),
        domains=domains,
        subscales=subscales,
        bands=bands,
        flags=tuple(flags),
        risk=risk,
        settings=settings,
        reports=reports,
        definition=raw,
        entered_items=tuple(entered_items),
        consistency=tuple(consistency),
        answer_either=answer_either,
    )


@functools.cache
def _load_shipped() -> dict[str, Instrument]:
    instruments = {}
    for path in sorted(INSTRUMENTS_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        instrument = parse_instrument(raw, path.stem)
        instruments[instrument.id] = instrument
    return instruments


@functools.cache
def _load_all() -> dict[str, Instrument]:
    """Kapstone's instruments, with the practice's own wording where it supplies some (measures/wording.py)."""
    instruments = dict(_load_shipped())
    for instrument_id, path in wording.wording_files().items():
        if instrument_id not in instruments:
            raise wording.WordingError(f"{path.name}: Kapstone has no instrument {instrument_id!r}.")
        instruments[instrument_id] = wording.with_practice_wording(instruments[instrument_id], path)
    return instruments


def list_instruments() -> list[Instrument]:
    return list(_load_all().values())


def instruments_patients_can_answer() -> frozenset[str]:
    """The ids of the instruments the portal may ask patients to fill in (Instrument.patient_can_answer)."""
    return frozenset(instrument.id for instrument in _load_all().values() if instrument.patient_can_answer)


def shipped_instrument(instrument_id: str) -> Instrument:
    """The instrument as Kapstone ships it, without a practice's wording: what leaves the practice (exports) uses
    only words Kapstone may reproduce."""
    get_instrument(instrument_id)  # the same refusal of an unknown id
    return _load_shipped()[instrument_id]


def get_instrument(instrument_id: str) -> Instrument:
    try:
        return _load_all()[instrument_id]
    except KeyError:
        known = ", ".join(_load_all())
        raise UnknownInstrument(f"Unknown instrument {instrument_id!r}. Known instruments: {known}.") from None


# --- evaluating conditions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What conditions are evaluated against. Missing answers and scores are None and never satisfy a test."""

    instrument: Instrument
    answers: Mapping[int, int | None]
    scores: Mapping[str, Number | None]
    settings: Mapping[str, int | float]

    def threshold(self, value: Any) -> int | float:
        return self.settings[value["setting"]] if isinstance(value, Mapping) else value


def _holds(condition: Mapping[str, Any], facts: _Facts) -> bool:
    if "all" in condition:
        return all(_holds(part, facts) for part in condition["all"])
    if "any" in condition:
        return any(_holds(part, facts) for part in condition["any"])
    if "endorsed_by_subscale" in condition:
        rule = condition["endorsed_by_subscale"]
        at_least = facts.threshold(rule["at_least"])
        by_id = {subscale.id: subscale for subscale in facts.instrument.subscales}
        for subscale_id, needed in rule["minimum"].items():
            values = (facts.answers.get(number) for number in by_id[subscale_id].items)
            if sum(1 for value in values if value is not None and value >= at_least) < needed:
                return False
        return True

    (name,) = set(condition) & set(COMPARATORS)
    compare, threshold = COMPARATORS[name], facts.threshold(condition[name])

    def passes(value: Number | None) -> bool:
        return value is not None and compare(value, threshold)

    if "item" in condition:
        return passes(facts.answers.get(condition["item"]))
    if "any_item" in condition:
        return any(passes(facts.answers.get(number)) for number in condition["any_item"])
    if "score" in condition:
        return passes(facts.scores.get(condition["score"]))
    # every_subscale
    return all(passes(facts.scores.get(subscale.id)) for subscale in facts.instrument.subscales)


# --- answers ------------------------------------------------------------------------------------------------


def _as_mapping(instrument: Instrument, answers: Any) -> dict[int, Any]:
    count = len(instrument.items)
    if isinstance(answers, Mapping):
        unknown = [key for key in answers if isinstance(key, bool) or key not in instrument.item_numbers]
        if unknown:
            raise InvalidAnswers(f"{instrument.short_name} has items 1 to {count}; there is no item {unknown[0]!r}.")
        return {number: answers.get(number) for number in instrument.item_numbers}
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise InvalidAnswers(f"Answers must be a list of {count} values or a mapping of item number to value.")
    if len(answers) != count:
        raise InvalidAnswers(f"{instrument.short_name} has {count} items; got {len(answers)} answers.")
    return dict(zip(instrument.item_numbers, answers, strict=True))


def _is_asked(instrument: Instrument, item: Item, answers: Mapping[int, int | None]) -> bool | None:
    """Whether the form asks this item given the other answers; None while the gating answer is missing."""
    if item.ask_only_if is None:
        return True
    if any(answers.get(number) is None for number in _condition_items(item.ask_only_if)):
        return None
    return _holds(item.ask_only_if, _Facts(instrument, answers, {}, {}))


def _condition_items(condition: Mapping[str, Any]) -> set[int]:
    if "item" in condition:
        return {condition["item"]}
    if "any_item" in condition:
        return set(condition["any_item"])
    parts = condition.get("all") or condition.get("any") or []
    return set().union(*(_condition_items(part) for part in parts))


@dataclass(frozen=True)
class ValidatedAnswers:
    values: dict[int, int | None]  # answers to asked items; None where unanswered or not asked
    missing: tuple[int, ...]  # asked (or possibly asked) items without an answer
    not_asked: tuple[int, ...]  # items the form's skip logic leaves out


def validate_answers(instrument: Instrument, answers: Any) -> ValidatedAnswers:
    """Checks count, type, range and skip logic. Raises InvalidAnswers with a message a person can act on."""
    if instrument.entry != "items":
        raise InvalidAnswers(
            f"{instrument.short_name} is recorded as a total entered by staff; enter the total, not items."
        )
    raw = _as_mapping(instrument, answers)
    values: dict[int, int | None] = {}
    for item in instrument.items:
        value = raw[item.number]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidAnswers(f"Item {item.number}: {value!r} is not a whole number.")
        if value is not None and not item.responses.allows(value):
            raise InvalidAnswers(
                f"Item {item.number}: {value} is out of range; it must be {item.responses.describe()}."
            )
        values[item.number] = value
    for rule in instrument.consistency:
        part, whole = values[rule.item], values[rule.at_most_item]
        if part is not None and whole is not None and part > whole:
            raise InvalidAnswers(
                f"Item {rule.item} ({part}) cannot be more than item {rule.at_most_item} ({whole}): {rule.message}"
            )

    # Of a pair the form asks to answer either of, the item left blank beside an answered one is not asked.
    left_blank = {
        blank
        for pair in instrument.answer_either
        for blank, other in (pair, pair[::-1])
        if values[blank] is None and values[other] is not None
    }
    missing, not_asked = [], []
    for item in instrument.items:
        asked = _is_asked(instrument, item, values)
        value = values[item.number]
        if item.number in left_blank:
            not_asked.append(item.number)
        elif asked is False:
            # A skipped question may arrive blank or as its lowest answer ("no"); anything else contradicts
            # the answer that skipped it.
            if value is not None and value != item.responses.lowest:
                gate = ", ".join(f"item {n}" for n in sorted(_condition_items(item.ask_only_if or {})))
                raise InvalidAnswers(
                    f"Item {item.number} is asked only when {gate} allows it, but {gate} was answered so that "
                    f"item {item.number} is skipped; item {item.number} cannot be {value}."
                )
            values[item.number] = None
            not_asked.append(item.number)
        elif value is None:
            missing.append(item.number)
    return ValidatedAnswers(values, tuple(missing), tuple(not_asked))


# --- scores -------------------------------------------------------------------------------------------------


def _answered(values: Mapping[int, int | None], numbers: Sequence[int]) -> list[int] | None:
    answered = [value for value in (values[number] for number in numbers) if value is not None]
    return answered if len(answered) == len(numbers) else None


def _percent_of_max(instrument: Instrument, numbers: Sequence[int], picked: Sequence[int]) -> Fraction:
    by_number = {item.number: item for item in instrument.items}
    maximum = sum(by_number[number].responses.highest or 0 for number in numbers)
    return Fraction(sum(picked) * 100, maximum)


def _group_score(
    instrument: Instrument, method: str, numbers: Sequence[int], values: Mapping[int, int | None]
) -> Number | None:
    picked = _answered(values, numbers)
    if picked is None:
        return None
    if method == "sum":
        return sum(picked)
    if method == "mean":
        return Fraction(sum(picked), len(picked))
    return _percent_of_max(instrument, numbers, picked)


def _scores(
    instrument: Instrument, validated: ValidatedAnswers
) -> tuple[Number | None, dict[str, Number | None], dict[str, int | None]]:
    values = validated.values
    subscales = {
        subscale.id: _group_score(instrument, instrument.subscale_method or "sum", subscale.items, values)
        for subscale in instrument.subscales
    }
    domains: dict[str, int | None] = {}
    for domain in instrument.domains:
        picked = _answered(values, [number for number in domain.items if number not in validated.not_asked])
        domains[domain.id] = None if not picked else max(picked)

    complete = not validated.missing
    asked = [number for number in instrument.item_numbers if number not in validated.not_asked]
    total: Number | None = None
    if complete and instrument.method != "none":
        if instrument.method == "sum_of_domains":
            # complete: every domain was answered, so no domain score is None
            total = sum(domains.values())  # type: ignore[arg-type]
        elif instrument.method == "mean_of_subscales":
            # complete: every subscale was answered, so no subscale score is None
            total = Fraction(sum(subscales.values()), len(subscales))  # type: ignore[arg-type]
        else:
            total = _group_score(instrument, instrument.method, asked, values)
    return total, subscales, domains


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    instrument_version: int
    complete: bool
    total: int | float | None
    severity: str | None
    subscales: dict[str, int | float | None]
    domains: dict[str, int | None]
    flags: tuple[str, ...]
    critical: bool
    crisis_resources: bool
    risk: str | None
    reports: dict[str, int | None]
    missing_items: tuple[int, ...]
    settings: dict[str, int | float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "instrument_version": self.instrument_version,
            "complete": self.complete,
            "total": self.total,
            "severity": self.severity,
            "subscales": dict(self.subscales),
            "domains": dict(self.domains),
            "flags": list(self.flags),
            "critical": self.critical,
            "crisis_resources": self.crisis_resources,
            "risk": self.risk,
            "reports": dict(self.reports),
            "missing_items": list(self.missing_items),
            "settings": dict(self.settings),
        }


def _reported(value: Number | None, decimals: int) -> int | float | None:
    if value is None or isinstance(value, int):
        return value
    quantum = Decimal(1).scaleb(-decimals)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(quantum, rounding=ROUND_HALF_UP))


def _result(
    instrument: Instrument,
    *,
    answers: Mapping[int, int | None],
    total: Number | None,
    subscales: Mapping[str, Number | None],
    domains: Mapping[str, int | None],
    missing: tuple[int, ...],
    settings: Mapping[str, int | float],
) -> ScoreResult:
    facts = _Facts(instrument, answers, {"total": total, **subscales, **domains}, settings)
    raised = [flag for flag in instrument.flags if _holds(flag.when, facts)]

    risk = None
    if instrument.risk is not None:
        fired = [rule.level for rule in instrument.risk.rules if _holds(rule.when, facts)]
        # On a partial save this is a lower bound: further answers can only raise it.
        risk = max(fired, key=instrument.risk.levels.index, default=instrument.risk.levels[0])

    band = instrument.band_for(total) if total is not None else None
    return ScoreResult(
        instrument=instrument.id,
        instrument_version=instrument.version,
        complete=not missing,
        # A whole-number method's total is an int, which _reported returns as it is.
        total=_reported(total, instrument.decimals),
        severity=band.name if band else None,
        subscales={key: _reported(value, instrument.decimals) for key, value in subscales.items()},
        domains=dict(domains),
        flags=tuple(flag.id for flag in raised),
        critical=any(flag.critical for flag in raised)
        or (risk is not None and instrument.risk is not None and risk in instrument.risk.critical_levels),
        crisis_resources=any(flag.crisis_resources for flag in raised),
        risk=risk,
        reports={report: answers.get(number) for report, number in instrument.reports.items()},
        missing_items=missing,
        settings=dict(settings),
    )


def score(instrument_id: str, answers: Any, *, settings: Mapping[str, Any] | None = None) -> ScoreResult:
    """Scores item answers: a list in item order or a mapping of item number to value; None = unanswered."""
    instrument = get_instrument(instrument_id)
    resolved = instrument.resolve_settings(settings)
    validated = validate_answers(instrument, answers)
    total, subscales, domains = _scores(instrument, validated)
    return _result(
        instrument,
        answers=validated.values,
        total=total,
        subscales=subscales,
        domains=domains,
        missing=validated.missing,
        settings=resolved,
    )


def _entered_item_values(instrument: Instrument, items: Mapping[int, Any] | None) -> dict[int, int | None]:
    """The items entered beside a total (BDI-II item 9), checked like any answer. A missing one is None here: the
    service that records a new total insists on the required ones (missing_required_items)."""
    items = dict(items or {})
    known = {item.number: item for item in instrument.entered_items}
    unknown = sorted(set(items) - set(known))
    if unknown:
        raise InvalidAnswers(f"{instrument.short_name} takes no item {unknown[0]} beside its total.")
    values: dict[int, int | None] = {}
    for number, item in known.items():
        value = items.get(number)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not item.responses.allows(value)
        ):
            raise InvalidAnswers(
                f"{instrument.short_name} {item.label}: {value!r} must be {item.responses.describe()}."
            )
        values[number] = value
    return values


def _check_total_holds_entered_items(instrument: Instrument, total: int, values: Mapping[int, int | None]) -> None:
    """An item entered beside a total is one of the items the total sums (BDI-II item 9 is one of the 21 its total
    adds up), and the total's range is every item at its highest. So the total is at least the entered items and
    at most them plus the rest of the form at its highest: a BDI-II of 0 with item 9 at 2 is a slip in one of the
    two numbers, and storing it would either hide the suicide item behind a "minimal" total or misstate the total."""
    entered = {number: value for number, value in values.items() if value is not None}
    if not entered:
        return
    by_number = {item.number: item for item in instrument.entered_items}
    _, form_highest = instrument.total_range  # type: ignore[misc]
    low = sum(entered.values())
    high = low + form_highest - sum(by_number[number].responses.highest or 0 for number in entered)
    if not low <= total <= high:
        given = ", ".join(f"item {number} = {value}" for number, value in sorted(entered.items()))
        raise InvalidAnswers(
            f"A {instrument.short_name} total of {total} cannot go with {given}: the total adds up every item, so "
            f"with {given} it lies between {low} and {high}. Check both numbers against the form."
        )


def missing_required_items(instrument: Instrument, items: Mapping[int, Any] | None) -> list[Item]:
    """The required items entered beside a total that `items` leaves out."""
    given = {number for number, value in (items or {}).items() if value is not None}
    return [item for item in instrument.entered_items if item.required and item.number not in given]


def score_total(
    instrument_id: str,
    total: Any,
    *,
    items: Mapping[int, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ScoreResult:
    """Checks a total entered by staff for a licensed (total_only) instrument against its range and bands, with
    the items the instrument records on their own beside it (`items`: number -> answer), whose flags it raises."""
    instrument = get_instrument(instrument_id)
    if instrument.entry != "total_only":
        raise InvalidAnswers(f"{instrument.short_name} is scored from its items; enter the answers, not a total.")
    if isinstance(total, bool) or not isinstance(total, int):
        raise InvalidAnswers(f"The {instrument.short_name} total must be a whole number, not {total!r}.")
    low, high = instrument.total_range  # type: ignore[misc]
    if not low <= total <= high:
        raise InvalidAnswers(f"The {instrument.short_name} total must be between {low} and {high}; got {total}.")
    values = _entered_item_values(instrument, items)
    _check_total_holds_entered_items(instrument, total, values)
    return _result(
        instrument,
        answers=values,
        total=total,
        subscales={},
        domains={},
        missing=(),
        settings=instrument.resolve_settings(settings),
    )
