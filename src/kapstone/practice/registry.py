"""Every practice setting Kapstone knows, declared by the apps that read them.

Each app that reads practice settings declares them in `<app>/practice_settings.py`: an AREA (the heading the
settings page groups them under) and SETTINGS, a list of SettingSpec. A spec's default is read from the data
file the app itself uses, so the page, the command and the app can never disagree about the cited default.

A spec's kind turns the text an admin typed into the value the app expects (a number, a list, a mapping) and
checks it, so a text "180" can never reach code that compares it with a reading. Bounds are input limits that
catch typing errors (a threshold the room could never record), never clinical numbers.
"""

import functools
import importlib
import importlib.util
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps

SETTINGS_MODULE = "practice_settings"
# An input limit on every number, not a clinical one: no setting counts a billion of anything, so a larger
# number is a typing slip (and one that would overflow the date arithmetic the apps do with it).
MAX_MAGNITUDE = 10**9


class SettingRefused(ValueError):
    """A key or value the practice cannot use; the message says what to enter instead."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Number:
    """A whole or decimal number within bounds; with `nullable`, blank means "none set"."""

    minimum: Decimal | int | float | None = None
    maximum: Decimal | int | float | None = None
    above: Decimal | int | float | None = None  # an exclusive lower bound, for "more than zero"
    whole: bool = False
    nullable: bool = False
    widget = "text"

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            bounds = [f"from {self.minimum} to {self.maximum}"]
        else:
            bounds = [f"of {self.minimum} or more"] if self.minimum is not None else []
            bounds += [f"above {self.above}"] if self.above is not None else []
            bounds += [f"at most {self.maximum}"] if self.maximum is not None else []
        text = " ".join(["a whole number" if self.whole else "a number", " and ".join(bounds)]).strip()
        return f"{text}, or blank for none" if self.nullable else text

    def parse(self, text: str):
        text = text.strip()
        if not text:
            if self.nullable:
                return None
            raise SettingRefused(f"must be {self.describe()}; it cannot be left blank")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise SettingRefused(f"must be {self.describe()}, not {text!r}") from None
        if not number.is_finite() or abs(number) > MAX_MAGNITUDE:
            raise SettingRefused(f"must be {self.describe()}, not {text!r}")
        integral = number == number.to_integral_value()
        if self.whole and not integral:
            raise SettingRefused(f"must be {self.describe()}, not {text!r}")
        value = int(number) if integral else float(number)
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if value is None and self.nullable:
            return
        if not _is_number(value) or abs(value) > MAX_MAGNITUDE or (self.whole and not isinstance(value, int)):
            raise SettingRefused(f"must be {self.describe()}, not {value!r}")
        if (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.above is not None and value <= self.above)
        ):
            raise SettingRefused(f"must be {self.describe()}, not {value}")

    def to_text(self, value: Any) -> str:
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Boolean:
    widget = "select"
    choices = (("yes", "Yes"), ("no", "No"))
    words = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}

    def describe(self) -> str:
        return "yes or no"

    def parse(self, text: str) -> bool:
        word = text.strip().lower()
        if word not in self.words:
            raise SettingRefused(f"must be yes or no, not {text!r}")
        return self.words[word]

    def check(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise SettingRefused(f"must be yes or no, not {value!r}")

    def to_text(self, value: bool) -> str:
        return "yes" if value else "no"


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]
    widget = "select"

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        return tuple((option, option) for option in self.options)

    def describe(self) -> str:
        return "one of: " + ", ".join(self.options)

    def parse(self, text: str) -> str:
        self.check(text.strip())
        return text.strip()

    def check(self, value: Any) -> None:
        if value not in self.options:
            raise SettingRefused(f"must be {self.describe()}, not {value!r}")

    def to_text(self, value: str) -> str:
        return value


@dataclass(frozen=True)
class LabelAndContact:
    """One line "label | contact", stored as {"label": ..., "contact": ...} (a crisis line, say)."""

    separator = "|"

    def describe(self) -> str:
        return f"a label and a contact separated by {self.separator!r}, e.g. 'Samaritans (UK) {self.separator} 116 123'"

    def parse(self, text: str) -> dict:
        label, separator, contact = text.rpartition(self.separator)
        value = {"label": label.strip(), "contact": contact.strip()}
        if not separator:
            raise SettingRefused(f"needs {self.describe()}; {text.strip()!r} has no {self.separator!r}")
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if (
            not isinstance(value, dict)
            or set(value) != {"label", "contact"}
            or not all(isinstance(part, str) and part.strip() for part in value.values())
        ):
            raise SettingRefused(f"needs {self.describe()}")

    def to_text(self, value: dict) -> str:
        return f"{value['label']} {self.separator} {value['contact']}"


@dataclass(frozen=True)
class Lines:
    """A list, one item a line, each item read and checked by `item` (a Number, a LabelAndContact...)."""

    item: Number | LabelAndContact
    min_items: int = 0
    widget = "textarea"

    def describe(self) -> str:
        least = f"at least {self.min_items} line{'s' if self.min_items != 1 else ''}; " if self.min_items else ""
        return f"{least}one a line, each {self.item.describe()}"

    def parse(self, text: str) -> list:
        values = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values.append(self.item.parse(line))
            except SettingRefused as problem:
                raise SettingRefused(f"line {number} {problem}") from None
        self.check(values)
        return values

    def check(self, value: Any) -> None:
        if not isinstance(value, list) or len(value) < self.min_items:
            raise SettingRefused(f"must be {self.describe()}")
        for position, item in enumerate(value, start=1):
            try:
                self.item.check(item)
            except SettingRefused as problem:
                raise SettingRefused(f"line {position} {problem}") from None

    def to_text(self, value: list) -> str:
        return "\n".join(self.item.to_text(item) for item in value)


@dataclass(frozen=True)
class Json:
    """A structured value given as JSON and checked by the app's own `validator` (which raises ValueError).

    With `plain_text`, input that does not start like JSON ({ [ or ") is taken as a plain string, so a name
    such as a plan id needs no quotes.
    """

    validator: Callable[[Any], None]
    description: str
    plain_text: bool = False
    widget = "textarea"

    def describe(self) -> str:
        return self.description

    def parse(self, text: str):
        text = text.strip()
        if self.plain_text and text and text[0] not in '{["':
            value = text
        else:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise SettingRefused(f"must be {self.description}; the JSON does not read: {error}") from None
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        try:
            self.validator(value)
        except ValueError as problem:
            raise SettingRefused(f"must be {self.description}: {problem}") from None

    def to_text(self, value: Any) -> str:
        if self.plain_text and isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


Kind = Number | Boolean | Choice | Lines | Json


@dataclass(frozen=True)
class SettingSpec:
    key: str  # "<app>.<name>", as the app reads it through practice_value / practice_overrides
    label: str
    default: Any  # the cited default, read from the app's data file
    source: str
    kind: Kind
    unit: str = ""
    note: str = ""
    verified: bool = True  # False where the data file marks the source as not yet checked


def specs_from_data_file(
    *, prefix: str, entries: dict, declared: dict[str, tuple[str, Kind]], source_of: Callable[[str, dict], str]
) -> list[SettingSpec]:
    """Specs for a data file's `settings`, each entry {value, unit, source, note, verified}; `declared` gives each
    name's label and kind, so a setting added to the file without one fails at import."""
    return [
        SettingSpec(
            key=f"{prefix}.{name}",
            label=declared[name][0],
            default=entry["value"],
            source=" ".join(source_of(name, entry).split()),
            kind=declared[name][1],
            unit=entry.get("unit", ""),
            note=entry.get("note", ""),
            verified=entry.get("verified", True),
        )
        for name, entry in entries.items()
    ]


@dataclass(frozen=True)
class OrderedPair:
    """Two number settings that only make sense in order: `lower` below `upper` (or, with `or_equal`, not above
    it). Each app declares its pairs in ORDERED_PAIRS beside its SETTINGS; practice.services checks every pair a
    change or reset touches against the values that would then be in force. `why` tells the admin what the
    app would do wrong with the pair out of order."""

    lower: str
    upper: str
    why: str
    or_equal: bool = False

    @property
    def relation(self) -> str:
        return "must not exceed" if self.or_equal else "must be below"

    def holds(self, lower_value, upper_value) -> bool:
        return lower_value <= upper_value if self.or_equal else lower_value < upper_value


@dataclass(frozen=True)
class Area:
    name: str
    specs: tuple[SettingSpec, ...]
    pairs: tuple[OrderedPair, ...] = ()


@functools.cache
def areas() -> tuple[Area, ...]:
    """The apps' declared settings, in the order the apps are installed."""
    found = []
    for app_config in apps.get_app_configs():
        module_name = f"{app_config.name}.{SETTINGS_MODULE}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        found.append(Area(module.AREA, tuple(module.SETTINGS), tuple(getattr(module, "ORDERED_PAIRS", ()))))
    return tuple(found)


def all_specs() -> dict[str, SettingSpec]:
    specs: dict[str, SettingSpec] = {}
    for area in areas():
        for spec in area.specs:
            if spec.key in specs:
                raise ValueError(f"practice setting {spec.key} is declared twice")
            specs[spec.key] = spec
    return specs


def setting_spec(key: str) -> SettingSpec:
    specs = all_specs()
    if key not in specs:
        raise SettingRefused(f"There is no practice setting {key!r}. Known settings: {', '.join(sorted(specs))}.")
    return specs[key]


@functools.cache
def ordered_pairs() -> tuple[OrderedPair, ...]:
    """Every declared pair, each checked to name two different declared number settings."""
    specs = all_specs()
    pairs = tuple(pair for area in areas() for pair in area.pairs)
    for pair in pairs:
        for key in (pair.lower, pair.upper):
            if key not in specs or not isinstance(specs[key].kind, Number):
                raise ValueError(f"the ordered pair {pair.lower} < {pair.upper} names {key}, not a number setting")
        if pair.lower == pair.upper:
            raise ValueError(f"the ordered pair for {pair.lower} names it twice")
    return pairs


def pairs_with(key: str) -> tuple[OrderedPair, ...]:
    return tuple(pair for pair in ordered_pairs() if key in (pair.lower, pair.upper))
