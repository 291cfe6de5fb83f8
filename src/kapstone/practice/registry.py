"""Every practice setting Kapstone knows, declared by the apps that read them.

Each app that reads practice settings declares them in `<app>/practice_settings.py`: an AREA (the heading the
settings page groups them under) and SETTINGS, a list of SettingSpec. A spec's default is read from the data
file the app itself uses, so the page, the command and the app can never disagree about the cited default.

A spec's kind turns the text an admin typed into the value the app expects (a number, a list, a mapping) and
checks it, so a text "180" can never reach code that compares it with a reading. A kind's bounds are input limits
that catch typing errors (a threshold the room could never record), never clinical numbers.

Hard bounds are the clinical numbers no practice may cross (at most 2 doses in 7 days, say): each carries its
source and why, is checked against the cited default when the spec is built (so a data file whose default breaks
its own bound stops the import), refuses a change past it (practice.services) and clamps a stored value on read
(practice.settings_store). A spec is clinical unless marked operational: a prescriber changes a clinical setting,
an admin only proposes the change.
"""

import functools
import importlib
import importlib.util
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.apps import apps

from kapstone.untrusted import storable_text, without_direction_controls

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
        """Each option with the words the settings page shows for it (needs_review -> needs review); the option
        itself stays what a settings file or the command line gives."""
        return tuple((option, option.replace("_", " ")) for option in self.options)

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
    """A list, one item a line, each item read and checked by `item` (a Number, a LabelAndContact, a Choice...)."""

    item: Number | LabelAndContact | Choice
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
    # The words a mapping's keys are shown in on the settings page ("follow_up": "Follow-up"), where its keys are codes.
    key_labels: tuple[tuple[str, str], ...] = ()
    # The value in words for the settings page (opening hours as "Monday to Friday, 09:00 to 17:00"), where neither
    # its keys nor its items read as words; None shows it as an outline of its keys and items.
    in_words: Callable[[Any], str] | None = None
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
            except RecursionError:
                raise SettingRefused(f"must be {self.description}; the JSON is nested too deeply to read") from None
            except ValueError as error:  # not JSON, or a number with more digits than Python reads
                raise SettingRefused(f"must be {self.description}; the JSON does not read: {error}") from None
            if not _unkeepable(value):  # no deeper than MAX_JSON_DEPTH, so walked by recursion safely
                value = _without_direction_controls(value)
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        problem = _unkeepable(value)
        if problem:
            raise SettingRefused(f"must be {self.description}; {problem}")
        try:
            self.validator(value)
        except ValueError as problem:
            raise SettingRefused(f"must be {self.description}: {problem}") from None

    def to_text(self, value: Any) -> str:
        if self.plain_text and isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


# An input limit, not a clinical number: no setting's JSON nests more than a few levels (a mapping of lists of
# text), and a value nested hundreds deep would exhaust Python's stack wherever it is written out or walked.
MAX_JSON_DEPTH = 20


def _without_direction_controls(value: Any) -> Any:
    """The JSON value with the controls that reorder shown text dropped from every string and key. The form's text
    has them dropped already (practice.middleware), but a \\u escape ("\\u202e") spells one past it that
    json.loads then decodes: a site or a telephone number shown reversed."""
    if isinstance(value, str):
        return without_direction_controls(value)
    if isinstance(value, list):
        return [_without_direction_controls(item) for item in value]
    if isinstance(value, dict):
        return {without_direction_controls(key): _without_direction_controls(item) for key, item in value.items()}
    return value


