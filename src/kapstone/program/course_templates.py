"""Course templates: what a KAP course is made of, read from versioned YAML files, and checks of real session
times against them.

A template is clinical content, so it is data: each number in it carries a source id (of Kapstone's bibliography,
sources.yaml, or of the template's own `sources` table for a practice's own documents), or is listed as an
unverified practice default with a note saying why it was chosen. Loading refuses a template that breaks a
rule and names every broken field, so a practice editing its own file sees all its mistakes at once. Beyond a
template's own consistency, every template must keep the hard bounds of rules/course_bounds.yaml (at most two
dosing sessions a week, groups of 3 to 4, two facilitators with a prescriber at dosing, integration within 72 h),
each cited there.

Kapstone ships its templates in templates_data/; a practice adds its own in the folder the setting
KAPSTONE_COURSE_TEMPLATES_DIR names, validated the same way. Every version found stays loaded: a new group is
formed on the highest version of its template, and an existing group keeps following the version it was formed on.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from django.conf import settings

from kapstone import bibliography

DAYS_IN_A_WEEK = 7
BOUNDS_FILE = "course_bounds.yaml"
PRACTICE_TEMPLATES_SETTING = "KAPSTONE_COURSE_TEMPLATES_DIR"


class TemplateError(ValueError):
    """A template breaks rules; `problems` lists each as '<origin>: <field>: <what is wrong>'."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class SessionKind(enum.StrEnum):
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    url: str = ""


@dataclass(frozen=True)
class Staffing:
    facilitators: int
    min_prescribers: int


@dataclass(frozen=True)
class PreparationRule:
    count: int
    duration_minutes: int
    staffing: Staffing


@dataclass(frozen=True)
class DosingRule:
    count: int
    duration_minutes: int
    min_days_between: int
    max_days_between: int
    typical_days_between: int | None
    max_per_week: int
    staffing: Staffing


@dataclass(frozen=True)
class IntegrationRule:
    after_dosing: tuple[int, ...]  # 1-based dosing numbers that are each followed by their own integration
    closing_count: int  # integration sessions after the last tied one, bound to no particular dosing
    duration_minutes: int
    preferred_window_hours: tuple[int, int]
    outer_bound_hours: int
    staffing: Staffing

    @property
    def count(self) -> int:
        return len(self.after_dosing) + self.closing_count

    def anchor_dosing(self, integration_index: int) -> int | None:
        """The dosing number an integration session follows, or None for a closing session."""
        if 1 <= integration_index <= len(self.after_dosing):
            return self.after_dosing[integration_index - 1]
        return None


@dataclass(frozen=True)
class FollowUpRule:
    offsets_days: tuple[int, ...]  # days after the last dosing session
    window_days: int  # a follow-up may fall this many days either side of its offset
    duration_minutes: int
    staffing: Staffing

    @property
    def count(self) -> int:
        return len(self.offsets_days)


@dataclass(frozen=True)
class GroupRule:
    min_size: int
    max_size: int


@dataclass(frozen=True)
class CourseTemplate:
    id: str
    name: str
    version: int
    description: str
    sources: tuple[Source, ...]
    preparation: PreparationRule
    dosing: DosingRule
    integration: IntegrationRule
    follow_ups: FollowUpRule
    group: GroupRule
    # "section.field" -> source id, and "section.field" -> why an unsourced default was chosen.
    field_sources: Mapping[str, str]
    unverified: Mapping[str, str]

    def count(self, kind: SessionKind) -> int:
        return {
            SessionKind.PREPARATION: self.preparation.count,
            SessionKind.DOSING: self.dosing.count,
            SessionKind.INTEGRATION: self.integration.count,
            SessionKind.FOLLOW_UP: self.follow_ups.count,
        }[kind]

    def duration_minutes(self, kind: SessionKind) -> int:
        return {
            SessionKind.PREPARATION: self.preparation.duration_minutes,
            SessionKind.DOSING: self.dosing.duration_minutes,
            SessionKind.INTEGRATION: self.integration.duration_minutes,
            SessionKind.FOLLOW_UP: self.follow_ups.duration_minutes,
        }[kind]

    def staffing(self, kind: SessionKind) -> Staffing:
        return {
            SessionKind.PREPARATION: self.preparation.staffing,
            SessionKind.DOSING: self.dosing.staffing,
            SessionKind.INTEGRATION: self.integration.staffing,
            SessionKind.FOLLOW_UP: self.follow_ups.staffing,
        }[kind]


# ----------------------------------------------------------------------------------------------------
# Parsing and validation

_STAFFING_FIELDS = ("facilitators", "min_prescribers")
_SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "preparation": ("count", "duration_minutes", *_STAFFING_FIELDS),
    "dosing": (
        "count",
        "duration_minutes",
        "min_days_between",
        "max_days_between",
        "typical_days_between",
        "max_per_week",
        *_STAFFING_FIELDS,
    ),
    "integration": (
        "after_dosing",
        "closing_count",
        "duration_minutes",
        "preferred_window_hours",
        "outer_bound_hours",
        *_STAFFING_FIELDS,
    ),
    "follow_ups": ("offsets_days", "window_days", "duration_minutes", *_STAFFING_FIELDS),
    "group": ("min_size", "max_size"),
}
_OPTIONAL_FIELDS = {("dosing", "typical_days_between")}
_PROVENANCE_KEYS = ("source", "unverified", "notes")
_TOP_LEVEL_KEYS = ("id", "name", "version", "description", "sources", *_SECTION_FIELDS)


class _Problems:
    """Collects every problem in one template so the error lists them all."""

    def __init__(self, origin: str):
        self.origin = origin
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{self.origin}: {where}: {what}")

    def named(self, where: str) -> bool:
        return any(item.startswith(f"{self.origin}: {where}: ") for item in self.items)

    def integer(self, section: Mapping[str, Any], name: str, field: str, minimum: int) -> int:
        value = section.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(f"{name}.{field}", f"must be a whole number, got {value!r}")
            return minimum
        if value < minimum:
            self.add(f"{name}.{field}", f"must be at least {minimum}, got {value}")
            return minimum
        return value

    def integers(self, section: Mapping[str, Any], name: str, field: str, minimum: int) -> tuple[int, ...]:
        value = section.get(field)
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            self.add(f"{name}.{field}", f"must be a list of whole numbers, got {value!r}")
            return ()
        if any(item < minimum for item in value):
            self.add(f"{name}.{field}", f"every value must be at least {minimum}, got {value}")
        return tuple(value)