def _unkeepable(value: Any) -> str:
    """Why a JSON value cannot be kept and shown, or "": nested past MAX_JSON_DEPTH, or a string or key that is not
    storable_text. Walked without recursion, so the deepest value is refused rather than exhausting the stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return f"the JSON nests more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(item, str):
            if not storable_text(item):
                return "a \\u0000 or an unpaired \\ud800-\\udfff escape cannot be stored; remove it"
        elif isinstance(item, dict):
            pending += [(part, depth + 1) for pair in item.items() for part in pair]
        elif isinstance(item, list):
            pending += [(part, depth + 1) for part in item]
    return ""


class Kind(Protocol):
    """What a spec's kind does: Number, Boolean, Choice, Lines and Json here, and an app's own (billing's Text,
    telehealth's video link) alike. The settings page reads `widget` (and `choices` for a select)."""

    @property
    def widget(self) -> str: ...

    def describe(self) -> str: ...

    # Any: each kind parses to and writes back its own type of value (a number, a list, a mapping).
    def parse(self, text: str) -> Any: ...

    def check(self, value: Any) -> None: ...

    def to_text(self, value: Any) -> str: ...


HARD_BOUND_FIELDS = {"min", "max", "source", "why"}
# A data file cites a source by an id from its own `sources`; a bare word that names none is a typo.
SOURCE_ID = re.compile(r"[a-z][a-z0-9_]*")


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
    # Operational settings (wording, reminder times, opening hours) are the admin's; every other setting is
    # clinical and changed by a prescriber, an admin only proposing the change.
    clinical: bool = True
    hard_min: int | float | None = None
    hard_max: int | float | None = None
    hard_source: str = ""
    hard_why: str = ""

    def __post_init__(self):
        if self.hard_min is None and self.hard_max is None:
            if self.hard_source or self.hard_why:
                raise ValueError(f"practice setting {self.key} cites a hard bound but gives no min or max")
            return
        if not isinstance(self.kind, Number):
            raise ValueError(f"practice setting {self.key}: hard bounds apply to number settings only")
        if not self.hard_source.strip() or not self.hard_why.strip():
            raise ValueError(f"practice setting {self.key}: a hard bound needs its source and why")
        for bound in (self.hard_min, self.hard_max):
            if bound is not None and not _is_number(bound):
                raise ValueError(f"practice setting {self.key}: hard bound {bound!r} is not a number")
        if self.hard_min is not None and self.hard_max is not None and self.hard_min > self.hard_max:
            raise ValueError(f"practice setting {self.key}: hard min {self.hard_min} is above hard max {self.hard_max}")
        past = self.past_hard_bound(self.default)
        if past:
            raise ValueError(
                f"practice setting {self.key}: the cited default {self.default} is past its hard bound: {past}"
            )

    @property
    def has_hard_bounds(self) -> bool:
        return self.hard_min is not None or self.hard_max is not None

    def _with_unit(self, number) -> str:
        return f"{number} {self.unit}" if self.unit else f"{number}"

    def describe_hard_bounds(self) -> str:
        """ "from 24 h to 72 h", "at most 2 doses", "at least 120 min"; "" without hard bounds."""
        if self.hard_min is not None and self.hard_max is not None:
            return f"from {self._with_unit(self.hard_min)} to {self._with_unit(self.hard_max)}"
        if self.hard_max is not None:
            return f"at most {self._with_unit(self.hard_max)}"
        if self.hard_min is not None:
            return f"at least {self._with_unit(self.hard_min)}"
        return ""

    def past_hard_bound(self, value: Any) -> str:
        """Which hard bound `value` crosses, with its reason and source; "" when it crosses none. None ("none
        set", for a nullable number) and a value of the wrong type cross no bound: the kind refuses the latter."""
        if not _is_number(value):
            return ""
        if self.hard_max is not None and value > self.hard_max:
            return f"cannot exceed {self._with_unit(self.hard_max)}: {self.hard_why} ({self.hard_source})"
        if self.hard_min is not None and value < self.hard_min:
            return f"cannot be below {self._with_unit(self.hard_min)}: {self.hard_why} ({self.hard_source})"
        return ""

    def within_hard_bounds(self, stored: Any) -> Any:
        """What the app is given for a stored value: the value itself, or, past a hard bound, the bound it
        crosses. A stored value this kind cannot use is replaced by the cited default, which lies within the
        bounds, so a setting with hard bounds never reaches an app outside them whoever wrote the row."""
        if not self.has_hard_bounds:
            return stored
        try:
            self.kind.check(stored)
        except SettingRefused:
            return self.default
        if not _is_number(stored):
            return stored
        if self.hard_max is not None and stored > self.hard_max:
            return self.hard_max
        if self.hard_min is not None and stored < self.hard_min:
            return self.hard_min
        return stored


def hard_bounds_fields(
    key: str, raw: Any, *, resolve_source: Callable[[str], str | None] = lambda source_id: None
) -> dict:
    """SettingSpec's hard_* fields from a data file's `hard_bounds: {min, max, source, why}` (min or max may be
    absent). `source` is an id `resolve_source` knows, or the citation written out; an unknown id fails here."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw.keys() <= HARD_BOUND_FIELDS:
        raise ValueError(f"practice setting {key}: hard_bounds takes {sorted(HARD_BOUND_FIELDS)}, not {raw!r}")
    source = " ".join(str(raw.get("source", "")).split())
    resolved = resolve_source(source)
    if resolved is None and SOURCE_ID.fullmatch(source):
        raise ValueError(f"practice setting {key}: hard_bounds cites the unknown source {source!r}")
    return {
        "hard_min": raw.get("min"),
        "hard_max": raw.get("max"),
        "hard_source": " ".join((resolved or source).split()),
        "hard_why": " ".join(str(raw.get("why", "")).split()),
    }


def specs_from_data_file(
    *,
    prefix: str,
    entries: dict,
    declared: Mapping[str, tuple[str, Kind]],
    source_of: Callable[[str, dict], str],
    sources: Mapping[str, str] | None = None,
    operational: Collection[str] = (),
) -> list[SettingSpec]:
    """Specs for a data file's `settings`, each entry {value, unit, source, note, verified, hard_bounds};
    `declared` gives each name's label and kind, so a setting added to the file without one fails at import.

    A hard bound's source id is looked up in `sources` (the file's own), else given to `source_of` as the
    entry's; `operational` names the settings an admin changes without a prescriber."""
    unknown = set(operational) - set(entries)
    if unknown:
        raise ValueError(f"{prefix}: operational settings {sorted(unknown)} are not in the data file")

    def resolver(name: str) -> Callable[[str], str | None]:
        if sources is not None:
            return sources.get

        def through_source_of(source_id: str) -> str | None:
            try:
                return source_of(name, {"source": source_id})
            except KeyError:
                return None

        return through_source_of

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
            clinical=name not in operational,
            **hard_bounds_fields(f"{prefix}.{name}", entry.get("hard_bounds"), resolve_source=resolver(name)),
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


@functools.cache
def hard_bounded_specs() -> dict[str, SettingSpec]:
    """The specs with hard bounds, by key: what every read of a stored value is held within."""
    return {key: spec for key, spec in all_specs().items() if spec.has_hard_bounds}


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