def _check_keys(problems: _Problems, where: str, mapping: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        problems.add(where, f"unknown key(s) {', '.join(unknown)} (a typo?)")


@dataclass(frozen=True)
class HardBound:
    """An outer limit on one template field ("section.field"), inclusive, with why and where it comes from."""

    field: str
    minimum: int | None
    maximum: int | None
    reason: str
    source: str

    def problem(self, value: int) -> str | None:
        if (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum):
            return None
        if self.minimum == self.maximum:
            limit = f"exactly {self.minimum}"
        elif self.maximum is None:
            limit = f"at least {self.minimum}"
        elif self.minimum is None:
            limit = f"at most {self.maximum}"
        else:
            limit = f"between {self.minimum} and {self.maximum}"
        return f"is {value}, but must be {limit}: {self.reason} ({BOUNDS_FILE}, source {self.source})"


def parse_bounds(data: Any, origin: str = BOUNDS_FILE) -> tuple[HardBound, ...]:
    """The hard bounds from parsed YAML; raises TemplateError naming every malformed entry."""
    problems = _Problems(origin)
    if not isinstance(data, dict) or not isinstance(data.get("bounds"), dict):
        raise TemplateError([f"{origin}: the file must hold a `bounds` mapping"])
    sources = bibliography.sources()
    bounds = []
    for name, entry in data["bounds"].items():
        section, _, field = str(name).partition(".")
        if field not in _SECTION_FIELDS.get(section, ()):
            problems.add(f"bounds.{name}", "is not a template field (write it as section.field)")
            continue
        if not isinstance(entry, dict):
            problems.add(f"bounds.{name}", "must map min/max, source and reason")
            continue
        _check_keys(problems, f"bounds.{name}", entry, ("min", "max", "source", "reason"))
        limits = {}
        for key in ("min", "max"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                problems.add(f"bounds.{name}.{key}", f"must be a whole number, got {value!r}")
                value = None
            limits[key] = value
        if limits["min"] is None and limits["max"] is None:
            problems.add(f"bounds.{name}", "needs a min, a max or both")
        elif limits["min"] is not None and limits["max"] is not None and limits["min"] > limits["max"]:
            problems.add(f"bounds.{name}", f"min ({limits['min']}) is more than max ({limits['max']})")
        if entry.get("source") not in sources:
            problems.add(f"bounds.{name}.source", f"names unknown source {entry.get('source')!r}")
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            problems.add(f"bounds.{name}.reason", "must say, in words, what the bound keeps")
        bounds.append(
            HardBound(
                str(name), limits["min"], limits["max"], str(entry.get("reason", "")).strip(), str(entry.get("source"))
            )
        )
    if problems.items:
        raise TemplateError(problems.items)
    return tuple(bounds)


def _from_bibliography(source_id: str) -> Source:
    cited = bibliography.sources()[source_id]
    return Source(source_id, cited.citation, cited.url)


@functools.cache
def hard_bounds() -> tuple[HardBound, ...]:
    """The shipped bounds; read once, since they change only with a new release of Kapstone."""
    path = Path(str(resources.files("kapstone.program") / "rules" / BOUNDS_FILE))
    return parse_bounds(yaml.safe_load(path.read_text(encoding="utf-8")))


def _bound_problems(problems: _Problems, sections: Mapping[str, Mapping[str, Any]]) -> None:
    for bound in hard_bounds():
        section, _, field = bound.field.partition(".")
        value = sections[section].get(field)
        # A value of the wrong type, or one the section's own checks refused, is reported once, by them.
        if isinstance(value, int) and not isinstance(value, bool) and not problems.named(bound.field):
            problem = bound.problem(value)
            if problem:
                problems.add(bound.field, problem)


def _staffing(problems: _Problems, section: Mapping[str, Any], name: str, min_facilitators: int) -> Staffing:
    facilitators = problems.integer(section, name, "facilitators", min_facilitators)
    min_prescribers = problems.integer(section, name, "min_prescribers", 0)
    if min_prescribers > facilitators:
        problems.add(
            f"{name}.min_prescribers",
            f"({min_prescribers}) is more than {name}.facilitators ({facilitators})",
        )
    return Staffing(facilitators, min_prescribers)


def _provenance(
    problems: _Problems, name: str, section: Mapping[str, Any], source_ids: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Every number must be either cited (source) or declared an unverified default with a note, not both."""
    field_sources: dict[str, str] = {}
    unverified: dict[str, str] = {}
    sourced = section.get("source") or {}
    defaults = section.get("unverified") or {}
    notes = section.get("notes") or {}
    for key, mapping in (("source", sourced), ("unverified", defaults), ("notes", notes)):
        if not isinstance(mapping, dict):
            problems.add(f"{name}.{key}", "must map field names to text")
            return field_sources, unverified
        _check_keys(problems, f"{name}.{key}", mapping, _SECTION_FIELDS[name])
    for field in _SECTION_FIELDS[name]:
        if section.get(field) is None and (name, field) in _OPTIONAL_FIELDS:
            continue
        if field in sourced and field in defaults:
            problems.add(f"{name}.{field}", "is listed both under source and under unverified")
        elif field in sourced:
            if sourced[field] not in source_ids:
                problems.add(f"{name}.source.{field}", f"names unknown source {sourced[field]!r}")
            field_sources[f"{name}.{field}"] = sourced[field]
        elif field in defaults:
            if not isinstance(defaults[field], str) or not defaults[field].strip():
                problems.add(f"{name}.unverified.{field}", "needs a note saying why this default was chosen")
            unverified[f"{name}.{field}"] = str(defaults[field])
        else:
            problems.add(f"{name}.{field}", "has no source and is not listed under unverified")
    return field_sources, unverified


def parse_template(data: Any, origin: str = "<template>") -> CourseTemplate:
    """Build a CourseTemplate from parsed YAML, or raise TemplateError listing every problem found."""
    problems = _Problems(origin)
    if not isinstance(data, dict):
        raise TemplateError([f"{origin}: the file must hold a mapping of template fields"])
    _check_keys(problems, "template", data, _TOP_LEVEL_KEYS)
    for key in ("id", "name"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.add(key, "is required and must be text")
    version = problems.integer(data, "template", "version", 1)

    # A field cites an id of Kapstone's bibliography; a practice's own template may add its own documents in a
    # `sources` table, under ids the bibliography does not already hold.
    own_sources: dict[str, Source] = {}
    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict):
        problems.add("sources", "must map source ids to {citation, url}")
        raw_sources = {}
    for source_id, entry in raw_sources.items():
        if str(source_id) in bibliography.sources():
            problems.add(f"sources.{source_id}", "is already in Kapstone's bibliography: cite it without a table entry")
            continue
        if not isinstance(entry, dict) or not str(entry.get("citation", "")).strip():
            problems.add(f"sources.{source_id}", "needs a citation")
            continue
        _check_keys(problems, f"sources.{source_id}", entry, ("citation", "url"))
        own_sources[str(source_id)] = Source(str(source_id), str(entry["citation"]).strip(), str(entry.get("url", "")))
    source_ids = set(own_sources) | set(bibliography.sources())

    sections: dict[str, dict[str, Any]] = {}
    field_sources: dict[str, str] = {}
    unverified: dict[str, str] = {}
    for name, fields in _SECTION_FIELDS.items():
        section = data.get(name)
        if not isinstance(section, dict):
            problems.add(name, "section is missing")
            section = {}
        _check_keys(problems, name, section, (*fields, *_PROVENANCE_KEYS))
        cited, defaults = _provenance(problems, name, section, source_ids)
        field_sources.update(cited)
        unverified.update(defaults)
        sections[name] = section

    prep = sections["preparation"]
    preparation = PreparationRule(
        count=problems.integer(prep, "preparation", "count", 0),
        duration_minutes=problems.integer(prep, "preparation", "duration_minutes", 1),
        staffing=_staffing(problems, prep, "preparation", 0),
    )

    dose = sections["dosing"]
    dosing = DosingRule(
        count=problems.integer(dose, "dosing", "count", 1),
        duration_minutes=problems.integer(dose, "dosing", "duration_minutes", 1),
        min_days_between=problems.integer(dose, "dosing", "min_days_between", 0),
        max_days_between=problems.integer(dose, "dosing", "max_days_between", 0),
        typical_days_between=(
            None
            if dose.get("typical_days_between") is None
            else problems.integer(dose, "dosing", "typical_days_between", 0)
        ),
        max_per_week=problems.integer(dose, "dosing", "max_per_week", 1),
        staffing=_staffing(problems, dose, "dosing", 1),
    )
    if dosing.max_days_between < dosing.min_days_between:
        problems.add(
            "dosing.max_days_between",
            f"({dosing.max_days_between}) is less than dosing.min_days_between ({dosing.min_days_between})",
        )
    typical = dosing.typical_days_between
    if typical is not None and not dosing.min_days_between <= typical <= dosing.max_days_between:
        problems.add(
            "dosing.typical_days_between",
            f"({typical}) lies outside min_days_between..max_days_between "
            f"({dosing.min_days_between}..{dosing.max_days_between})",
        )

    integ = sections["integration"]
    after = integ.get("after_dosing")
    if after == "each":
        after_dosing = tuple(range(1, dosing.count + 1))
    else:
        after_dosing = problems.integers(integ, "integration", "after_dosing", 1)
        if list(after_dosing) != sorted(set(after_dosing)):
            problems.add("integration.after_dosing", "must list dosing numbers in increasing order, once each")
        if any(number > dosing.count for number in after_dosing):
            problems.add(
                "integration.after_dosing",
                f"names a dosing session beyond dosing.count ({dosing.count}): {list(after_dosing)}",
            )
    window = problems.integers(integ, "integration", "preferred_window_hours", 0)
    if len(window) != 2 or window[0] >= window[1]:
        problems.add("integration.preferred_window_hours", f"must be [earliest, latest] hours, got {list(window)}")
        window = (0, 1)
    outer = problems.integer(integ, "integration", "outer_bound_hours", 1)
    if outer < window[1]:
        problems.add(
            "integration.outer_bound_hours",
            f"({outer}) is less than the end of the preferred window ({window[1]})",
        )
    integration = IntegrationRule(
        after_dosing=after_dosing,
        closing_count=problems.integer(integ, "integration", "closing_count", 0),
        duration_minutes=problems.integer(integ, "integration", "duration_minutes", 1),
        preferred_window_hours=(window[0], window[1]),
        outer_bound_hours=outer,
        staffing=_staffing(problems, integ, "integration", 0),
    )

    follow = sections["follow_ups"]
    offsets = problems.integers(follow, "follow_ups", "offsets_days", 1)
    window_days = problems.integer(follow, "follow_ups", "window_days", 0)
    if list(offsets) != sorted(set(offsets)):
        problems.add("follow_ups.offsets_days", "must increase")
    for earlier, later in zip(offsets, offsets[1:], strict=False):
        if later - earlier <= 2 * window_days:
            problems.add(
                "follow_ups.window_days",
                f"({window_days}) makes the windows of the follow-ups at {earlier} and {later} days overlap",
            )
    follow_ups = FollowUpRule(
        offsets_days=offsets,
        window_days=window_days,
        duration_minutes=problems.integer(follow, "follow_ups", "duration_minutes", 1),
        staffing=_staffing(problems, follow, "follow_ups", 0),
    )

    grp = sections["group"]
    group = GroupRule(
        min_size=problems.integer(grp, "group", "min_size", 1),
        max_size=problems.integer(grp, "group", "max_size", 1),
    )
    if group.max_size < group.min_size:
        problems.add("group.max_size", f"({group.max_size}) is less than group.min_size ({group.min_size})")

    _bound_problems(problems, sections)
    if problems.items:
        raise TemplateError(problems.items)
    sources = [
        own_sources.get(source_id) or _from_bibliography(source_id) for source_id in sorted(set(field_sources.values()))
    ]
    return CourseTemplate(
        id=data["id"].strip(),
        name=data["name"].strip(),
        version=version,
        description=str(data.get("description", "")).strip(),
        sources=tuple(sources),
        preparation=preparation,
        dosing=dosing,
        integration=integration,
        follow_ups=follow_ups,
        group=group,
        field_sources=field_sources,
        unverified=unverified,
    )


def load_template(path: Path, origin: str | None = None) -> CourseTemplate:
    origin = origin or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError([f"{origin}: cannot be read: {error}"]) from error
    return _parsed(text, origin)


@functools.lru_cache(maxsize=256)
def _parsed(text: str, origin: str) -> CourseTemplate:
    """A template parsed once for each text of its file: the file is read on every load, so an edited or newly
    installed template is seen at once, but parsing its YAML (a third of the Good Faith Estimate page's time, read
    on every request) is done once. CourseTemplate is frozen, so every caller may share the one parsed."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TemplateError([f"{origin}: not valid YAML: {error}"]) from error
    return parse_template(data, origin=origin)


TemplateKey = tuple[str, int]  # (id, version): what a group records, so always the same course


def _templates_in(folder: Path, *, full_paths: bool = False) -> dict[TemplateKey, tuple[CourseTemplate, str]]:
    """The templates of one folder by (id, version), each with the origin its messages name. A folder may keep
    several versions of one id (groups formed on an older one still follow it), but each version only once."""
    templates: dict[TemplateKey, tuple[CourseTemplate, str]] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        origin = str(path) if full_paths else path.name
        try:
            template = load_template(path, origin)
        except TemplateError as error:
            problems.extend(error.problems)
            continue
        key = (template.id, template.version)
        if key in templates:
            problems.append(
                f"{origin}: id: {template.id!r} version {template.version} is already used by another template"
            )
        templates[key] = (template, origin)
    if problems:
        raise TemplateError(problems)
    return templates


def shipped_templates_dir() -> Path:
    return Path(str(resources.files("kapstone.program") / "templates_data"))


def practice_templates_dir() -> Path | None:
    """The practice's own template folder (settings.KAPSTONE_COURSE_TEMPLATES_DIR, from the environment); None when
    it is not set. A folder that is named but missing is refused."""
    configured = getattr(settings, PRACTICE_TEMPLATES_SETTING, "") if settings.configured else ""
    if not str(configured).strip():
        return None
    folder = Path(configured).expanduser()
    if not folder.is_dir():
        raise TemplateError([f"{PRACTICE_TEMPLATES_SETTING}: {folder} is not a folder"])
    return folder


def load_template_versions(directory: Path | None = None) -> dict[TemplateKey, CourseTemplate]:
    """Every version of every template of `directory` by (id, version); by default the ones Kapstone ships
    joined by the practice's own.

    A practice template with a shipped template's id must have a higher version than any shipped one: a group
    records the id and version it was formed on, so the same id and version must always mean the same course."""
    if directory is not None:
        return {key: template for key, (template, _) in _templates_in(directory).items()}
    templates = {key: template for key, (template, _) in _templates_in(shipped_templates_dir()).items()}
    practice_folder = practice_templates_dir()
    if practice_folder is None:
        return templates
    shipped_highest: dict[str, int] = {}
    for template_id, version in templates:
        shipped_highest[template_id] = max(version, shipped_highest.get(template_id, 0))
    problems = []
    for (template_id, version), (template, origin) in _templates_in(practice_folder, full_paths=True).items():
        shipped = shipped_highest.get(template_id)
        if shipped is not None and version <= shipped:
            problems.append(
                f"{origin}: version: {version} does not override the shipped template {template_id!r} "
                f"(version {shipped}); give it a higher version, or a new id"
            )
            continue
        templates[(template_id, version)] = template
    if problems:
        raise TemplateError(problems)
    return templates


def load_templates(directory: Path | None = None) -> dict[str, CourseTemplate]:
    """The highest version of each template by id: what a new group is formed on."""
    highest: dict[str, CourseTemplate] = {}
    for (template_id, version), template in load_template_versions(directory).items():
        if template_id not in highest or version > highest[template_id].version:
            highest[template_id] = template
    return highest


# ----------------------------------------------------------------------------------------------------
# Checking concrete session times against a template


class Severity(enum.StrEnum):
    VIOLATION = "violation"  # breaks a hard rule of the template
    WARNING = "warning"  # allowed, but staff should look at it


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    sessions: tuple[tuple[SessionKind, int], ...] = ()


@dataclass(frozen=True)
class SessionTime:
    kind: SessionKind
    index: int  # 1-based within its kind
    start: datetime  # timezone-aware
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.kind.value.replace('_', '-')} session {self.index}"


def hours_between(earlier: datetime, later: datetime) -> float:
    """Elapsed hours in absolute time, so a night on which the clocks change counts as 23 or 25 hours."""
    return (later.astimezone(UTC) - earlier.astimezone(UTC)) / timedelta(hours=1)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def check_session_times(
    template: CourseTemplate,
    sessions: Sequence[SessionTime],
    tz: ZoneInfo,
    allow_unbooked_follow_ups: bool = False,
) -> list[Finding]:
    """Check session times against the template's timing rules.

    Day-based rules (spacing, the weekly cap, follow-up offsets) count calendar days in the clinic's time
    zone `tz`; hour-based rules (the integration window) use absolute time. Integration outside the preferred
    window and beyond the outer bound are warnings: both are conventions, not requirements
    ([integration-timing-convention]).
    With `allow_unbooked_follow_ups`, the last follow-ups may be missing (they are booked later).
    """
    for session in sessions:
        if session.start.tzinfo is None or session.end.tzinfo is None:
            raise ValueError(f"{session.label}: start and end must be timezone-aware")
    findings: list[Finding] = []
    by_kind: dict[SessionKind, dict[int, SessionTime]] = {kind: {} for kind in SessionKind}
    for session in sessions:
        if session.index in by_kind[session.kind]:
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "duplicate_session",
                    f"{session.label} appears twice",
                    ((session.kind, session.index),),
                )
            )
        by_kind[session.kind][session.index] = session
        if session.end <= session.start:
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "session_ends_before_start",
                    f"{session.label} ends before it starts",
                    ((session.kind, session.index),),
                )
            )
    for kind in SessionKind:
        expected = set(range(1, template.count(kind) + 1))
        present = set(by_kind[kind])
        if kind is SessionKind.FOLLOW_UP and allow_unbooked_follow_ups:
            # Late follow-ups may be booked after the planning horizon, but not a gap before a booked one.
            expected = set(range(1, max(present, default=0) + 1))
        for index in sorted(expected - present):
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "session_missing",
                    f"{kind.value} session {index} is missing",
                    ((kind, index),),
                )
            )
        for index in sorted(present - expected):
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "session_not_in_template",
                    f"{kind.value} session {index} is not part of template {template.id}",
                    ((kind, index),),
                )
            )

    findings.extend(_overlaps(sessions))
    dosings = [by_kind[SessionKind.DOSING][i] for i in sorted(by_kind[SessionKind.DOSING])]
    findings.extend(_order_findings(template, by_kind, dosings))
    findings.extend(_dosing_spacing_findings(template, dosings, tz))
    findings.extend(_integration_findings(template, by_kind, tz))
    findings.extend(_follow_up_findings(template, by_kind, dosings, tz))
    return findings


def _overlaps(sessions: Sequence[SessionTime]) -> list[Finding]:
    ordered = sorted(sessions, key=lambda s: s.start)
    findings = []
    for position, earlier in enumerate(ordered):
        for later in ordered[position + 1 :]:
            if later.start >= earlier.end:
                break
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "sessions_overlap",
                    f"{earlier.label} and {later.label} overlap; the group cannot attend both",
                    ((earlier.kind, earlier.index), (later.kind, later.index)),
                )
            )
    return findings


def _order_findings(
    template: CourseTemplate,
    by_kind: Mapping[SessionKind, Mapping[int, SessionTime]],
    dosings: list[SessionTime],
) -> list[Finding]:
    findings = []

    def must_precede(first: SessionTime, second: SessionTime, why: str) -> None:
        if first.end > second.start:
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "session_order",
                    f"{first.label} must end before {second.label}: {why}",
                    ((first.kind, first.index), (second.kind, second.index)),
                )
            )

    for kind in SessionKind:
        ordered = [by_kind[kind][i] for i in sorted(by_kind[kind])]
        for first, second in zip(ordered, ordered[1:], strict=False):
            must_precede(first, second, "sessions of one kind keep their numbering")
    if dosings:
        for prep in by_kind[SessionKind.PREPARATION].values():
            must_precede(prep, dosings[0], "preparation comes before the first dosing session")
        last_dosing = dosings[-1]
        for integration in by_kind[SessionKind.INTEGRATION].values():
            anchor = template.integration.anchor_dosing(integration.index)
            if anchor is None:
                must_precede(last_dosing, integration, "a closing integration follows the last dosing session")
                continue
            dosing = by_kind[SessionKind.DOSING].get(anchor)
            following = by_kind[SessionKind.DOSING].get(anchor + 1)
            if dosing is not None:
                must_precede(dosing, integration, f"it integrates dosing session {anchor}")
            if following is not None:
                must_precede(integration, following, f"it integrates dosing session {anchor}")
        for follow_up in by_kind[SessionKind.FOLLOW_UP].values():
            must_precede(last_dosing, follow_up, "follow-ups come after the last dosing session")
    return findings


def _dosing_spacing_findings(template: CourseTemplate, dosings: list[SessionTime], tz: ZoneInfo) -> list[Finding]:
    rule = template.dosing
    findings = []
    days = [local_date(d.start, tz) for d in dosings]
    for (first, second), (day1, day2) in zip(
        zip(dosings, dosings[1:], strict=False), zip(days, days[1:], strict=False), strict=True
    ):
        gap = (day2 - day1).days
        pair = ((first.kind, first.index), (second.kind, second.index))
        if gap < rule.min_days_between:
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "dosing_spacing_too_short",
                    f"{second.label} is {gap} day(s) after {first.label}; the minimum is {rule.min_days_between}",
                    pair,
                )
            )
        elif gap > rule.max_days_between:
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "dosing_spacing_too_long",
                    f"{second.label} is {gap} days after {first.label}; the maximum is {rule.max_days_between}",
                    pair,
                )
            )
    cap = rule.max_per_week
    for position in range(len(dosings) - cap):
        first_day, last_day = days[position], days[position + cap]
        if (last_day - first_day).days < DAYS_IN_A_WEEK:
            involved = dosings[position : position + cap + 1]
            findings.append(
                Finding(
                    Severity.VIOLATION,
                    "dosing_weekly_cap",
                    f"dosing sessions {involved[0].index}-{involved[-1].index} fall within 7 days "
                    f"({first_day.isoformat()}..{last_day.isoformat()}); at most {cap} a week",
                    tuple((d.kind, d.index) for d in involved),
                )
            )
    return findings


def _integration_findings(
    template: CourseTemplate, by_kind: Mapping[SessionKind, Mapping[int, SessionTime]], tz: ZoneInfo
) -> list[Finding]:
    rule = template.integration
    earliest, latest = rule.preferred_window_hours
    findings = []
    for index, integration in sorted(by_kind[SessionKind.INTEGRATION].items()):
        anchor = rule.anchor_dosing(index)
        dosing = by_kind[SessionKind.DOSING].get(anchor) if anchor is not None else None
        if dosing is None:
            continue
        hours = hours_between(dosing.end, integration.start)
        pair = ((dosing.kind, dosing.index), (integration.kind, integration.index))
        when = f"{integration.label} starts {hours:.1f} h after {dosing.label} ends"
        if hours > rule.outer_bound_hours:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "integration_outside_outer_bound",
                    f"{when}: outside the outer bound of {rule.outer_bound_hours} h",
                    pair,
                )
            )
        elif not earliest <= hours <= latest:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "integration_outside_preferred_window",
                    f"{when}: outside the preferred window of {earliest}-{latest} h",
                    pair,
                )
            )
    return findings


def _follow_up_findings(
    template: CourseTemplate,
    by_kind: Mapping[SessionKind, Mapping[int, SessionTime]],
    dosings: list[SessionTime],
    tz: ZoneInfo,
) -> list[Finding]:
    if len(dosings) != template.dosing.count:
        return []
    rule = template.follow_ups
    last_day = local_date(dosings[-1].start, tz)
    findings = []
    for index, follow_up in sorted(by_kind[SessionKind.FOLLOW_UP].items()):
        if index > rule.count:
            continue
        offset = rule.offsets_days[index - 1]
        actual = (local_date(follow_up.start, tz) - last_day).days
        if abs(actual - offset) > rule.window_days:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "follow_up_outside_window",
                    f"{follow_up.label} is {actual} days after the last dosing session; planned at "
                    f"{offset} +/- {rule.window_days} days",
                    ((follow_up.kind, follow_up.index),),
                )
            )
    return findings
